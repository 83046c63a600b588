//! A prefix tree (trie) over the pronunciations of a lexicon, in token indices.
//!
//! Words that share a pronunciation prefix share nodes; homophones end at the same
//! node but keep separate word-end entries, so decoders keep them apart. The tree is
//! built once and frozen into flat arrays (children of a node are contiguous).

use super::super::lexicon::{Lexicon, phone_symbol};
use crate::error::{Error, Result};
use crate::phones::TokenTable;

/// Node id of the root (the empty prefix).
pub const ROOT: u32 = 0;

/// A frozen tree node.
#[derive(Debug, Clone, Copy)]
pub struct TreeNode {
    /// Token index of the last phone of this prefix (unused for the root).
    pub token: u32,
    /// Children are `first_child .. first_child + num_children`.
    pub first_child: u32,
    /// Number of children.
    pub num_children: u32,
    /// Word ends are `ends[first_end .. first_end + num_ends]`.
    pub first_end: u32,
    /// Number of pronunciations ending here.
    pub num_ends: u32,
}

// Invariants:
// - nodes[0] is the root; every other node's children and word ends index valid,
//   contiguous ranges of `nodes` and `ends`; child ids are larger than their parent's.
// - ends holds pronunciation indices into the lexicon's `prons`.
// - a node's children have distinct tokens, sorted ascending.
/// The pronunciation prefix tree.
#[derive(Debug, Clone)]
pub struct LexiconTree {
    /// Nodes (breadth-first).
    pub nodes: Vec<TreeNode>,
    /// Pronunciation ids ending at each node (see [`TreeNode::first_end`]).
    pub ends: Vec<u32>,
    /// `pron_word[p]`: the word id of pronunciation `p`.
    pub pron_word: Vec<u32>,
    /// `pron_tokens[p]`: the token sequence of pronunciation `p`.
    pub pron_tokens: Vec<Vec<u32>>,
    /// `pron_logp[p]`: ln of pronunciation `p`'s probability (≤ 0; 0 when the lexicon
    /// has none). Decoders add `pron_weight ×` it when the word ends.
    pub pron_logp: Vec<f32>,
}

