//! ARPA n-gram language models with exact back-off.
//!
//! The file format (as written by SRILM and KenLM):
//!
//! ```text
//! \data\
//! ngram 1=3
//! ngram 2=1
//!
//! \1-grams:
//! -1.0  <s>  -0.3
//! -0.5  a    -0.2
//! -0.7  </s>
//!
//! \2-grams:
//! -0.1  <s> a
//!
//! \end\
//! ```
//!
//! `ln p(w | h)` is the stored probability of `h w` if that n-gram exists, otherwise
//! `backoff(h) + ln p(w | h[1..])` (missing back-off weights are 0). Words missing from
//! the vocabulary score as `<unk>` (−100 in log10 when the file has no `<unk>`, as in
//! KenLM). Files starting with the gzip magic bytes are decompressed with flate2.
//!
//! A state is the node of the longest suffix of the history that can still matter:
//! a stored n-gram of order < N that has extensions or a non-zero back-off weight (the
//! KenLM state minimisation, which keeps scores exact and lets equal futures merge).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{FxHashMap, LN_10, LanguageModel, LmWordId};
use crate::error::{Error, Result};

/// Node id of the empty history (the unigram context).
const ROOT: u32 = 0;
/// log10 probability of `<unk>` when the file has none (KenLM's default).
const UNK_LOG10: f32 = -100.0;

// Invariants:
// - nodes[0] is the root (empty history); every other node is a stored n-gram.
// - children maps (parent node, word) -> node, where parent is the node of the
//   n-gram's first n-1 words; the parent of a unigram is ROOT.
// - nodes[i].suffix < nodes.len(), is the longest stored proper suffix of node i
//   (dropping words from the front), and has a lower order; ROOT's suffix is ROOT.
// - nodes[i].state is the (minimised) state after a history ending in node i's words.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// ln p of the n-gram (unused for ROOT).
    log_prob: f32,
    /// ln back-off weight of the n-gram used as a history (0 when absent).
    backoff: f32,
    suffix: u32,
    state: u32,
    order: u8,
    has_children: bool,
}

/// An ARPA back-off n-gram model.
#[derive(Debug, Clone)]
pub struct ArpaLm {
    order: usize,
    vocab: Vec<String>,
    word_ids: FxHashMap<String, LmWordId>,
    nodes: Vec<Node>,
    children: FxHashMap<u64, u32>,
    unk: Option<LmWordId>,
    unk_log_prob: f32,
    bos: Option<LmWordId>,
    eos: LmWordId,
    counts: Vec<usize>,
}

#[inline]
fn key(parent: u32, word: LmWordId) -> u64 {
    (u64::from(parent) << 32) | u64::from(word)
}

impl ArpaLm {
    /// Reads an ARPA file (gzipped when it starts with the gzip magic bytes).
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "reading", e))?;
        let text = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut s = String::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_string(&mut s)
                .map_err(|e| Error::io(path, "decompressing", e))?;
            s
        } else {
            String::from_utf8(bytes).map_err(|_| Error::parse(path, 0, "not UTF-8 text"))?
        };
        Self::parse(&text, path)
    }

    /// Parses ARPA text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        Parser {
            path: path.to_path_buf(),
        }
        .parse(text)
    }

    /// The model order N.
    pub fn order(&self) -> usize {
        self.order
    }

    /// Number of n-grams of each order (index 0 = unigrams), as stored.
    pub fn counts(&self) -> &[usize] {
        &self.counts
    }

    /// The vocabulary (unigrams, in file order).
    pub fn vocab(&self) -> &[String] {
        &self.vocab
    }

    /// The id of `</s>`.
    pub fn eos(&self) -> LmWordId {
        self.eos
    }

    /// The id of `<s>`, if present.
    pub fn bos(&self) -> Option<LmWordId> {
        self.bos
    }

    /// Scores a whole sentence (without `<s>`/`</s>`), including `</s>`; natural log.
    pub fn sentence_score(&self, words: &[&str]) -> f32 {
        let mut s = self.start();
        let mut total = 0.0;
        for w in words {
            let id = self.word_id(w).or(self.unk).unwrap_or(LmWordId::MAX);
            let (lp, next) = self.score(s, id);
            total += lp;
            s = next;
        }
        total + self.final_score(s)
    }

    /// The words of a state's history (oldest first), for debugging and tests.
    pub fn state_words(&self, state: u32) -> Vec<&str> {
        // Walk back up: find the word sequence by searching parents (slow; tests only).
        let mut out = Vec::new();
        let mut n = state;
        while n != ROOT {
            let (&k, _) = self
                .children
                .iter()
                .find(|&(_, &v)| v == n)
                .expect("invariant: every non-root node has a parent entry");
            out.push(self.vocab[(k & 0xffff_ffff) as usize].as_str());
            n = (k >> 32) as u32;
        }
        out.reverse();
        out
    }

    fn child(&self, parent: u32, word: LmWordId) -> Option<u32> {
        self.children.get(&key(parent, word)).copied()
    }
}

