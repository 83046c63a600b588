//! HMM-Viterbi decoding by token passing (cf. Kaldi's `FasterDecoder`).
//!
//! The search graph is never built: it is the composition, expanded on the fly, of
//! - the phone HMM ([`HmmTopology`]: CTC topology or left-to-right hybrid HMMs),
//! - the lexicon prefix tree ([`LexiconTree`]; homophones end at the same node but
//!   leave it as different words),
//! - the word n-gram LM, applied when a word ends, with **exact** back-off (the LM is a
//!   deterministic automaton, so there are no ε back-off arcs to approximate),
//! - optional silence between words (and at the ends), and for the CTC topology a
//!   blank state at the start.
//!
//! A graph state is `(LM state, tree node, HMM state)`. Memory is the lexicon tree plus
//! the LM plus the active tokens: a 100k-word lexicon with a 3-gram LM needs no
//! composed graph (see the README for the measured peak RSS).
//!
//! Each frame, every active token follows its HMM arcs; tokens leaving a phone enter
//! the children of their tree node, and at word ends score the LM and collect, per
//! `(LM state, blocked token)`, the best way into the word loop, which then fans out
//! into the first phones of all words. Pruning: a beam relative to the best token and
//! at most `max_active` tokens. With an infinite beam this is exact Viterbi over the
//! graph (tested against exhaustive enumeration of state paths).

use super::ctc_prefix_beam::pron_term;
use super::decodable::Decodable;
use super::hmm::{HmmState, HmmTopology};
use super::hypothesis::{Hypothesis, PhoneSpan, WordSpan, nbest_confidences};
use super::prefix_tree::{LexiconTree, ROOT};
use crate::error::{Error, Result};
use crate::lexicon::Lexicon;
use crate::lm::{FxHashMap, LanguageModel, LmWordId, NoLm};
use crate::phones::TokenTable;

const NONE: u32 = u32::MAX;

/// Settings of [`ViterbiDecoder`] (names after Kaldi's decoder options).
#[derive(Debug, Clone, PartialEq)]
pub struct ViterbiConfig {
    /// Decoding beam, natural log (`--beam`, Kaldi default 16). Larger: slower, more accurate.
    pub beam: f32,
    /// Maximum active tokens per frame (Kaldi `--max-active`, default 7000).
    /// Larger: slower, more accurate.
    pub max_active: usize,
    /// Weight of LM log-probabilities (`--lm-weight`, default 1; the acoustic scale of
    /// the decodable sets the balance for hybrid models).
    pub lm_weight: f32,
    /// Added per word (natural log, default 0). Larger: more words.
    pub word_penalty: f32,
    /// Weight of the lexicon's pronunciation log-probabilities (default 1; 0 ignores
    /// them).
    pub pron_weight: f32,
    /// Probability of optional silence between words (0 disables, default 0.5); the
    /// silence token is `SIL`.
    pub silence_prob: f32,
    /// Phone model.
    pub topology: HmmTopology,
    /// Number of hypotheses returned (distinct word sequences among final tokens).
    pub nbest: usize,
}

impl Default for ViterbiConfig {
    fn default() -> Self {
        ViterbiConfig {
            beam: 16.0,
            max_active: 7000,
            lm_weight: 1.0,
            word_penalty: 0.0,
            pron_weight: 1.0,
            silence_prob: 0.5,
            topology: HmmTopology::Ctc,
            nbest: 1,
        }
    }
}

