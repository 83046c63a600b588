//! Pronunciation lexicon in CMUdict text format.
//!
//! ```text
//! ;;; comments start with three semicolons
//! HELLO  HH AH0 L OW1
//! HELLO(2)  HH EH0 L OW1
//! ```
//!
//! Stress digits are stripped, words are matched case-insensitively (stored lower
//! case), and `WORD(n)` lines add alternate pronunciations of `WORD`. Every phone must
//! be one of the 39 CMU phones or `SIL` ([`crate::phones`]); errors carry `file:line`.
//!
//! # Pronunciation probabilities
//!
//! A number in (0, 1] right after the word is the pronunciation's probability, as in
//! Kaldi's `lexiconp.txt` (max-normalised: a word's likeliest pronunciation has 1):
//!
//! ```text
//! THE  1.0  DH AH0
//! THE(2)  0.42  DH IY0
//! ```
//!
//! Lines without one have probability 1, so a plain CMUdict file means "every
//! pronunciation is as good as any other". Decoders add `pron_weight × ln p` when a
//! word ends ([`crate::decode::prefix_tree::LexiconTree::pron_logp`]);
//! [`learn::PronCounts::probabilities`] estimates them from a labelled corpus.
//!
//! # Words missing from the lexicon (OOV)
//!
//! [`Lexicon::pronounce`] looks a word up and, when it is missing, falls back to a
//! naive letter-to-sound spelling ([`fallback_pronunciation`]: one phone per letter or
//! common digraph). The fallback keeps forced alignment and LM building going on
//! unseen words; callers collect the OOV words (see [`Lexicon::oov_words`]) and warn
//! about them. Decoders never produce OOV words: they only search the lexicon.

pub mod learn;

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::phones::{CMU_PHONES, SIL, is_phone, strip_stress};

/// Index of a word in a [`Lexicon`] (`words[id]`).
pub type WordId = u32;
/// Index of a phone: 0 = `SIL`, 1..=39 = [`CMU_PHONES`] in order (the hybrid token order).
pub type PhoneId = u16;

/// Number of phone ids (SIL + 39).
pub const NUM_PHONES: usize = 40;

/// The phone id of a (stress-stripped, upper-case) symbol.
pub fn phone_id(symbol: &str) -> Option<PhoneId> {
    if symbol == SIL {
        return Some(0);
    }
    CMU_PHONES
        .iter()
        .position(|p| *p == symbol)
        .map(|i| (i + 1) as PhoneId)
}

/// The symbol of a phone id.
///
/// # Panics
/// If `id >= NUM_PHONES` (a programmer error: ids come from [`phone_id`]).
pub fn phone_symbol(id: PhoneId) -> &'static str {
    if id == 0 {
        SIL
    } else {
        CMU_PHONES[id as usize - 1]
    }
}

/// One pronunciation of a word.
#[derive(Debug, Clone, PartialEq)]
pub struct Pronunciation {
    /// The word it belongs to.
    pub word: WordId,
    /// Its phones (never empty).
    pub phones: Vec<PhoneId>,
    /// Its probability in (0, 1] (1 when the lexicon gives none).
    pub prob: f32,
}

/// A word list with pronunciations. Invariant: every `prons[i].word < words.len()`,
/// and every word has at least one pronunciation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lexicon {
    /// Words, lower case, in first-seen order; the index is the [`WordId`].
    pub words: Vec<String>,
    /// All pronunciations, in file order.
    pub prons: Vec<Pronunciation>,
    index: HashMap<String, WordId>,
    /// `by_word[w]` = indices into `prons` of word `w`.
    by_word: Vec<Vec<u32>>,
}

