//! Decoding results.

use serde::Serialize;

/// A recognised word with its frame span `[start, end)` and a confidence in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordSpan {
    /// The word (as in the lexicon; a phone symbol in lexicon-free modes).
    pub word: String,
    /// First frame.
    pub start: usize,
    /// One past the last frame.
    pub end: usize,
    /// Confidence in [0, 1] (posterior over the n-best list, or acoustic for greedy).
    pub confidence: f32,
}

/// A phone (token) with its frame span `[start, end)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhoneSpan {
    /// Token symbol.
    pub phone: String,
    /// Token index in the decodable's columns.
    pub token: usize,
    /// First frame.
    pub start: usize,
    /// One past the last frame.
    pub end: usize,
}

/// One decoding hypothesis. Invariants: spans are in time order and do not overlap;
/// every word span covers the phone spans of its pronunciation (when phones are given).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Hypothesis {
    /// Words in order.
    pub words: Vec<WordSpan>,
    /// Phones in order (CTC decoders: spans where the token was emitted; HMM decoders
    /// and alignment: the Viterbi segmentation).
    pub phones: Vec<PhoneSpan>,
    /// Total log score (acoustic + lm_weight × LM + insertion bonuses), higher is better.
    pub score: f32,
    /// Utterance confidence in [0, 1] (the hypothesis' posterior in the n-best list).
    pub confidence: f32,
}

impl Hypothesis {
    /// The words separated by single spaces.
    pub fn text(&self) -> String {
        let w: Vec<&str> = self.words.iter().map(|w| w.word.as_str()).collect();
        w.join(" ")
    }

    /// The phones separated by single spaces.
    pub fn phone_text(&self) -> String {
        let p: Vec<&str> = self.phones.iter().map(|p| p.phone.as_str()).collect();
        p.join(" ")
    }
}

/// Fills `confidence` of each n-best hypothesis (softmax of the scores) and of each word
/// of every hypothesis: the total posterior of the hypotheses that contain the same word
/// with an overlapping span. `nbest` must be sorted best first. Words of a hypothesis
/// are in time order, so each pair of hypotheses is compared in one merge-like sweep.
pub fn nbest_confidences(nbest: &mut [Hypothesis]) {
    let Some(best) = nbest.first().map(|h| h.score) else {
        return;
    };
    let weights: Vec<f64> = nbest
        .iter()
        .map(|h| f64::from(h.score - best).exp())
        .collect();
    let z: f64 = weights.iter().sum();
    let post: Vec<f64> = weights.iter().map(|w| w / z).collect();
    // spans as [start, max(end, start + 1)) so zero-length spans can still overlap
    let spans: Vec<Vec<(&str, usize, usize)>> = nbest
        .iter()
        .map(|h| {
            h.words
                .iter()
                .map(|w| (w.word.as_str(), w.start, w.end.max(w.start + 1)))
                .collect()
        })
        .collect();
    let mut conf: Vec<Vec<f64>> = spans.iter().map(|s| vec![0.0; s.len()]).collect();
    for (i, si) in spans.iter().enumerate() {
        for (j, sj) in spans.iter().enumerate() {
            let mut k = 0;
            for (a, &(w, start, end)) in si.iter().enumerate() {
                while k < sj.len() && sj[k].2 <= start {
                    k += 1;
                }
                let mut m = k;
                while m < sj.len() && sj[m].1 < end {
                    if sj[m].0 == w {
                        conf[i][a] += post[j];
                        break;
                    }
                    m += 1;
                }
            }
        }
    }
    for (i, h) in nbest.iter_mut().enumerate() {
        h.confidence = post[i] as f32;
        for (w, c) in h.words.iter_mut().zip(&conf[i]) {
            w.confidence = c.clamp(0.0, 1.0) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hyp(words: &[(&str, usize, usize)], score: f32) -> Hypothesis {
        Hypothesis {
            words: words
                .iter()
                .map(|&(w, s, e)| WordSpan {
                    word: w.into(),
                    start: s,
                    end: e,
                    confidence: 0.0,
                })
                .collect(),
            phones: vec![],
            score,
            confidence: 0.0,
        }
    }

    #[test]
    fn word_confidence_is_posterior_of_overlapping_same_words() {
        // posteriors: e^0, e^-1 -> 0.731, 0.269
        let mut n = vec![
            hyp(&[("go", 0, 10), ("left", 10, 20)], 0.0),
            hyp(&[("go", 2, 9), ("right", 10, 20)], -1.0),
        ];
        nbest_confidences(&mut n);
        let p0 = 1.0 / (1.0 + (-1.0f64).exp());
        assert!((f64::from(n[0].confidence) - p0).abs() < 1e-6);
        assert!((n[0].words[0].confidence - 1.0).abs() < 1e-6); // "go" in both
        assert!((f64::from(n[0].words[1].confidence) - p0).abs() < 1e-6);
        assert!((f64::from(n[1].words[1].confidence) - (1.0 - p0)).abs() < 1e-6);
    }
}
