//! Word and phone error rates, accumulated over utterances.

use std::fmt;

use super::edit_distance::{EditOp, align};

/// Error counts of a hypothesis against a reference (accumulate with [`ErrorStats::add`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorStats {
    /// Substitutions.
    pub sub: usize,
    /// Deletions (reference tokens missing from the hypothesis).
    pub del: usize,
    /// Insertions (hypothesis tokens not in the reference).
    pub ins: usize,
    /// Number of reference tokens.
    pub ref_len: usize,
}

impl ErrorStats {
    /// Aligns one utterance and counts its errors.
    pub fn compute<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> Self {
        let mut s = ErrorStats {
            ref_len: reference.len(),
            ..Default::default()
        };
        for op in align(reference, hypothesis) {
            match op {
                EditOp::Sub { .. } => s.sub += 1,
                EditOp::Del { .. } => s.del += 1,
                EditOp::Ins { .. } => s.ins += 1,
                EditOp::Match { .. } => {}
            }
        }
        s
    }

    /// Word errors of two whitespace-separated strings, compared case-insensitively.
    pub fn compute_words(reference: &str, hypothesis: &str) -> Self {
        let r: Vec<String> = reference
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let h: Vec<String> = hypothesis
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        Self::compute(&r, &h)
    }

    /// Adds another utterance's counts.
    pub fn add(&mut self, other: &ErrorStats) {
        self.sub += other.sub;
        self.del += other.del;
        self.ins += other.ins;
        self.ref_len += other.ref_len;
    }

    /// Total errors (sub + del + ins).
    pub fn errors(&self) -> usize {
        self.sub + self.del + self.ins
    }

    /// Error rate in percent: 100 × errors / ref_len. An empty reference gives 0 %
    /// without errors and 100 % with some (Kaldi prints the same).
    pub fn rate(&self) -> f64 {
        if self.ref_len == 0 {
            if self.errors() == 0 { 0.0 } else { 100.0 }
        } else {
            100.0 * self.errors() as f64 / self.ref_len as f64
        }
    }

    /// The Kaldi `compute-wer` line with another label, e.g. `report("PER")`:
    /// `%PER 12.34 [ 5 / 40, 1 ins, 2 del, 2 sub ]`.
    pub fn report(&self, label: &str) -> String {
        format!(
            "%{label} {:.2} [ {} / {}, {} ins, {} del, {} sub ]",
            self.rate(),
            self.errors(),
            self.ref_len,
            self.ins,
            self.del,
            self.sub
        )
    }
}

impl fmt::Display for ErrorStats {
    /// Kaldi's `%WER 12.34 [ 5 / 40, 1 ins, 2 del, 2 sub ]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report("WER"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaldi_display_format() {
        let s = ErrorStats {
            sub: 2,
            del: 2,
            ins: 1,
            ref_len: 40,
        };
        // 5 / 40 = 12.5 %
        assert_eq!(s.to_string(), "%WER 12.50 [ 5 / 40, 1 ins, 2 del, 2 sub ]");
        assert_eq!(
            s.report("PER"),
            "%PER 12.50 [ 5 / 40, 1 ins, 2 del, 2 sub ]"
        );
    }

    #[test]
    fn accumulates_over_utterances() {
        // utt1: "a b c" vs "a x c" -> 1 sub; utt2: "d e" vs "d e f" -> 1 ins.
        let mut total = ErrorStats::compute_words("a b c", "A x c");
        total.add(&ErrorStats::compute_words("d e", "d e f"));
        assert_eq!(
            total,
            ErrorStats {
                sub: 1,
                del: 0,
                ins: 1,
                ref_len: 5
            }
        );
        assert!((total.rate() - 40.0).abs() < 1e-12);
        assert_eq!(ErrorStats::compute_words("", "").rate(), 0.0);
        assert_eq!(ErrorStats::compute_words("", "x").rate(), 100.0);
    }
}
