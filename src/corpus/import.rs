//! Importers that turn real corpora into manifests (`../shared/DESIGN.md`):
//!
//! - **LibriSpeech**: a tree of `*.trans.txt` (`ID WORDS...`) beside `ID.flac`.
//! - **Kaldi** data directory: `wav.scp`, `text`, `utt2spk`, and `segments` (whose
//!   spans are cut out of the recordings into WAV files beside the manifest).
//! - **TIMIT**: `.PHN` (61 phones, sample times; folded to 39 + SIL with the
//!   alignment kept), `.WRD` words, NIST SPHERE `.WAV` audio converted to RIFF WAV.
//!
//! Audio paths are written relative to the manifest's folder when the audio lies
//! under it, absolute otherwise.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::corpus::phonemap::{fold_timit, phone_string};
use crate::corpus::sphere;
use crate::error::{Error, Result};
use crate::manifest::{Manifest, Utterance};

/// The corpus layouts `hark corpus import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// LibriSpeech-style tree.
    LibriSpeech,
    /// Kaldi data directory.
    Kaldi,
    /// TIMIT.
    Timit,
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "librispeech" => Ok(Format::LibriSpeech),
            "kaldi" => Ok(Format::Kaldi),
            "timit" => Ok(Format::Timit),
            _ => Err(Error::Invalid(format!(
                "unknown corpus format {s:?} (expected librispeech, kaldi or timit)"
            ))),
        }
    }
}

/// What an import produced.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportSummary {
    /// Utterances written.
    pub utterances: usize,
    /// Their total duration in seconds.
    pub seconds: f64,
}

/// Imports `src` in `format` and writes the manifest `out` atomically.
pub fn import(format: Format, src: &Path, out: &Path) -> Result<ImportSummary> {
    let base = out.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    std::fs::create_dir_all(&base).map_err(|e| Error::io(&base, "creating", e))?;
    let utts = match format {
        Format::LibriSpeech => import_librispeech(src, &base)?,
        Format::Kaldi => import_kaldi(src, &base)?,
        Format::Timit => import_timit(src, &base)?,
    };
    if utts.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no utterances found for this format",
            src.display()
        )));
    }
    Manifest::write(out, &utts)?;
    Ok(ImportSummary {
        utterances: utts.len(),
        seconds: utts.iter().map(|u| u.duration).sum(),
    })
}

/// Absolute form of `p` (joined to the current directory when relative).
fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// `audio` relative to `base` when it lies under it, absolute otherwise.
pub fn rel_or_abs(audio: &Path, base: &Path) -> String {
    let a = absolute(audio);
    let b = absolute(base);
    match a.strip_prefix(&b) {
        Ok(r) => r.to_string_lossy().into_owned(),
        Err(_) => a.to_string_lossy().into_owned(),
    }
}

/// All files under `dir` (recursive, sorted).
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| Error::io(&d, "listing", e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&d, "listing", e))?;
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Duration of a FLAC file from its STREAMINFO block (no decoding).
pub fn flac_duration(path: &Path) -> Result<f64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, "opening", e))?;
    let mut b = [0u8; 42];
    f.read_exact(&mut b)
        .map_err(|e| Error::io(path, "reading", e))?;
    if &b[..4] != b"fLaC" || (b[4] & 0x7f) != 0 {
        return Err(Error::Audio {
            path: path.to_path_buf(),
            msg: "not a FLAC file (no fLaC marker and STREAMINFO)".into(),
        });
    }
    let si = &b[8..42];
    let rate = ((si[10] as u32) << 12) | ((si[11] as u32) << 4) | ((si[12] as u32) >> 4);
    let total = (((si[13] & 0x0f) as u64) << 32)
        | ((si[14] as u64) << 24)
        | ((si[15] as u64) << 16)
        | ((si[16] as u64) << 8)
        | si[17] as u64;
    if rate == 0 {
        return Err(Error::Audio {
            path: path.to_path_buf(),
            msg: "FLAC sample rate is 0".into(),
        });
    }
    Ok(total as f64 / rate as f64)
}

