//! CTC prefix beam search with a pronunciation prefix tree and a word n-gram LM.
//!
//! Each hypothesis is a word sequence (pronunciations, so homophones stay apart) plus
//! a position in the [`LexiconTree`] inside the word being spelled. As in the classic
//! prefix beam search, it carries two acoustic log-probabilities summed over all CTC
//! alignments of its labelling: `p_b` (ending in blank) and `p_nb` (ending in its last
//! token). Emitting the last phone of a pronunciation completes the word: the LM score
//! (× `lm_weight`) and the word insertion bonus are added, and the hypothesis returns to
//! the tree root. Between words the model's `SIL` token (when the token table has one)
//! may be emitted any number of times without adding a word — the CTC counterpart of
//! the optional silence of the HMM decoder; without it, every pause the network marks
//! as silence would have to be explained by blanks or by a word. With an infinite beam the result is exact: every labelling's score is
//! its total probability over alignments (tests compare with brute-force enumeration).
//!
//! Speed: beams are two reused vectors (clear + swap), hypotheses are found through a
//! hash of `(word-sequence node, tree node)`, children of a tree node are visited
//! instead of all tokens, tokens below the per-frame cutoff are skipped, and frames
//! whose blank posterior exceeds `blank_skip_threshold` only update the existing
//! hypotheses (a token there would cost at least ln 1000 ≈ 6.9 nats).

use super::decodable::Decodable;
use super::hypothesis::{Hypothesis, PhoneSpan, WordSpan, nbest_confidences};
use super::log_add;
use super::prefix_tree::{LexiconTree, ROOT};
use crate::error::{Error, Result};
use crate::lexicon::Lexicon;
use crate::lm::{FxHashMap, LanguageModel, LmWordId, NoLm};
use crate::phones::TokenTable;

const NONE: u32 = u32::MAX;

/// Settings of [`CtcPrefixBeamSearch`] (names after flashlight's `ctc_decoder`).
#[derive(Debug, Clone, PartialEq)]
pub struct PrefixBeamConfig {
    /// Hypotheses kept after each frame (`--beam`, default 16). Larger: slower, more accurate.
    pub beam_size: usize,
    /// Drop hypotheses scoring more than this below the best (natural log, default 25).
    /// Larger: slower, more accurate.
    pub beam_threshold: f32,
    /// Extend only with the `token_top_k` most probable tokens of a frame (default: all).
    pub token_top_k: usize,
    /// Extend only with tokens of log-posterior ≥ this (default ln 1e-6: with a word LM
    /// a token the network thinks unlikely may still be the right one, as in the HMM
    /// decoder, which prunes no tokens). Larger: faster, less accurate.
    pub token_min_logprob: f32,
    /// Frames whose blank posterior is ≥ this only update existing hypotheses
    /// (default 0.999; > 1 disables). Smaller: faster, less accurate.
    pub blank_skip_threshold: f32,
    /// Weight of the LM log-probabilities (`--lm-weight`, default 0.8).
    pub lm_weight: f32,
    /// Added per completed word (natural log, default 0). Larger: more words.
    pub word_bonus: f32,
    /// Weight of the lexicon's pronunciation log-probabilities (default 1; 0 ignores
    /// them).
    pub pron_weight: f32,
    /// Number of hypotheses returned (default 1; confidences use the final beam).
    pub nbest: usize,
}

impl Default for PrefixBeamConfig {
    fn default() -> Self {
        PrefixBeamConfig {
            beam_size: 16,
            beam_threshold: 25.0,
            token_top_k: usize::MAX,
            token_min_logprob: 1e-6f32.ln(),
            blank_skip_threshold: 0.999,
            lm_weight: 0.8,
            word_bonus: 0.0,
            pron_weight: 1.0,
            nbest: 1,
        }
    }
}

impl PrefixBeamConfig {
    /// A configuration that prunes nothing (for exactness tests on tiny inputs).
    pub fn exhaustive() -> Self {
        PrefixBeamConfig {
            beam_size: usize::MAX,
            beam_threshold: f32::INFINITY,
            token_top_k: usize::MAX,
            token_min_logprob: f32::NEG_INFINITY,
            blank_skip_threshold: 2.0,
            nbest: usize::MAX,
            ..Default::default()
        }
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if self.beam_size == 0 || self.nbest == 0 || self.token_top_k == 0 {
            return Err(Error::Config(
                "beam size, nbest and token top-k must be ≥ 1".into(),
            ));
        }
        if self.beam_threshold.is_nan() || self.beam_threshold < 0.0 {
            return Err(Error::Config("beam threshold must be ≥ 0".into()));
        }
        if !self.lm_weight.is_finite() || !self.word_bonus.is_finite() {
            return Err(Error::Config(
                "lm weight and word bonus must be finite".into(),
            ));
        }
        if !(self.pron_weight.is_finite() && self.pron_weight >= 0.0) {
            return Err(Error::Config(
                "pronunciation weight must be finite and ≥ 0".into(),
            ));
        }
        Ok(())
    }
}