impl LanguageModel for ArpaLm {
    type State = u32;

    fn start(&self) -> u32 {
        self.bos
            .and_then(|b| self.child(ROOT, b))
            .map_or(ROOT, |n| self.nodes[n as usize].state)
    }

    fn null_state(&self) -> u32 {
        ROOT
    }

    #[inline]
    fn score(&self, state: u32, word: LmWordId) -> (f32, u32) {
        let mut s = state;
        let mut bo = 0.0f32;
        loop {
            if let Some(n) = self.child(s, word) {
                let node = &self.nodes[n as usize];
                return (bo + node.log_prob, node.state);
            }
            if s == ROOT {
                // not even a unigram: <unk>, and the history is forgotten
                return (bo + self.unk_log_prob, ROOT);
            }
            let node = &self.nodes[s as usize];
            bo += node.backoff;
            s = node.suffix;
        }
    }

    fn final_score(&self, state: u32) -> f32 {
        self.score(state, self.eos).0
    }

    fn word_id(&self, word: &str) -> Option<LmWordId> {
        self.word_ids.get(word).copied()
    }

    fn unk(&self) -> Option<LmWordId> {
        self.unk
    }
}

struct Parser {
    path: PathBuf,
}

impl Parser {
    fn err(&self, line: usize, msg: impl Into<String>) -> Error {
        Error::parse(&self.path, line, msg)
    }

