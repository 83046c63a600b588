//! A right-hand matrix packed once for many small products `C += A·B`.
//!
//! Each recurrent time step multiplies a few rows (the batch) by the same weight
//! matrix. A general GEMM re-packs that 1 MB matrix on every call; packing it once
//! per sequence into panels of 16 columns and running an AVX2/FMA micro-kernel over
//! the panels removes that traffic. Panels are the outer loop, so one panel (k × 16
//! values) stays in cache while every row block of `A` passes over it.
//!
//! The f32 kernel is chosen at run time when the CPU has AVX2 and FMA; every other
//! case (f64, other CPUs) uses a portable loop over the same packed layout.

use std::any::TypeId;

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::nn::Float;

/// Columns per panel: two 8-lane f32 vectors.
const NR: usize = 16;
/// Rows of `A` per micro-kernel call (12 accumulators + 2 panel vectors + 1 broadcast).
const MR: usize = 6;

/// `B: [k, n]` stored as `ceil(n/16)` panels of `[k, 16]` (zero-padded columns).
#[derive(Debug, Clone, PartialEq)]
pub struct PackedRhs<T> {
    k: usize,
    n: usize,
    data: Vec<T>,
}

impl<T: Float> PackedRhs<T> {
    /// Packs `b: [k, n]` (any strides, e.g. `w.t()`).
    pub fn new(b: &ArrayView2<'_, T>) -> Self {
        let (k, n) = b.dim();
        let panels = n.div_ceil(NR);
        let mut data = vec![T::zero(); panels * k * NR];
        // Read `b` in its memory order: a transposed weight (`w.t()`, the usual case)
        // is walked column by column, which are the contiguous rows of `w`.
        if b.strides()[0] == 1 && k > 1 {
            for (col, column) in b.columns().into_iter().enumerate() {
                let (panel, lane) = (col / NR, col % NR);
                for (l, &v) in column.iter().enumerate() {
                    data[(panel * k + l) * NR + lane] = v;
                }
            }
        } else {
            for (l, row) in b.rows().into_iter().enumerate() {
                for (col, &v) in row.iter().enumerate() {
                    data[((col / NR) * k + l) * NR + col % NR] = v;
                }
            }
        }
        PackedRhs { k, n, data }
    }