/// One hypothesis of the beam.
#[derive(Debug, Clone, Copy)]
struct Hyp<S> {
    /// Node of the completed word sequence in the word trie (0 = no words).
    word_node: u32,
    /// Position in the lexicon tree (ROOT between words).
    lex_node: u32,
    /// Last emitted token (NONE before the first).
    last: u32,
    /// ln P(labelling, path ends in blank), summed over alignments.
    p_b: f32,
    /// ln P(labelling, path ends in the last token), summed over alignments.
    p_nb: f32,
    /// lm_weight × LM log-probability + word bonuses of the completed words.
    lm_score: f32,
    /// LM state after the completed words.
    lm_state: S,
    /// Score of the best contribution merged into this entry (picks the traces);
    /// after pruning, the hypothesis' total score (cached for sorting).
    best_in: f32,
    /// Token trace (arena index; NONE = empty): emission frame of each token.
    tokens: u32,
    /// Word time trace (arena index; NONE = empty).
    times: u32,
    /// Frame where the current (incomplete) word's first token was emitted.
    word_start: u32,
}

impl<S> Hyp<S> {
    #[inline]
    fn total(&self) -> f32 {
        log_add(self.p_b, self.p_nb) + self.lm_score
    }
}

/// CTC prefix beam search; reuse one instance across utterances to reuse its buffers.
#[derive(Debug)]
pub struct CtcPrefixBeamSearch<L: LanguageModel> {
    tree: LexiconTree,
    lm: L,
    config: PrefixBeamConfig,
    tokens: TokenTable,
    blank: usize,
    /// `lm_words[w]`: the LM id of word `w` (`<unk>` or NONE when missing).
    lm_words: Vec<LmWordId>,
    /// Output strings of the word ids.
    word_strings: Vec<String>,
    /// lm_weight × unigram LM look-ahead per tree node (see [`LexiconTree::lookahead`]).
    lookahead: Vec<f32>,
    beam: Vec<Hyp<L::State>>,
    next: Vec<Hyp<L::State>>,
    index: FxHashMap<u64, u32>,
    // Invariants: trie_nodes[0] is the empty sequence; trie_nodes[i].0 < i; no two
    // live hypotheses (in `beam` or `next`) have different nodes for one word sequence.
    /// `(parent node, pron)` → node, for the nodes of live hypotheses and the nodes made
    /// in this frame (rebuilt every frame: a node no live hypothesis holds never needs
    /// to be found again, which keeps this map tiny and cache-resident).
    live: FxHashMap<u64, u32>,
    trie_nodes: Vec<(u32, u32)>,
    // Invariants: token_arena[i].2 (parent) < i or NONE; likewise time_arena.
    token_arena: Vec<(u32, u32, u32)>,
    time_arena: Vec<(u32, u32, u32)>,
    lm_cache: FxHashMap<(L::State, LmWordId), (f32, L::State)>,
    /// Token index of `SIL` in lexicon mode (NONE: no optional silence).
    sil: u32,
    /// Virtual lexicon node "between words, last emitted token SIL" (= number of tree
    /// nodes); it behaves like the root but keeps silence-final labellings apart.
    sil_node: u32,
}

impl CtcPrefixBeamSearch<NoLm> {
    /// The lexicon-free phone mode: every non-blank token is a "word", no LM.
    pub fn phones(tokens: TokenTable, config: PrefixBeamConfig) -> Result<Self> {
        let blank = tokens.blank().unwrap_or(0);
        let tree = LexiconTree::phone_loop(tokens.len(), Some(blank));
        let word_strings = tokens.symbols().to_vec();
        let lm_words = vec![0; tokens.len()];
        Self::build(tree, NoLm, config, tokens, lm_words, word_strings, None)
    }
}

