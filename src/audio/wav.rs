//! WAV reading: our own check of the RIFF chunk layout, then hound for the samples
//! (PCM and float) or our own G.711 A-law / μ-law expansion, which hound lacks.
//!
//! hound is robust, but it trusts the declared data length, so the chunk walk
//! below checks first that the header is complete, that the encoding is one we
//! read, and that the declared data fits in the file. A huge declared length is
//! therefore an error before anything is allocated.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{Error, Result};

/// `WAVE_FORMAT_PCM`.
const TAG_PCM: u16 = 1;
/// `WAVE_FORMAT_IEEE_FLOAT`.
const TAG_FLOAT: u16 = 3;
/// `WAVE_FORMAT_ALAW` (ITU-T G.711 A-law, 8 bits).
const TAG_ALAW: u16 = 6;
/// `WAVE_FORMAT_MULAW` (ITU-T G.711 μ-law, 8 bits).
const TAG_MULAW: u16 = 7;
/// `WAVE_FORMAT_EXTENSIBLE` (the real tag is the first two bytes of the sub-format GUID).
const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// What the `fmt ` chunk says.
#[derive(Debug, Clone, Copy)]
struct Format {
    tag: u16,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    bits: u16,
}

/// Where a WAV file's samples come from: hound for PCM and float, our own
/// front-to-back reader for G.711 (which hound does not read).
enum Samples {
    Hound(hound::WavReader<std::io::BufReader<std::fs::File>>),
    G711(Box<PipeWav>),
}

/// An open, validated WAV file whose samples are read block by block.
pub(crate) struct WavSource {
    path: std::path::PathBuf,
    reader: Samples,
    float: bool,
    channels: usize,
    scale: f64,
    /// Sample frames (one sample per channel) in the data chunk.
    pub(super) num_frames: u64,
    /// Sample frames read so far.
    frames_read: u64,
    /// Sample rate, Hz.
    pub(super) sample_rate: u32,
}

impl WavSource {
    /// Checks the header of a RIFF/WAVE file whose first 12 bytes have been checked
    /// by the caller, and positions a reader at the first sample.
    pub(super) fn open(path: &Path, mut file: std::fs::File, file_len: u64) -> Result<Self> {
        let bad = |msg: String| Error::Audio {
            path: path.to_path_buf(),
            msg,
        };
        let io = |e: std::io::Error| Error::io(path, "reading", e);

        // ---- walk the chunks up to `data` ----
        let mut pos: u64 = 12;
        let mut format: Option<Format> = None;
        let data_len: u64 = loop {
            file.seek(SeekFrom::Start(pos)).map_err(io)?;
            let mut head = [0u8; 8];
            let got = super::read_up_to(&mut file, &mut head).map_err(io)?;
            if got < 8 {
                let missing = if format.is_none() { "fmt" } else { "data" };
                return Err(bad(format!(
                    "truncated WAV header: no {missing} chunk before the end of the file"
                )));
            }
            let id = [head[0], head[1], head[2], head[3]];
            let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as u64;
            let body = pos + 8;
            match &id {
                b"fmt " => {
                    if size < 16 {
                        return Err(bad(format!(
                            "malformed WAV: fmt chunk of {size} bytes (need at least 16)"
                        )));
                    }
                    let mut f = [0u8; 40];
                    let want = size.min(40) as usize;
                    let got = super::read_up_to(&mut file, &mut f[..want]).map_err(io)?;
                    if got < want {
                        return Err(bad("truncated WAV header: fmt chunk is cut short".into()));
                    }
                    format = Some(parse_fmt(&f[..want], size).map_err(bad)?);
                }
                b"data" => {
                    if format.is_none() {
                        return Err(bad("malformed WAV: data chunk before fmt chunk".into()));
                    }
                    let available = file_len.saturating_sub(body);
                    if size > available {
                        return Err(bad(format!(
                            "truncated data: header declares {size} bytes of audio but only {available} bytes follow"
                        )));
                    }
                    break size;
                }
                _ => {}
            }
            pos = body + size + (size & 1);
            if pos > file_len {
                return Err(bad(format!(
                    "truncated WAV header: chunk {:?} declares {size} bytes past the end of the file",
                    String::from_utf8_lossy(&id)
                )));
            }
        };
        let fmt = format.expect("invariant: the data branch returns an error when fmt is missing");
        check_format(&fmt).map_err(bad)?;
        let frame_bytes = fmt.block_align as u64;
        if data_len % frame_bytes != 0 {
            return Err(bad(format!(
                "truncated data: {data_len} bytes is not a whole number of {frame_bytes}-byte sample frames"
            )));
        }
        if data_len == 0 {
            return Err(bad("contains zero samples".into()));
        }

        file.seek(SeekFrom::Start(0)).map_err(io)?;
        if fmt.tag == TAG_ALAW || fmt.tag == TAG_MULAW {
            let mut pipe = PipeWav::open(path, Box::new(std::io::BufReader::new(file)))?;
            pipe.left = Some(data_len);
            return Ok(WavSource {
                path: path.to_path_buf(),
                float: false,
                channels: fmt.channels as usize,
                scale: 1.0,
                num_frames: data_len / frame_bytes,
                frames_read: 0,
                sample_rate: fmt.sample_rate,
                reader: Samples::G711(Box::new(pipe)),
            });
        }

        // ---- decode with hound ----
        let reader = hound::WavReader::new(std::io::BufReader::new(file))
            .map_err(|e| bad(hound_message(e)))?;
        let spec = reader.spec();
        if spec.channels == 0 || spec.bits_per_sample == 0 || spec.bits_per_sample > 32 {
            return Err(bad(format!(
                "unsupported encoding: {} channels of {}-bit samples",
                spec.channels, spec.bits_per_sample
            )));
        }
        Ok(WavSource {
            path: path.to_path_buf(),
            float: spec.sample_format == hound::SampleFormat::Float,
            channels: spec.channels as usize,
            scale: match spec.sample_format {
                hound::SampleFormat::Float => 1.0,
                hound::SampleFormat::Int => 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64,
            },
            num_frames: data_len / frame_bytes,
            frames_read: 0,
            sample_rate: spec.sample_rate,
            reader: Samples::Hound(reader),
        })
    }

