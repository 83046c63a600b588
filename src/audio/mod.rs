//! Audio input: WAV (hound) and FLAC (symphonia) files to mono `f32` samples.
//!
//! Every later stage calls [`load_16k`], which reads a file with [`read_audio`],
//! mixes all channels to mono and resamples to 16 kHz with the band-limited
//! resampler in [`mod@resample`].
//!
//! Samples are scaled to `[-1, 1)`: integer PCM is divided by `2^(bits-1)` (8-bit
//! WAV is unsigned and is centred first), 32-bit float WAV is taken as is, and
//! G.711 A-law / μ-law bytes are expanded to 16-bit values (as ITU-T G.711 and SoX
//! do) and divided by 2^15. Multi-channel audio is mixed down by averaging the
//! channels.
//!
//! Reading never panics on bad input: every problem (missing file, not a WAV or
//! FLAC, truncated header or data, zero samples, unsupported encoding, NaN or
//! infinite samples, float samples beyond ±65536, zero channels, a declared length
//! larger than the file) is an
//! [`crate::Error::Audio`] naming the file.

mod flac;
pub mod resample;
pub mod stream;
mod wav;

use std::path::Path;

use crate::error::{Error, Result};

pub use resample::{Resampler, ResamplerConfig, resample};
pub use stream::{AudioStream, Chunk, ChunkConfig, Chunker};

/// The sample rate every model and feature extractor in hark works at.
pub const SAMPLE_RATE_HZ: u32 = 16_000;

/// Mono audio: samples in `[-1, 1)` at `sample_rate` Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct Waveform {
    /// Samples, one per time step, nominally in `[-1, 1)`.
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate: u32,
}

impl Waveform {
    /// A waveform from samples and a rate.
    pub fn new(samples: Vec<f32>, sample_rate: u32) -> Self {
        Waveform {
            samples,
            sample_rate,
        }
    }

    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / self.sample_rate as f64
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// Reads a WAV or FLAC file, mixed down to mono, at its own sample rate.
///
/// The format is recognised from the file's first bytes (`RIFF….WAVE` or `fLaC`),
/// not from its name.
pub fn read_audio(path: &Path) -> Result<Waveform> {
    read_opened(path, open_wav_or_decode(path)?)
}

/// Reads the rest of an opened file whole, with the checks of [`read_audio`].
pub(crate) fn read_opened(path: &Path, opened: Opened) -> Result<Waveform> {
    let wave = match opened {
        Opened::Wav(mut w) => Waveform {
            samples: w.read_block(usize::MAX)?,
            sample_rate: w.sample_rate,
        },
        Opened::Flac(mut f) => {
            let mut samples = Vec::with_capacity(f.num_frames.unwrap_or(0).min(1 << 28) as usize);
            while f.read_block(1 << 20, &mut samples)? > 0 {}
            Waveform {
                samples,
                sample_rate: f.sample_rate,
            }
        }
    };
    if wave.samples.is_empty() {
        return Err(Error::Audio {
            path: path.to_path_buf(),
            msg: "contains zero samples".into(),
        });
    }
    check_samples(path, 0, &wave.samples)?;
    Ok(wave)
}

/// Largest sample magnitude accepted from a (float) file: full scale is 1, but
/// some tools write floats at the 16-bit scale (±32768). Anything larger cannot
/// be audio, and would overflow the resampler and the features to infinity.
pub const MAX_SAMPLE_ABS: f32 = 65_536.0;

/// Errors on the first sample that is NaN, infinite or beyond
/// ±[`MAX_SAMPLE_ABS`]; `first` is the index of `samples[0]` in the file.
pub(crate) fn check_samples(path: &Path, first: u64, samples: &[f32]) -> Result<()> {
    let Some(i) = samples
        .iter()
        .position(|x| x.is_nan() || x.abs() > MAX_SAMPLE_ABS)
    else {
        return Ok(());
    };
    let x = samples[i];
    let what = if x.is_finite() {
        format!(
            "out of range ({x}; float samples must lie within ±{MAX_SAMPLE_ABS}, full scale is ±1)"
        )
    } else {
        format!("not finite ({x})")
    };
    Err(Error::Audio {
        path: path.to_path_buf(),
        msg: format!("sample {} is {what}", first + i as u64),
    })
}

/// A file whose header has been checked, ready to be read block by block.
pub(crate) enum Opened {
    Wav(wav::WavSource),
    Flac(Box<flac::FlacSource>),
}

/// Recognises the format from the first bytes and opens the file.
pub(crate) fn open_wav_or_decode(path: &Path) -> Result<Opened> {
    let bad = |msg: String| Error::Audio {
        path: path.to_path_buf(),
        msg,
    };
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, "opening", e))?;
    let file_len = file
        .metadata()
        .map_err(|e| Error::io(path, "reading", e))?
        .len();
    let mut magic = [0u8; 12];
    let got = read_up_to(&mut file, &mut magic).map_err(|e| Error::io(path, "reading", e))?;
    if got == 0 {
        return Err(bad("empty file (0 bytes), not a WAV or FLAC file".into()));
    }
    if got >= 4 && &magic[..4] == b"fLaC" {
        Ok(Opened::Flac(Box::new(flac::FlacSource::open(path, file)?)))
    } else if got >= 4
        && (&magic[..4] == b"RIFF" || &magic[..4] == b"RIFX" || &magic[..4] == b"RF64")
    {
        if got < 12 {
            return Err(bad(format!(
                "truncated WAV header ({got} bytes, need at least 12)"
            )));
        }
        if &magic[..4] != b"RIFF" || &magic[8..12] != b"WAVE" {
            return Err(bad(format!(
                "unsupported RIFF variant {:?}/{:?} (only little-endian RIFF/WAVE is read)",
                String::from_utf8_lossy(&magic[..4]),
                String::from_utf8_lossy(&magic[8..12])
            )));
        }
        Ok(Opened::Wav(wav::WavSource::open(path, file, file_len)?))
    } else {
        Err(bad(
            "not a WAV or FLAC file (no RIFF/WAVE or fLaC signature)".into(),
        ))
    }
}

