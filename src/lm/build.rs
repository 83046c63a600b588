//! Estimating an n-gram model from text and writing it as ARPA (`hark lm build`).
//!
//! Text is one sentence per line, words separated by whitespace, compared lower case.
//! Each sentence is padded as `<s> w1 … wn </s>` (one `<s>`, as KenLM does).
//!
//! Two smoothing methods, both interpolated:
//!
//! - **Modified Kneser-Ney** (Chen & Goodman 1998, the method of KenLM's `lmplz`):
//!   the highest order uses raw counts, lower orders use continuation counts
//!   `N1+(• g)` (raw counts for n-grams starting with `<s>`), three discounts per order
//!   from the counts-of-counts `t1..t4` (`Y = t1/(t1+2 t2)`, `D1 = 1 − 2Y t2/t1`,
//!   `D2 = 2 − 3Y t3/t2`, `D3+ = 3 − 4Y t4/t3`; when a count-of-count is zero, as on
//!   tiny corpora, the fallback `0.5, 1.0, 1.5` is used), and
//!   `p(w|h) = (a(hw) − D(a(hw)))/Σa(h•) + γ(h) p(w|h')`.
//! - **Witten-Bell**: `p(w|h) = (c(hw) + T(h) p(w|h')) / (c(h) + T(h))`, `T(h)` the number
//!   of distinct words seen after `h`.
//!
//! The unigram level interpolates with the uniform distribution over the vocabulary V
//! (every word, `</s>` and `<unk>`; not `<s>`). **Pruning** drops n-grams (order ≥ 2)
//! whose raw count is below a per-order threshold, but keeps every n-gram that is the
//! history of a kept higher-order one. Back-off weights are then computed so that each
//! history's distribution sums to one exactly:
//! `bo(h) = (1 − Σ_kept p(w|h)) / (1 − Σ_kept p(w|h'))` (without pruning this equals γ(h)).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Error, Result};

/// Word id of `<unk>` inside the builder.
const UNK: u32 = 0;
/// Word id of `<s>`.
const BOS: u32 = 1;
/// Word id of `</s>`.
const EOS: u32 = 2;

/// Smoothing method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smoothing {
    /// Interpolated modified Kneser-Ney (the default, as KenLM `lmplz`).
    ModifiedKneserNey,
    /// Interpolated Witten-Bell.
    WittenBell,
}

/// Settings of `hark lm build`.
#[derive(Debug, Clone, PartialEq)]
pub struct LmBuildConfig {
    /// N-gram order, 1 to 4 (`--order`, default 3). Higher: sharper, bigger.
    pub order: usize,
    /// Smoothing method (`--smoothing kn|wb`).
    pub smoothing: Smoothing,
    /// Minimum raw count to keep an n-gram, per order starting at unigrams
    /// (`--prune 0 1 2`; unigrams are never pruned; missing orders keep everything).
    /// Larger: smaller model.
    pub prune: Vec<u64>,
    /// A fixed vocabulary (e.g. the lexicon's words, lower case). Text words outside it
    /// become `<unk>`. `None`: the vocabulary is every word of the text.
    pub vocab: Option<Vec<String>>,
}

impl Default for LmBuildConfig {
    fn default() -> Self {
        LmBuildConfig {
            order: 3,
            smoothing: Smoothing::ModifiedKneserNey,
            prune: Vec::new(),
            vocab: None,
        }
    }
}

impl LmBuildConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if !(1..=4).contains(&self.order) {
            return Err(Error::Config(format!(
                "lm order must be 1 to 4, got {}",
                self.order
            )));
        }
        Ok(())
    }
}

/// An estimated back-off model, ready to write as ARPA.
#[derive(Debug, Clone)]
pub struct NgramModel {
    order: usize,
    /// Word strings; 0 = `<unk>`, 1 = `<s>`, 2 = `</s>`.
    vocab: Vec<String>,
    /// `probs[n-1]`: n-gram (word ids) → probability (not log).
    probs: Vec<HashMap<Vec<u32>, f64>>,
    /// `backoffs[n-1]`: history n-gram → back-off weight (not log); absent = 1.
    backoffs: Vec<HashMap<Vec<u32>, f64>>,
    /// Number of text words mapped to `<unk>` (for a warning).
    pub num_oov_tokens: usize,
}

type Counts = Vec<HashMap<Vec<u32>, u64>>;

