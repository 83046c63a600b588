//! File helpers: atomic writes and NumPy `.npy` arrays.
//!
//! Every output file hark writes goes through [`write_atomic`]: the bytes go to a
//! temporary file in the same directory, which is flushed, synced and then renamed
//! over the destination. An interrupted run therefore leaves either the old file or
//! the new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::error::{Error, Result};

/// The temporary name used while writing `path` (same directory, so the rename is atomic).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    path.with_file_name(format!(".{name}.tmp.{}", std::process::id()))
}

/// Writes a file atomically: `fill` writes into a temporary file which is then
/// renamed to `path`. On error the temporary file is removed and `path` is untouched.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        w.flush()?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, "writing", e));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Serialises a 2-D f32 array as a NumPy v1.0 `.npy` file (little-endian, C order).
pub fn npy_bytes(a: &Array2<f32>) -> Vec<u8> {
    let (rows, cols) = a.dim();
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic(6) + version(2) + header_len(2) + header + '\n' must be a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    header.extend(std::iter::repeat_n(' ', pad));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + rows * cols * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in a.iter() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes a 2-D f32 array to `path` as `.npy`, atomically.
pub fn write_npy(path: &Path, a: &Array2<f32>) -> Result<()> {
    write_atomic(path, &npy_bytes(a))
}

/// Reads a 2-D `.npy` array of little-endian f32 or f64 (converted to f32), C order.
pub fn read_npy(path: &Path) -> Result<Array2<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "reading", e))?;
    parse_npy(&bytes).map_err(|msg| Error::parse(path, 0, msg))
}

/// Parses `.npy` bytes; the error is a message without the file name.
pub fn parse_npy(bytes: &[u8]) -> std::result::Result<Array2<f32>, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (bad magic)".into());
    }
    let major = bytes[6];
    let (hlen, hstart): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated .npy header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let hend = hstart
        .checked_add(hlen)
        .filter(|&e| e <= bytes.len())
        .ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(&bytes[hstart..hend]).map_err(|_| "bad .npy header")?;
    let descr = dict_value(header, "descr").ok_or("missing descr in .npy header")?;
    let elem = match descr.trim_matches(|c| c == '\'' || c == '"') {
        "<f4" | "f4" => 4,
        "<f8" | "f8" => 8,
        d => return Err(format!("unsupported dtype {d} (expected <f4 or <f8)")),
    };
    let fortran = dict_value(header, "fortran_order").ok_or("missing fortran_order")?;
    if fortran.trim() != "False" {
        return Err("fortran_order arrays are not supported".into());
    }
    let shape = dict_value(header, "shape").ok_or("missing shape in .npy header")?;
    let dims: Vec<usize> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad shape {shape}")))
        .collect::<std::result::Result<_, _>>()?;
    let (rows, cols) = match dims.as_slice() {
        [r, c] => (*r, *c),
        [n] => (*n, 1),
        _ => return Err(format!("expected a 2-D array, got shape {shape}")),
    };
    let count = rows.checked_mul(cols).ok_or("shape overflows")?;
    let need = count.checked_mul(elem).ok_or("shape overflows")?;
    let data = &bytes[hend..];
    if data.len() != need {
        return Err(format!(
            "data size {} bytes does not match shape ({rows}, {cols}) of {elem}-byte floats",
            data.len()
        ));
    }
    let values: Vec<f32> = if elem == 4 {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        data.chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect()
    };
    Array2::from_shape_vec((rows, cols), values).map_err(|e| e.to_string())
}

/// Finds `'key': value` in a Python dict literal, returning the raw value text.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pat1 = format!("'{key}':");
    let pat2 = format!("\"{key}\":");
    let start = header
        .find(&pat1)
        .map(|i| i + pat1.len())
        .or_else(|| header.find(&pat2).map(|i| i + pat2.len()))?;
    let rest = header[start..].trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_roundtrip_is_lossless() {
        let a = Array2::from_shape_fn((7, 3), |(i, j)| i as f32 * 0.5 - j as f32 * 1.25);
        let b = parse_npy(&npy_bytes(&a)).unwrap();
        assert_eq!(a, b);
        // header is 64-byte aligned
        let bytes = npy_bytes(&a);
        let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
    }

    #[test]
    fn npy_rejects_bad_input() {
        assert!(parse_npy(b"hello").is_err());
        let a = Array2::<f32>::zeros((2, 2));
        let mut b = npy_bytes(&a);
        b.pop();
        assert!(parse_npy(&b).unwrap_err().contains("does not match"));
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = std::env::temp_dir().join(format!("hark-fsio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.txt");
        write_atomic(&p, b"old").unwrap();
        write_atomic(&p, b"new contents").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new contents");
        assert!(!temp_path(&p).exists());
        // a failing fill leaves the old file
        let r = write_atomic_with(&p, |_| Err(std::io::Error::other("boom")));
        assert!(r.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"new contents");
        assert!(!temp_path(&p).exists());
    }
}