/// Reads a WAV or FLAC file as 16 kHz mono: what every hark stage consumes (see
/// [`to_16k`]).
pub fn load_16k(path: &Path) -> Result<Waveform> {
    let wave = read_audio(path)?;
    let rate = wave.sample_rate;
    Ok(Waveform::new(to_16k(wave.samples, rate)?, SAMPLE_RATE_HZ))
}

/// Signal-to-noise ratio, dB, of the white noise floor [`to_16k`] gives audio
/// recorded below 16 kHz. Chosen on 8 kHz copies of 300 dev-split utterances: hmm
/// WER 29.87 / 27.21 / 25.33 / 25.33 / 27.69 / 31.85 / 40.02 % at 15 / 20 / 25 / 30 /
/// 35 / 45 / 55 dB (91.2 % without a floor); 30 dB, the gentler of the two best.
pub const UPSAMPLED_NOISE_FLOOR_SNR_DB: f64 = 30.0;

/// Mono samples at `rate` as 16 kHz, the rate every hark stage consumes: resampled
/// ([`resample()`]), and when `rate` is below 16 kHz (telephone audio, 8 kHz) given a
/// white noise floor [`UPSAMPLED_NOISE_FLOOR_SNR_DB`] below the signal (seeded by
/// the length, so the same input always gives the same samples). Upsampling leaves
/// the band above the source's Nyquist frequency digitally silent, a log energy the
/// acoustic model never met in training, where every utterance carries a noise
/// floor and half of them noise at 5–30 dB SNR (`hark::corpus::augment`). On 8 kHz
/// μ-law copies of the dev split the default model's hmm WER is 90.67 % without
/// the floor and 23.80 % with it (8.48 % at 16 kHz).
pub fn to_16k(samples: Vec<f32>, rate: u32) -> Result<Vec<f32>> {
    if rate == SAMPLE_RATE_HZ {
        return Ok(samples);
    }
    let mut out = resample(&Waveform::new(samples, rate), SAMPLE_RATE_HZ)?.samples;
    if rate < SAMPLE_RATE_HZ {
        let mut rng = crate::rng::Rng::new(out.len() as u64);
        crate::corpus::augment::add_noise(
            &mut out,
            UPSAMPLED_NOISE_FLOOR_SNR_DB,
            crate::corpus::augment::NoiseColor::White,
            &mut rng,
        );
    }
    Ok(out)
}

/// Writes a mono 16-bit PCM WAV file atomically. Samples are clipped to `[-1, 1)`
/// and rounded to the nearest of the 65536 levels.
pub fn write_wav_16bit(path: &Path, wave: &Waveform) -> Result<()> {
    if wave.sample_rate == 0 {
        return Err(Error::Invalid(
            "cannot write a WAV with sample rate 0".into(),
        ));
    }
    if let Some(i) = wave.samples.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite {
            op: format!("write_wav_16bit sample {i}"),
        });
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: wave.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut buf = std::io::Cursor::new(Vec::with_capacity(44 + 2 * wave.samples.len()));
    {
        let to_io = |e: hound::Error| match e {
            hound::Error::IoError(e) => e,
            other => std::io::Error::other(other.to_string()),
        };
        let wrap = |e| Error::io(path, "encoding", to_io(e));
        let mut w = hound::WavWriter::new(&mut buf, spec).map_err(wrap)?;
        {
            let mut w16 = w.get_i16_writer(wave.samples.len() as u32);
            for &x in &wave.samples {
                w16.write_sample(float_to_i16(x));
            }
            w16.flush().map_err(wrap)?;
        }
        w.finalize().map_err(wrap)?;
    }
    crate::fsio::write_atomic(path, buf.get_ref())
}

/// `x` in `[-1, 1)` to the nearest 16-bit level, clipping outside the range.
pub fn float_to_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Reads until `buf` is full or the input ends; returns the number of bytes read.
fn read_up_to(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