    /// `c += a · B` for `a: [m, k]` and `c: [m, n]`; both must have unit column
    /// stride (rows of standard-layout arrays).
    ///
    /// # Panics
    /// On mismatched shapes or non-unit column strides (programming errors).
    pub fn mul_add(&self, c: &mut ArrayViewMut2<'_, T>, a: &ArrayView2<'_, T>) {
        let (m, k) = a.dim();
        assert_eq!(k, self.k, "PackedRhs: inner dimension");
        assert_eq!(c.dim(), (m, self.n), "PackedRhs: output shape");
        assert!(
            m == 0 || (a.strides()[1] == 1 || k <= 1),
            "PackedRhs: lhs column stride"
        );
        assert!(
            m == 0 || (c.strides()[1] == 1 || self.n <= 1),
            "PackedRhs: output column stride"
        );
        if m == 0 || self.n == 0 || k == 0 {
            return;
        }
        let (a_rs, c_rs) = (a.strides()[0] as usize, c.strides()[0] as usize);
        #[cfg(target_arch = "x86_64")]
        if TypeId::of::<T>() == TypeId::of::<f32>()
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: T is f32 (TypeId checked), so the casts are identity casts; the
            // CPU supports AVX2 and FMA (checked); shapes and strides were checked
            // above, so the kernel stays inside `a`, `c` and `self.data`.
            unsafe {
                x86::mul_add_f32(
                    m,
                    k,
                    self.n,
                    a.as_ptr() as *const f32,
                    a_rs,
                    self.data.as_ptr() as *const f32,
                    c.as_mut_ptr() as *mut f32,
                    c_rs,
                );
            }
            return;
        }
        let _ = (a_rs, c_rs, TypeId::of::<T>());
        for p in 0..self.n.div_ceil(NR) {
            let panel = &self.data[p * k * NR..(p + 1) * k * NR];
            let cols = NR.min(self.n - p * NR);
            for i in 0..m {
                let mut acc = [T::zero(); NR];
                for l in 0..k {
                    let av = a[[i, l]];
                    for (j, x) in acc.iter_mut().enumerate() {
                        *x += av * panel[l * NR + j];
                    }
                }
                for j in 0..cols {
                    c[[i, p * NR + j]] += acc[j];
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX2 and FMA; `a` must hold `m` rows of `k` values at
    /// stride `a_rs`, `c` `m` rows of `n` at stride `c_rs`, `panels` the packed `B`.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn mul_add_f32(
        m: usize,
        k: usize,
        n: usize,
        a: *const f32,
        a_rs: usize,
        panels: *const f32,
        c: *mut f32,
        c_rs: usize,
    ) {
        for p in 0..n.div_ceil(NR) {
            let bp = unsafe { panels.add(p * k * NR) };
            let cols = NR.min(n - p * NR);
            let mut i = 0;
            while i < m {
                let rows = MR.min(m - i);
                let ai = unsafe { a.add(i * a_rs) };
                let ci = unsafe { c.add(i * c_rs + p * NR) };
                unsafe {
                    match rows {
                        6 => block::<6>(k, ai, a_rs, bp, ci, c_rs, cols),
                        5 => block::<5>(k, ai, a_rs, bp, ci, c_rs, cols),
                        4 => block::<4>(k, ai, a_rs, bp, ci, c_rs, cols),
                        3 => block::<3>(k, ai, a_rs, bp, ci, c_rs, cols),
                        2 => block::<2>(k, ai, a_rs, bp, ci, c_rs, cols),
                        _ => row1(k, ai, bp, ci, cols),
                    }
                }
                i += rows;
            }
        }
    }

    /// One row: a single accumulator chain would wait on FMA latency every step,
    /// so four independent chains are summed at the end.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn row1(k: usize, a: *const f32, bp: *const f32, c: *mut f32, cols: usize) {
        let mut acc = [_mm256_setzero_ps(); 8];
        let mut l = 0;
        while l + 4 <= k {
            for u in 0..4 {
                unsafe {
                    let av = _mm256_set1_ps(*a.add(l + u));
                    let b = bp.add((l + u) * NR);
                    acc[2 * u] = _mm256_fmadd_ps(av, _mm256_loadu_ps(b), acc[2 * u]);
                    acc[2 * u + 1] = _mm256_fmadd_ps(av, _mm256_loadu_ps(b.add(8)), acc[2 * u + 1]);
                }
            }
            l += 4;
        }
        while l < k {
            unsafe {
                let av = _mm256_set1_ps(*a.add(l));
                let b = bp.add(l * NR);
                acc[0] = _mm256_fmadd_ps(av, _mm256_loadu_ps(b), acc[0]);
                acc[1] = _mm256_fmadd_ps(av, _mm256_loadu_ps(b.add(8)), acc[1]);
            }
            l += 1;
        }
        let lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[4], acc[6]));
        let hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[3]), _mm256_add_ps(acc[5], acc[7]));
        let mut tmp = [0.0f32; NR];
        unsafe {
            _mm256_storeu_ps(tmp.as_mut_ptr(), lo);
            _mm256_storeu_ps(tmp.as_mut_ptr().add(8), hi);
            for (j, t) in tmp.iter().enumerate().take(cols) {
                *c.add(j) += t;
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn block<const R: usize>(
        k: usize,
        a: *const f32,
        a_rs: usize,
        bp: *const f32,
        c: *mut f32,
        c_rs: usize,
        cols: usize,
    ) {
        let mut acc0 = [_mm256_setzero_ps(); R];
        let mut acc1 = [_mm256_setzero_ps(); R];
        for l in 0..k {
            unsafe {
                let b0 = _mm256_loadu_ps(bp.add(l * NR));
                let b1 = _mm256_loadu_ps(bp.add(l * NR + 8));
                for r in 0..R {
                    let av = _mm256_set1_ps(*a.add(r * a_rs + l));
                    acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
                    acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
                }
            }
        }
        for r in 0..R {
            unsafe {
                let cr = c.add(r * c_rs);
                if cols == NR {
                    _mm256_storeu_ps(cr, _mm256_add_ps(_mm256_loadu_ps(cr), acc0[r]));
                    _mm256_storeu_ps(
                        cr.add(8),
                        _mm256_add_ps(_mm256_loadu_ps(cr.add(8)), acc1[r]),
                    );
                } else {
                    let mut tmp = [0.0f32; NR];
                    _mm256_storeu_ps(tmp.as_mut_ptr(), acc0[r]);
                    _mm256_storeu_ps(tmp.as_mut_ptr().add(8), acc1[r]);
                    for (j, t) in tmp.iter().enumerate().take(cols) {
                        *cr.add(j) += t;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::init;
    use crate::rng::Rng;
    use ndarray::Array2;

    fn check<T: Float>(m: usize, k: usize, n: usize, tol: f64) {
        let mut rng = Rng::new((m * 1000 + k * 10 + n) as u64);
        let a: Array2<T> = init::uniform((m, k), 1.0, &mut rng);
        let w: Array2<T> = init::uniform((n, k), 1.0, &mut rng); // used transposed
        let c0: Array2<T> = init::uniform((m, n), 1.0, &mut rng);
        let packed = PackedRhs::new(&w.t());
        // Both read orders (strided view, standard layout) pack identically.
        let standard = w.t().as_standard_layout().into_owned();
        assert_eq!(packed, PackedRhs::new(&standard.view()));
        let mut c = c0.clone();
        packed.mul_add(&mut c.view_mut(), &a.view());
        for i in 0..m {
            for j in 0..n {
                let mut e = c0[[i, j]].to_f64();
                for l in 0..k {
                    e += a[[i, l]].to_f64() * w[[j, l]].to_f64();
                }
                let d = (c[[i, j]].to_f64() - e).abs();
                assert!(d < tol * k as f64, "({m},{k},{n}) at ({i},{j}): {d}");
            }
        }
    }

    #[test]
    fn packed_product_matches_naive_for_ragged_shapes() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (1, 7, 16),
            (1, 9, 40),
            (2, 13, 20),
            (3, 5, 17),
            (6, 9, 33),
            (7, 20, 64),
            (16, 33, 40),
            (13, 64, 15),
        ] {
            check::<f32>(m, k, n, 1e-6);
            check::<f64>(m, k, n, 1e-14);
        }
    }

    #[test]
    fn works_on_row_blocks_of_larger_arrays() {
        let mut rng = Rng::new(1);
        let a: Array2<f32> = init::uniform((10, 8), 1.0, &mut rng);
        let b: Array2<f32> = init::uniform((8, 20), 1.0, &mut rng);
        let packed = PackedRhs::new(&b.view());
        let mut c = Array2::<f32>::zeros((10, 20));
        packed.mul_add(
            &mut c.slice_mut(ndarray::s![2..7, ..]),
            &a.slice(ndarray::s![2..7, ..]),
        );
        let expected = a.dot(&b);
        for i in 0..10 {
            for j in 0..20 {
                let e = if (2..7).contains(&i) {
                    expected[[i, j]]
                } else {
                    0.0
                };
                assert!((c[[i, j]] - e).abs() < 1e-5);
            }
        }
    }
}
