//! A reader for NIST SPHERE audio (TIMIT's `.WAV` files): a 1024-byte (or larger)
//! text header of `key -type value` lines ending in `end_head`, then PCM samples.
//! Only uncompressed 16-bit PCM is supported; shorten-compressed files are
//! rejected with a message saying to decompress them (e.g. with `sph2pipe`).

use std::path::Path;

use crate::error::{Error, Result};

/// Decoded SPHERE audio.
#[derive(Debug, Clone, PartialEq)]
pub struct SphereAudio {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Number of channels.
    pub channels: u16,
    /// Interleaved 16-bit samples.
    pub samples: Vec<i16>,
}

fn bad(path: &Path, msg: impl Into<String>) -> Error {
    Error::Audio {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Whether `bytes` start like a SPHERE file.
pub fn is_sphere(bytes: &[u8]) -> bool {
    bytes.starts_with(b"NIST_1A")
}

/// Parses SPHERE bytes; `path` only names the file in errors.
pub fn parse_sphere(bytes: &[u8], path: &Path) -> Result<SphereAudio> {
    if !is_sphere(bytes) {
        return Err(bad(path, "not a NIST SPHERE file (no NIST_1A header)"));
    }
    let head_len: usize = bytes
        .get(8..16)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| bad(path, "bad SPHERE header size"))?;
    if head_len < 16 || head_len > bytes.len() {
        return Err(bad(
            path,
            format!("SPHERE header size {head_len} out of range"),
        ));
    }
    let header = String::from_utf8_lossy(&bytes[16..head_len]);
    let mut sample_rate = None;
    let mut channels = 1u16;
    let mut n_bytes = 2usize;
    let mut count = None;
    let mut big_endian = false;
    let mut coding = String::from("pcm");
    let mut ended = false;
    for line in header.lines() {
        let line = line.trim();
        if line == "end_head" {
            ended = true;
            break;
        }
        let mut f = line.splitn(3, ' ');
        let (Some(key), Some(_ty), Some(val)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let int = || -> Result<u64> {
            val.trim()
                .parse()
                .map_err(|_| bad(path, format!("bad SPHERE value for {key}: {val:?}")))
        };
        match key {
            "sample_rate" => sample_rate = Some(int()? as u32),
            "channel_count" => channels = int()? as u16,
            "sample_n_bytes" => n_bytes = int()? as usize,
            "sample_count" => count = Some(int()? as usize),
            "sample_byte_format" => big_endian = val.trim() == "10",
            "sample_coding" => coding = val.trim().to_string(),
            _ => {}
        }
    }
    if !ended {
        return Err(bad(path, "SPHERE header has no end_head"));
    }
    if coding != "pcm" {
        return Err(bad(
            path,
            format!(
                "SPHERE sample coding {coding:?} is not supported; decompress to pcm first (e.g. sph2pipe -f wav)"
            ),
        ));
    }
    if n_bytes != 2 {
        return Err(bad(
            path,
            format!("{n_bytes}-byte SPHERE samples are not supported (need 2)"),
        ));
    }
    let sample_rate = sample_rate.ok_or_else(|| bad(path, "SPHERE header has no sample_rate"))?;
    if channels == 0 {
        return Err(bad(path, "SPHERE channel_count is 0"));
    }
    let data = &bytes[head_len..];
    let avail = data.len() / 2;
    let n = count.map(|c| c * channels as usize).unwrap_or(avail);
    if n > avail {
        return Err(bad(
            path,
            format!("SPHERE file truncated: header says {n} samples, file has {avail}"),
        ));
    }
    let samples = data[..n * 2]
        .chunks_exact(2)
        .map(|b| {
            if big_endian {
                i16::from_be_bytes([b[0], b[1]])
            } else {
                i16::from_le_bytes([b[0], b[1]])
            }
        })
        .collect();
    Ok(SphereAudio {
        sample_rate,
        channels,
        samples,
    })
}

/// Reads a SPHERE file.
pub fn read_sphere(path: &Path) -> Result<SphereAudio> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "reading", e))?;
    parse_sphere(&bytes, path)
}

/// Builds SPHERE bytes (used by tests and fixtures): a 1024-byte header then
/// little- or big-endian 16-bit PCM.
pub fn sphere_bytes(samples: &[i16], sample_rate: u32, big_endian: bool) -> Vec<u8> {
    let mut h = format!(
        "NIST_1A\n   1024\ndatabase_id -s5 TIMIT\nsample_count -i {}\nsample_rate -i {sample_rate}\nchannel_count -i 1\nsample_byte_format -s2 {}\nsample_n_bytes -i 2\nsample_sig_bits -i 16\nend_head\n",
        samples.len(),
        if big_endian { "10" } else { "01" }
    )
    .into_bytes();
    h.resize(1024, b' ');
    for s in samples {
        h.extend_from_slice(&if big_endian {
            s.to_be_bytes()
        } else {
            s.to_le_bytes()
        });
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sphere_roundtrip_both_byte_orders() {
        let x: Vec<i16> = vec![0, 1, -1, 32767, -32768, 1234];
        for be in [false, true] {
            let b = sphere_bytes(&x, 16000, be);
            let a = parse_sphere(&b, Path::new("t.wav")).unwrap();
            assert_eq!(a.samples, x);
            assert_eq!(a.sample_rate, 16000);
            assert_eq!(a.channels, 1);
        }
    }

    #[test]
    fn sphere_rejects_shorten_and_truncation() {
        let mut b = sphere_bytes(&[1, 2, 3], 16000, false);
        let s = String::from_utf8_lossy(&b[..1024]).replace(
            "sample_n_bytes",
            "sample_coding -s26 pcm,embedded-shorten-v2.00\nsample_n_bytes",
        );
        b[..1024].copy_from_slice(&s.as_bytes()[..1024]);
        let e = parse_sphere(&b, Path::new("t.wav"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("shorten"), "{e}");
        let b = sphere_bytes(&[1, 2, 3], 16000, false);
        assert!(parse_sphere(&b[..1026], Path::new("t.wav")).is_err());
        assert!(parse_sphere(b"RIFF....", Path::new("t.wav")).is_err());
    }
}