/// Estimates a model from sentences (one per item).
pub fn build<'a>(
    sentences: impl IntoIterator<Item = &'a str>,
    config: &LmBuildConfig,
) -> Result<NgramModel> {
    config.validate()?;
    let order = config.order;
    let mut vocab: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    let mut ids: HashMap<String, u32> = vocab
        .iter()
        .enumerate()
        .map(|(i, w)| (w.clone(), i as u32))
        .collect();
    let fixed = config.vocab.is_some();
    if let Some(v) = &config.vocab {
        for w in v {
            let w = w.to_lowercase();
            if !ids.contains_key(&w) {
                ids.insert(w.clone(), vocab.len() as u32);
                vocab.push(w);
            }
        }
    }
    let mut raw: Counts = vec![HashMap::new(); order];
    let mut num_oov_tokens = 0;
    let mut toks: Vec<u32> = Vec::new();
    let mut num_sentences = 0usize;
    for line in sentences {
        toks.clear();
        toks.push(BOS);
        for w in line.split_whitespace() {
            let w = w.to_lowercase();
            let id = match ids.get(&w) {
                Some(&id) if id != BOS && id != EOS => id,
                Some(_) => continue, // explicit <s>/</s> in the text: padding is ours
                None if fixed => {
                    num_oov_tokens += 1;
                    UNK
                }
                None => {
                    let id = vocab.len() as u32;
                    ids.insert(w.clone(), id);
                    vocab.push(w);
                    id
                }
            };
            toks.push(id);
        }
        if toks.len() == 1 {
            continue;
        }
        toks.push(EOS);
        num_sentences += 1;
        for i in 1..toks.len() {
            for n in 1..=order.min(i + 1) {
                *raw[n - 1].entry(toks[i + 1 - n..=i].to_vec()).or_insert(0) += 1;
            }
        }
    }
    if num_sentences == 0 {
        return Err(Error::Invalid("the LM training text has no words".into()));
    }
    let adjusted = match config.smoothing {
        Smoothing::ModifiedKneserNey => adjusted_counts(&raw),
        Smoothing::WittenBell => raw.clone(),
    };
    let kept = kept_ngrams(&raw, &config.prune);
    let mut model = NgramModel {
        order,
        vocab,
        probs: vec![HashMap::new(); order],
        backoffs: vec![HashMap::new(); order],
        num_oov_tokens,
    };
    let v_size = (model.vocab.len() - 1) as f64; // every word but <s>
    for n in 1..=order {
        let discounts = discounts(&adjusted[n - 1]);
        // statistics per history: (sum of counts, N1, N2, N3+)
        let mut stats: HashMap<&[u32], (f64, [f64; 3])> = HashMap::new();
        for (g, &c) in &adjusted[n - 1] {
            let e = stats.entry(&g[..n - 1]).or_insert((0.0, [0.0; 3]));
            e.0 += c as f64;
            e.1[(c.min(3) - 1) as usize] += 1.0;
        }
        let mut probs: HashMap<Vec<u32>, f64> = HashMap::new();
        let grams: Vec<&Vec<u32>> = if n == 1 {
            Vec::new()
        } else {
            kept[n - 1].iter().collect()
        };
        let unigram_words: Vec<Vec<u32>> = if n == 1 {
            (0..model.vocab.len() as u32)
                .filter(|&w| w != BOS)
                .map(|w| vec![w])
                .collect()
        } else {
            Vec::new()
        };
        for g in grams.into_iter().chain(unigram_words.iter()) {
            let h = &g[..n - 1];
            let w = g[n - 1];
            let lower = if n == 1 {
                1.0 / v_size
            } else {
                model.prob(&h[1..], w)
            };
            let c = adjusted[n - 1].get(g).copied().unwrap_or(0) as f64;
            let p = match stats.get(h) {
                None => lower,
                Some(&(sum, nk)) => match config.smoothing {
                    Smoothing::ModifiedKneserNey => {
                        let d = if c == 0.0 {
                            0.0
                        } else {
                            discounts[(c.min(3.0) - 1.0) as usize]
                        };
                        let gamma =
                            (discounts[0] * nk[0] + discounts[1] * nk[1] + discounts[2] * nk[2])
                                / sum;
                        (c - d).max(0.0) / sum + gamma * lower
                    }
                    Smoothing::WittenBell => {
                        let t = nk[0] + nk[1] + nk[2];
                        (c + t * lower) / (sum + t)
                    }
                },
            };
            probs.insert(g.clone(), p);
        }
        // back-off weights of the histories of this order's n-grams
        if n >= 2 {
            let mut sums: HashMap<&[u32], (f64, f64)> = HashMap::new();
            for (g, &p) in &probs {
                let h = &g[..n - 1];
                let lower = model.prob(&h[1..], g[n - 1]);
                let e = sums.entry(h).or_insert((0.0, 0.0));
                e.0 += p;
                e.1 += lower;
            }
            let mut bos = HashMap::new();
            for (h, (sp, sl)) in sums {
                let num = (1.0 - sp).max(0.0);
                let den = 1.0 - sl;
                let bo = if den <= 1e-12 || num <= 1e-15 {
                    1e-99
                } else {
                    num / den
                };
                bos.insert(h.to_vec(), bo);
            }
            model.backoffs[n - 2] = bos;
        }
        model.probs[n - 1] = probs;
    }
    Ok(model)
}

