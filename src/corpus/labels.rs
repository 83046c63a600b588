//! Label quality: how far the phones an engine spoke are from the lexicon's
//! pronunciations of the transcript (phone error rate, `SIL` ignored).

use std::collections::BTreeMap;

use crate::corpus::cmudict::CmuDict;
use crate::eval::edit_distance;
use crate::manifest::Utterance;

/// The smallest edit distance between `hyp` and any concatenation of one
/// pronunciation per word (`words[k]` lists word k's pronunciations), and the
/// length of the reference that achieves it.
///
/// `d[k][j]` is the best cost of matching the first `k` words to `hyp[..j]`; each
/// word's pronunciations extend it by an edit-distance pass from every start `j`.
pub fn lattice_distance(words: &[&[Vec<String>]], hyp: &[&str]) -> (usize, usize) {
    let h = hyp.len();
    // (cost, reference length) minimised lexicographically on cost.
    let mut d: Vec<(usize, usize)> = (0..=h).map(|j| (j, 0)).collect();
    for prons in words {
        let mut next = vec![(usize::MAX, 0); h + 1];
        for pron in prons.iter() {
            for j0 in 0..=h {
                let (base, base_len) = d[j0];
                if base == usize::MAX {
                    continue;
                }
                // Edit distance of `pron` against hyp[j0..j1] for all j1 (one DP).
                let mut prev: Vec<usize> = (0..=h - j0).collect();
                let mut cur = vec![0; h - j0 + 1];
                for (i, p) in pron.iter().enumerate() {
                    cur[0] = i + 1;
                    for j in 0..h - j0 {
                        let sub = prev[j] + usize::from(p != hyp[j0 + j]);
                        cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
                    }
                    std::mem::swap(&mut prev, &mut cur);
                }
                for (len, c) in prev.iter().enumerate() {
                    let cand = (base + c, base_len + pron.len());
                    if cand.0 < next[j0 + len].0 {
                        next[j0 + len] = cand;
                    }
                }
            }
        }
        d = next;
    }
    d[h]
}

/// Phone error counts of one group of utterances.
#[derive(Debug, Clone, Default)]
pub struct PerStats {
    /// Utterances scored.
    pub utterances: usize,
    /// Utterances skipped (a word not in the lexicon, or no phones).
    pub skipped: usize,
    /// Edits against the primary pronunciations.
    pub primary_errors: usize,
    /// Reference phones (primary pronunciations).
    pub primary_ref: usize,
    /// Edits against the best pronunciation of each word.
    pub best_errors: usize,
    /// Reference phones of those best pronunciations.
    pub best_ref: usize,
}

impl PerStats {
    /// PER (%) against the primary pronunciations.
    pub fn primary_per(&self) -> f64 {
        100.0 * self.primary_errors as f64 / self.primary_ref.max(1) as f64
    }

    /// PER (%) against the best pronunciation of each word.
    pub fn best_per(&self) -> f64 {
        100.0 * self.best_errors as f64 / self.best_ref.max(1) as f64
    }
}

/// Scores each utterance's `phones` against the lexicon, grouped by `group`
/// (e.g. voice or engine).
pub fn label_quality<'a>(
    utterances: impl IntoIterator<Item = &'a Utterance>,
    dict: &CmuDict,
    group: impl Fn(&Utterance) -> String,
) -> BTreeMap<String, PerStats> {
    let mut out: BTreeMap<String, PerStats> = BTreeMap::new();
    for u in utterances {
        let st = out.entry(group(u)).or_default();
        let Some(phones) = u.phones.as_deref() else {
            st.skipped += 1;
            continue;
        };
        let hyp: Vec<&str> = phones.split_whitespace().filter(|p| *p != "SIL").collect();
        let prons: Option<Vec<&[Vec<String>]>> = u
            .text
            .split_whitespace()
            .map(|w| dict.pronunciations(w))
            .collect();
        let (Some(prons), Some(primary)) = (prons, dict.primary_phones(&u.text)) else {
            st.skipped += 1;
            continue;
        };
        let primary: Vec<&str> = primary.iter().map(String::as_str).collect();
        st.utterances += 1;
        st.primary_errors += edit_distance(&primary, &hyp);
        st.primary_ref += primary.len();
        let (e, n) = lattice_distance(&prons, &hyp);
        st.best_errors += e;
        st.best_ref += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn lattice_picks_best_variant_per_word() {
        let d = CmuDict::parse("the DH AH0\nthe(2) DH IY0\ncat K AE1 T\n", Path::new("d")).unwrap();
        let w: Vec<&[Vec<String>]> = vec![
            d.pronunciations("the").unwrap(),
            d.pronunciations("cat").unwrap(),
        ];
        assert_eq!(lattice_distance(&w, &["DH", "IY", "K", "AE", "T"]), (0, 5));
        assert_eq!(lattice_distance(&w, &["DH", "AH", "K", "AE", "T"]), (0, 5));
        assert_eq!(lattice_distance(&w, &["DH", "IH", "K", "AE"]), (2, 5));
        // Equals brute force over the two variants.
        let hyp = ["D", "IY", "K", "T"];
        let brute = ["DH AH K AE T", "DH IY K AE T"]
            .iter()
            .map(|r| edit_distance(&r.split(' ').collect::<Vec<_>>(), &hyp))
            .min()
            .unwrap();
        assert_eq!(lattice_distance(&w, &hyp).0, brute);
    }

    #[test]
    fn label_quality_groups_and_skips() {
        let d = CmuDict::parse("the DH AH0\ncat K AE1 T\n", Path::new("d")).unwrap();
        let mk = |text: &str, phones: &str, spk: &str| Utterance {
            id: "x".into(),
            audio: "x.wav".into(),
            text: text.into(),
            duration: 1.0,
            speaker: Some(spk.into()),
            phones: Some(phones.into()),
            alignment: None,
        };
        let utts = [
            mk("the cat", "SIL DH AH K AE T SIL", "a"),
            mk("the cat", "DH IH K AE T", "b"),
            mk("the dog", "DH AH D AO G", "b"),
        ];
        let q = label_quality(&utts, &d, |u| u.speaker.clone().unwrap_or_default());
        assert_eq!(q["a"].primary_errors, 0);
        assert_eq!(q["b"].utterances, 1);
        assert_eq!(q["b"].skipped, 1);
        assert!((q["b"].primary_per() - 20.0).abs() < 1e-9);
    }
}
