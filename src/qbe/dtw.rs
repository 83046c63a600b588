//! Subsequence DTW: the classic query-by-example baseline.
//!
//! The query `Q [n, d]` may match any stretch of the recording `R [m, d]`: the
//! alignment starts at any recording frame and ends at any frame (free ends), and
//! uses the slope-constrained steps (1,1), (1,2), (2,1) (query, recording), so a
//! match spans between half and twice the query's length. The unconstrained steps
//! (1,0), (0,1) let a path crawl along a long stretch of cheap frames (pauses) and
//! win on average cost with a span far longer than the word. The score of a match
//! is its accumulated frame distance divided by its path length, so long and short
//! matches compare fairly. Memory is O(m) (three rows), time O(n·m·d).

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
    // Invariants: row i of `acc` holds, per recording frame j, the best path that
    // aligns query frames 0..=i and ends at (i, j): accumulated cost, path length
    // and start frame; `f32::INFINITY` marks an unreachable cell. `c_prev` holds
    // the frame costs c(i-1, ·).
    const UNREACHED: (f32, u32, u32) = (f32::INFINITY, 1, 0);
    let mut row = vec![UNREACHED; m];
    let mut prev = vec![UNREACHED; m];
    let mut prev2 = vec![UNREACHED; m];
    let mut c_row = vec![0f32; m];
    let mut c_prev = vec![0f32; m];
    for i in 0..n {
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut row);
        std::mem::swap(&mut c_prev, &mut c_row);
        let qi = &q[i * d..(i + 1) * d];
        for j in 0..m {
            c_row[j] = frame_cost(qi, &r[j * d..(j + 1) * d], dist);
        }
        for j in 0..m {
            let c = c_row[j];
            if i == 0 {
                // Free start: every recording frame may begin a match.
                row[j] = (c, 1, j as u32);
                continue;
            }
            if j == 0 {
                row[j] = UNREACHED;
                continue;
            }
            // Steps (query, recording): (1,1); (1,2), the skipped recording frame
            // aligned with query frame i-1; (2,1), the skipped query frame aligned
            // with recording frame j-1. Slopes stay within [1/2, 2], so a match
            // spans between half and twice the query's length. Pick the lowest
            // length-normalised cost so that path length does not bias the choice.
            let skip = c_prev[j - 1];
            let mut best = UNREACHED;
            let mut best_norm = f32::INFINITY;
            let mut consider = |cand: (f32, u32, u32)| {
                let norm = cand.0 / cand.1 as f32;
                if norm < best_norm {
                    best_norm = norm;
                    best = cand;
                }
            };
            let p = prev[j - 1];
            consider((p.0 + c, p.1 + 1, p.2));
            if j >= 2 {
                let p = prev[j - 2];
                consider((p.0 + skip + c, p.1 + 2, p.2));
            }
            if i >= 2 {
                let p = prev2[j - 1];
                consider((p.0 + skip + c, p.1 + 2, p.2));
            }
            row[j] = best;
        }
    }
    let (cost, len, start): (Vec<f32>, Vec<u32>, Vec<u32>) = (
        row.iter().map(|x| x.0).collect(),
        row.iter().map(|x| x.1).collect(),
        row.iter().map(|x| x.2).collect(),
    );
    let mut ends: Vec<DtwMatch> = (0..m)
        .filter(|&j| cost[j].is_finite())
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