/// Kneser-Ney adjusted counts: raw counts at the highest order and for n-grams that
/// start with `<s>`; continuation counts `N1+(• g)` elsewhere.
fn adjusted_counts(raw: &Counts) -> Counts {
    let order = raw.len();
    let mut adj: Counts = vec![HashMap::new(); order];
    adj[order - 1] = raw[order - 1].clone();
    for n in (1..order).rev() {
        let mut cont: HashMap<Vec<u32>, u64> = HashMap::new();
        for g in raw[n].keys() {
            *cont.entry(g[1..].to_vec()).or_insert(0) += 1;
        }
        for (g, &c) in &raw[n - 1] {
            let a = if g[0] == BOS {
                c
            } else {
                cont.get(g).copied().unwrap_or(c)
            };
            adj[n - 1].insert(g.clone(), a);
        }
    }
    adj
}

/// Modified Kneser-Ney discounts `[D1, D2, D3+]` from counts-of-counts.
fn discounts(counts: &HashMap<Vec<u32>, u64>) -> [f64; 3] {
    let mut t = [0f64; 5];
    for &c in counts.values() {
        if (1..=4).contains(&c) {
            t[c as usize] += 1.0;
        }
    }
    if t[1] == 0.0 || t[2] == 0.0 || t[3] == 0.0 || t[4] == 0.0 {
        return [0.5, 1.0, 1.5];
    }
    let y = t[1] / (t[1] + 2.0 * t[2]);
    let d = [
        1.0 - 2.0 * y * t[2] / t[1],
        2.0 - 3.0 * y * t[3] / t[2],
        3.0 - 4.0 * y * t[4] / t[3],
    ];
    // each discount must lie in (0, k] for a count of k
    if d.iter()
        .enumerate()
        .all(|(k, &v)| v > 0.0 && v <= (k + 1) as f64)
    {
        d
    } else {
        [0.5, 1.0, 1.5]
    }
}

/// The n-grams that survive count pruning, per order (unigrams: empty, all kept).
fn kept_ngrams(raw: &Counts, prune: &[u64]) -> Vec<Vec<Vec<u32>>> {
    let order = raw.len();
    let mut kept: Vec<Vec<Vec<u32>>> = vec![Vec::new(); order];
    let mut needed: std::collections::HashSet<Vec<u32>> = Default::default();
    for n in (2..=order).rev() {
        let thr = prune.get(n - 1).copied().unwrap_or(0);
        let mut next_needed = std::collections::HashSet::new();
        let mut list: Vec<Vec<u32>> = raw[n - 1]
            .iter()
            .filter(|(g, c)| **c >= thr || needed.contains(*g))
            .map(|(g, _)| g.clone())
            .collect();
        list.sort_unstable();
        for g in &list {
            next_needed.insert(g[..n - 1].to_vec());
        }
        kept[n - 1] = list;
        needed = next_needed;
    }
    kept
}

impl NgramModel {
    /// The order N.
    pub fn order(&self) -> usize {
        self.order
    }

    /// The vocabulary (`<unk>`, `<s>`, `</s>`, then words).
    pub fn vocab(&self) -> &[String] {
        &self.vocab
    }

    /// Number of stored n-grams per order.
    pub fn counts(&self) -> Vec<usize> {
        self.probs
            .iter()
            .enumerate()
            .map(|(i, p)| p.len() + usize::from(i == 0)) // + <s>
            .collect()
    }

    /// `p(w | history)` with back-off (history oldest first; ids as in [`Self::vocab`]).
    pub fn prob(&self, history: &[u32], w: u32) -> f64 {
        let h = &history[history.len().saturating_sub(self.order - 1)..];
        let mut bo = 1.0;
        for start in 0..=h.len() {
            let ctx = &h[start..];
            let mut g = ctx.to_vec();
            g.push(w);
            if let Some(p) = self.probs[g.len() - 1].get(&g) {
                return bo * p;
            }
            if !ctx.is_empty() {
                bo *= self.backoffs[ctx.len() - 1]
                    .get(ctx)
                    .copied()
                    .unwrap_or(1.0);
            }
        }
        0.0
    }

