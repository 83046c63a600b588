//! Manifests: JSON Lines, one utterance per line (see `../shared/DESIGN.md`).
//!
//! ```text
//! {"id": "utt1", "audio": "wavs/utt1.wav", "text": "go forward ten meters", "duration": 1.85}
//! ```
//! `audio` is relative to the manifest's folder. Optional: `speaker`, `phones`
//! (space-separated), `alignment` (list of `[phone, start_s, end_s]`). A Kaldi data
//! directory (`wav.scp` + `text`) is accepted wherever a manifest is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One aligned phone: `[phone, start_s, end_s]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlignedPhone(pub String, pub f64, pub f64);

/// One utterance of a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utterance {
    /// Unique utterance id.
    pub id: String,
    /// Audio path as written in the manifest (relative to the manifest's folder).
    pub audio: String,
    /// Orthographic transcript (lower-case words).
    #[serde(default)]
    pub text: String,
    /// Duration in seconds.
    #[serde(default)]
    pub duration: f64,
    /// Speaker (or TTS voice) label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// Space-separated phone transcript in the 39+SIL set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phones: Option<String>,
    /// Phone alignment `[phone, start_s, end_s]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<Vec<AlignedPhone>>,
}

/// A manifest loaded from disk: utterances plus the folder their paths are relative to.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Folder that relative `audio` paths are resolved against.
    pub base: PathBuf,
    /// The utterances, in file order.
    pub utterances: Vec<Utterance>,
}

impl Manifest {
    /// Loads a JSONL manifest, or a Kaldi data directory when `path` is a directory
    /// holding `wav.scp`.
    pub fn load(path: &Path) -> Result<Self> {
        if path.is_dir() {
            return Self::load_kaldi_dir(path);
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut utterances = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let u: Utterance = serde_json::from_str(line)
                .map_err(|e| Error::parse(path, i + 1, format!("bad manifest line: {e}")))?;
            if u.id.is_empty() {
                return Err(Error::parse(path, i + 1, "empty id"));
            }
            if !u.duration.is_finite() || u.duration < 0.0 {
                return Err(Error::parse(
                    path,
                    i + 1,
                    "duration must be finite and >= 0",
                ));
            }
            utterances.push(u);
        }
        Ok(Manifest { base, utterances })
    }

    /// Loads a Kaldi data directory: `wav.scp` (`utt path`), optional `text`
    /// (`utt words...`) and `utt2spk`. Piped `wav.scp` entries are rejected.
    pub fn load_kaldi_dir(dir: &Path) -> Result<Self> {
        let scp = dir.join("wav.scp");
        let scp_text = std::fs::read_to_string(&scp).map_err(|e| Error::io(&scp, "reading", e))?;
        let read_map = |name: &str| -> Result<HashMap<String, String>> {
            let p = dir.join(name);
            if !p.exists() {
                return Ok(HashMap::new());
            }
            let t = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, "reading", e))?;
            Ok(t.lines()
                .filter_map(|l| {
                    let l = l.trim();
                    let (k, v) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
                    (!k.is_empty()).then(|| (k.to_string(), v.trim().to_string()))
                })
                .collect())
        };
        let texts = read_map("text")?;
        let spk = read_map("utt2spk")?;
        let mut utterances = Vec::new();
        for (i, line) in scp_text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (id, audio) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| Error::parse(&scp, i + 1, "expected `utt-id path`"))?;
            let audio = audio.trim();
            if audio.ends_with('|') {
                return Err(Error::parse(
                    &scp,
                    i + 1,
                    "piped wav.scp commands are not supported; convert to files first",
                ));
            }
            utterances.push(Utterance {
                id: id.to_string(),
                audio: audio.to_string(),
                text: texts.get(id).cloned().unwrap_or_default().to_lowercase(),
                duration: 0.0,
                speaker: spk.get(id).cloned(),
                phones: None,
                alignment: None,
            });
        }
        Ok(Manifest {
            base: dir.to_path_buf(),
            utterances,
        })
    }

    /// Resolves an utterance's audio path against the manifest folder.
    pub fn audio_path(&self, u: &Utterance) -> PathBuf {
        let p = Path::new(&u.audio);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// Serialises utterances as JSON Lines.
    pub fn to_jsonl(utterances: &[Utterance]) -> String {
        let mut s = String::new();
        for u in utterances {
            // Serialising a plain struct of strings and numbers cannot fail.
            s.push_str(&serde_json::to_string(u).unwrap_or_default());
            s.push('\n');
        }
        s
    }

    /// Writes utterances to `path` atomically.
    pub fn write(path: &Path, utterances: &[Utterance]) -> Result<()> {
        crate::fsio::write_atomic(path, Self::to_jsonl(utterances).as_bytes())
    }

    /// Total duration in seconds.
    pub fn total_duration(&self) -> f64 {
        self.utterances.iter().map(|u| u.duration).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hark-man-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn jsonl_roundtrip_keeps_optional_fields() {
        let d = tmpdir("rt");
        let u = Utterance {
            id: "u1".into(),
            audio: "wavs/u1.wav".into(),
            text: "go forward".into(),
            duration: 1.5,
            speaker: Some("kal".into()),
            phones: Some("G OW F AO R W ER D".into()),
            alignment: Some(vec![AlignedPhone("G".into(), 0.0, 0.1)]),
        };
        let p = d.join("m.jsonl");
        Manifest::write(&p, std::slice::from_ref(&u)).unwrap();
        let m = Manifest::load(&p).unwrap();
        assert_eq!(m.utterances, vec![u]);
        assert_eq!(m.audio_path(&m.utterances[0]), d.join("wavs/u1.wav"));
    }

    #[test]
    fn parses_design_example_line() {
        let d = tmpdir("ex");
        let p = d.join("m.jsonl");
        std::fs::write(
            &p,
            r#"{"id": "utt1", "audio": "wavs/utt1.wav", "text": "go forward ten meters", "duration": 1.85}"#,
        )
        .unwrap();
        let m = Manifest::load(&p).unwrap();
        assert_eq!(m.utterances[0].text, "go forward ten meters");
        assert!((m.total_duration() - 1.85).abs() < 1e-12);
    }

    #[test]
    fn bad_line_names_file_and_line() {
        let d = tmpdir("bad");
        let p = d.join("m.jsonl");
        std::fs::write(&p, "{\"id\":\"a\",\"audio\":\"a.wav\"}\n{not json}\n").unwrap();
        let e = Manifest::load(&p).unwrap_err().to_string();
        assert!(e.contains("m.jsonl:2"), "{e}");
    }

    #[test]
    fn kaldi_dir_is_read() {
        let d = tmpdir("kaldi");
        std::fs::write(d.join("wav.scp"), "a /x/a.wav\nb b.wav\n").unwrap();
        std::fs::write(d.join("text"), "a HELLO WORLD\nb YES\n").unwrap();
        std::fs::write(d.join("utt2spk"), "a s1\nb s2\n").unwrap();
        let m = Manifest::load(&d).unwrap();
        assert_eq!(m.utterances.len(), 2);
        assert_eq!(m.utterances[0].text, "hello world");
        assert_eq!(m.utterances[1].speaker.as_deref(), Some("s2"));
        assert_eq!(m.audio_path(&m.utterances[1]), d.join("b.wav"));
        std::fs::write(d.join("wav.scp"), "a sox x.wav -t wav - |\n").unwrap();
        assert!(Manifest::load(&d).is_err());
    }
}
