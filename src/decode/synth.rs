//! Synthetic decoding tasks for tests, benchmarks and memory measurements: a random
//! pronunciation lexicon, Zipf-distributed sentences over it, and peaky CTC
//! log-posteriors that spell a sentence the way a trained CTC model does (mostly blank,
//! a one- or two-frame spike per phone, some probability mass on confusable tokens).

use ndarray::Array2;

use crate::lexicon::{Lexicon, PhoneId};
use crate::rng::Rng;

/// A lexicon of `num_words` words `w0, w1, …` with 3–9 random phones (no SIL) each
/// (CMUdict averages about 6.5 phones a word); every 50th word also gets an alternate
/// pronunciation.
pub fn lexicon(num_words: usize, seed: u64) -> Lexicon {
    let mut rng = Rng::new(seed);
    let mut lex = Lexicon::default();
    for i in 0..num_words {
        let len = 3 + rng.below(7);
        let phones: Vec<PhoneId> = (0..len).map(|_| 1 + rng.below(39) as PhoneId).collect();
        let word = format!("w{i}");
        lex.add(&word, phones.clone());
        if i % 50 == 49 {
            let mut alt = phones;
            let k = rng.below(alt.len());
            alt[k] = 1 + rng.below(39) as PhoneId;
            lex.add(&word, alt);
        }
    }
    lex
}

/// `num` sentences of 3–12 words, words drawn from a Zipf(1) distribution over the
/// lexicon (word `i` has weight `1/(i+1)`), with a bigram preference so an n-gram LM
/// has something to learn: with probability 0.5 the next word is `(prev × 7 + 1) mod V`.
pub fn sentences(lexicon: &Lexicon, num: usize, seed: u64) -> Vec<String> {
    let v = lexicon.num_words();
    let mut rng = Rng::new(seed);
    // inverse CDF of the Zipf weights
    let mut cdf = Vec::with_capacity(v);
    let mut acc = 0.0f64;
    for i in 0..v {
        acc += 1.0 / (i + 1) as f64;
        cdf.push(acc);
    }
    let zipf = |rng: &mut Rng| {
        let u = rng.uniform() * acc;
        cdf.partition_point(|&c| c < u).min(v - 1)
    };
    (0..num)
        .map(|_| {
            let len = 3 + rng.below(10);
            let mut w = zipf(&mut rng);
            let mut s = vec![lexicon.words[w].clone()];
            for _ in 1..len {
                w = if rng.uniform() < 0.5 {
                    (w * 7 + 1) % v
                } else {
                    zipf(&mut rng)
                };
                s.push(lexicon.words[w].clone());
            }
            s.join(" ")
        })
        .collect()
}

/// Peaky CTC log-posteriors `[frames, num_classes]` spelling `tokens` (indices ≥ 1;
/// column 0 is the blank): each token gets a spike of 1–2 frames with probability
/// 0.5–0.99, separated by 1–`max_gap` blank frames whose blank probability is
/// `1 − 10^−u`, u uniform in [1.5, 4] (0.97–0.9999, as a trained CTC model); the rest
/// of each frame's mass is spread over the other classes with random, skewed weights.
pub fn peaky_ctc_posteriors(
    tokens: &[usize],
    num_classes: usize,
    max_gap: usize,
    seed: u64,
) -> Array2<f32> {
    let mut rng = Rng::new(seed);
    let mut path: Vec<usize> = Vec::new();
    path.extend(std::iter::repeat_n(0, 1 + rng.below(max_gap.max(1))));
    for &t in tokens {
        let spike = 1 + rng.below(2);
        path.extend(std::iter::repeat_n(t, spike));
        path.extend(std::iter::repeat_n(0, 1 + rng.below(max_gap.max(1))));
    }
    let mut m = Array2::<f32>::zeros((path.len(), num_classes));
    let mut noise = vec![0f64; num_classes];
    for (f, &target) in path.iter().enumerate() {
        let peak = if target == 0 {
            1.0 - 10f64.powf(-(1.5 + 2.5 * rng.uniform()))
        } else {
            0.5 + 0.49 * rng.uniform()
        };
        let mut z = 0.0;
        for (c, n) in noise.iter_mut().enumerate() {
            *n = if c == target {
                0.0
            } else {
                rng.uniform().powi(8)
            };
            z += *n;
        }
        for c in 0..num_classes {
            let p = if c == target {
                peak
            } else {
                (1.0 - peak) * noise[c] / z
            };
            m[[f, c]] = (p.max(1e-30)).ln() as f32;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_task_is_deterministic_and_normalised() {
        let lex = lexicon(100, 1);
        assert_eq!(lex.num_words(), 100);
        assert_eq!(lex.prons.len(), 102);
        assert_eq!(sentences(&lex, 5, 2), sentences(&lex, 5, 2));
        let m = peaky_ctc_posteriors(&[3, 4, 4], 41, 3, 3);
        for row in m.rows() {
            let s: f64 = row.iter().map(|&x| f64::from(x).exp()).sum();
            assert!((s - 1.0).abs() < 1e-4);
        }
    }
}