impl LexiconTree {
    /// Builds the tree, mapping each lexicon phone to its index in `tokens`.
    pub fn new(lexicon: &Lexicon, tokens: &TokenTable) -> Result<Self> {
        let pron_tokens = lexicon
            .prons
            .iter()
            .map(|p| {
                p.phones
                    .iter()
                    .map(|&ph| {
                        let s = phone_symbol(ph);
                        tokens.index(s).map(|i| i as u32).ok_or_else(|| {
                            Error::Invalid(format!("lexicon phone {s} is not in the token table"))
                        })
                    })
                    .collect::<Result<Vec<u32>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let pron_word = lexicon.prons.iter().map(|p| p.word).collect();
        let mut tree = Self::from_token_sequences(pron_tokens, pron_word);
        tree.pron_logp = lexicon.prons.iter().map(|p| p.prob.ln()).collect();
        Ok(tree)
    }

    /// A tree where every token in `tokens` (except `skip`, e.g. the blank) is a
    /// one-token "word": the lexicon-free phone mode. Word id = token index.
    pub fn phone_loop(num_tokens: usize, skip: Option<usize>) -> Self {
        let toks: Vec<u32> = (0..num_tokens as u32)
            .filter(|&t| Some(t as usize) != skip)
            .collect();
        Self::from_token_sequences(toks.iter().map(|&t| vec![t]).collect(), toks.clone())
    }

    /// Builds the tree from token sequences (index = pronunciation id) and their words;
    /// every pronunciation has probability 1.
    pub fn from_token_sequences(pron_tokens: Vec<Vec<u32>>, pron_word: Vec<u32>) -> Self {
        // Build a pointer trie first: children as sorted (token, child) lists.
        let mut kids: Vec<Vec<(u32, u32)>> = vec![Vec::new()];
        let mut word_ends: Vec<Vec<u32>> = vec![Vec::new()];
        let mut tok_of: Vec<u32> = vec![0];
        for (p, seq) in pron_tokens.iter().enumerate() {
            if seq.is_empty() {
                continue;
            }
            let mut n = 0usize;
            for &t in seq {
                n = match kids[n].binary_search_by_key(&t, |&(tok, _)| tok) {
                    Ok(i) => kids[n][i].1 as usize,
                    Err(i) => {
                        let id = kids.len() as u32;
                        kids[n].insert(i, (t, id));
                        kids.push(Vec::new());
                        word_ends.push(Vec::new());
                        tok_of.push(t);
                        id as usize
                    }
                };
            }
            word_ends[n].push(p as u32);
        }
        // Renumber breadth-first so children are contiguous.
        let mut order = vec![0u32];
        let mut new_id = vec![0u32; kids.len()];
        let mut i = 0;
        while i < order.len() {
            let old = order[i] as usize;
            for &(_, c) in &kids[old] {
                new_id[c as usize] = order.len() as u32;
                order.push(c);
            }
            i += 1;
        }
        let mut nodes = Vec::with_capacity(order.len());
        let mut ends = Vec::new();
        for &old in &order {
            let old = old as usize;
            let first_child = kids[old].first().map_or(0, |&(_, c)| new_id[c as usize]);
            nodes.push(TreeNode {
                token: tok_of[old],
                first_child,
                num_children: kids[old].len() as u32,
                first_end: ends.len() as u32,
                num_ends: word_ends[old].len() as u32,
            });
            ends.extend_from_slice(&word_ends[old]);
        }
        LexiconTree {
            nodes,
            ends,
            pron_logp: vec![0.0; pron_word.len()],
            pron_word,
            pron_tokens,
        }
    }

    /// The children of a node, as node ids.
    #[inline]
    pub fn children(&self, node: u32) -> std::ops::Range<u32> {
        let n = &self.nodes[node as usize];
        n.first_child..n.first_child + n.num_children
    }

    /// The pronunciations ending at a node.
    #[inline]
    pub fn word_ends(&self, node: u32) -> &[u32] {
        let n = &self.nodes[node as usize];
        &self.ends[n.first_end as usize..(n.first_end + n.num_ends) as usize]
    }

    /// LM look-ahead: for every node, the best `pron_scores[p]` over the
    /// pronunciations that pass through it (0 at the root, −inf where none ends below).
    /// Decoders add `lookahead[child] − lookahead[parent]` when they move down the tree
    /// and take it back out when the word ends, so finished words carry exact scores.
    pub fn lookahead(&self, pron_scores: &[f32]) -> Vec<f32> {
        let mut la = vec![f32::NEG_INFINITY; self.nodes.len()];
        // children have larger ids than their parent: a reverse sweep sees them first
        for n in (0..self.nodes.len()).rev() {
            let mut best = f32::NEG_INFINITY;
            for &p in self.word_ends(n as u32) {
                best = best.max(pron_scores[p as usize]);
            }
            for c in self.children(n as u32) {
                best = best.max(la[c as usize]);
            }
            la[n] = best;
        }
        la[ROOT as usize] = 0.0;
        la
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Heap bytes used (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.len() * std::mem::size_of::<TreeNode>()
            + self.ends.len() * 4
            + self.pron_word.len() * 8
            + self
                .pron_tokens
                .iter()
                .map(|p| p.len() * 4 + 24)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_prefixes_and_keeps_homophones_apart() {
        // prons: 0 = [1 2], 1 = [1 2 3], 2 = [1 2] (homophone of 0), 3 = [4]
        let t = LexiconTree::from_token_sequences(
            vec![vec![1, 2], vec![1, 2, 3], vec![1, 2], vec![4]],
            vec![0, 1, 2, 3],
        );
        assert_eq!(t.num_nodes(), 5); // root, 1, 4, 1-2, 1-2-3
        let root_kids: Vec<u32> = t
            .children(ROOT)
            .map(|c| t.nodes[c as usize].token)
            .collect();
        assert_eq!(root_kids, [1, 4]);
        let n1 = t.children(ROOT).next().unwrap();
        let n12 = t.children(n1).next().unwrap();
        assert_eq!(t.word_ends(n12), [0, 2]);
        let n123 = t.children(n12).next().unwrap();
        assert_eq!(t.word_ends(n123), [1]);
        assert_eq!(t.children(n123).len(), 0);
        for n in 0..t.num_nodes() as u32 {
            for c in t.children(n) {
                assert!(c > n);
            }
        }
        // look-ahead: node 1 leads to words 0, 1, 2; node 4 (token 4) to word 3
        let la = t.lookahead(&[-1.0, -0.5, -3.0, -2.0]);
        assert_eq!(la[ROOT as usize], 0.0);
        assert_eq!(la[n1 as usize], -0.5);
        assert_eq!(la[n12 as usize], -0.5);
        assert_eq!(la[n123 as usize], -0.5);
        let n4 = t.children(ROOT).nth(1).unwrap();
        assert_eq!(la[n4 as usize], -2.0);
    }
}
