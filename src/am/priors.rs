//! Token priors for hybrid decoding, counted from frame labels.
//!
//! `priors.txt` has one probability per line, line `i` for output `i` (the order of
//! `tokens.txt`). Counts get add-one smoothing so no prior is zero; the decoder
//! divides posteriors by these (subtracts their logs).

use std::path::Path;

use crate::error::{Error, Result};
use crate::fsio::write_atomic;

/// Smoothed relative frequencies of `labels` over `num_outputs` classes.
pub fn count_priors<'a>(
    labels: impl IntoIterator<Item = &'a [usize]>,
    num_outputs: usize,
) -> Result<Vec<f64>> {
    let mut counts = vec![1.0f64; num_outputs];
    for seq in labels {
        for &l in seq {
            if l >= num_outputs {
                return Err(Error::Invalid(format!(
                    "frame label {l} outside 0..{num_outputs}"
                )));
            }
            counts[l] += 1.0;
        }
    }
    let total: f64 = counts.iter().sum();
    Ok(counts.into_iter().map(|c| c / total).collect())
}

/// Writes priors, one probability per line.
pub fn write_priors(path: &Path, priors: &[f64]) -> Result<()> {
    let text: String = priors.iter().map(|p| format!("{p:.8e}\n")).collect();
    write_atomic(path, text.as_bytes())
}

/// Reads `priors.txt` (probabilities, one per line).
pub fn read_priors(path: &Path) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            l.trim()
                .parse::<f64>()
                .ok()
                .filter(|p| *p > 0.0 && *p <= 1.0)
                .ok_or_else(|| {
                    Error::parse(
                        path,
                        i + 1,
                        format!("expected a probability in (0, 1], got {l:?}"),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priors_are_smoothed_frequencies_and_round_trip() {
        let labels = [vec![0usize, 0, 1], vec![2, 0]];
        let p = count_priors(labels.iter().map(|v| v.as_slice()), 4).unwrap();
        // counts + 1: [4, 2, 2, 1] / 9
        let expected = [4.0 / 9.0, 2.0 / 9.0, 2.0 / 9.0, 1.0 / 9.0];
        for (a, b) in p.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
        let dir = std::env::temp_dir().join(format!("hark-priors-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("priors.txt");
        write_priors(&path, &p).unwrap();
        let back = read_priors(&path).unwrap();
        for (a, b) in p.iter().zip(&back) {
            assert!((a - b).abs() / a < 1e-8);
        }
        std::fs::write(&path, "0.5\nabc\n").unwrap();
        assert!(read_priors(&path).unwrap_err().to_string().contains(":2:"));
        assert!(count_priors([[5usize].as_slice()], 4).is_err());
    }
}