    fn parse(&self, text: &str) -> Result<ArpaLm> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
        // header
        let mut counts: Vec<usize> = Vec::new();
        let mut seen_data = false;
        let mut next_section: Option<(usize, usize)> = None;
        for (ln, line) in lines.by_ref() {
            if line.is_empty() {
                continue;
            }
            if !seen_data {
                if line == "\\data\\" {
                    seen_data = true;
                }
                continue; // text before \data\ is ignored, as in SRILM
            }
            if let Some(rest) = line.strip_prefix("ngram ") {
                let (n, c) = rest
                    .split_once('=')
                    .ok_or_else(|| self.err(ln, format!("bad count line {line:?}")))?;
                let n: usize = n
                    .trim()
                    .parse()
                    .map_err(|_| self.err(ln, format!("bad order in {line:?}")))?;
                let c: usize = c
                    .trim()
                    .parse()
                    .map_err(|_| self.err(ln, format!("bad count in {line:?}")))?;
                if n != counts.len() + 1 {
                    return Err(self.err(
                        ln,
                        format!("expected ngram {}=, got {line:?}", counts.len() + 1),
                    ));
                }
                counts.push(c);
            } else if let Some(n) = section_order(line) {
                next_section = Some((n, ln));
                break;
            } else {
                return Err(self.err(ln, format!("unexpected line in header: {line:?}")));
            }
        }
        if !seen_data {
            return Err(self.err(0, "no \\data\\ section (not an ARPA file)"));
        }
        if counts.is_empty() || counts.len() > 255 {
            return Err(self.err(0, "no n-gram counts in the \\data\\ section"));
        }
        let order = counts.len();
        // Reserve for the declared counts, but never for more n-grams than the text
        // can hold (one line of at least 4 bytes each): a corrupt header must not
        // allocate (or overflow) before the entries are checked against it.
        let declared = counts.iter().fold(0usize, |a, &c| a.saturating_add(c));
        let reserve = declared.min(text.len() / 4);
        let mut lm = ArpaLm {
            order,
            vocab: Vec::with_capacity(counts[0].min(reserve)),
            word_ids: FxHashMap::default(),
            nodes: Vec::with_capacity(reserve + 1),
            children: FxHashMap::default(),
            unk: None,
            unk_log_prob: UNK_LOG10 * LN_10,
            bos: None,
            eos: 0,
            counts: counts.clone(),
        };
        lm.children.reserve(reserve);
        lm.nodes.push(Node {
            log_prob: 0.0,
            backoff: 0.0,
            suffix: ROOT,
            state: ROOT,
            order: 0,
            has_children: false,
        });
        let mut expect = 1usize;
        let mut ended = false;
        let mut words: Vec<LmWordId> = Vec::with_capacity(order);
        while let Some((n, header_line)) = next_section.take() {
            if n != expect {
                return Err(self.err(
                    header_line,
                    format!("expected \\{expect}-grams:, got \\{n}-grams:"),
                ));
            }
            if n > order {
                return Err(self.err(
                    header_line,
                    format!("\\{n}-grams: section, but \\data\\ declares only {order} orders"),
                ));
            }
            let mut got = 0usize;
            for (ln, line) in lines.by_ref() {
                if line.is_empty() {
                    continue;
                }
                if let Some(m) = section_order(line) {
                    next_section = Some((m, ln));
                    break;
                }
                if line == "\\end\\" {
                    ended = true;
                    break;
                }
                let mut parts = line.split_whitespace();
                let lp: f32 = parts
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| self.err(ln, format!("bad probability in {line:?}")))?;
                words.clear();
                for _ in 0..n {
                    let w = parts
                        .next()
                        .ok_or_else(|| self.err(ln, format!("expected {n} words in {line:?}")))?;
                    let id = if n == 1 {
                        if lm.word_ids.contains_key(w) {
                            return Err(self.err(ln, format!("duplicate unigram {w:?}")));
                        }
                        let id = lm.vocab.len() as LmWordId;
                        lm.vocab.push(w.to_string());
                        lm.word_ids.insert(w.to_string(), id);
                        id
                    } else {
                        *lm.word_ids
                            .get(w)
                            .ok_or_else(|| self.err(ln, format!("word {w:?} is not a unigram")))?
                    };
                    words.push(id);
                }
                let bo: f32 = match parts.next() {
                    Some(s) => s
                        .parse()
                        .map_err(|_| self.err(ln, format!("bad back-off weight in {line:?}")))?,
                    None => 0.0,
                };
                if parts.next().is_some() {
                    return Err(self.err(ln, format!("too many fields in {line:?}")));
                }
                if !lp.is_finite() && lp != f32::NEG_INFINITY || !bo.is_finite() {
                    return Err(self.err(ln, format!("non-finite value in {line:?}")));
                }
                // find the parent (the n-1 word prefix)
                let mut parent = ROOT;
                for &w in &words[..n - 1] {
                    parent = lm.child(parent, w).ok_or_else(|| {
                        self.err(
                            ln,
                            format!("the prefix of {line:?} is not an n-gram of the model"),
                        )
                    })?;
                }
                let last = words[n - 1];
                let id = lm.nodes.len() as u32;
                if lm.children.insert(key(parent, last), id).is_some() {
                    return Err(self.err(ln, format!("duplicate n-gram {line:?}")));
                }
                if parent != ROOT {
                    lm.nodes[parent as usize].has_children = true;
                }
                lm.nodes.push(Node {
                    log_prob: lp * LN_10,
                    backoff: bo * LN_10,
                    suffix: ROOT,
                    state: id,
                    order: n as u8,
                    has_children: false,
                });
                got += 1;
            }
            if got != counts[n - 1] {
                return Err(self.err(
                    header_line,
                    format!("\\data\\ says ngram {n}={}, found {got}", counts[n - 1]),
                ));
            }
            expect += 1;
        }
        if !ended {
            return Err(self.err(text.lines().count(), "missing \\end\\"));
        }
        if expect != order + 1 {
            return Err(self.err(
                0,
                format!(
                    "\\data\\ declares order {order}, found sections up to {}",
                    expect - 1
                ),
            ));
        }
        lm.eos = *lm
            .word_ids
            .get("</s>")
            .ok_or_else(|| self.err(0, "the model has no </s> unigram"))?;
        lm.bos = lm.word_ids.get("<s>").copied();
        lm.unk = lm.word_ids.get("<unk>").copied();
        if let Some(u) = lm.unk {
            let n = lm
                .child(ROOT, u)
                .expect("invariant: every vocabulary word is a unigram");
            lm.unk_log_prob = lm.nodes[n as usize].log_prob;
        }
        lm.link_suffixes();
        Ok(lm)
    }
}

/// `\3-grams:` → 3.
fn section_order(line: &str) -> Option<usize> {
    line.strip_prefix('\\')?
        .strip_suffix("-grams:")?
        .parse()
        .ok()
}

