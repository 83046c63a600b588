//! Delta and delta-delta features (Kaldi `add-deltas`) and frame stacking.
//!
//! ref: <https://github.com/kaldi-asr/kaldi/blob/f4007661/src/feat/feature-functions.cc>

use ndarray::{Array2, ArrayRef2};

use crate::error::{Error, Result};

/// Regression filters for orders `0 ..= order` with half-width `window` (Kaldi
/// `DeltaFeatures` scales). Order 0 is `[1]`; order `i` is the order `i-1` filter
/// convolved with `j / Σ j²` for `j = -window ..= window`, so its half-width is `i · window`.
pub fn delta_scales(order: usize, window: usize) -> Vec<Vec<f64>> {
    let mut scales = vec![vec![1.0]];
    let w = window as i64;
    let normalizer: f64 = (-w..=w).map(|j| (j * j) as f64).sum();
    for i in 1..=order {
        let prev = &scales[i - 1];
        let prev_off = (prev.len() as i64 - 1) / 2;
        let cur_off = prev_off + w;
        let mut cur = vec![0.0; prev.len() + 2 * window];
        for j in -w..=w {
            for k in -prev_off..=prev_off {
                cur[(j + k + cur_off) as usize] += j as f64 * prev[(k + prev_off) as usize];
            }
        }
        for c in cur.iter_mut() {
            *c /= normalizer;
        }
        scales.push(cur);
    }
    scales
}

/// Appends deltas up to `order` (2 = deltas and delta-deltas) with regression
/// half-width `window` (Kaldi default 2): `[frames, dim]` → `[frames, dim · (order + 1)]`.
/// Frames beyond the ends are replaced by the first or last frame.
pub fn add_deltas(feats: &ArrayRef2<f32>, order: usize, window: usize) -> Result<Array2<f32>> {
    if window == 0 && order > 0 {
        return Err(Error::Config("delta window must be >= 1".into()));
    }
    let (t_len, dim) = feats.dim();
    let scales = delta_scales(order, window);
    let mut out = Array2::<f32>::zeros((t_len, dim * (order + 1)));
    if t_len == 0 {
        return Ok(out);
    }
    let last = t_len as i64 - 1;
    let mut acc = vec![0.0f64; dim];
    for t in 0..t_len {
        for (i, sc) in scales.iter().enumerate() {
            let off = (sc.len() as i64 - 1) / 2;
            acc.iter_mut().for_each(|a| *a = 0.0);
            for (k, &s) in sc.iter().enumerate() {
                if s == 0.0 {
                    continue;
                }
                let src = (t as i64 + k as i64 - off).clamp(0, last) as usize;
                for (a, &x) in acc.iter_mut().zip(feats.row(src)) {
                    *a += s * x as f64;
                }
            }
            let mut row = out.row_mut(t);
            for (j, a) in acc.iter().enumerate() {
                row[i * dim + j] = *a as f32;
            }
        }
    }
    Ok(out)
}

/// Stacks `k` consecutive frames and keeps every `n`-th stacked frame, for
/// low-frame-rate models: output row `t` is input rows `t·n, t·n + 1, …, t·n + k − 1`
/// side by side, rows past the end repeating the last input row.
/// `[frames, dim]` → `[ceil(frames / n), k · dim]`.
pub fn stack_frames(feats: &ArrayRef2<f32>, k: usize, n: usize) -> Result<Array2<f32>> {
    if k == 0 || n == 0 {
        return Err(Error::Config(format!(
            "stack_frames needs k >= 1 and n >= 1, got k={k} n={n}"
        )));
    }
    let (t_len, dim) = feats.dim();
    let out_len = t_len.div_ceil(n);
    let mut out = Array2::<f32>::zeros((out_len, k * dim));
    for (t, mut row) in out.rows_mut().into_iter().enumerate() {
        for j in 0..k {
            let src = (t * n + j).min(t_len - 1);
            for (o, &x) in row.iter_mut().skip(j * dim).take(dim).zip(feats.row(src)) {
                *o = x;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_match_kaldi_by_hand() {
        let s = delta_scales(2, 2);
        assert_eq!(s[0], vec![1.0]);
        // j / 10 for j = -2..2
        assert_eq!(s[1], vec![-0.2, -0.1, 0.0, 0.1, 0.2]);
        // [-2,-1,0,1,2] * [-2,-1,0,1,2] / 100 = [4, 4, 1, -4, -10, -4, 1, 4, 4] / 100
        let want = [4.0, 4.0, 1.0, -4.0, -10.0, -4.0, 1.0, 4.0, 4.0];
        for (a, b) in s[2].iter().zip(want) {
            assert!((a - b / 100.0).abs() < 1e-15, "{:?}", s[2]);
        }
    }

    #[test]
    fn deltas_of_a_ramp() {
        // x[t] = t: delta = Σ j (t + j) / 10 = 1 inside, delta-delta = 0 inside.
        let f = Array2::from_shape_fn((10, 1), |(t, _)| t as f32);
        let d = add_deltas(&f, 2, 2).unwrap();
        assert_eq!(d.dim(), (10, 3));
        for t in 4..6 {
            assert!((d[[t, 1]] - 1.0).abs() < 1e-6);
            assert!(d[[t, 2]].abs() < 1e-6);
        }
        // Frame 0 sees [0, 0, 0, 1, 2]: delta = (-2·0 - 0 + 0 + 1 + 4) / 10 = 0.5.
        assert!((d[[0, 1]] - 0.5).abs() < 1e-6);
        // Frame 1 sees [0, 0, 1, 2, 3]: delta = (0 + 0 + 0 + 2 + 6) / 10 = 0.8.
        assert!((d[[1, 1]] - 0.8).abs() < 1e-6);
        assert_eq!(d.column(0), f.column(0));
    }

    #[test]
    fn stacking_shapes_and_values() {
        let f = Array2::from_shape_fn((7, 2), |(t, j)| (10 * t + j) as f32);
        let s = stack_frames(&f, 3, 2).unwrap();
        assert_eq!(s.dim(), (4, 6));
        assert_eq!(s.row(0).to_vec(), vec![0., 1., 10., 11., 20., 21.]);
        assert_eq!(s.row(1).to_vec(), vec![20., 21., 30., 31., 40., 41.]);
        // last output starts at row 6 and repeats it past the end
        assert_eq!(s.row(3).to_vec(), vec![60., 61., 60., 61., 60., 61.]);
        assert_eq!(stack_frames(&f, 1, 1).unwrap(), f);
        assert_eq!(
            stack_frames(&f.slice(ndarray::s![0..0, ..]), 3, 3)
                .unwrap()
                .dim(),
            (0, 6)
        );
        assert!(stack_frames(&f, 0, 1).is_err());
    }
}
