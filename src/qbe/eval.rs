//! Query-by-example evaluation: the QbE manifest and relevance judgement.
//!
//! Manifest (JSON Lines, paths relative to the manifest's folder):
//! ```text
//! {"query": "q1.wav", "relevant": [{"audio": "rec3.wav", "start": 1.20, "end": 1.62}],
//!  "corpus": ["rec1.wav", "rec2.wav"]}
//! ```
//! A hit counts as relevant when its span overlaps a relevant span of the same file
//! by at least 50 % of the shorter of the two; each relevant span can be found only
//! once (later hits on it count as false alarms), so MAP cannot exceed 1.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::qbe::index::{Hit, overlap_fraction};

/// A relevant occurrence of the query term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelevantSpan {
    /// Recording path (as written in the manifest).
    pub audio: String,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

/// One query of a QbE manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QbeQuery {
    /// The spoken query (a WAV path).
    pub query: String,
    /// Where the query term occurs.
    #[serde(default)]
    pub relevant: Vec<RelevantSpan>,
    /// The recordings searched.
    #[serde(default)]
    pub corpus: Vec<String>,
    /// Optional label (the query's word), for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
}

/// A loaded QbE manifest.
#[derive(Debug, Clone)]
pub struct QbeManifest {
    /// Folder relative paths are resolved against.
    pub base: PathBuf,
    /// The queries in file order.
    pub queries: Vec<QbeQuery>,
}

impl QbeManifest {
    /// Reads a QbE manifest; errors name the file and line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
        let mut queries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let q: QbeQuery = serde_json::from_str(line)
                .map_err(|e| Error::parse(path, i + 1, format!("bad query line: {e}")))?;
            for r in &q.relevant {
                if !(r.start.is_finite() && r.end.is_finite() && r.start <= r.end) {
                    return Err(Error::parse(
                        path,
                        i + 1,
                        "relevant span needs start <= end",
                    ));
                }
            }
            queries.push(q);
        }
        Ok(QbeManifest {
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            queries,
        })
    }

    /// Resolves a manifest path against the manifest folder.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// Writes queries as JSON Lines, atomically.
    pub fn write(path: &Path, queries: &[QbeQuery]) -> Result<()> {
        let mut s = String::new();
        for q in queries {
            s.push_str(&serde_json::to_string(q).unwrap_or_default());
            s.push('\n');
        }
        crate::fsio::write_atomic(path, s.as_bytes())
    }
}

/// Marks each hit (best first) relevant or not. `same_file(hit_file, rel_audio)`
/// says whether a hit's file is the relevant span's recording (callers compare
/// resolved paths). Each relevant span is matched at most once.
pub fn judge(
    hits: &[Hit],
    relevant: &[RelevantSpan],
    same_file: impl Fn(&str, &str) -> bool,
) -> Vec<bool> {
    let mut used = vec![false; relevant.len()];
    hits.iter()
        .map(|h| {
            for (k, r) in relevant.iter().enumerate() {
                if !used[k]
                    && same_file(&h.file, &r.audio)
                    && overlap_fraction((h.start_s, h.end_s), (r.start as f32, r.end as f32)) >= 0.5
                {
                    used[k] = true;
                    return true;
                }
            }
            false
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(file: &str, s: f32, e: f32) -> Hit {
        Hit {
            file: file.into(),
            start_s: s,
            end_s: e,
            score: 0.0,
        }
    }

    #[test]
    fn each_relevant_span_counts_once() {
        let rel = vec![RelevantSpan {
            audio: "a.wav".into(),
            start: 1.0,
            end: 2.0,
        }];
        let hits = [
            hit("a.wav", 1.1, 1.9),
            hit("a.wav", 1.0, 2.0),
            hit("b.wav", 1.0, 2.0),
        ];
        assert_eq!(judge(&hits, &rel, |a, b| a == b), vec![true, false, false]);
    }

    #[test]
    fn half_overlap_of_shorter_is_enough() {
        let rel = vec![RelevantSpan {
            audio: "a.wav".into(),
            start: 1.0,
            end: 2.0,
        }];
        // overlap 0.5 s of a 1.0 s hit: exactly 50 %.
        assert_eq!(
            judge(&[hit("a.wav", 1.5, 2.5)], &rel, |a, b| a == b),
            vec![true]
        );
        assert_eq!(
            judge(&[hit("a.wav", 1.6, 2.6)], &rel, |a, b| a == b),
            vec![false]
        );
    }

    #[test]
    fn manifest_parses_design_example() {
        let d = std::env::temp_dir().join(format!("hark-qbe-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("q.jsonl");
        std::fs::write(
            &p,
            r#"{"query": "q1.wav", "relevant": [{"audio": "rec3.wav", "start": 1.20, "end": 1.62}], "corpus": ["rec1.wav", "rec2.wav"]}"#,
        )
        .unwrap();
        let m = QbeManifest::load(&p).unwrap();
        assert_eq!(m.queries[0].relevant[0].end, 1.62);
        assert_eq!(m.resolve("rec1.wav"), d.join("rec1.wav"));
        std::fs::write(&p, "{\"query\": 3}\n").unwrap();
        assert!(
            QbeManifest::load(&p)
                .unwrap_err()
                .to_string()
                .contains("q.jsonl:1")
        );
    }
}
