//! Ranked-retrieval metrics for the query-by-example search.
//!
//! A ranking is a list of booleans, best first: `true` where the hit is relevant.

/// Average precision of one ranking: the mean, over the `num_relevant` relevant items,
/// of the precision at the rank where each is retrieved (items never retrieved count 0).
/// Returns 0 when `num_relevant` is 0.
pub fn average_precision(ranking: &[bool], num_relevant: usize) -> f64 {
    if num_relevant == 0 {
        return 0.0;
    }
    let mut hits = 0usize;
    let mut sum = 0.0f64;
    for (i, &rel) in ranking.iter().enumerate() {
        if rel {
            hits += 1;
            sum += hits as f64 / (i + 1) as f64;
        }
    }
    sum / num_relevant as f64
}

/// Mean of [`average_precision`] over queries given as `(ranking, num_relevant)`.
pub fn mean_average_precision(queries: &[(Vec<bool>, usize)]) -> f64 {
    if queries.is_empty() {
        return 0.0;
    }
    queries
        .iter()
        .map(|(r, n)| average_precision(r, *n))
        .sum::<f64>()
        / queries.len() as f64
}

/// Fraction of the first `k` results that are relevant (missing results count as
/// not relevant, so the denominator is always `k`). Returns 0 for `k == 0`.
pub fn precision_at_k(ranking: &[bool], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    ranking.iter().take(k).filter(|&&r| r).count() as f64 / k as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked_average_precision() {
        // relevant at ranks 1, 3 and one never retrieved (3 relevant in total):
        // AP = (1/1 + 2/3 + 0) / 3 = 0.5555...
        let r = [true, false, true, false];
        assert!((average_precision(&r, 3) - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(average_precision(&r, 0), 0.0);
        assert_eq!(average_precision(&[true, true], 2), 1.0);
    }

    #[test]
    fn hand_worked_map_and_precision() {
        let q = vec![(vec![true, false], 1), (vec![false, true], 1)];
        // AP = 1 and 1/2 -> MAP 0.75
        assert!((mean_average_precision(&q) - 0.75).abs() < 1e-12);
        assert_eq!(precision_at_k(&[true, false, true], 2), 0.5);
        assert_eq!(precision_at_k(&[true], 4), 0.25);
        assert_eq!(precision_at_k(&[true], 0), 0.0);
    }
}
