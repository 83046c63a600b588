//! The phone set and token tables shared by every stage.
//!
//! hark uses the 39 ARPAbet phones of the CMU Pronouncing Dictionary without stress
//! marks, plus `SIL` for silence and pauses. CTC models add a blank `<blk>` at
//! output index 0 (see `../shared/DESIGN.md`).

use std::path::Path;

use crate::error::{Error, Result};

/// The 39 CMUdict phones (stress removed), in the canonical order.
pub const CMU_PHONES: [&str; 39] = [
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
];

/// The silence phone.
pub const SIL: &str = "SIL";
/// The CTC blank token, always at index 0 of a CTC token table.
pub const BLANK: &str = "<blk>";

/// Strips CMUdict stress digits (`AH0` → `AH`) and upper-cases.
pub fn strip_stress(phone: &str) -> String {
    phone
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .to_ascii_uppercase()
}

/// Whether `p` (already stress-stripped) is one of the 39 phones or `SIL`.
pub fn is_phone(p: &str) -> bool {
    p == SIL || CMU_PHONES.contains(&p)
}

/// A token table: output index ↔ symbol. Line number in `tokens.txt` = index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTable {
    symbols: Vec<String>,
}

impl TokenTable {
    /// The CTC table: `<blk>`, `SIL`, then the 39 phones (41 outputs).
    pub fn ctc_default() -> Self {
        let mut symbols = vec![BLANK.to_string(), SIL.to_string()];
        symbols.extend(CMU_PHONES.iter().map(|s| s.to_string()));
        TokenTable { symbols }
    }

    /// The frame-level (hybrid) table: `SIL`, then the 39 phones (40 outputs).
    pub fn hybrid_default() -> Self {
        let mut symbols = vec![SIL.to_string()];
        symbols.extend(CMU_PHONES.iter().map(|s| s.to_string()));
        TokenTable { symbols }
    }

    /// Builds a table from symbols; duplicates are rejected.
    pub fn new(symbols: Vec<String>) -> Result<Self> {
        for (i, s) in symbols.iter().enumerate() {
            if symbols[..i].contains(s) {
                return Err(Error::Invalid(format!("duplicate token {s:?}")));
            }
        }
        Ok(TokenTable { symbols })
    }

    /// Reads `tokens.txt`: one token per line. A second column (Kaldi/k2 style
    /// `symbol index`) is accepted when it equals the line index.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
        let mut symbols = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let sym = parts.next().unwrap_or_default();
            if let Some(idx) = parts.next() {
                let idx: usize = idx
                    .parse()
                    .map_err(|_| Error::parse(path, i + 1, format!("bad index {idx:?}")))?;
                if idx != symbols.len() {
                    return Err(Error::parse(
                        path,
                        i + 1,
                        format!("index {idx} out of order, expected {}", symbols.len()),
                    ));
                }
            }
            if symbols.iter().any(|s| s == sym) {
                return Err(Error::parse(
                    path,
                    i + 1,
                    format!("duplicate token {sym:?}"),
                ));
            }
            symbols.push(sym.to_string());
        }
        if symbols.is_empty() {
            return Err(Error::parse(path, 0, "no tokens"));
        }
        Ok(TokenTable { symbols })
    }

    /// Writes `tokens.txt` (one symbol per line).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for sym in &self.symbols {
            s.push_str(sym);
            s.push('\n');
        }
        s
    }

    /// Number of outputs.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Whether the table is empty (never true for a table that was read).
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Symbol at `index`.
    pub fn symbol(&self, index: usize) -> Option<&str> {
        self.symbols.get(index).map(String::as_str)
    }

    /// Index of `symbol`.
    pub fn index(&self, symbol: &str) -> Option<usize> {
        self.symbols.iter().position(|s| s == symbol)
    }

    /// All symbols in index order.
    pub fn symbols(&self) -> &[String] {
        &self.symbols
    }

    /// Index of the CTC blank, if this table has one (it must be index 0).
    pub fn blank(&self) -> Option<usize> {
        (self.symbols.first().map(String::as_str) == Some(BLANK)).then_some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tables_have_expected_sizes() {
        assert_eq!(TokenTable::ctc_default().len(), 41);
        assert_eq!(TokenTable::ctc_default().blank(), Some(0));
        assert_eq!(TokenTable::hybrid_default().len(), 40);
        assert_eq!(TokenTable::hybrid_default().blank(), None);
        assert_eq!(TokenTable::ctc_default().index("SIL"), Some(1));
    }

    #[test]
    fn strip_stress_removes_digits() {
        assert_eq!(strip_stress("AH0"), "AH");
        assert_eq!(strip_stress("ey1"), "EY");
        assert!(is_phone(&strip_stress("ZH")));
        assert!(!is_phone("AX"));
    }

    #[test]
    fn tokens_roundtrip_and_errors() {
        let dir = std::env::temp_dir().join(format!("hark-tok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("tokens.txt");
        let t = TokenTable::ctc_default();
        std::fs::write(&p, t.to_text()).unwrap();
        assert_eq!(TokenTable::read(&p).unwrap(), t);
        std::fs::write(&p, "a 0\nb 2\n").unwrap();
        let e = TokenTable::read(&p).unwrap_err().to_string();
        assert!(e.contains("tokens.txt:2"), "{e}");
        std::fs::write(&p, "a\na\n").unwrap();
        assert!(TokenTable::read(&p).is_err());
    }
}
