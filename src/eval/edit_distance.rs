//! Levenshtein alignment between a reference and a hypothesis sequence.
//!
//! All three edits cost 1. Among alignments of equal cost the backtrace prefers a
//! match/substitution, then a deletion, then an insertion (the order Kaldi's
//! `LevenshteinAlignment` uses), so the counts are deterministic.

/// One step of an alignment; indices point into the reference (`r`) and hypothesis (`h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditOp {
    /// `reference[r] == hypothesis[h]`.
    Match {
        /// Reference index.
        r: usize,
        /// Hypothesis index.
        h: usize,
    },
    /// `reference[r]` was recognised as a different `hypothesis[h]`.
    Sub {
        /// Reference index.
        r: usize,
        /// Hypothesis index.
        h: usize,
    },
    /// `reference[r]` is missing from the hypothesis.
    Del {
        /// Reference index.
        r: usize,
    },
    /// `hypothesis[h]` has no counterpart in the reference.
    Ins {
        /// Hypothesis index.
        h: usize,
    },
}

/// The edit distance (number of substitutions + deletions + insertions).
///
/// Uses O(min-row) memory; see [`align`] for the alignment itself.
pub fn edit_distance<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    let mut cur = vec![0usize; hypothesis.len() + 1];
    for (i, r) in reference.iter().enumerate() {
        cur[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let sub = prev[j] + usize::from(r != h);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[hypothesis.len()]
}

/// A minimum-cost alignment of `hypothesis` against `reference`, in order.
pub fn align<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> Vec<EditOp> {
    let (n, m) = (reference.len(), hypothesis.len());
    let w = m + 1;
    // d[i * w + j] = distance between reference[..i] and hypothesis[..j].
    let mut d = vec![0usize; (n + 1) * w];
    for (j, v) in d.iter_mut().take(m + 1).enumerate() {
        *v = j;
    }
    for i in 1..=n {
        d[i * w] = i;
        for j in 1..=m {
            let sub = d[(i - 1) * w + j - 1] + usize::from(reference[i - 1] != hypothesis[j - 1]);
            d[i * w + j] = sub.min(d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1);
        }
    }
    let mut ops = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        let here = d[i * w + j];
        if i > 0 && j > 0 {
            let same = reference[i - 1] == hypothesis[j - 1];
            if d[(i - 1) * w + j - 1] + usize::from(!same) == here {
                ops.push(if same {
                    EditOp::Match { r: i - 1, h: j - 1 }
                } else {
                    EditOp::Sub { r: i - 1, h: j - 1 }
                });
                i -= 1;
                j -= 1;
                continue;
            }
        }
        if i > 0 && d[(i - 1) * w + j] + 1 == here {
            ops.push(EditOp::Del { r: i - 1 });
            i -= 1;
        } else {
            ops.push(EditOp::Ins { h: j - 1 });
            j -= 1;
        }
    }
    ops.reverse();
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(ops: &[EditOp]) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for op in ops {
            match op {
                EditOp::Sub { .. } => c.0 += 1,
                EditOp::Del { .. } => c.1 += 1,
                EditOp::Ins { .. } => c.2 += 1,
                EditOp::Match { .. } => {}
            }
        }
        c
    }

    #[test]
    fn hand_worked_kitten_sitting() {
        // kitten -> sitting: k->s (sub), e->i (sub), insert g: distance 3.
        let r: Vec<char> = "kitten".chars().collect();
        let h: Vec<char> = "sitting".chars().collect();
        assert_eq!(edit_distance(&r, &h), 3);
        let ops = align(&r, &h);
        assert_eq!(counts(&ops), (2, 0, 1));
        assert_eq!(ops[0], EditOp::Sub { r: 0, h: 0 });
        assert_eq!(*ops.last().unwrap(), EditOp::Ins { h: 6 });
    }

    #[test]
    fn hand_worked_words() {
        // ref: the cat sat on the mat ; hyp: the cat sat the mat mat
        // cost 2 either as on->the, the->mat (2 sub) or del "on" + ins "mat";
        // ties prefer substitutions, as Kaldi does.
        let r = ["the", "cat", "sat", "on", "the", "mat"];
        let h = ["the", "cat", "sat", "the", "mat", "mat"];
        let ops = align(&r, &h);
        assert_eq!(counts(&ops), (2, 0, 0));
        // ref: a b c d ; hyp: a c d -> 1 del (b)
        assert_eq!(
            counts(&align(&["a", "b", "c", "d"], &["a", "c", "d"])),
            (0, 1, 0)
        );
        assert_eq!(counts(&align(&["a", "c"], &["a", "b", "c"])), (0, 0, 1));
        assert_eq!(edit_distance(&r, &h), 2);
        assert_eq!(counts(&align::<&str>(&r, &[])), (0, 6, 0));
        assert_eq!(counts(&align::<&str>(&[], &h)), (0, 0, 6));
    }

    fn seq() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0u8..4, 0..12)
    }

    proptest! {
        #[test]
        fn distance_to_self_is_zero(a in seq()) {
            prop_assert_eq!(edit_distance(&a, &a), 0);
            let all_match = align(&a, &a).iter().all(|op| matches!(op, EditOp::Match { .. }));
            prop_assert!(all_match);
        }

        #[test]
        fn distance_is_symmetric_and_bounded(a in seq(), b in seq()) {
            let d = edit_distance(&a, &b);
            prop_assert_eq!(d, edit_distance(&b, &a));
            prop_assert!(d >= a.len().abs_diff(b.len()));
            prop_assert!(d <= a.len().max(b.len()));
        }

        #[test]
        fn triangle_inequality(a in seq(), b in seq(), c in seq()) {
            prop_assert!(edit_distance(&a, &c) <= edit_distance(&a, &b) + edit_distance(&b, &c));
        }

        #[test]
        fn alignment_is_consistent(a in seq(), b in seq()) {
            let ops = align(&a, &b);
            let (s, d, i) = counts(&ops);
            prop_assert_eq!(s + d + i, edit_distance(&a, &b));
            // every reference and hypothesis index appears once, in order
            let rs: Vec<usize> = ops.iter().filter_map(|op| match op {
                EditOp::Match { r, .. } | EditOp::Sub { r, .. } | EditOp::Del { r } => Some(*r),
                EditOp::Ins { .. } => None,
            }).collect();
            prop_assert_eq!(rs, (0..a.len()).collect::<Vec<_>>());
            let hs: Vec<usize> = ops.iter().filter_map(|op| match op {
                EditOp::Match { h, .. } | EditOp::Sub { h, .. } | EditOp::Ins { h } => Some(*h),
                EditOp::Del { .. } => None,
            }).collect();
            prop_assert_eq!(hs, (0..b.len()).collect::<Vec<_>>());
        }
    }
}
