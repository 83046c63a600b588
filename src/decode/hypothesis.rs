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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
/// with an overlapping span. `nbest` must be sorted best first.
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
    let spans: Vec<Vec<(String, usize, usize)>> = nbest
        .iter()
        .map(|h| {
            h.words
                .iter()
                .map(|w| (w.word.clone(), w.start, w.end))
                .collect()
        })
        .collect();
    for (i, h) in nbest.iter_mut().enumerate() {
        h.confidence = post[i] as f32;
        for w in &mut h.words {
            let mut c = 0.0f64;
            for (j, other) in spans.iter().enumerate() {
                let hit = other.iter().any(|(ow, s, e)| {
                    *ow == w.word && *s < w.end.max(w.start + 1) && w.start < (*e).max(*s + 1)
                });
                if hit {
                    c += post[j];
                }
            }
            w.confidence = c.clamp(0.0, 1.0) as f32;
        }
    }
}