impl ViterbiConfig {
    /// A configuration that prunes nothing (exactness tests).
    pub fn exhaustive(topology: HmmTopology) -> Self {
        ViterbiConfig {
            beam: f32::INFINITY,
            max_active: usize::MAX,
            topology,
            nbest: usize::MAX,
            ..Default::default()
        }
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        self.topology.validate()?;
        if self.beam.is_nan() || self.beam <= 0.0 || self.max_active == 0 || self.nbest == 0 {
            return Err(Error::Config(
                "beam must be > 0, max-active and nbest ≥ 1".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.silence_prob) {
            return Err(Error::Config(format!(
                "silence probability must be in [0, 1), got {}",
                self.silence_prob
            )));
        }
        if !self.lm_weight.is_finite() || !self.word_penalty.is_finite() {
            return Err(Error::Config(
                "lm weight and word penalty must be finite".into(),
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

#[derive(Debug, Clone, Copy)]
struct Token {
    key: u64,
    score: f32,
    /// Word trace (arena index, NONE = no words yet).
    trace: u32,
    /// Frame where the current word's first phone started.
    word_start: u32,
    /// Next token of this frame at the same (tree node, HMM state), other LM state.
    chain: u32,
}

/// A way into the word loop, collected per `(LM state, blocked token)` within a frame.
#[derive(Debug, Clone, Copy)]
struct RootEntry {
    score: f32,
    trace: u32,
    /// The word just completed (pronunciation id) or NONE (silence, start).
    pron: u32,
    word_start: u32,
}

#[inline]
fn pack(lm: u32, node: u32, state: usize) -> u64 {
    (u64::from(lm) << 34) | (u64::from(node) << 2) | state as u64
}

#[inline]
fn unpack(key: u64) -> (u32, u32, usize) {
    (
        (key >> 34) as u32,
        ((key >> 2) & 0xffff_ffff) as u32,
        (key & 3) as usize,
    )
}

/// The token-passing decoder; reuse one instance to reuse its buffers.
#[derive(Debug)]
pub struct ViterbiDecoder<L: LanguageModel> {
    tree: LexiconTree,
    lm: L,
    config: ViterbiConfig,
    num_indices: usize,
    states: Vec<HmmState>,
    blank: u32,
    /// Token index of SIL (NONE: no silence).
    sil: u32,
    sil_logp: f32,
    /// Virtual node id of the silence "word".
    sil_node: u32,
    lm_words: Vec<LmWordId>,
    word_strings: Vec<String>,
    /// lm_weight × unigram LM look-ahead per tree node.
    lookahead: Vec<f32>,
    /// Token symbols (for phone spans).
    symbols: Vec<String>,
    /// Segments each output word's span into its phones.
    aligner: super::align::ForcedAligner,
    /// `pron_of_word_span[k]`: pronunciation of the k-th word of each returned hypothesis.
    out_prons: Vec<Vec<u32>>,
    // scratch
    cur: Vec<Token>,
    next: Vec<Token>,
    // Invariants: for the frame being built, when slot_stamp[i] == stamp, slot_head[i]
    // starts a chain (through Token::chain) of the tokens in `next` at slot i =
    // node * 4 + HMM state, one per LM state. Stale stamps mean an empty slot, so
    // starting a frame costs nothing. Tokens are not moved while a frame is built.
    slot_head: Vec<u32>,
    slot_stamp: Vec<u32>,
    stamp: u32,
    /// Decodable column of each slot (node * 4 + HMM state); NONE for unused states.
    slot_pdf: Vec<u32>,
    /// Ways into the word loop of the frame being built, keyed `lm << 32 | blocked`;
    /// searched linearly while there are few, through `roots` once there are more.
    root_entries: Vec<(u64, RootEntry)>,
    roots: FxHashMap<u64, u32>,
    roots_mapped: bool,
    /// `(LM state id << 32 | LM word)` → (ln p, next LM state id), per utterance.
    lm_trans: FxHashMap<u64, (f32, u32)>,
    lm_states: Vec<L::State>,
    lm_ids: FxHashMap<L::State, u32>,
    // Invariants: trace[i].3 (previous entry) < i or NONE.
    trace: Vec<(u32, u32, u32, u32)>,
}

impl ViterbiDecoder<NoLm> {
    /// A phone-loop decoder (every token but the blank is a one-phone word, no LM).
    pub fn phone_loop(tokens: &TokenTable, config: ViterbiConfig) -> Result<Self> {
        let blank = tokens.blank();
        let tree = LexiconTree::phone_loop(tokens.len(), blank);
        let mut cfg = config;
        cfg.silence_prob = 0.0; // SIL is already one of the "words"
        Self::build(
            tree,
            NoLm,
            cfg,
            tokens,
            vec![0; tokens.len()],
            tokens.symbols().to_vec(),
        )
    }
}

impl<L: LanguageModel> ViterbiDecoder<L> {
    /// A decoder over `lexicon` with a word LM. `tokens` names the decodable's columns
    /// (the CTC topology needs `<blk>`; silence needs `SIL`).
    pub fn new(
        lexicon: &Lexicon,
        tokens: &TokenTable,
        lm: L,
        config: ViterbiConfig,
    ) -> Result<Self> {
        let tree = LexiconTree::new(lexicon, tokens)?;
        let lm_words = super::ctc_prefix_beam::lm_ids(lexicon, &lm);
        Self::build(tree, lm, config, tokens, lm_words, lexicon.words.clone())
    }

    fn build(
        tree: LexiconTree,
        lm: L,
        config: ViterbiConfig,
        tokens: &TokenTable,
        lm_words: Vec<LmWordId>,
        word_strings: Vec<String>,
    ) -> Result<Self> {
        config.validate()?;
        let blank = match (config.topology.uses_blank(), tokens.blank()) {
            (true, Some(b)) => b as u32,
            (true, None) => {
                return Err(Error::Invalid(
                    "the CTC topology needs a <blk> token".into(),
                ));
            }
            (false, _) => NONE,
        };
        let sil = match tokens.index(crate::phones::SIL) {
            Some(i) if config.silence_prob > 0.0 => i as u32,
            _ => NONE,
        };
        if tree.num_nodes() >= (1 << 31) {
            return Err(Error::Invalid("lexicon tree too large".into()));
        }
        let sil_node = tree.num_nodes() as u32;
        let lookahead = super::ctc_prefix_beam::weighted_lookahead(
            &tree,
            &lm,
            &lm_words,
            config.lm_weight,
            config.pron_weight,
        );
        let mut decoder = ViterbiDecoder {
            lookahead,
            states: config.topology.states(),
            sil_logp: config.silence_prob.ln(),
            tree,
            lm,
            num_indices: tokens.len(),
            out_prons: Vec::new(),
            symbols: tokens.symbols().to_vec(),
            aligner: super::align::ForcedAligner::new(tokens.clone(), config.topology, false)?,
            config,
            blank,
            sil,
            sil_node,
            lm_words,
            word_strings,
            cur: Vec::new(),
            next: Vec::new(),
            slot_pdf: Vec::new(),
            slot_head: vec![NONE; (sil_node as usize + 1) * 4],
            slot_stamp: vec![0; (sil_node as usize + 1) * 4],
            stamp: 0,
            root_entries: Vec::new(),
            roots: FxHashMap::default(),
            roots_mapped: false,
            lm_trans: FxHashMap::default(),
            lm_states: Vec::new(),
            lm_ids: FxHashMap::default(),
            trace: Vec::new(),
        };
        let num_slots = (decoder.sil_node as usize + 1) * 4;
        decoder.slot_pdf = (0..num_slots)
            .map(|slot| {
                let (node, state) = ((slot >> 2) as u32, slot & 3);
                if state < decoder.states.len() {
                    decoder.pdf(node, state)
                } else {
                    NONE
                }
            })
            .collect();
        Ok(decoder)
    }

    /// The lexicon tree (for memory reports).
    pub fn tree(&self) -> &LexiconTree {
        &self.tree
    }

    fn intern(&mut self, s: L::State) -> u32 {
        if let Some(&i) = self.lm_ids.get(&s) {
            return i;
        }
        let i = self.lm_states.len() as u32;
        self.lm_states.push(s);
        self.lm_ids.insert(s, i);
        i
    }

    /// Token (column) of a graph node/state.
    #[inline]
    fn pdf(&self, node: u32, state: usize) -> u32 {
        if node == ROOT || self.states[state].emits_blank {
            self.blank
        } else if node == self.sil_node {
            self.sil
        } else {
            self.tree.nodes[node as usize].token
        }
    }

    /// Decodes one utterance: hypotheses best first, with phone spans from aligning
    /// each word's pronunciation inside its span.
    pub fn decode(&mut self, d: &dyn Decodable) -> Result<Vec<Hypothesis>> {
        if d.num_indices() != self.num_indices {
            return Err(Error::dim(
                "viterbi decoder (token table vs decodable columns)",
                self.num_indices,
                d.num_indices(),
            ));
        }
        let num_frames = d.num_frames_ready();
        if num_frames == 0 {
            return Err(Error::Invalid("no frames to decode".into()));
        }
        self.cur.clear();
        self.trace.clear();
        self.lm_states.clear();
        self.lm_ids.clear();
        if self.lm_trans.len() > 1 << 20 {
            self.lm_trans = FxHashMap::default();
        } else {
            self.lm_trans.clear();
        }
        let start = self.lm.start();
        let lm0 = self.intern(start);
        // frame 0: enter the word loop
        self.begin_frame();
        let mut best = f32::NEG_INFINITY;
        self.add_root(
            lm0,
            NONE,
            RootEntry {
                score: 0.0,
                trace: NONE,
                pron: NONE,
                word_start: 0,
            },
        );
        self.expand_roots(d.frame_scores(0), 0, &mut best);
        self.prune(best);
        std::mem::swap(&mut self.cur, &mut self.next);
        for t in 1..num_frames {
            let row = d.frame_scores(t);
            self.begin_frame();
            let mut best = f32::NEG_INFINITY;
            let cutoff = self
                .cur
                .iter()
                .map(|k| k.score)
                .fold(f32::NEG_INFINITY, f32::max)
                - self.config.beam;
            for i in 0..self.cur.len() {
                let tok = self.cur[i];
                if tok.score < cutoff {
                    continue;
                }
                self.advance(tok, row, t as u32, &mut best);
            }
            self.expand_roots(row, t as u32, &mut best);
            self.prune(best);
            std::mem::swap(&mut self.cur, &mut self.next);
            if self.cur.is_empty() {
                return Err(Error::EmptyBeam);
            }
        }
        let mut hyps = self.finish(num_frames as u32)?;
        self.fill_phones(d, &mut hyps);
        Ok(hyps)
    }

    /// Fills each hypothesis' phones by aligning every word's pronunciation inside the
    /// word's own frame span (cheap: the spans are short, and exact for the chosen
    /// words). A word whose span cannot hold its phones keeps no phone spans.
    fn fill_phones(&self, d: &dyn Decodable, hyps: &mut [Hypothesis]) {
        for (h, prons) in hyps.iter_mut().zip(&self.out_prons) {
            for (w, &p) in h.words.iter().zip(prons) {
                let toks = &self.tree.pron_tokens[p as usize];
                if toks.len() == 1 && !self.config.topology.uses_blank() {
                    // one phone, no blank: the phone is the whole span (phone loops)
                    h.phones.push(PhoneSpan {
                        phone: self.symbols[toks[0] as usize].clone(),
                        token: toks[0] as usize,
                        start: w.start,
                        end: w.end,
                    });
                    continue;
                }
                let span = FrameSpan {
                    inner: d,
                    start: w.start,
                    len: w.end - w.start,
                };
                let toks = vec![(w.word.clone(), self.tree.pron_tokens[p as usize].clone())];
                if let Ok(a) = self.aligner.align(&span, &toks) {
                    h.phones.extend(a.phones.into_iter().map(|mut ph| {
                        ph.start += w.start;
                        ph.end += w.start;
                        ph
                    }));
                }
            }
        }
    }

    fn begin_frame(&mut self) {
        self.next.clear();
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.slot_stamp.fill(0);
            self.stamp = 1;
        }
        self.roots.clear();
        self.root_entries.clear();
        self.roots_mapped = false;
    }

    /// Adds (Viterbi max) a token for frame `t` at `key`, with the emission score.
    #[inline(always)]
    fn emit(
        &mut self,
        key: u64,
        score: f32,
        trace: u32,
        word_start: u32,
        row: &[f32],
        best: &mut f32,
    ) {
        // key = lm << 34 | node << 2 | state, so the slot is the low 34 bits
        let slot = (key & 0x3_ffff_ffff) as usize;
        let s = score + row[self.slot_pdf[slot] as usize];
        if s < *best - self.config.beam || s == f32::NEG_INFINITY {
            return;
        }
        if s > *best {
            *best = s;
        }
        if self.slot_stamp[slot] != self.stamp {
            self.slot_stamp[slot] = self.stamp;
            self.slot_head[slot] = NONE;
        }
        let mut i = self.slot_head[slot];
        while i != NONE {
            let tok = &mut self.next[i as usize];
            if tok.key == key {
                if s > tok.score {
                    tok.score = s;
                    tok.trace = trace;
                    tok.word_start = word_start;
                }
                return;
            }
            i = tok.chain;
        }
        let chain = self.slot_head[slot];
        self.slot_head[slot] = self.next.len() as u32;
        self.next.push(Token {
            key,
            score: s,
            trace,
            word_start,
            chain,
        });
    }

    fn add_root(&mut self, lm: u32, blocked: u32, e: RootEntry) {
        const LINEAR: usize = 8;
        let key = (u64::from(lm) << 32) | u64::from(blocked);
        if !self.roots_mapped {
            for (k, r) in &mut self.root_entries {
                if *k == key {
                    if e.score > r.score {
                        *r = e;
                    }
                    return;
                }
            }
            if self.root_entries.len() < LINEAR {
                self.root_entries.push((key, e));
                return;
            }
            for (i, (k, _)) in self.root_entries.iter().enumerate() {
                self.roots.insert(*k, i as u32);
            }
            self.roots_mapped = true;
        }
        match self.roots.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => {
                let r = &mut self.root_entries[*o.get() as usize].1;
                if e.score > r.score {
                    *r = e;
                }
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(self.root_entries.len() as u32);
                self.root_entries.push((key, e));
            }
        }
    }

    /// `(ln p(word | LM state), next LM state id)`, cached per utterance.
    #[inline]
    fn lm_step(&mut self, lm: u32, word: LmWordId) -> (f32, u32) {
        let key = (u64::from(lm) << 32) | u64::from(word);
        if let Some(&v) = self.lm_trans.get(&key) {
            return v;
        }
        let (lp, next) = self.lm.score(self.lm_states[lm as usize], word);
        let v = (lp, self.intern(next));
        self.lm_trans.insert(key, v);
        v
    }

    /// Follows one token's arcs into frame `t`.
    fn advance(&mut self, tok: Token, row: &[f32], t: u32, best: &mut f32) {
        let (lm, node, s) = unpack(tok.key);
        let st = self.states[s];
        let root_blank = node == ROOT;
        // self-loop
        self.emit(
            tok.key,
            tok.score + st.self_logp,
            tok.trace,
            tok.word_start,
            row,
            best,
        );
        if !root_blank && st.next_logp > f32::NEG_INFINITY {
            self.emit(
                pack(lm, node, s + 1),
                tok.score + st.next_logp,
                tok.trace,
                tok.word_start,
                row,
                best,
            );
        }
        if st.exit_logp == f32::NEG_INFINITY && !root_blank {
            return;
        }
        let exit = tok.score + if root_blank { 0.0 } else { st.exit_logp };
        if exit < *best - self.config.beam {
            return;
        }
        if root_blank || node == self.sil_node {
            let blocked = if node == self.sil_node && st.exit_blocks_same {
                self.sil
            } else {
                NONE
            };
            self.add_root(
                lm,
                blocked,
                RootEntry {
                    score: exit,
                    trace: tok.trace,
                    pron: NONE,
                    word_start: t,
                },
            );
            return;
        }
        let this_tok = self.tree.nodes[node as usize].token;
        let blocked = if st.exit_blocks_same { this_tok } else { NONE };
        let la = self.lookahead[node as usize];
        for c in self.tree.children(node) {
            if self.tree.nodes[c as usize].token == blocked {
                continue;
            }
            let s = exit - la + self.lookahead[c as usize];
            self.emit(pack(lm, c, 0), s, tok.trace, tok.word_start, row, best);
        }
        let n = self.tree.nodes[node as usize];
        for e in n.first_end..n.first_end + n.num_ends {
            let pron = self.tree.ends[e as usize];
            let word = self.tree.pron_word[pron as usize];
            let (lp, lm2) = self.lm_step(lm, self.lm_words[word as usize]);
            let score = exit - la
                + self.config.lm_weight * lp
                + pron_term(self.config.pron_weight, self.tree.pron_logp[pron as usize])
                + self.config.word_penalty;
            self.add_root(
                lm2,
                blocked,
                RootEntry {
                    score,
                    trace: tok.trace,
                    pron,
                    word_start: tok.word_start,
                },
            );
        }
    }

    /// Fans every collected word-loop entry out into first phones, silence and blank.
    fn expand_roots(&mut self, row: &[f32], t: u32, best: &mut f32) {
        for k in 0..self.root_entries.len() {
            let (key, e) = self.root_entries[k];
            if e.score < *best - self.config.beam {
                continue;
            }
            let lm = (key >> 32) as u32;
            let blocked = (key & 0xffff_ffff) as u32;
            let trace = if e.pron == NONE {
                e.trace
            } else {
                self.trace.push((e.pron, e.word_start, t, e.trace));
                (self.trace.len() - 1) as u32
            };
            for c in self.tree.children(ROOT) {
                if self.tree.nodes[c as usize].token == blocked {
                    continue;
                }
                let s = e.score + self.lookahead[c as usize];
                self.emit(pack(lm, c, 0), s, trace, t, row, best);
            }
            if self.sil != NONE && blocked != self.sil {
                self.emit(
                    pack(lm, self.sil_node, 0),
                    e.score + self.sil_logp,
                    trace,
                    t,
                    row,
                    best,
                );
            }
            if self.blank != NONE {
                self.emit(pack(lm, ROOT, 0), e.score, trace, t, row, best);
            }
        }
    }

    fn prune(&mut self, best: f32) {
        let floor = best - self.config.beam;
        self.next.retain(|t| t.score >= floor);
        if self.next.len() > self.config.max_active {
            let k = self.config.max_active;
            self.next
                .select_nth_unstable_by(k - 1, |a, b| b.score.total_cmp(&a.score));
            self.next.truncate(k);
        }
    }

    fn finish(&mut self, num_frames: u32) -> Result<Vec<Hypothesis>> {
        // (score, trace, pending pron, word_start)
        let mut finals: Vec<(f32, u32, u32, u32)> = Vec::new();
        for i in 0..self.cur.len() {
            let tok = self.cur[i];
            let (lm, node, s) = unpack(tok.key);
            let st = self.states[s];
            let lm_state = self.lm_states[lm as usize];
            if node == ROOT || node == self.sil_node {
                let exit = if node == ROOT { 0.0 } else { st.exit_logp };
                if exit > f32::NEG_INFINITY {
                    let f =
                        tok.score + exit + self.config.lm_weight * self.lm.final_score(lm_state);
                    finals.push((f, tok.trace, NONE, 0));
                }
                continue;
            }
            if st.exit_logp == f32::NEG_INFINITY {
                continue;
            }
            let n = self.tree.nodes[node as usize];
            for e in n.first_end..n.first_end + n.num_ends {
                let pron = self.tree.ends[e as usize];
                let word = self.tree.pron_word[pron as usize];
                let (lp, next_state) = self.lm.score(lm_state, self.lm_words[word as usize]);
                let f = tok.score - self.lookahead[node as usize]
                    + st.exit_logp
                    + self.config.lm_weight * (lp + self.lm.final_score(next_state))
                    + pron_term(self.config.pron_weight, self.tree.pron_logp[pron as usize])
                    + self.config.word_penalty;
                finals.push((f, tok.trace, pron, tok.word_start));
            }
        }
        finals.retain(|f| f.0 > f32::NEG_INFINITY);
        if finals.is_empty() {
            return Err(Error::EmptyBeam);
        }
        finals.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut out: Vec<Hypothesis> = Vec::new();
        let mut seen: std::collections::HashSet<Vec<u32>> = Default::default();
        self.out_prons.clear();
        for &(score, trace, pron, ws) in &finals {
            let mut words: Vec<(u32, u32, u32)> = Vec::new();
            if pron != NONE {
                words.push((pron, ws, num_frames));
            }
            let mut i = trace;
            while i != NONE {
                let (p, s, e, prev) = self.trace[i as usize];
                words.push((p, s, e));
                i = prev;
            }
            words.reverse();
            let ids: Vec<u32> = words
                .iter()
                .map(|w| self.tree.pron_word[w.0 as usize])
                .collect();
            if !seen.insert(ids) {
                continue;
            }
            self.out_prons.push(words.iter().map(|w| w.0).collect());
            out.push(Hypothesis {
                words: words
                    .iter()
                    .map(|&(p, s, e)| WordSpan {
                        word: self.word_strings[self.tree.pron_word[p as usize] as usize].clone(),
                        start: s as usize,
                        end: e as usize,
                        confidence: 1.0,
                    })
                    .collect(),
                phones: Vec::new(),
                score,
                confidence: 1.0,
            });
            if out.len() >= 64 {
                break;
            }
        }
        nbest_confidences(&mut out);
        out.truncate(self.config.nbest);
        self.out_prons.truncate(self.config.nbest);
        Ok(out)
    }
}

/// Rows `start .. start + len` of another decodable.
struct FrameSpan<'a> {
    inner: &'a dyn Decodable,
    start: usize,
    len: usize,
}

impl Decodable for FrameSpan<'_> {
    fn num_frames_ready(&self) -> usize {
        self.len
    }
    fn is_last_frame(&self, frame: usize) -> bool {
        frame + 1 == self.len
    }
    fn num_indices(&self) -> usize {
        self.inner.num_indices()
    }
    fn frame_scores(&self, frame: usize) -> &[f32] {
        self.inner.frame_scores(self.start + frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{LogPosteriors, ScaledLikelihoods};
    use crate::lm::ArpaLm;
    use crate::rng::Rng;
    use ndarray::Array2;
    use std::collections::HashMap;
    use std::path::Path;

    const SEED: u64 = 23;

    fn random_log_probs(t: usize, v: usize, rng: &mut Rng) -> Array2<f32> {
        let mut m = Array2::from_shape_fn((t, v), |_| (rng.normal() * 1.5) as f32);
        for mut row in m.rows_mut() {
            let z = row.iter().map(|x| f64::from(*x).exp()).sum::<f64>().ln() as f32;
            row.mapv_inplace(|x| x - z);
        }
        m
    }

    /// max over all CTC paths of each labelling (enumerates V^T paths).
    fn best_path_per_labelling(m: &Array2<f32>) -> HashMap<Vec<usize>, f64> {
        let (t, v) = m.dim();
        let mut out: HashMap<Vec<usize>, f64> = HashMap::new();
        for code in 0..v.pow(t as u32) {
            let (mut c, mut lp, mut lab, mut prev) = (code, 0.0f64, Vec::new(), usize::MAX);
            for f in 0..t {
                let s = c % v;
                c /= v;
                lp += f64::from(m[[f, s]]);
                if s != 0 && s != prev {
                    lab.push(s);
                }
                prev = s;
            }
            let e = out.entry(lab).or_insert(f64::NEG_INFINITY);
            *e = e.max(lp);
        }
        out
    }

    /// Segmentations of a labelling into pronunciations `(word, tokens, ln p)`, each
    /// with the sum of its pronunciations' log-probabilities.
    fn scored_segmentations<'a>(
        lab: &[usize],
        prons: &[(&'a str, Vec<usize>, f64)],
    ) -> Vec<(Vec<&'a str>, f64)> {
        if lab.is_empty() {
            return vec![(vec![], 0.0)];
        }
        let mut out = Vec::new();
        for (w, p, lp) in prons {
            if lab.starts_with(p) {
                for (mut rest, rest_lp) in scored_segmentations(&lab[p.len()..], prons) {
                    rest.insert(0, *w);
                    out.push((rest, rest_lp + lp));
                }
            }
        }
        out
    }

    /// The best (score, words) over every labelling of `m` (best path each) and every
    /// segmentation of it into `prons`: acoustic + `lm_weight` × LM + `penalty` per
    /// word + `pron_weight` × pronunciation log-probabilities.
    fn exhaustive_best(
        m: &Array2<f32>,
        prons: &[(&str, Vec<usize>, f64)],
        lm: &ArpaLm,
        (lm_weight, penalty, pron_weight): (f64, f64, f64),
    ) -> (f64, String) {
        let mut best = (f64::NEG_INFINITY, String::new());
        for (lab, ac) in best_path_per_labelling(m) {
            for (words, lp) in scored_segmentations(&lab, prons) {
                let s = ac
                    + lm_weight * f64::from(lm.sentence_score(&words))
                    + penalty * words.len() as f64
                    + pron_weight * lp;
                if s > best.0 {
                    best = (s, words.join(" "));
                }
            }
        }
        best
    }

    const LM: &str = "\\data\\\nngram 1=6\nngram 2=3\n\n\\1-grams:\n-0.8 <s> -0.2\n-0.5 x -0.1\n-0.6 y -0.3\n-0.9 w\n-0.7 z -0.4\n-0.6 </s>\n\n\\2-grams:\n-0.2 <s> y\n-0.3 x z\n-0.1 y </s>\n\n\\end\\\n";

    #[test]
    fn ctc_topology_infinite_beam_equals_exhaustive_viterbi() {
        let tokens = TokenTable::new(vec!["<blk>".into(), "AA".into(), "B".into()]).unwrap();
        let lex = Lexicon::parse("x AA\ny AA B\nw AA B\nz B\n", Path::new("lex")).unwrap();
        let prons = vec![
            ("x", vec![1], 0.0),
            ("y", vec![1, 2], 0.0),
            ("w", vec![1, 2], 0.0),
            ("z", vec![2], 0.0),
        ];
        let lm = ArpaLm::parse(LM, Path::new("lm")).unwrap();
        let config = ViterbiConfig {
            lm_weight: 0.7,
            word_penalty: -0.2,
            ..ViterbiConfig::exhaustive(HmmTopology::Ctc)
        };
        let mut dec = ViterbiDecoder::new(&lex, &tokens, &lm, config).unwrap();
        let mut rng = Rng::new(SEED);
        for t in 1..=6 {
            let m = random_log_probs(t, 3, &mut rng);
            let best = exhaustive_best(&m, &prons, &lm, (0.7, -0.2, 0.0));
            let hyps = dec.decode(&LogPosteriors::new(m).unwrap()).unwrap();
            assert!(
                (f64::from(hyps[0].score) - best.0).abs() < 1e-4,
                "T={t}: {} vs {}",
                hyps[0].score,
                best.0
            );
            // equal-scoring homophones may tie; compare the text only when unique
            if !best.1.contains('y') && !best.1.contains('w') {
                assert_eq!(hyps[0].text(), best.1, "T={t}");
            }
        }
    }

    #[test]
    fn pronunciation_probabilities_enter_the_exhaustive_score() {
        // x = AA (p 0.3), y = AA B, w = AA B (p 0.25), z = B or AA (p 0.6)
        let tokens = TokenTable::new(vec!["<blk>".into(), "AA".into(), "B".into()]).unwrap();
        let lex = Lexicon::parse(
            "x 0.3 AA\ny AA B\nw 0.25 AA B\nz B\nz(2) 0.6 AA\n",
            Path::new("lex"),
        )
        .unwrap();
        let prons = vec![
            ("x", vec![1], 0.3f64.ln()),
            ("y", vec![1, 2], 0.0),
            ("w", vec![1, 2], 0.25f64.ln()),
            ("z", vec![2], 0.0),
            ("z", vec![1], 0.6f64.ln()),
        ];
        let lm = ArpaLm::parse(LM, Path::new("lm")).unwrap();
        for pron_weight in [0.0f32, 0.8, 2.0] {
            let config = ViterbiConfig {
                lm_weight: 0.7,
                word_penalty: -0.2,
                pron_weight,
                ..ViterbiConfig::exhaustive(HmmTopology::Ctc)
            };
            let mut dec = ViterbiDecoder::new(&lex, &tokens, &lm, config).unwrap();
            let mut rng = Rng::new(SEED + 7);
            for t in 1..=6 {
                let m = random_log_probs(t, 3, &mut rng);
                let best = exhaustive_best(&m, &prons, &lm, (0.7, -0.2, f64::from(pron_weight)));
                let hyps = dec.decode(&LogPosteriors::new(m).unwrap()).unwrap();
                assert!(
                    (f64::from(hyps[0].score) - best.0).abs() < 1e-4,
                    "w={pron_weight} T={t}: {} vs {} ({})",
                    hyps[0].score,
                    best.0,
                    best.1
                );
            }
        }
        // One clear AA: x beats z(2) on the LM (<s> x </s> is 0.5 log10 units likelier:
        // 0.7 × 0.5 × ln 10 = 0.81 nats) until z(2)'s twice as large probability
        // counts for more (2 × ln 2 = 1.39 nats).
        let m =
            Array2::from_shape_vec((1, 3), vec![0.01f32.ln(), 0.98f32.ln(), 0.01f32.ln()]).unwrap();
        for (pron_weight, want) in [(0.0f32, "x"), (0.8, "x"), (2.0, "z")] {
            let config = ViterbiConfig {
                lm_weight: 0.7,
                pron_weight,
                ..ViterbiConfig::exhaustive(HmmTopology::Ctc)
            };
            let mut dec = ViterbiDecoder::new(&lex, &tokens, &lm, config).unwrap();
            let hyps = dec.decode(&LogPosteriors::new(m.clone()).unwrap()).unwrap();
            assert_eq!(hyps[0].text(), want, "pron weight {pron_weight}");
        }
    }

    /// Best score of a left-to-right chain of states `(pdf, self_lp, next_lp)` over all
    /// state paths of length T (enumerating how many frames each state takes).
    fn best_chain(m: &Array2<f32>, chain: &[(usize, f32, f32)], exit_lp: f32) -> f64 {
        fn rec(
            m: &Array2<f32>,
            chain: &[(usize, f32, f32)],
            t: usize,
            s: usize,
            acc: f64,
            best: &mut f64,
        ) {
            let frames = m.nrows();
            let left_states = chain.len() - s;
            if frames - t < left_states {
                return;
            }
            let (pdf, self_lp, next_lp) = chain[s];
            // state s occupies frames t..t+d
            let mut a = acc;
            for d in 1..=(frames - t) {
                a += f64::from(m[[t + d - 1, pdf]]);
                if d > 1 {
                    a += f64::from(self_lp);
                }
                if s + 1 == chain.len() {
                    if t + d == frames {
                        *best = best.max(a);
                    }
                } else {
                    rec(m, chain, t + d, s + 1, a + f64::from(next_lp), best);
                }
            }
        }
        let mut best = f64::NEG_INFINITY;
        rec(m, chain, 0, 0, 0.0, &mut best);
        best + f64::from(exit_lp)
    }

    #[test]
    fn hybrid_topology_infinite_beam_equals_exhaustive_viterbi() {
        // tokens SIL, AA, B; 2-state phones, self-loop 0.6; optional silence 0.3
        let tokens = TokenTable::new(vec!["SIL".into(), "AA".into(), "B".into()]).unwrap();
        let lex = Lexicon::parse("x AA\ny AA B\nz B\n", Path::new("lex")).unwrap();
        let topo = HmmTopology::LeftToRight {
            num_states: 2,
            self_loop_prob: 0.6,
        };
        let config = ViterbiConfig {
            silence_prob: 0.3,
            word_penalty: -0.5,
            ..ViterbiConfig::exhaustive(topo)
        };
        let mut dec = ViterbiDecoder::new(&lex, &tokens, NoLm, config).unwrap();
        // unit sequences: words and SIL (SIL costs ln 0.3, a word -0.5), ≥ 1 word
        let units: Vec<(&str, Vec<usize>, f64)> = vec![
            ("x", vec![1], -0.5),
            ("y", vec![1, 2], -0.5),
            ("z", vec![2], -0.5),
            ("SIL", vec![0], 0.3f64.ln()),
        ];
        let (p, f) = (0.6f32.ln(), 0.4f32.ln());
        let mut rng = Rng::new(SEED + 1);
        for t in 2..=7 {
            let priors = [0.2f32.ln(), 0.5f32.ln(), 0.3f32.ln()];
            let m = random_log_probs(t, 3, &mut rng);
            let d = ScaledLikelihoods::new(&m, &priors, 0.8, 1.0).unwrap();
            let scaled = d.inner_matrix();
            let mut best = (f64::NEG_INFINITY, String::new());
            // all unit sequences with 2 states per phone fitting in t frames
            let mut stack: Vec<Vec<usize>> = vec![vec![]];
            while let Some(seq) = stack.pop() {
                let phones: usize = seq.iter().map(|&u| units[u].1.len()).sum();
                if 2 * phones > t {
                    continue;
                }
                for u in 0..units.len() {
                    let mut s = seq.clone();
                    s.push(u);
                    stack.push(s);
                }
                if seq.is_empty() {
                    continue;
                }
                let mut chain = Vec::new();
                let mut extra = 0.0;
                for &u in &seq {
                    extra += units[u].2;
                    for &ph in &units[u].1 {
                        chain.push((ph, p, f));
                        chain.push((ph, p, f));
                    }
                }
                let s = best_chain(scaled, &chain, f) + extra;
                if s > best.0 {
                    let words: Vec<&str> = seq
                        .iter()
                        .filter(|&&u| u != 3)
                        .map(|&u| units[u].0)
                        .collect();
                    best = (s, words.join(" "));
                }
            }
            let hyps = dec.decode(&d).unwrap();
            assert!(
                (f64::from(hyps[0].score) - best.0).abs() < 1e-4,
                "T={t}: {} vs {}",
                hyps[0].score,
                best.0
            );
            assert_eq!(hyps[0].text(), best.1, "T={t}");
        }
    }

    #[test]
    fn phone_loop_recovers_planted_phones() {
        let tokens = TokenTable::hybrid_default();
        let path: Vec<usize> = [0usize; 5]
            .iter()
            .chain(&[5; 6])
            .chain(&[9; 4])
            .chain(&[0; 5])
            .copied()
            .collect();
        let m = Array2::from_shape_fn((path.len(), 40), |(t, c)| {
            if c == path[t] {
                0.9f32.ln()
            } else {
                (0.1f32 / 39.0).ln()
            }
        });
        let topo = HmmTopology::LeftToRight {
            num_states: 3,
            self_loop_prob: 0.5,
        };
        let mut dec = ViterbiDecoder::phone_loop(
            &tokens,
            ViterbiConfig {
                topology: topo,
                ..Default::default()
            },
        )
        .unwrap();
        let h = &dec.decode(&LogPosteriors::new(m).unwrap()).unwrap()[0];
        let spans: Vec<(&str, usize, usize)> = h
            .words
            .iter()
            .map(|w| (w.word.as_str(), w.start, w.end))
            .collect();
        assert_eq!(
            spans,
            [
                ("SIL", 0, 5),
                (tokens.symbol(5).unwrap(), 5, 11),
                (tokens.symbol(9).unwrap(), 11, 15),
                ("SIL", 15, 20)
            ]
        );
        // phones come from aligning each word inside its span
        let phones: Vec<(usize, usize, usize)> =
            h.phones.iter().map(|p| (p.token, p.start, p.end)).collect();
        assert_eq!(phones, [(0, 0, 5), (5, 5, 11), (9, 11, 15), (0, 15, 20)]);
    }
}