    /// The id of a word (lower case) in this model's vocabulary.
    pub fn word_id(&self, w: &str) -> Option<u32> {
        self.vocab.iter().position(|v| v == w).map(|i| i as u32)
    }

    /// The model as ARPA text (log10, 7 decimals; `<s>` gets −99).
    pub fn to_arpa(&self) -> String {
        let mut s = String::from("\\data\\\n");
        for (n, c) in self.counts().iter().enumerate() {
            let _ = writeln!(s, "ngram {}={}", n + 1, c);
        }
        for n in 1..=self.order {
            let _ = write!(s, "\n\\{n}-grams:\n");
            let mut grams: Vec<(&Vec<u32>, f64)> =
                self.probs[n - 1].iter().map(|(g, &p)| (g, p)).collect();
            let bos_unigram = vec![BOS];
            if n == 1 {
                grams.push((&bos_unigram, 0.0));
            }
            grams.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (g, p) in grams {
                let lp = if p > 0.0 { p.log10().max(-99.0) } else { -99.0 };
                let words: Vec<&str> = g.iter().map(|&w| self.vocab[w as usize].as_str()).collect();
                let _ = write!(s, "{lp:.7}\t{}", words.join(" "));
                if n < self.order
                    && let Some(bo) = self.backoffs[n - 1].get(g)
                {
                    let _ = write!(s, "\t{:.7}", bo.log10().max(-99.0));
                }
                s.push('\n');
            }
        }
        s.push_str("\n\\end\\\n");
        s
    }