/// Duration of a WAV (RIFF) or FLAC file from its header.
pub fn audio_duration(path: &Path) -> Result<f64> {
    let is_flac = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("flac"));
    if is_flac {
        return flac_duration(path);
    }
    let r = hound::WavReader::open(path).map_err(|e| Error::Audio {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    let spec = r.spec();
    Ok(r.duration() as f64 / spec.sample_rate as f64)
}

/// Reads a LibriSpeech-style tree.
pub fn import_librispeech(src: &Path, base: &Path) -> Result<Vec<Utterance>> {
    let mut utts = Vec::new();
    for f in walk(src)? {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.ends_with(".trans.txt") {
            continue;
        }
        let dir = f.parent().unwrap_or(src);
        let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, "reading", e))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (id, words) = line.split_once(' ').unwrap_or((line, ""));
            let audio = ["flac", "wav"]
                .iter()
                .map(|e| dir.join(format!("{id}.{e}")))
                .find(|p| p.exists())
                .ok_or_else(|| {
                    Error::parse(
                        &f,
                        i + 1,
                        format!("no audio {id}.flac or {id}.wav beside the transcript"),
                    )
                })?;
            let speaker = id.split('-').next().map(str::to_string);
            utts.push(Utterance {
                id: id.to_string(),
                audio: rel_or_abs(&audio, base),
                text: words.trim().to_lowercase(),
                duration: audio_duration(&audio)?,
                speaker,
                phones: None,
                alignment: None,
            });
        }
    }
    Ok(utts)
}

fn read_kv(path: &Path) -> Result<HashMap<String, String>> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let t = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
    Ok(t.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (k, v) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (!k.is_empty()).then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect())
}

/// Reads a Kaldi data directory; `segments` spans are cut into
/// `<base>/wavs/<segment-id>.wav`.
pub fn import_kaldi(src: &Path, base: &Path) -> Result<Vec<Utterance>> {
    let recordings = Manifest::load_kaldi_dir(src)?;
    let seg_path = src.join("segments");
    if !seg_path.exists() {
        let mut utts = recordings.utterances.clone();
        for u in utts.iter_mut() {
            let p = recordings.audio_path(u);
            u.duration = audio_duration(&p)?;
            u.audio = rel_or_abs(&p, base);
        }
        return Ok(utts);
    }
    let rec_path: HashMap<String, PathBuf> = recordings
        .utterances
        .iter()
        .map(|u| (u.id.clone(), recordings.audio_path(u)))
        .collect();
    let texts = read_kv(&src.join("text"))?;
    let spk = read_kv(&src.join("utt2spk"))?;
    let seg_text =
        std::fs::read_to_string(&seg_path).map_err(|e| Error::io(&seg_path, "reading", e))?;
    let mut cache: Option<(String, Vec<i16>, hound::WavSpec)> = None;
    let mut utts = Vec::new();
    for (i, line) in seg_text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f.len() != 4 {
            return Err(Error::parse(
                &seg_path,
                i + 1,
                "expected `segment-id recording-id start end`",
            ));
        }
        let (start, end): (f64, f64) = match (f[2].parse(), f[3].parse()) {
            (Ok(s), Ok(e)) if e > s && s >= 0.0 => (s, e),
            _ => {
                return Err(Error::parse(
                    &seg_path,
                    i + 1,
                    "start and end must be numbers with 0 <= start < end",
                ));
            }
        };
        let rec = rec_path.get(f[1]).ok_or_else(|| {
            Error::parse(
                &seg_path,
                i + 1,
                format!("recording {:?} not in wav.scp", f[1]),
            )
        })?;
        if cache.as_ref().map(|c| c.0.as_str()) != Some(f[1]) {
            let mut r = hound::WavReader::open(rec).map_err(|e| Error::Audio {
                path: rec.clone(),
                msg: e.to_string(),
            })?;
            let spec = r.spec();
            if spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
                return Err(Error::Audio {
                    path: rec.clone(),
                    msg: "segments need 16-bit PCM WAV recordings".into(),
                });
            }
            let s: std::result::Result<Vec<i16>, _> = r.samples::<i16>().collect();
            let s = s.map_err(|e| Error::Audio {
                path: rec.clone(),
                msg: e.to_string(),
            })?;
            cache = Some((f[1].to_string(), s, spec));
        }
        let (_, samples, spec) = cache.as_ref().expect("invariant: filled above");
        let ch = spec.channels as usize;
        let frames = samples.len() / ch.max(1);
        let a = ((start * spec.sample_rate as f64).round() as usize).min(frames);
        let b = ((end * spec.sample_rate as f64).round() as usize).min(frames);
        let out = base.join("wavs").join(format!("{}.wav", f[0]));
        write_wav_i16(&out, &samples[a * ch..b * ch], *spec)?;
        utts.push(Utterance {
            id: f[0].to_string(),
            audio: rel_or_abs(&out, base),
            text: texts.get(f[0]).cloned().unwrap_or_default().to_lowercase(),
            duration: (b - a) as f64 / spec.sample_rate as f64,
            speaker: spk.get(f[0]).cloned(),
            phones: None,
            alignment: None,
        });
    }
    Ok(utts)
}

/// Writes 16-bit PCM samples with `spec` atomically.
fn write_wav_i16(path: &Path, samples: &[i16], spec: hound::WavSpec) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, "creating", e))?;
    }
    let err = |e: hound::Error| Error::Audio {
        path: path.to_path_buf(),
        msg: e.to_string(),
    };
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut buf, spec).map_err(err)?;
        for &s in samples {
            w.write_sample(s).map_err(err)?;
        }
        w.finalize().map_err(err)?;
    }
    crate::fsio::write_atomic(path, &buf.into_inner())
}