impl Lexicon {
    /// Reads a CMUdict-format file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
        Self::parse(&text, path)
    }

    /// Parses lexicon text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut lex = Lexicon::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(";;;") {
                continue;
            }
            let mut parts = line.split_whitespace();
            let head = parts.next().unwrap_or_default();
            let base = without_alternate(head);
            // `A(2)(3)` would become the word `a(2)`, which prints as an alternate
            // of `a`: refuse it rather than change the word on a round trip.
            if base.is_empty() || without_alternate(base) != base {
                return Err(Error::parse(path, i + 1, format!("bad word {head:?}")));
            }
            let word = base.to_lowercase();
            let mut parts = parts.peekable();
            let mut prob = 1.0f32;
            // A phone symbol never parses as a number, so a number here is a probability.
            if let Some(x) = parts.peek().and_then(|t| t.parse::<f32>().ok()) {
                if !(x > 0.0 && x <= 1.0) {
                    return Err(Error::parse(
                        path,
                        i + 1,
                        format!("probability {x} of {head:?} is not within (0, 1]"),
                    ));
                }
                prob = x;
                parts.next();
            }
            let mut phones = Vec::new();
            for p in parts {
                let s = strip_stress(p);
                let id = phone_id(&s).ok_or_else(|| {
                    Error::parse(
                        path,
                        i + 1,
                        format!("unknown phone {p:?} in {head:?} (expected CMU phones or SIL)"),
                    )
                })?;
                phones.push(id);
            }
            if phones.is_empty() {
                return Err(Error::parse(
                    path,
                    i + 1,
                    format!("word {head:?} has no phones"),
                ));
            }
            lex.add_with_prob(&word, phones, prob);
        }
        if lex.words.is_empty() {
            return Err(Error::parse(path, 0, "lexicon has no entries"));
        }
        Ok(lex)
    }

    /// Adds a pronunciation of probability 1 (the word is lower-cased; duplicates are
    /// ignored).
    pub fn add(&mut self, word: &str, phones: Vec<PhoneId>) -> WordId {
        self.add_with_prob(word, phones, 1.0)
    }

    /// Adds a pronunciation with its probability (see the module docs); a duplicate
    /// of an existing pronunciation of the word is ignored.
    pub fn add_with_prob(&mut self, word: &str, phones: Vec<PhoneId>, prob: f32) -> WordId {
        let word = word.to_lowercase();
        let id = match self.index.get(&word) {
            Some(&id) => id,
            None => {
                let id = self.words.len() as WordId;
                self.index.insert(word.clone(), id);
                self.words.push(word);
                self.by_word.push(Vec::new());
                id
            }
        };
        let dup = self.by_word[id as usize]
            .iter()
            .any(|&p| self.prons[p as usize].phones == phones);
        if !dup && !phones.is_empty() {
            self.by_word[id as usize].push(self.prons.len() as u32);
            self.prons.push(Pronunciation {
                word: id,
                phones,
                prob,
            });
        }
        id
    }

    /// Number of words.
    pub fn num_words(&self) -> usize {
        self.words.len()
    }

    /// The id of `word` (case-insensitive).
    pub fn word_id(&self, word: &str) -> Option<WordId> {
        self.index
            .get(word)
            .or_else(|| self.index.get(&word.to_lowercase()))
            .copied()
    }

    /// The word of an id.
    pub fn word(&self, id: WordId) -> &str {
        &self.words[id as usize]
    }

    /// All pronunciations of a word, by index into `prons`.
    pub fn prons_of(&self, id: WordId) -> &[u32] {
        &self.by_word[id as usize]
    }

    /// The first pronunciation of `word`, or the letter-to-sound fallback when the
    /// word is OOV. The flag is `true` when the fallback was used.
    pub fn pronounce(&self, word: &str) -> (Vec<PhoneId>, bool) {
        match self.word_id(word) {
            Some(id) => {
                let p = self.by_word[id as usize][0];
                (self.prons[p as usize].phones.clone(), false)
            }
            None => (fallback_pronunciation(word), true),
        }
    }

    /// The distinct words of `text` (whitespace-separated) missing from the lexicon,
    /// in first-seen order, for a warning.
    pub fn oov_words(&self, text: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for w in text.split_whitespace() {
            let lw = w.to_lowercase();
            if self.word_id(&lw).is_none() && !out.contains(&lw) {
                out.push(lw);
            }
        }
        out
    }

    /// Whether any pronunciation has a probability below 1.
    pub fn has_probabilities(&self) -> bool {
        self.prons.iter().any(|p| p.prob != 1.0)
    }

    /// Writes the lexicon in CMUdict format (alternates as `word(2)`), with every
    /// line's probability when [`Lexicon::has_probabilities`].
    pub fn to_text(&self) -> String {
        let with_probs = self.has_probabilities();
        let mut s = String::new();
        for (w, prons) in self.by_word.iter().enumerate() {
            for (k, &p) in prons.iter().enumerate() {
                s.push_str(&self.words[w]);
                if k > 0 {
                    s.push_str(&format!("({})", k + 1));
                }
                if with_probs {
                    s.push_str(&format!(" {}", format_prob(self.prons[p as usize].prob)));
                }
                for &ph in &self.prons[p as usize].phones {
                    s.push(' ');
                    s.push_str(phone_symbol(ph));
                }
                s.push('\n');
            }
        }
        s
    }
}