impl ArpaLm {
    /// Fills `suffix` and `state` of every node (nodes are stored in order of
    /// increasing n-gram order, so suffixes are done before they are needed).
    fn link_suffixes(&mut self) {
        // Reconstruct each node's word sequence via its parent: parent[n], word[n].
        let mut parent = vec![ROOT; self.nodes.len()];
        let mut word = vec![0 as LmWordId; self.nodes.len()];
        for (&k, &n) in &self.children {
            parent[n as usize] = (k >> 32) as u32;
            word[n as usize] = (k & 0xffff_ffff) as LmWordId;
        }
        for n in 1..self.nodes.len() {
            // suffix(h1..hk w) = longest stored suffix: child(suffix(h1..hk), w),
            // else that node's suffix chain.
            let p = parent[n];
            let suffix = if p == ROOT {
                ROOT
            } else {
                let mut s = self.nodes[p as usize].suffix;
                loop {
                    if let Some(c) = self.child(s, word[n]) {
                        break c;
                    }
                    if s == ROOT {
                        break ROOT;
                    }
                    s = self.nodes[s as usize].suffix;
                }
            };
            self.nodes[n].suffix = suffix;
        }
        // state: drop words from the front while the node cannot matter as a history.
        for n in 1..self.nodes.len() {
            let mut s = n as u32;
            loop {
                let node = &self.nodes[s as usize];
                if s == ROOT
                    || ((node.order as usize) < self.order
                        && (node.has_children || node.backoff != 0.0))
                {
                    break;
                }
                s = node.suffix;
            }
            self.nodes[n].state = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOY: &str = "\\data\\
ngram 1=5
ngram 2=3
ngram 3=1

\\1-grams:
-1.0\t<s>\t-0.5
-0.5\ta\t-0.3
-0.7\tb\t-0.2
-1.2\t</s>
-2.0\t<unk>

\\2-grams:
-0.2\t<s> a\t-0.1
-0.4\ta b
-0.6\tb </s>

\\3-grams:
-0.1\t<s> a b
\\end\\
";

    fn toy() -> ArpaLm {
        ArpaLm::parse(TOY, Path::new("toy.arpa")).unwrap()
    }

    fn close(a: f32, log10: f32) {
        assert!((a - log10 * LN_10).abs() < 1e-5, "{a} vs {}", log10 * LN_10);
    }

    #[test]
    fn hand_computed_backoff_scores() {
        let lm = toy();
        let id = |w| lm.word_id(w).unwrap();
        let s0 = lm.start();
        assert_eq!(lm.state_words(s0), ["<s>"]);
        // p(a | <s>) = bigram -0.2
        let (lp, s1) = lm.score(s0, id("a"));
        close(lp, -0.2);
        assert_eq!(lm.state_words(s1), ["<s>", "a"]);
        // p(b | <s> a) = trigram -0.1; state "a b" has no extension and bo 0 -> "b"
        let (lp, s2) = lm.score(s1, id("b"));
        close(lp, -0.1);
        assert_eq!(lm.state_words(s2), ["b"]);
        // p(</s> | b) = bigram -0.6
        close(lm.final_score(s2), -0.6);
        // p(a | <s> a): no trigram, bo(<s> a) = -0.1; no bigram "a a", bo(a) = -0.3;
        // unigram a = -0.5 -> -0.9
        close(lm.score(s1, id("a")).0, -0.9);
        // p(<unk> | b) = bo(b) -0.2 + -2.0
        close(lm.score(s2, id("<unk>")).0, -2.2);
        // an id outside the vocabulary scores as <unk> without back-off: -2.0
        close(lm.score(ROOT, 999).0, -2.0);
        // whole sentence "a b": -0.2 - 0.1 - 0.6
        close(lm.sentence_score(&["a", "b"]), -0.9);
        assert_eq!(lm.order(), 3);
        assert_eq!(lm.counts(), [5, 3, 1]);
    }

    #[test]
    fn gzipped_file_reads_the_same() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("hark-arpa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("toy.arpa.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(TOY.as_bytes()).unwrap();
        std::fs::write(&p, enc.finish().unwrap()).unwrap();
        let lm = ArpaLm::read(&p).unwrap();
        assert_eq!(
            lm.sentence_score(&["a", "b"]),
            toy().sentence_score(&["a", "b"])
        );
    }

    #[test]
    fn errors_name_the_line() {
        let bad = TOY.replace("-0.4\ta b", "-0.4\ta zz");
        let e = ArpaLm::parse(&bad, Path::new("x.arpa"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.arpa:15:"), "{e}");
        let bad = TOY.replace("ngram 2=3", "ngram 2=4");
        let e = ArpaLm::parse(&bad, Path::new("x.arpa"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ngram 2=4, found 3"), "{e}");
        let bad = TOY.replace("\\end\\\n", "");
        assert!(ArpaLm::parse(&bad, Path::new("x")).is_err());
        assert!(ArpaLm::parse("hello", Path::new("x")).is_err());
        let bad = TOY.replace("-0.1\t<s> a b", "-0.1\tb a b");
        let e = ArpaLm::parse(&bad, Path::new("x")).unwrap_err().to_string();
        assert!(e.contains("prefix"), "{e}");
    }
}