    /// Writes the ARPA file atomically.
    pub fn write_arpa(&self, path: &Path) -> Result<()> {
        crate::fsio::write_atomic(path, self.to_arpa().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::{ArpaLm, LanguageModel};
    use crate::rng::Rng;

    const SEED: u64 = 7;

    /// Random sentences over a small vocabulary with some structure (a bigram chain).
    fn corpus(n: usize) -> Vec<String> {
        let words = [
            "go", "stop", "left", "right", "ten", "meters", "now", "please",
        ];
        let mut rng = Rng::new(SEED);
        (0..n)
            .map(|_| {
                let len = 1 + rng.below(6);
                let mut prev = rng.below(words.len());
                let mut s = vec![words[prev]];
                for _ in 1..len {
                    prev = if rng.uniform() < 0.6 {
                        (prev + 1) % words.len()
                    } else {
                        rng.below(words.len())
                    };
                    s.push(words[prev]);
                }
                s.join(" ")
            })
            .collect()
    }

    fn check_normalised(config: &LmBuildConfig) {
        let text = corpus(300);
        let model = build(text.iter().map(String::as_str), config).unwrap();
        let arpa = ArpaLm::parse(&model.to_arpa(), Path::new("built.arpa")).unwrap();
        // every history stored in the model, plus a few unseen ones
        let mut histories: Vec<Vec<u32>> = vec![vec![]];
        for n in 1..model.order() {
            histories.extend(model.probs[n - 1].keys().cloned());
        }
        histories.push(vec![BOS]);
        histories.push(vec![
            model.word_id("please").unwrap(),
            model.word_id("go").unwrap(),
        ]);
        let predicted: Vec<u32> = (0..model.vocab().len() as u32)
            .filter(|&w| w != BOS)
            .collect();
        for h in &histories {
            // in memory
            let sum: f64 = predicted.iter().map(|&w| model.prob(h, w)).sum();
            assert!((sum - 1.0).abs() < 1e-9, "history {h:?}: sum {sum}");
            // through the ARPA file: feed the history from the empty state
            let mut state = if h.first() == Some(&BOS) {
                arpa.start()
            } else {
                0
            };
            for &w in h.iter().filter(|&&w| w != BOS) {
                state = arpa
                    .score(state, arpa.word_id(&model.vocab()[w as usize]).unwrap())
                    .1;
            }
            let mut sum = 0.0f64;
            for &w in &predicted {
                let (lp, _) = arpa.score(state, arpa.word_id(&model.vocab()[w as usize]).unwrap());
                // reading back gives the same score (7 decimals of log10 -> 1e-6 relative)
                let p = model.prob(h, w);
                assert!(
                    (f64::from(lp) - p.ln()).abs() < 2e-5,
                    "{h:?} {w}: {lp} vs {}",
                    p.ln()
                );
                sum += f64::from(lp).exp();
            }
            assert!((sum - 1.0).abs() < 1e-4, "arpa history {h:?}: sum {sum}");
        }
    }

    #[test]
    fn kneser_ney_histories_sum_to_one() {
        check_normalised(&LmBuildConfig::default());
    }

    #[test]
    fn witten_bell_histories_sum_to_one() {
        check_normalised(&LmBuildConfig {
            smoothing: Smoothing::WittenBell,
            order: 4,
            ..Default::default()
        });
    }

    #[test]
    fn pruned_model_sums_to_one_and_is_smaller() {
        let config = LmBuildConfig {
            prune: vec![0, 3, 3],
            ..Default::default()
        };
        check_normalised(&config);
        let text = corpus(300);
        let full = build(text.iter().map(String::as_str), &LmBuildConfig::default()).unwrap();
        let pruned = build(text.iter().map(String::as_str), &config).unwrap();
        assert!(pruned.counts()[2] < full.counts()[2]);
        assert_eq!(pruned.counts()[0], full.counts()[0]);
    }

    #[test]
    fn unpruned_kneser_ney_matches_direct_interpolation() {
        // Direct recursive interpolated-KN formula on the adjusted counts, independent
        // of the back-off representation: p(w|h) = (a(hw)-D)/S + gamma p(w|h').
        let text = corpus(200);
        let config = LmBuildConfig::default();
        let model = build(text.iter().map(String::as_str), &config).unwrap();
        let vocab = model.vocab().to_vec();
        let id = |w: &str| vocab.iter().position(|v| v == w).unwrap() as u32;
        let mut raw: Counts = vec![HashMap::new(); 3];
        for line in &text {
            let mut t = vec![BOS];
            t.extend(line.split_whitespace().map(id));
            t.push(EOS);
            for i in 1..t.len() {
                for n in 1..=3.min(i + 1) {
                    *raw[n - 1].entry(t[i + 1 - n..=i].to_vec()).or_insert(0) += 1;
                }
            }
        }
        let adj = adjusted_counts(&raw);
        let d: Vec<[f64; 3]> = adj.iter().map(discounts).collect();
        fn direct(adj: &Counts, d: &[[f64; 3]], h: &[u32], w: u32, v: f64) -> f64 {
            let n = h.len() + 1;
            let lower = if h.is_empty() {
                1.0 / v
            } else {
                direct(adj, d, &h[1..], w, v)
            };
            let (mut sum, mut nk) = (0.0, [0.0; 3]);
            for (g, &c) in &adj[n - 1] {
                if &g[..n - 1] == h {
                    sum += c as f64;
                    nk[(c.min(3) - 1) as usize] += 1.0;
                }
            }
            if sum == 0.0 {
                return lower;
            }
            let mut g = h.to_vec();
            g.push(w);
            let c = adj[n - 1].get(&g).copied().unwrap_or(0) as f64;
            let dn = &d[n - 1];
            let disc = if c == 0.0 {
                0.0
            } else {
                dn[(c.min(3.0) - 1.0) as usize]
            };
            let gamma = (dn[0] * nk[0] + dn[1] * nk[1] + dn[2] * nk[2]) / sum;
            (c - disc) / sum + gamma * lower
        }
        let v = (vocab.len() - 1) as f64;
        for h in [
            vec![],
            vec![BOS],
            vec![id("go")],
            vec![BOS, id("go")],
            vec![id("left"), id("right")],
            vec![id("now"), id("now")],
        ] {
            for w in (0..vocab.len() as u32).filter(|&w| w != BOS) {
                let a = direct(&adj, &d, &h, w, v);
                let b = model.prob(&h, w);
                assert!(
                    (a - b).abs() < 1e-12 * a.max(1e-3) * 1e3,
                    "{h:?} {w}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn fixed_vocab_maps_oov_to_unk() {
        let config = LmBuildConfig {
            vocab: Some(vec!["go".into(), "stop".into()]),
            order: 2,
            ..Default::default()
        };
        let model = build(["go stop", "go banana stop"], &config).unwrap();
        assert_eq!(model.num_oov_tokens, 1);
        assert_eq!(model.vocab(), ["<unk>", "<s>", "</s>", "go", "stop"]);
        let arpa = ArpaLm::parse(&model.to_arpa(), Path::new("x")).unwrap();
        assert!(arpa.word_id("banana").is_none());
        assert!(arpa.sentence_score(&["go", "stop"]) > arpa.sentence_score(&["stop", "go"]));
        assert!(build(["", "  "], &config).is_err());
        assert!(
            LmBuildConfig {
                order: 5,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