/// A probability with four significant digits and no trailing zeros (`1`, `0.4167`,
/// `0.0001234`), never rounded to 0.
fn format_prob(p: f32) -> String {
    if p >= 1.0 {
        return "1".into();
    }
    let digits = (3 - p.log10().floor() as i32).max(0) as usize;
    let s = format!("{p:.digits$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// `WORD(2)` → `WORD`: the head of a lexicon line without its alternate marker.
fn without_alternate(head: &str) -> &str {
    match head.rfind('(') {
        Some(i) if head.ends_with(')') && head[i + 1..head.len() - 1].parse::<u32>().is_ok() => {
            &head[..i]
        }
        _ => head,
    }
}

/// The documented OOV fallback: a naive letter-to-sound spelling of `word`, one phone
/// per letter or common digraph (`ch sh th ph ng ck ee oo`), skipping non-letters.
/// Crude by design; it only has to give alignment something plausible to match. A word
/// without letters gets `[SIL]`.
pub fn fallback_pronunciation(word: &str) -> Vec<PhoneId> {
    let w: Vec<char> = word
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    let id = |s: &str| phone_id(s).expect("invariant: fallback table uses CMU phones");
    while i < w.len() {
        let pair: String = w[i..(i + 2).min(w.len())].iter().collect();
        let digraph = match pair.as_str() {
            "ch" => Some("CH"),
            "sh" => Some("SH"),
            "th" => Some("TH"),
            "ph" => Some("F"),
            "ng" => Some("NG"),
            "ck" => Some("K"),
            "ee" => Some("IY"),
            "oo" => Some("UW"),
            _ => None,
        };
        if let Some(p) = digraph {
            out.push(id(p));
            i += 2;
            continue;
        }
        let p = match w[i] {
            'a' => "AE",
            'b' => "B",
            'c' => "K",
            'd' => "D",
            'e' => "EH",
            'f' => "F",
            'g' => "G",
            'h' => "HH",
            'i' => "IH",
            'j' => "JH",
            'k' => "K",
            'l' => "L",
            'm' => "M",
            'n' => "N",
            'o' => "AA",
            'p' => "P",
            'q' => "K",
            'r' => "R",
            's' => "S",
            't' => "T",
            'u' => "AH",
            'v' => "V",
            'w' => "W",
            'x' => "K",
            'y' => "Y",
            _ => "Z",
        };
        // collapse doubled consonants ("ll" -> L)
        if out.last() != Some(&id(p)) || "aeiou".contains(w[i]) {
            out.push(id(p));
        }
        i += 1;
    }
    if out.is_empty() {
        out.push(0);
    }
    out
}

/// Checks that a phone symbol (possibly with stress) is valid.
pub fn is_valid_phone(symbol: &str) -> bool {
    is_phone(&strip_stress(symbol))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = ";;; test lexicon\nHELLO  HH AH0 L OW1\nhello(2) HH EH0 L OW1\nWORLD W ER1 L D\nread R IY1 D\nREED R IY1 D\n";

    #[test]
    fn parses_cmudict_with_alternates_and_stress() {
        let lex = Lexicon::parse(TEXT, Path::new("lex.txt")).unwrap();
        assert_eq!(lex.words, ["hello", "world", "read", "reed"]);
        assert_eq!(lex.prons.len(), 5);
        let h = lex.word_id("HeLLo").unwrap();
        assert_eq!(lex.prons_of(h).len(), 2);
        let p = &lex.prons[lex.prons_of(h)[1] as usize].phones;
        let syms: Vec<&str> = p.iter().map(|&i| phone_symbol(i)).collect();
        assert_eq!(syms, ["HH", "EH", "L", "OW"]);
        // homophones stay distinct words
        assert_ne!(lex.word_id("read"), lex.word_id("reed"));
        // round trip
        let again = Lexicon::parse(&lex.to_text(), Path::new("x")).unwrap();
        assert_eq!(again.words, lex.words);
        assert_eq!(again.prons, lex.prons);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = Lexicon::parse("A AH\nB XX1\n", Path::new("lex.txt")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("lex.txt:2: unknown phone \"XX1\""),
            "{e}"
        );
        let e = Lexicon::parse(";;; c\nWORD\n", Path::new("l")).unwrap_err();
        assert!(e.to_string().starts_with("l:2:"), "{e}");
        assert!(Lexicon::parse(";;; only\n", Path::new("l")).is_err());
    }

    #[test]
    fn probabilities_parse_round_trip_and_default_to_one() {
        let text = "the 1.0 DH AH0\nthe(2) 0.42 DH IY0\ncat K AE1 T\n";
        let lex = Lexicon::parse(text, Path::new("l")).unwrap();
        let probs: Vec<f32> = lex.prons.iter().map(|p| p.prob).collect();
        assert_eq!(probs, [1.0, 0.42, 1.0]);
        assert!(lex.has_probabilities());
        let out = lex.to_text();
        assert_eq!(out, "the 1 DH AH\nthe(2) 0.42 DH IY\ncat 1 K AE T\n");
        assert_eq!(Lexicon::parse(&out, Path::new("x")).unwrap(), lex);
        // A plain lexicon stays plain.
        let plain = Lexicon::parse(TEXT, Path::new("l")).unwrap();
        assert!(!plain.has_probabilities());
        assert!(!plain.to_text().contains('1'));
        // Out of range or not a number where a phone is expected.
        for bad in [
            "a 0 AH\n",
            "a 1.5 AH\n",
            "a -0.2 AH\n",
            "a NaN AH\n",
            "a 0.5\n",
        ] {
            let e = Lexicon::parse(bad, Path::new("l")).unwrap_err().to_string();
            assert!(e.starts_with("l:1:"), "{bad:?}: {e}");
        }
        assert_eq!(format_prob(0.41666), "0.4167");
        assert_eq!(format_prob(0.000123456), "0.0001235");
        assert_eq!(format_prob(0.5), "0.5");
        assert_eq!(format_prob(1.0), "1");
    }

    #[test]
    fn oov_fallback_spells_letters() {
        let lex = Lexicon::parse(TEXT, Path::new("l")).unwrap();
        assert_eq!(lex.oov_words("hello Shelly hello world shelly"), ["shelly"]);
        let (p, oov) = lex.pronounce("shelly");
        assert!(oov);
        let syms: Vec<&str> = p.iter().map(|&i| phone_symbol(i)).collect();
        assert_eq!(syms, ["SH", "EH", "L", "Y"]);
        assert!(!lex.pronounce("WORLD").1);
        assert_eq!(fallback_pronunciation("123"), vec![0]);
        assert!(is_valid_phone("AH0") && !is_valid_phone("AX"));
    }

    #[test]
    fn phone_ids_follow_hybrid_token_order() {
        let t = crate::phones::TokenTable::hybrid_default();
        for id in 0..NUM_PHONES as PhoneId {
            assert_eq!(t.index(phone_symbol(id)), Some(id as usize));
            assert_eq!(phone_id(phone_symbol(id)), Some(id));
        }
    }
}