    /// Reads up to `max_frames` sample frames, mixed to mono; an empty vector at the end.
    pub(super) fn read_block(&mut self, max_frames: usize) -> Result<Vec<f32>> {
        let left = self.num_frames - self.frames_read;
        let n = (max_frames as u64).min(left) as usize;
        let want = n * self.channels;
        let got = match &mut self.reader {
            Samples::G711(pipe) => {
                let mut out = Vec::with_capacity(n);
                while out.len() < n {
                    let block = pipe.read_block(n - out.len())?;
                    if block.is_empty() {
                        break;
                    }
                    out.extend(block);
                }
                Ok(out)
            }
            Samples::Hound(reader) if self.float => mix_down(
                reader.samples::<f32>().take(want),
                self.channels,
                n,
                self.scale,
            ),
            Samples::Hound(reader) => mix_down(
                reader.samples::<i32>().take(want),
                self.channels,
                n,
                self.scale,
            ),
        };
        let samples = got.map_err(|e| Error::Audio {
            path: self.path.clone(),
            msg: hound_message(e),
        })?;
        if samples.len() != n {
            return Err(Error::Audio {
                path: self.path.clone(),
                msg: "truncated data: the file ends inside the audio data".into(),
            });
        }
        self.frames_read += n as u64;
        Ok(samples)
    }
}

/// The values of a `fmt ` chunk that declares `size` bytes, from its first bytes
/// `f` (at least 16, and 40 for the extensible format).
fn parse_fmt(f: &[u8], size: u64) -> std::result::Result<Format, String> {
    let u16_at = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
    let mut tag = u16_at(0);
    if tag == TAG_EXTENSIBLE {
        if size < 40 || f.len() < 40 {
            return Err(format!(
                "malformed WAV: extensible fmt chunk of {size} bytes (need 40)"
            ));
        }
        tag = u16_at(24);
    }
    Ok(Format {
        tag,
        channels: u16_at(2),
        sample_rate: u32::from_le_bytes([f[4], f[5], f[6], f[7]]),
        block_align: u16_at(12),
        bits: u16_at(14),
    })
}