impl<L: LanguageModel> CtcPrefixBeamSearch<L> {
    /// A lexicon-constrained search with a word LM (use [`NoLm`] for none). Lexicon
    /// words missing from the LM score as `<unk>`.
    pub fn with_lexicon(
        lexicon: &Lexicon,
        tokens: TokenTable,
        lm: L,
        config: PrefixBeamConfig,
    ) -> Result<Self> {
        let tree = LexiconTree::new(lexicon, &tokens)?;
        let lm_words = lm_ids(lexicon, &lm);
        let sil = tokens.index(crate::phones::SIL);
        Self::build(
            tree,
            lm,
            config,
            tokens,
            lm_words,
            lexicon.words.clone(),
            sil,
        )
    }

    fn build(
        tree: LexiconTree,
        lm: L,
        config: PrefixBeamConfig,
        tokens: TokenTable,
        lm_words: Vec<LmWordId>,
        word_strings: Vec<String>,
        sil: Option<usize>,
    ) -> Result<Self> {
        config.validate()?;
        let blank = tokens.blank().unwrap_or(0);
        let lookahead =
            weighted_lookahead(&tree, &lm, &lm_words, config.lm_weight, config.pron_weight);
        let sil_node = tree.nodes.len() as u32;
        Ok(CtcPrefixBeamSearch {
            sil: sil.map_or(NONE, |i| i as u32),
            sil_node,
            lookahead,
            tree,
            lm,
            config,
            tokens,
            blank,
            lm_words,
            word_strings,
            beam: Vec::new(),
            next: Vec::new(),
            index: FxHashMap::default(),
            live: FxHashMap::default(),
            trie_nodes: Vec::new(),
            token_arena: Vec::new(),
            time_arena: Vec::new(),
            lm_cache: FxHashMap::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PrefixBeamConfig {
        &self.config
    }

    /// Replaces the configuration (validated).
    pub fn set_config(&mut self, config: PrefixBeamConfig) -> Result<()> {
        config.validate()?;
        self.lookahead = weighted_lookahead(
            &self.tree,
            &self.lm,
            &self.lm_words,
            config.lm_weight,
            config.pron_weight,
        );
        self.config = config;
        Ok(())
    }

    /// Decodes one utterance; hypotheses best first (at most `nbest`, distinct word
    /// sequences). [`Error::EmptyBeam`] when no hypothesis ends on a word boundary.
    pub fn decode(&mut self, d: &dyn Decodable) -> Result<Vec<Hypothesis>> {
        if d.num_indices() != self.tokens.len() {
            return Err(Error::dim(
                "ctc prefix beam search (token table vs posterior columns)",
                self.tokens.len(),
                d.num_indices(),
            ));
        }
        self.reset();
        let blank_skip = if self.config.blank_skip_threshold > 1.0 {
            f32::INFINITY
        } else {
            self.config.blank_skip_threshold.ln()
        };
        let mut top = Vec::new();
        for t in 0..d.num_frames_ready() {
            let lp = d.frame_scores(t);
            if lp[self.blank] >= blank_skip {
                for h in &mut self.beam {
                    let tot = log_add(h.p_b, h.p_nb);
                    h.p_nb = if h.last == NONE {
                        f32::NEG_INFINITY
                    } else {
                        h.p_nb + lp[h.last as usize]
                    };
                    h.p_b = tot + lp[self.blank];
                }
                continue;
            }
            let cutoff = self.cutoff(lp, &mut top);
            self.step(t as u32, lp, cutoff);
            self.prune();
            if self.beam.is_empty() {
                return Err(Error::EmptyBeam);
            }
        }
        self.finish()
    }

    fn reset(&mut self) {
        self.beam.clear();
        self.next.clear();
        self.live.clear();
        self.trie_nodes.clear();
        self.trie_nodes.push((NONE, NONE));
        self.token_arena.clear();
        self.time_arena.clear();
        if self.lm_cache.len() > 1 << 20 {
            self.lm_cache.clear();
        }
        self.beam.push(Hyp {
            word_node: 0,
            lex_node: ROOT,
            last: NONE,
            p_b: 0.0,
            p_nb: f32::NEG_INFINITY,
            lm_score: 0.0,
            lm_state: self.lm.start(),
            best_in: 0.0,
            tokens: NONE,
            times: NONE,
            word_start: 0,
        });
    }

    /// The smallest log-posterior a token needs to extend a hypothesis at this frame.
    fn cutoff(&self, lp: &[f32], top: &mut Vec<f32>) -> f32 {
        let mut c = self.config.token_min_logprob;
        if self.config.token_top_k < lp.len() {
            top.clear();
            top.extend_from_slice(lp);
            let k = self.config.token_top_k - 1;
            top.select_nth_unstable_by(k, |a, b| b.total_cmp(a));
            c = c.max(top[k]);
        }
        c
    }

    fn step(&mut self, t: u32, lp: &[f32], cutoff: f32) {
        self.next.clear();
        self.index.clear();
        self.live.clear();
        for h in &self.beam {
            if h.word_node != 0 {
                let (parent, pron) = self.trie_nodes[h.word_node as usize];
                self.live
                    .insert((u64::from(parent) << 32) | u64::from(pron), h.word_node);
            }
        }
        let lp_blank = lp[self.blank];
        for i in 0..self.beam.len() {
            let h = self.beam[i];
            let tot = log_add(h.p_b, h.p_nb);
            // stay: blank, or a repeat of the last token
            let mut stay = h;
            stay.p_b = tot + lp_blank;
            stay.p_nb = if h.last == NONE {
                f32::NEG_INFINITY
            } else {
                h.p_nb + lp[h.last as usize]
            };
            add(&mut self.next, &mut self.index, stay);
            let at_boundary = between_words(h.lex_node, self.sil_node);
            // optional silence between words: a token that spells no word
            if at_boundary && self.sil != NONE {
                let v = lp[self.sil as usize];
                let p = if h.last == self.sil { h.p_b } else { tot } + v;
                if v >= cutoff && p > f32::NEG_INFINITY {
                    let tok_trace = self.token_arena.len() as u32;
                    self.token_arena.push((self.sil, t, h.tokens));
                    let s = Hyp {
                        lex_node: self.sil_node,
                        last: self.sil,
                        p_b: f32::NEG_INFINITY,
                        p_nb: p,
                        tokens: tok_trace,
                        ..h
                    };
                    add(&mut self.next, &mut self.index, s);
                }
            }
            let tree_node = if at_boundary { ROOT } else { h.lex_node };
            // extend with each child of the tree node
            for c in self.tree.children(tree_node) {
                let node = self.tree.nodes[c as usize];
                let tok = node.token;
                let v = lp[tok as usize];
                if v < cutoff {
                    continue;
                }
                let p = if tok == h.last { h.p_b } else { tot } + v;
                if p == f32::NEG_INFINITY {
                    continue;
                }
                let tok_trace = self.token_arena.len() as u32;
                self.token_arena.push((tok, t, h.tokens));
                let word_start = if at_boundary { t } else { h.word_start };
                let base_lm = h.lm_score - self.lookahead[h.lex_node as usize];
                if node.num_children > 0 {
                    let ext = Hyp {
                        lex_node: c,
                        lm_score: base_lm + self.lookahead[c as usize],
                        last: tok,
                        p_b: f32::NEG_INFINITY,
                        p_nb: p,
                        tokens: tok_trace,
                        word_start,
                        ..h
                    };
                    add(&mut self.next, &mut self.index, ext);
                }
                for e in node.first_end..node.first_end + node.num_ends {
                    let pron = self.tree.ends[e as usize];
                    let word = self.tree.pron_word[pron as usize];
                    let lm_word = self.lm_words[word as usize];
                    let lm = &self.lm;
                    let (lm_lp, lm_state) = *self
                        .lm_cache
                        .entry((h.lm_state, lm_word))
                        .or_insert_with(|| lm.score(h.lm_state, lm_word));
                    let key = (u64::from(h.word_node) << 32) | u64::from(pron);
                    let next_id = self.trie_nodes.len() as u32;
                    let word_node = *self.live.entry(key).or_insert(next_id);
                    if word_node == next_id {
                        self.trie_nodes.push((h.word_node, pron));
                    }
                    let times = self.time_arena.len() as u32;
                    self.time_arena.push((word_start, t + 1, h.times));
                    let done = Hyp {
                        word_node,
                        lex_node: ROOT,
                        last: tok,
                        p_b: f32::NEG_INFINITY,
                        p_nb: p,
                        lm_score: base_lm
                            + self.config.lm_weight * lm_lp
                            + pron_term(
                                self.config.pron_weight,
                                self.tree.pron_logp[pron as usize],
                            )
                            + self.config.word_bonus,
                        lm_state,
                        tokens: tok_trace,
                        times,
                        word_start,
                        best_in: 0.0,
                    };
                    add(&mut self.next, &mut self.index, done);
                }
            }
        }
        std::mem::swap(&mut self.beam, &mut self.next);
    }

    fn prune(&mut self) {
        let mut best = f32::NEG_INFINITY;
        for h in &mut self.beam {
            h.best_in = h.total();
            best = best.max(h.best_in);
        }
        if best == f32::NEG_INFINITY {
            self.beam.clear();
            return;
        }
        let floor = best - self.config.beam_threshold;
        self.beam.retain(|h| h.best_in >= floor);
        if self.beam.len() > self.config.beam_size {
            let k = self.config.beam_size;
            self.beam
                .select_nth_unstable_by(k - 1, |a, b| b.best_in.total_cmp(&a.best_in));
            // Keep the best word-boundary hypothesis even when partial words (scored
            // with an optimistic look-ahead) fill the beam, so the utterance can end.
            let sil_node = self.sil_node;
            if !self.beam[..k]
                .iter()
                .any(|h| between_words(h.lex_node, sil_node))
                && let Some(best_root) = self.beam[k..]
                    .iter()
                    .filter(|h| between_words(h.lex_node, sil_node))
                    .max_by(|a, b| a.best_in.total_cmp(&b.best_in))
                    .copied()
            {
                self.beam[k - 1] = best_root;
            }
            self.beam.truncate(k);
        }
    }

    fn finish(&mut self) -> Result<Vec<Hypothesis>> {
        // Hypotheses inside a word are dropped; only when none ends on a word boundary
        // (a beam too narrow for the input) the best partial ones are returned, without
        // their unfinished word.
        let sil_node = self.sil_node;
        let boundary = |h: &Hyp<L::State>| between_words(h.lex_node, sil_node);
        let any_complete = self.beam.iter().any(boundary);
        let mut finals: Vec<(f32, usize)> = self
            .beam
            .iter()
            .enumerate()
            .filter(|(_, h)| boundary(h) || !any_complete)
            .map(|(i, h)| {
                let s = h.total() - self.lookahead[h.lex_node as usize]
                    + self.config.lm_weight * self.lm.final_score(h.lm_state);
                (s, i)
            })
            .filter(|(s, _)| *s > f32::NEG_INFINITY)
            .collect();
        if finals.is_empty() {
            return Err(Error::EmptyBeam);
        }
        finals.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut out: Vec<Hypothesis> = Vec::new();
        let mut seen: std::collections::HashSet<Vec<u32>> = Default::default();
        // keep the whole final beam for confidences, return the first `nbest`
        for &(score, i) in &finals {
            let h = self.beam[i];
            let words = self.words_of(h.word_node);
            if !seen.insert(words) {
                continue;
            }
            out.push(self.hypothesis(&h, score));
        }
        nbest_confidences(&mut out);
        out.truncate(self.config.nbest);
        Ok(out)
    }

    fn words_of(&self, mut node: u32) -> Vec<u32> {
        let mut w = Vec::new();
        while node != 0 {
            let (parent, pron) = self.trie_nodes[node as usize];
            w.push(self.tree.pron_word[pron as usize]);
            node = parent;
        }
        w.reverse();
        w
    }

    fn hypothesis(&self, h: &Hyp<L::State>, score: f32) -> Hypothesis {
        let mut prons = Vec::new();
        let mut node = h.word_node;
        while node != 0 {
            let (parent, pron) = self.trie_nodes[node as usize];
            prons.push(pron);
            node = parent;
        }
        prons.reverse();
        let mut times = Vec::new();
        let mut i = h.times;
        while i != NONE {
            let (s, e, p) = self.time_arena[i as usize];
            times.push((s as usize, e as usize));
            i = p;
        }
        times.reverse();
        let mut toks = Vec::new();
        let mut i = h.tokens;
        while i != NONE {
            let (tok, f, p) = self.token_arena[i as usize];
            toks.push((tok as usize, f as usize));
            i = p;
        }
        toks.reverse();
        debug_assert_eq!(prons.len(), times.len());
        let words: Vec<WordSpan> = prons
            .iter()
            .zip(&times)
            .map(|(&p, &(start, end))| WordSpan {
                word: self.word_strings[self.tree.pron_word[p as usize] as usize].clone(),
                start,
                end,
                confidence: 1.0,
            })
            .collect();
        // phone spans: from its emission frame to the next token's (within a word),
        // else one frame (CTC timings are spike positions)
        let mut phones = Vec::with_capacity(toks.len());
        let ends: Vec<usize> = times.iter().map(|t| t.1).collect();
        for (k, &(tok, f)) in toks.iter().enumerate() {
            let end = match toks.get(k + 1) {
                Some(&(_, nf)) if !ends.contains(&(f + 1)) || nf == f + 1 => nf.max(f + 1),
                _ => f + 1,
            };
            phones.push(PhoneSpan {
                phone: self.tokens.symbol(tok).unwrap_or("?").to_string(),
                token: tok,
                start: f,
                end,
            });
        }
        Hypothesis {
            words,
            phones,
            score,
            confidence: 1.0,
        }
    }
}

/// Whether a hypothesis at lexicon node `lex_node` sits between words: at the root,
/// or at the virtual silence node.
#[inline]
fn between_words(lex_node: u32, sil_node: u32) -> bool {
    lex_node == ROOT || lex_node == sil_node
}

/// Adds a candidate to the next beam, merging with an equal prefix.
#[inline]
fn add<S: Copy>(next: &mut Vec<Hyp<S>>, index: &mut FxHashMap<u64, u32>, cand: Hyp<S>) {
    let key = (u64::from(cand.word_node) << 32) | u64::from(cand.lex_node);
    let contrib = log_add(cand.p_b, cand.p_nb);
    if contrib == f32::NEG_INFINITY {
        return;
    }
    match index.entry(key) {
        std::collections::hash_map::Entry::Occupied(o) => {
            let e = &mut next[*o.get() as usize];
            e.p_b = log_add(e.p_b, cand.p_b);
            e.p_nb = log_add(e.p_nb, cand.p_nb);
            if contrib > e.best_in {
                e.best_in = contrib;
                e.tokens = cand.tokens;
                e.times = cand.times;
                e.word_start = cand.word_start;
            }
        }
        std::collections::hash_map::Entry::Vacant(v) => {
            v.insert(next.len() as u32);
            next.push(Hyp {
                best_in: contrib,
                ..cand
            });
        }
    }
}

/// The look-ahead of every tree node: the best `lm_weight ×` unigram log-probability
/// `+ pron_weight ×` pronunciation log-probability below it.
/// One more entry than the tree has nodes: the virtual silence node (see
/// `CtcPrefixBeamSearch::sil_node`) looks ahead like the root.
pub(crate) fn weighted_lookahead<L: LanguageModel>(
    tree: &LexiconTree,
    lm: &L,
    lm_words: &[LmWordId],
    lm_weight: f32,
    pron_weight: f32,
) -> Vec<f32> {
    let null = lm.null_state();
    let scores: Vec<f32> = tree
        .pron_word
        .iter()
        .zip(&tree.pron_logp)
        .map(|(&w, &lp)| {
            lm_weight * lm.score(null, lm_words[w as usize]).0 + pron_term(pron_weight, lp)
        })
        .collect();
    let mut la = tree.lookahead(&scores);
    la.push(la[ROOT as usize]);
    la
}

/// `pron_weight × ln p`, exactly 0 when the weight is 0 (even for a probability that
/// underflowed to 0).
#[inline]
pub(crate) fn pron_term(pron_weight: f32, logp: f32) -> f32 {
    if pron_weight == 0.0 {
        0.0
    } else {
        pron_weight * logp
    }
}

/// LM ids of the lexicon's words: exact, lower case, then upper case; else `<unk>`.
pub(crate) fn lm_ids<L: LanguageModel>(lexicon: &Lexicon, lm: &L) -> Vec<LmWordId> {
    lexicon
        .words
        .iter()
        .map(|w| {
            lm.word_id(w)
                .or_else(|| lm.word_id(&w.to_lowercase()))
                .or_else(|| lm.word_id(&w.to_uppercase()))
                .or_else(|| lm.unk())
                .unwrap_or(LmWordId::MAX)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::LogPosteriors;
    use crate::lm::ArpaLm;
    use crate::rng::Rng;
    use ndarray::Array2;
    use std::collections::HashMap;
    use std::path::Path;

    const SEED: u64 = 11;

    fn random_posteriors(t: usize, v: usize, rng: &mut Rng) -> Array2<f32> {
        let mut m = Array2::from_shape_fn((t, v), |_| (rng.normal() * 1.5) as f32);
        for mut row in m.rows_mut() {
            let z = row.iter().map(|x| f64::from(*x).exp()).sum::<f64>().ln() as f32;
            row.mapv_inplace(|x| x - z);
        }
        m
    }

    /// ln P(labelling) for every labelling, by enumerating all V^T paths.
    fn brute_force(m: &Array2<f32>) -> HashMap<Vec<usize>, f64> {
        let (t, v) = m.dim();
        let mut out: HashMap<Vec<usize>, f64> = HashMap::new();
        for code in 0..v.pow(t as u32) {
            let mut c = code;
            let mut path = Vec::with_capacity(t);
            let mut lp = 0.0f64;
            for f in 0..t {
                path.push(c % v);
                lp += f64::from(m[[f, c % v]]);
                c /= v;
            }
            let mut lab = Vec::new();
            let mut prev = usize::MAX;
            for &s in &path {
                if s != 0 && s != prev {
                    lab.push(s);
                }
                prev = s;
            }
            let e = out.entry(lab).or_insert(f64::NEG_INFINITY);
            *e = if *e == f64::NEG_INFINITY {
                lp
            } else {
                e.max(lp) + (-(e.max(lp) - e.min(lp))).exp().ln_1p()
            };
        }
        out
    }

    fn tokens3() -> TokenTable {
        TokenTable::new(vec!["<blk>".into(), "AA".into(), "B".into()]).unwrap()
    }

    #[test]
    fn infinite_beam_equals_brute_force_phone_mode() {
        let mut rng = Rng::new(SEED);
        for t in 1..=5 {
            let m = random_posteriors(t, 3, &mut rng);
            let truth = brute_force(&m);
            let mut dec =
                CtcPrefixBeamSearch::phones(tokens3(), PrefixBeamConfig::exhaustive()).unwrap();
            let hyps = dec.decode(&LogPosteriors::new(m.clone()).unwrap()).unwrap();
            assert_eq!(hyps.len(), truth.len(), "T={t}");
            for h in &hyps {
                let lab: Vec<usize> = h.phones.iter().map(|p| p.token).collect();
                let want = truth[&lab];
                assert!(
                    (f64::from(h.score) - want).abs() < 1e-4,
                    "T={t} {lab:?}: {} vs {want}",
                    h.score
                );
            }
            // best first
            assert!(hyps.windows(2).all(|w| w[0].score >= w[1].score));
        }
    }

    const LM: &str = "\\data\\\nngram 1=6\nngram 2=3\n\n\\1-grams:\n-0.8 <s> -0.2\n-0.5 x -0.1\n-0.6 y -0.3\n-0.9 w\n-0.7 z -0.4\n-0.6 </s>\n\n\\2-grams:\n-0.2 <s> y\n-0.3 x z\n-0.1 y </s>\n\n\\end\\\n";

    /// Every word sequence's score over all labellings of `m` (summed over their CTC
    /// paths) and their segmentations into `prons` `(word, tokens, ln p)`: acoustic +
    /// `lm_weight` × LM + `bonus` per word + `pron_weight` × pronunciation
    /// log-probabilities, the best over the pronunciation sequences of the same words
    /// (the decoder keeps one hypothesis per pronunciation sequence, returns the best).
    fn exhaustive_scores(
        m: &Array2<f32>,
        prons: &[(&str, Vec<usize>, f64)],
        lm: &ArpaLm,
        (lm_weight, bonus, pron_weight): (f64, f64, f64),
    ) -> HashMap<String, f64> {
        fn segment<'a>(
            lab: &[usize],
            prons: &[(&'a str, Vec<usize>, f64)],
            pre: (Vec<&'a str>, f64),
            out: &mut Vec<(Vec<&'a str>, f64)>,
        ) {
            if lab.is_empty() {
                out.push(pre);
                return;
            }
            for (w, p, lp) in prons {
                if lab.starts_with(p) {
                    let mut next = pre.0.clone();
                    next.push(w);
                    segment(&lab[p.len()..], prons, (next, pre.1 + lp), out);
                }
            }
        }
        let mut want: HashMap<String, f64> = HashMap::new();
        for (lab, ac) in brute_force(m) {
            let mut segs = Vec::new();
            segment(&lab, prons, (Vec::new(), 0.0), &mut segs);
            for (words, lp) in segs {
                let s = ac
                    + lm_weight * f64::from(lm.sentence_score(&words))
                    + bonus * words.len() as f64
                    + pron_weight * lp;
                let e = want.entry(words.join(" ")).or_insert(f64::NEG_INFINITY);
                *e = e.max(s);
            }
        }
        want
    }

    /// Every word sequence is returned once, with its exhaustive score.
    fn assert_scores(hyps: &[Hypothesis], want: &HashMap<String, f64>, ctx: &str) {
        assert_eq!(hyps.len(), want.len(), "{ctx}");
        for h in hyps {
            let w = want[&h.text()];
            assert!(
                (f64::from(h.score) - w).abs() < 1e-4,
                "{ctx} {:?}: {} vs {w}",
                h.text(),
                h.score
            );
        }
    }

    #[test]
    fn infinite_beam_equals_brute_force_with_lexicon_and_lm() {
        // x = AA, y = AA B, w = AA B (homophone of y), z = B
        let lex = Lexicon::parse("x AA\ny AA B\nw AA B\nz B\n", Path::new("lex")).unwrap();
        let lm = ArpaLm::parse(LM, Path::new("lm")).unwrap();
        let config = PrefixBeamConfig {
            lm_weight: 0.7,
            word_bonus: 0.3,
            ..PrefixBeamConfig::exhaustive()
        };
        let mut dec = CtcPrefixBeamSearch::with_lexicon(&lex, tokens3(), &lm, config).unwrap();
        let prons: Vec<(&str, Vec<usize>, f64)> = vec![
            ("x", vec![1], 0.0),
            ("y", vec![1, 2], 0.0),
            ("w", vec![1, 2], 0.0),
            ("z", vec![2], 0.0),
        ];
        let mut rng = Rng::new(SEED + 1);
        for t in 1..=5 {
            let m = random_posteriors(t, 3, &mut rng);
            let want = exhaustive_scores(&m, &prons, &lm, (0.7, 0.3, 0.0));
            let hyps = dec.decode(&LogPosteriors::new(m).unwrap()).unwrap();
            assert_scores(&hyps, &want, &format!("T={t}"));
        }
    }

    #[test]
    fn pronunciation_probabilities_enter_the_exhaustive_scores() {
        // x = AA (p 0.3), y = AA B, w = AA B (p 0.25), z = B or AA (p 0.6)
        let lex = Lexicon::parse(
            "x 0.3 AA\ny AA B\nw 0.25 AA B\nz B\nz(2) 0.6 AA\n",
            Path::new("lex"),
        )
        .unwrap();
        let lm = ArpaLm::parse(LM, Path::new("lm")).unwrap();
        let prons: Vec<(&str, Vec<usize>, f64)> = vec![
            ("x", vec![1], 0.3f64.ln()),
            ("y", vec![1, 2], 0.0),
            ("w", vec![1, 2], 0.25f64.ln()),
            ("z", vec![2], 0.0),
            ("z", vec![1], 0.6f64.ln()),
        ];
        for pron_weight in [0.0f32, 0.8] {
            let config = PrefixBeamConfig {
                lm_weight: 0.7,
                word_bonus: 0.3,
                pron_weight,
                ..PrefixBeamConfig::exhaustive()
            };
            let mut dec = CtcPrefixBeamSearch::with_lexicon(&lex, tokens3(), &lm, config).unwrap();
            let mut rng = Rng::new(SEED + 3);
            for t in 1..=5 {
                let m = random_posteriors(t, 3, &mut rng);
                let want = exhaustive_scores(&m, &prons, &lm, (0.7, 0.3, f64::from(pron_weight)));
                let hyps = dec.decode(&LogPosteriors::new(m).unwrap()).unwrap();
                assert_scores(&hyps, &want, &format!("w={pron_weight} T={t}"));
            }
        }
        let bad = PrefixBeamConfig {
            pron_weight: -1.0,
            ..Default::default()
        };
        assert!(CtcPrefixBeamSearch::with_lexicon(&lex, tokens3(), &lm, bad).is_err());
    }

    #[test]
    fn decodes_planted_words_with_times() {
        // peaky posteriors spelling "y z" = AA B B with blanks; B B needs a blank between
        let lex = Lexicon::parse("y AA B\nz B\n", Path::new("lex")).unwrap();
        let path = [0, 1, 1, 0, 2, 0, 0, 2, 0, 0];
        let m = Array2::from_shape_fn((10, 3), |(t, c)| {
            if c == path[t] {
                0.98f32.ln()
            } else {
                0.01f32.ln()
            }
        });
        let mut dec = CtcPrefixBeamSearch::with_lexicon(
            &lex,
            tokens3(),
            NoLm,
            PrefixBeamConfig {
                nbest: 3,
                ..Default::default()
            },
        )
        .unwrap();
        let hyps = dec.decode(&LogPosteriors::new(m).unwrap()).unwrap();
        assert_eq!(hyps[0].text(), "y z");
        assert_eq!((hyps[0].words[0].start, hyps[0].words[0].end), (1, 5));
        assert_eq!((hyps[0].words[1].start, hyps[0].words[1].end), (7, 8));
        assert!(hyps[0].words[0].confidence > 0.9);
        assert!(hyps.len() <= 3);
    }
}