/// Finds `stem.<ext>` beside `stem` in either case.
fn sibling(stem: &Path, ext: &str) -> Option<PathBuf> {
    [ext.to_ascii_uppercase(), ext.to_ascii_lowercase()]
        .iter()
        .map(|e| stem.with_extension(e))
        .find(|p| p.exists())
}

/// Reads TIMIT (any case of file names): one utterance per `.PHN` file.
pub fn import_timit(src: &Path, base: &Path) -> Result<Vec<Utterance>> {
    let mut utts = Vec::new();
    for phn in walk(src)? {
        if !phn
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("phn"))
        {
            continue;
        }
        let stem = phn.with_extension("");
        let utt = stem
            .file_name()
            .map(|s| s.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let speaker = stem
            .parent()
            .and_then(Path::file_name)
            .map(|s| s.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let id = format!("{speaker}_{utt}");
        let wav = sibling(&stem, "wav").ok_or_else(|| Error::Audio {
            path: stem.with_extension("WAV"),
            msg: "no audio beside the .PHN file".into(),
        })?;
        let bytes = std::fs::read(&wav).map_err(|e| Error::io(&wav, "reading", e))?;
        let (audio, sample_rate, n) = if sphere::is_sphere(&bytes) {
            let a = sphere::parse_sphere(&bytes, &wav)?;
            let spec = hound::WavSpec {
                channels: a.channels,
                sample_rate: a.sample_rate,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let out = base.join("wavs").join(format!("{id}.wav"));
            write_wav_i16(&out, &a.samples, spec)?;
            (
                out,
                a.sample_rate,
                a.samples.len() / a.channels.max(1) as usize,
            )
        } else {
            let r = hound::WavReader::open(&wav).map_err(|e| Error::Audio {
                path: wav.clone(),
                msg: e.to_string(),
            })?;
            (wav.clone(), r.spec().sample_rate, r.duration() as usize)
        };
        let sr = sample_rate as f64;
        let phn_text = std::fs::read_to_string(&phn).map_err(|e| Error::io(&phn, "reading", e))?;
        let segs = read_timit_spans(&phn_text, &phn, sr)?;
        let (ali, unknown) = fold_timit(&segs);
        if let Some(u) = unknown.first() {
            return Err(Error::parse(&phn, 0, format!("unknown TIMIT phone {u:?}")));
        }
        let text = match sibling(&stem, "wrd") {
            Some(w) => {
                let t = std::fs::read_to_string(&w).map_err(|e| Error::io(&w, "reading", e))?;
                read_timit_spans(&t, &w, sr)?
                    .into_iter()
                    .map(|(w, _, _)| w.to_lowercase())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            None => String::new(),
        };
        utts.push(Utterance {
            id,
            audio: rel_or_abs(&audio, base),
            text,
            duration: n as f64 / sr,
            speaker: Some(speaker),
            phones: Some(phone_string(&ali)),
            alignment: Some(ali),
        });
    }
    Ok(utts)
}

/// Parses TIMIT `start end label` lines (sample times) into seconds.
fn read_timit_spans(text: &str, path: &Path, sr: f64) -> Result<Vec<(String, f64, f64)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f.len() != 3 {
            return Err(Error::parse(path, i + 1, "expected `start end label`"));
        }
        let (s, e): (u64, u64) = match (f[0].parse(), f[1].parse()) {
            (Ok(s), Ok(e)) if e >= s => (s, e),
            _ => return Err(Error::parse(path, i + 1, "bad sample times")),
        };
        out.push((f[2].to_string(), s as f64 / sr, e as f64 / sr));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_parses() {
        assert_eq!("timit".parse::<Format>().unwrap(), Format::Timit);
        assert!("wsj".parse::<Format>().is_err());
    }

    #[test]
    fn rel_or_abs_prefers_relative() {
        assert_eq!(
            rel_or_abs(Path::new("/a/b/c.wav"), Path::new("/a")),
            "b/c.wav"
        );
        assert_eq!(
            rel_or_abs(Path::new("/x/c.wav"), Path::new("/a")),
            "/x/c.wav"
        );
    }

    #[test]
    fn timit_spans_parse_and_reject() {
        let s = read_timit_spans("0 1600 h#\n1600 3200 ax\n", Path::new("a.PHN"), 16000.0).unwrap();
        assert_eq!(s[1], ("ax".to_string(), 0.1, 0.2));
        assert!(read_timit_spans("0 h#\n", Path::new("a.PHN"), 16000.0).is_err());
        assert!(read_timit_spans("10 5 h#\n", Path::new("a.PHN"), 16000.0).is_err());
    }
}