/// Checks the `fmt ` values that hound would reject (or that we do not read), with
/// a message that says what is wrong.
fn check_format(f: &Format) -> std::result::Result<(), String> {
    if f.channels == 0 {
        return Err("malformed WAV: header declares 0 channels".into());
    }
    if f.sample_rate == 0 {
        return Err("malformed WAV: header declares a sample rate of 0 Hz".into());
    }
    match f.tag {
        TAG_PCM => {
            if ![8, 16, 24, 32].contains(&f.bits) {
                return Err(format!(
                    "unsupported encoding: {}-bit PCM (8, 16, 24 and 32-bit are read)",
                    f.bits
                ));
            }
        }
        TAG_ALAW | TAG_MULAW => {
            if f.bits != 8 {
                return Err(format!(
                    "unsupported encoding: {}-bit G.711 (only 8-bit A-law and mu-law are read)",
                    f.bits
                ));
            }
        }
        TAG_FLOAT => {
            if f.bits != 32 {
                return Err(format!(
                    "unsupported encoding: {}-bit float (only 32-bit float is read)",
                    f.bits
                ));
            }
        }
        t => {
            let name = match t {
                2 => " (MS ADPCM)",
                0x11 => " (IMA ADPCM)",
                0x55 => " (MP3)",
                _ => "",
            };
            return Err(format!(
                "unsupported encoding: WAV format tag 0x{t:04x}{name}; only PCM, 32-bit float, A-law and mu-law are read"
            ));
        }
    }
    let expect_align = f.channels as u32 * f.bits.div_ceil(8) as u32;
    if f.block_align as u32 != expect_align {
        return Err(format!(
            "malformed WAV: block align {} does not match {} channels of {} bits",
            f.block_align, f.channels, f.bits
        ));
    }
    Ok(())
}

/// Averages interleaved channels to mono, scaling each value by `scale`.
fn mix_down<S>(
    samples: impl Iterator<Item = std::result::Result<S, hound::Error>>,
    channels: usize,
    num_frames: usize,
    scale: f64,
) -> std::result::Result<Vec<f32>, hound::Error>
where
    S: Into<f64>,
{
    let mut out = Vec::with_capacity(num_frames);
    let norm = scale / channels as f64;
    let mut acc = 0.0f64;
    let mut k = 0;
    for s in samples {
        acc += s?.into();
        k += 1;
        if k == channels {
            out.push((acc * norm) as f32);
            acc = 0.0;
            k = 0;
        }
    }
    Ok(out)
}

/// A one-line description of a hound error.
fn hound_message(e: hound::Error) -> String {
    match e {
        hound::Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "truncated data: the file ends inside the audio data".into()
        }
        hound::Error::IoError(e) => format!("read error: {e}"),
        hound::Error::FormatError(m) => format!("malformed WAV: {m}"),
        hound::Error::Unsupported => "unsupported encoding".into(),
        other => format!("malformed WAV: {other}"),
    }
}

/// A WAV stream read front to back from a pipe (standard input): no seeking, and
/// a data length that may be unknown. Writers that cannot seek back to fix the
/// header (`arecord`, `sox ... -t wav -`, `ffmpeg ... -f wav -`) declare 0 or a
/// huge placeholder; then the audio runs to the end of the stream. A declared
/// length below the placeholders is honoured. A sample frame cut short by the end
/// of the stream is dropped.
pub(crate) struct PipeWav {
    name: std::path::PathBuf,
    reader: Box<dyn std::io::Read + Send>,
    format: Format,
    /// Bytes of audio left when the header declares a usable length.
    left: Option<u64>,
    ended: bool,
}

/// Declared data lengths at or above this are placeholders of streaming writers.
const STREAMING_LENGTH: u64 = 0x7FFF_0000;

/// Most sample frames one [`PipeWav::read_block`] call returns.
const PIPE_BLOCK_FRAMES: usize = 1 << 16;

