//! The CMU Pronouncing Dictionary, as the corpus recipe uses it: which words can be
//! spoken and labelled, their reference pronunciations (for label quality), and the
//! decoding-vocabulary lexicon written in the format of `../shared/DESIGN.md`.
//!
//! Input lines look like `WORD  PH1 PH2 ...` or `word(2) PH1 ...`, with optional
//! stress digits and trailing `# comments`; lines starting with `;;;` are comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::{Error, Result};
use crate::phones::{is_phone, strip_stress};

/// Word → pronunciations (stress stripped), with words lower-cased.
#[derive(Debug, Clone, Default)]
pub struct CmuDict {
    /// Pronunciations in file order; the first is the primary one.
    entries: BTreeMap<String, Vec<Vec<String>>>,
}

impl CmuDict {
    /// Reads a dictionary file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
        Self::parse(&text, path)
    }

    /// Parses dictionary text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut entries: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() || line.starts_with(";;;") {
                continue;
            }
            let mut parts = line.split_whitespace();
            let head = parts.next().unwrap_or_default();
            let word = match head.find('(') {
                Some(k) if head.ends_with(')') => &head[..k],
                _ => head,
            };
            let mut pron = Vec::new();
            for p in parts {
                let s = strip_stress(p);
                if !is_phone(&s) || s == crate::phones::SIL {
                    return Err(Error::parse(
                        path,
                        i + 1,
                        format!("unknown phone {p:?} in entry {head:?}"),
                    ));
                }
                pron.push(s);
            }
            if word.is_empty() || pron.is_empty() {
                return Err(Error::parse(path, i + 1, "expected `WORD PH1 PH2 ...`"));
            }
            entries.entry(word.to_lowercase()).or_default().push(pron);
        }
        if entries.is_empty() {
            return Err(Error::parse(path, 0, "no dictionary entries"));
        }
        Ok(CmuDict { entries })
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the dictionary has no words (never true for a loaded one).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `word` (any case) has a pronunciation.
    pub fn contains(&self, word: &str) -> bool {
        self.entries.contains_key(&word.to_lowercase())
    }

    /// All pronunciations of `word` (any case), primary first.
    pub fn pronunciations(&self, word: &str) -> Option<&[Vec<String>]> {
        self.entries.get(&word.to_lowercase()).map(Vec::as_slice)
    }

    /// The primary pronunciations of a space-separated word string, concatenated.
    /// `None` when a word is missing.
    pub fn primary_phones(&self, text: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for w in text.split_whitespace() {
            out.extend(self.pronunciations(w)?.first()?.iter().cloned());
        }
        Some(out)
    }

    /// The lexicon text (`WORD PH1 PH2 ...`, upper-case words, `WORD(2)` for
    /// alternates) for `words`; words not in the dictionary are skipped. Returns the
    /// text and the number of words written.
    pub fn lexicon_text<'a>(&self, words: impl IntoIterator<Item = &'a str>) -> (String, usize) {
        let set: BTreeSet<String> = words.into_iter().map(str::to_lowercase).collect();
        let mut s = String::new();
        let mut n = 0;
        for w in &set {
            let Some(prons) = self.entries.get(w) else {
                continue;
            };
            n += 1;
            let upper = w.to_uppercase();
            for (k, p) in prons.iter().enumerate() {
                if k == 0 {
                    s.push_str(&upper);
                } else {
                    s.push_str(&format!("{upper}({})", k + 1));
                }
                s.push(' ');
                s.push_str(&p.join(" "));
                s.push('\n');
            }
        }
        (s, n)
    }

    /// Iterates over the words (lower-case, sorted).
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str =
        ";;; comment\nHELLO  HH AH0 L OW1\nhello(2) HH EH0 L OW1\nworld W ER1 L D # noun\n";

    #[test]
    fn parses_alternates_stress_and_comments() {
        let d = CmuDict::parse(SAMPLE, Path::new("x")).unwrap();
        assert_eq!(d.len(), 2);
        let h = d.pronunciations("Hello").unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0], ["HH", "AH", "L", "OW"]);
        assert_eq!(d.primary_phones("hello world").unwrap().len(), 8);
        assert!(d.primary_phones("hello moon").is_none());
    }

    #[test]
    fn lexicon_text_is_sorted_upper_with_alternates() {
        let d = CmuDict::parse(SAMPLE, Path::new("x")).unwrap();
        let (t, n) = d.lexicon_text(["world", "hello", "missing"]);
        assert_eq!(n, 2);
        assert_eq!(t, "HELLO HH AH L OW\nHELLO(2) HH EH L OW\nWORLD W ER L D\n");
        // What it writes parses back to the same entries.
        let back = CmuDict::parse(&t, Path::new("y")).unwrap();
        assert_eq!(back.pronunciations("hello"), d.pronunciations("hello"));
    }

    #[test]
    fn unknown_phone_names_line() {
        let e = CmuDict::parse("A AH0\nB XX1\n", Path::new("d.txt")).unwrap_err();
        assert!(e.to_string().contains("d.txt:2"), "{e}");
    }
}
