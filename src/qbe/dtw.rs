//! Subsequence DTW: the classic query-by-example baseline.
//!
//! The query `Q [n, d]` may match any stretch of the recording `R [m, d]`: the
//! alignment starts at any recording frame and ends at any frame (free ends), and
//! uses the steps (1,0), (0,1), (1,1). The score of a match is its accumulated frame
//! distance divided by its path length, so long and short matches compare fairly.
//! Memory is O(m) (two rows), time O(n·m·d).

use ndarray::{ArrayView2, Axis};

use crate::error::{Error, Result};

/// Frame distance used by the DTW.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameDistance {
    /// `1 − cos(q, r)`: for MFCC/fbank frames.
    Cosine,
    /// `−ln(q · r)`: for posteriorgrams (rows are probability vectors).
    LogInnerProduct,
}

/// One match of the query in the recording, in frames (`end` exclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DtwMatch {
    /// First recording frame of the match.
    pub start: usize,
    /// One past the last recording frame.
    pub end: usize,
    /// Length-normalised alignment cost (lower is better).
    pub cost: f32,
}

fn prepare(x: ArrayView2<'_, f32>, dist: FrameDistance) -> Vec<f32> {
    let d = x.ncols();
    let mut out = Vec::with_capacity(x.len());
    for row in x.axis_iter(Axis(0)) {
        match dist {
            FrameDistance::Cosine => {
                let n = row.iter().map(|&v| v * v).sum::<f32>().sqrt().max(1e-12);
                out.extend(row.iter().map(|&v| v / n));
            }
            FrameDistance::LogInnerProduct => out.extend(row.iter().copied()),
        }
    }
    debug_assert_eq!(out.len(), x.nrows() * d);
    out
}

#[inline]
fn frame_cost(q: &[f32], r: &[f32], dist: FrameDistance) -> f32 {
    let dot = crate::qbe::index::dot(q, r);
    match dist {
        FrameDistance::Cosine => 1.0 - dot,
        FrameDistance::LogInnerProduct => -(dot.max(1e-10)).ln(),
    }
}

/// Runs subsequence DTW and returns up to `max_matches` non-overlapping matches,
/// best (lowest cost) first. Matches are taken greedily from the per-end-frame cost
/// curve; a candidate overlapping an accepted match by more than half of the shorter
/// span is skipped.
pub fn subsequence_dtw(
    query: ArrayView2<'_, f32>,
    recording: ArrayView2<'_, f32>,
    dist: FrameDistance,
    max_matches: usize,
) -> Result<Vec<DtwMatch>> {
    let (n, d) = query.dim();
    let m = recording.nrows();
    if recording.ncols() != d {
        return Err(Error::dim("subsequence_dtw", d, recording.ncols()));
    }
    if n == 0 || m == 0 {
        return Ok(Vec::new());
    }
    if query.iter().chain(recording.iter()).any(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            op: "subsequence_dtw input".into(),
        });
    }
    let q = prepare(query, dist);
    let r = prepare(recording, dist);
    // Rows over recording frames j: accumulated cost, path length, start frame.
    let mut cost = vec![0f32; m];
    let mut len = vec![0u32; m];
    let mut start = vec![0u32; m];
    let (mut pcost, mut plen, mut pstart) = (vec![0f32; m], vec![0u32; m], vec![0u32; m]);
    for i in 0..n {
        std::mem::swap(&mut cost, &mut pcost);
        std::mem::swap(&mut len, &mut plen);
        std::mem::swap(&mut start, &mut pstart);
        let qi = &q[i * d..(i + 1) * d];
        for j in 0..m {
            let c = frame_cost(qi, &r[j * d..(j + 1) * d], dist);
            if i == 0 {
                // Free start: every recording frame may begin a match.
                cost[j] = c;
                len[j] = 1;
                start[j] = j as u32;
                continue;
            }
            // Candidates: from (i-1, j), (i, j-1), (i-1, j-1); pick the lowest
            // normalised cost so that path length does not bias the choice.
            let mut best = (pcost[j], plen[j], pstart[j]);
            let mut best_norm = best.0 / best.1 as f32;
            if j > 0 {
                for cand in [
                    (cost[j - 1], len[j - 1], start[j - 1]),
                    (pcost[j - 1], plen[j - 1], pstart[j - 1]),
                ] {
                    let norm = cand.0 / cand.1 as f32;
                    if norm < best_norm {
                        best = cand;
                        best_norm = norm;
                    }
                }
            }
            cost[j] = best.0 + c;
            len[j] = best.1 + 1;
            start[j] = best.2;
        }
    }
    let mut ends: Vec<DtwMatch> = (0..m)
        .map(|j| DtwMatch {
            start: start[j] as usize,
            end: j + 1,
            cost: cost[j] / len[j] as f32,
        })
        .collect();
    ends.sort_by(|a, b| a.cost.total_cmp(&b.cost).then(a.end.cmp(&b.end)));
    let mut out: Vec<DtwMatch> = Vec::new();
    for cand in ends {
        if out.len() >= max_matches {
            break;
        }
        let overlaps = out.iter().any(|o| {
            let inter = o.end.min(cand.end).saturating_sub(o.start.max(cand.start));
            let shorter = (o.end - o.start).min(cand.end - cand.start).max(1);
            2 * inter > shorter
        });
        if !overlaps {
            out.push(cand);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn onehot(seq: &[usize], dim: usize) -> Array2<f32> {
        let mut a = Array2::from_elem((seq.len(), dim), 0.01f32);
        for (t, &k) in seq.iter().enumerate() {
            a[[t, k]] = 1.0;
        }
        a
    }

    #[test]
    fn finds_planted_query_even_when_stretched() {
        // Query 1 2 3; recording contains 1 1 2 2 3 3 at frames 4..10.
        let q = onehot(&[1, 2, 3], 5);
        let r = onehot(&[0, 4, 0, 4, 1, 1, 2, 2, 3, 3, 0, 4, 0], 5);
        for dist in [FrameDistance::Cosine, FrameDistance::LogInnerProduct] {
            let m = subsequence_dtw(q.view(), r.view(), dist, 3).unwrap();
            // Any span from the first 1 (frame 4 or 5) to a 3 (ending at 9 or 10)
            // aligns every query frame to an identical frame, so each is optimal.
            assert!((4..=5).contains(&m[0].start), "{dist:?} {m:?}");
            assert!((9..=10).contains(&m[0].end), "{dist:?} {m:?}");
            assert!(m[0].cost < m[1].cost);
        }
    }

    #[test]
    fn exact_copy_has_zero_cosine_cost() {
        let q = onehot(&[2, 3], 4);
        let r = onehot(&[0, 2, 3, 0], 4);
        let m = subsequence_dtw(q.view(), r.view(), FrameDistance::Cosine, 1).unwrap();
        assert_eq!((m[0].start, m[0].end), (1, 3));
        assert!(m[0].cost.abs() < 1e-6);
    }

    #[test]
    fn rejects_mismatched_dims_and_nan() {
        let q = Array2::<f32>::zeros((2, 3));
        let r = Array2::<f32>::zeros((4, 2));
        assert!(subsequence_dtw(q.view(), r.view(), FrameDistance::Cosine, 1).is_err());
        let mut r = Array2::<f32>::zeros((4, 3));
        r[[1, 1]] = f32::NAN;
        assert!(subsequence_dtw(q.view(), r.view(), FrameDistance::Cosine, 1).is_err());
    }
}