impl PipeWav {
    /// Reads and checks the header of the WAV stream `reader` (called `name` in
    /// errors), up to the first sample.
    pub(super) fn open(name: &Path, mut reader: Box<dyn std::io::Read + Send>) -> Result<Self> {
        let bad = |msg: String| Error::Audio {
            path: name.to_path_buf(),
            msg,
        };
        let io = |e: std::io::Error| Error::io(name, "reading", e);
        let mut riff = [0u8; 12];
        let got = super::read_up_to(&mut reader, &mut riff).map_err(io)?;
        if got == 0 {
            return Err(bad("empty stream (0 bytes), not a WAV stream".into()));
        }
        if got < 12 || &riff[..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
            return Err(bad(
                "not a RIFF/WAVE stream (standard input takes WAV audio; FLAC only as a file)"
                    .into(),
            ));
        }
        let mut format: Option<Format> = None;
        loop {
            let mut head = [0u8; 8];
            if super::read_up_to(&mut reader, &mut head).map_err(io)? < 8 {
                let missing = if format.is_none() { "fmt" } else { "data" };
                return Err(bad(format!(
                    "truncated WAV header: no {missing} chunk before the end of the stream"
                )));
            }
            let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as u64;
            match &head[..4] {
                b"data" => {
                    let fmt = format
                        .ok_or_else(|| bad("malformed WAV: data chunk before fmt chunk".into()))?;
                    check_format(&fmt).map_err(bad)?;
                    let left = (size > 0 && size < STREAMING_LENGTH).then_some(size);
                    return Ok(PipeWav {
                        name: name.to_path_buf(),
                        reader,
                        format: fmt,
                        left,
                        ended: false,
                    });
                }
                b"fmt " => {
                    if !(16..=1024).contains(&size) {
                        return Err(bad(format!(
                            "malformed WAV: fmt chunk of {size} bytes (16 to 1024 are read)"
                        )));
                    }
                    let mut f = vec![0u8; (size + (size & 1)) as usize];
                    if super::read_up_to(&mut reader, &mut f).map_err(io)? < size as usize {
                        return Err(bad("truncated WAV header: fmt chunk is cut short".into()));
                    }
                    format = Some(parse_fmt(&f, size).map_err(bad)?);
                }
                _ => {
                    // Another chunk (LIST, fact, ...): skip it.
                    let skip = size + (size & 1);
                    let n = std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink())
                        .map_err(io)?;
                    if n < skip {
                        return Err(bad(format!(
                            "truncated WAV header: chunk {:?} is cut short",
                            String::from_utf8_lossy(&head[..4])
                        )));
                    }
                }
            }
        }
    }

    /// Sample rate, Hz.
    pub(super) fn sample_rate(&self) -> u32 {
        self.format.sample_rate
    }

    /// Reads up to `max_frames` sample frames (at most 65 536), mixed to mono; an
    /// empty vector at the end of the stream. Blocks until that many frames have
    /// come or the stream ends.
    pub(super) fn read_block(&mut self, max_frames: usize) -> Result<Vec<f32>> {
        let f = self.format;
        let frame_bytes = f.block_align as usize;
        let mut want = max_frames.min(PIPE_BLOCK_FRAMES) * frame_bytes;
        if let Some(left) = self.left {
            want = want.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        if self.ended || want == 0 {
            return Ok(Vec::new());
        }
        let mut bytes = vec![0u8; want];
        let got = super::read_up_to(&mut self.reader, &mut bytes)
            .map_err(|e| Error::io(&self.name, "reading", e))?;
        if got < want {
            self.ended = true;
        }
        if let Some(left) = &mut self.left {
            *left -= got as u64;
        }
        let width = f.bits.div_ceil(8) as usize;
        let channels = f.channels as usize;
        let sample = |b: &[u8]| -> f64 {
            match (f.tag, width) {
                (TAG_FLOAT, _) => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                (TAG_MULAW, _) => f64::from(mulaw(b[0])) / 32_768.0,
                (TAG_ALAW, _) => f64::from(alaw(b[0])) / 32_768.0,
                (_, 1) => (f64::from(b[0]) - 128.0) / 128.0,
                (_, 2) => f64::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0,
                (_, 3) => f64::from(i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) / 8_388_608.0,
                _ => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 2_147_483_648.0,
            }
        };
        Ok(bytes[..got - got % frame_bytes]
            .chunks_exact(frame_bytes)
            .map(|frame| {
                let sum: f64 = frame.chunks_exact(width).map(sample).sum();
                (sum / channels as f64) as f32
            })
            .collect())
    }
}

/// One ITU-T G.711 μ-law byte as a 16-bit linear sample (±32 124 at most).
pub(crate) fn mulaw(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    let v = if u & 0x80 != 0 { -magnitude } else { magnitude };
    v as i16
}

/// One ITU-T G.711 A-law byte as a 16-bit linear sample (±32 256 at most).
pub(crate) fn alaw(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = i32::from(a & 0x0F);
    let mut magnitude = (mantissa << 4) + 8;
    if exponent > 0 {
        magnitude = (magnitude + 0x100) << (exponent - 1);
    }
    let v = if a & 0x80 != 0 { magnitude } else { -magnitude };
    v as i16
}
