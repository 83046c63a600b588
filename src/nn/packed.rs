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
//!
//! Half-float panels: when every value of `B` is exactly an IEEE half float (weights
//! loaded from an f16 model file) and the CPU converts halves in hardware (F16C), the
//! panels are stored as halves and widened in the load (`vcvtph2ps`). The kernel then
//! reads half the bytes per step; the products are bit-identical, since it multiplies
//! the same f32 values in the same order.

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
    /// The panels (empty when `half` holds them).
    data: Vec<T>,
    /// The same panels as IEEE half floats, when they are all exact halves and the
    /// CPU has AVX2, FMA and F16C; empty otherwise.
    half: Vec<u16>,
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
        let half = halves(&data);
        if !half.is_empty() {
            data = Vec::new();
        }
        PackedRhs { k, n, data, half }
    }

    /// The same matrix with f32 panels (for comparing the two kernels).
    #[cfg(test)]
    fn with_f32_panels(mut self) -> Self {
        if !self.half.is_empty() {
            self.data = self
                .half
                .iter()
                .map(|&h| T::from_f64(f64::from(crate::nn::float::f16_to_f32(h))))
                .collect();
            self.half = Vec::new();
        }
        self
    }

    /// Whether the panels are stored as half floats (see the module docs).
    pub fn is_half(&self) -> bool {
        !self.half.is_empty()
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
        if !self.half.is_empty() {
            // SAFETY: `half` is only filled for T = f32 on a CPU with AVX2, FMA and
            // F16C (see `halves`), so the casts are identity casts; shapes and strides
            // were checked above, so the kernel stays inside `a`, `c` and `self.half`.
            unsafe {
                x86::mul_add_f16(
                    m,
                    k,
                    self.n,
                    a.as_ptr() as *const f32,
                    a_rs,
                    self.half.as_ptr(),
                    c.as_mut_ptr() as *mut f32,
                    c_rs,
                );
            }
            return;
        }
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

/// `data` as half floats when `T` is f32, every value is exactly a half float and the
/// CPU has the half-float kernel's features; empty otherwise.
fn halves<T: Float>(data: &[T]) -> Vec<u16> {
    #[cfg(target_arch = "x86_64")]
    if TypeId::of::<T>() == TypeId::of::<f32>()
        && !data.is_empty()
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
    {
        let mut out = Vec::with_capacity(data.len());
        for v in data {
            let x = Float::to_f64(*v) as f32; // exact: T is f32
            match crate::nn::float::f32_to_f16(x) {
                Some(h) if crate::nn::float::f16_to_f32(h).to_bits() == x.to_bits() => out.push(h),
                _ => return Vec::new(),
            }
        }
        return out;
    }
    let _ = data;
    Vec::new()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// Eight f32 panel values.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn load_f32(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }

    /// Eight half-float panel values, widened to f32 (exact).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn load_f16(p: *const u16) -> __m256 {
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
    }

    /// The micro-kernels over panels of one element type: `$elem` values read with
    /// `$load`, compiled with `$features`.
    macro_rules! kernels {
        ($mul_add:ident, $row1:ident, $block:ident, $features:literal, $elem:ty, $load:ident) => {
            /// # Safety
            /// The CPU must support the kernel's features; `a` must hold `m` rows of
            /// `k` values at stride `a_rs`, `c` `m` rows of `n` at stride `c_rs`,
            /// `panels` the packed `B`.
            #[target_feature(enable = $features)]
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn $mul_add(
                m: usize,
                k: usize,
                n: usize,
                a: *const f32,
                a_rs: usize,
                panels: *const $elem,
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
                                6 => $block::<6>(k, ai, a_rs, bp, ci, c_rs, cols),
                                5 => $block::<5>(k, ai, a_rs, bp, ci, c_rs, cols),
                                4 => $block::<4>(k, ai, a_rs, bp, ci, c_rs, cols),
                                3 => $block::<3>(k, ai, a_rs, bp, ci, c_rs, cols),
                                2 => $block::<2>(k, ai, a_rs, bp, ci, c_rs, cols),
                                _ => $row1(k, ai, bp, ci, cols),
                            }
                        }
                        i += rows;
                    }
                }
            }

            /// One row: a single accumulator chain would wait on FMA latency every
            /// step, so four independent chains are summed at the end.
            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn $row1(k: usize, a: *const f32, bp: *const $elem, c: *mut f32, cols: usize) {
                let mut acc = [_mm256_setzero_ps(); 8];
                let mut l = 0;
                while l + 4 <= k {
                    for u in 0..4 {
                        unsafe {
                            let av = _mm256_set1_ps(*a.add(l + u));
                            let b = bp.add((l + u) * NR);
                            acc[2 * u] = _mm256_fmadd_ps(av, $load(b), acc[2 * u]);
                            acc[2 * u + 1] = _mm256_fmadd_ps(av, $load(b.add(8)), acc[2 * u + 1]);
                        }
                    }
                    l += 4;
                }
                while l < k {
                    unsafe {
                        let av = _mm256_set1_ps(*a.add(l));
                        let b = bp.add(l * NR);
                        acc[0] = _mm256_fmadd_ps(av, $load(b), acc[0]);
                        acc[1] = _mm256_fmadd_ps(av, $load(b.add(8)), acc[1]);
                    }
                    l += 1;
                }
                let lo =
                    _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[4], acc[6]));
                let hi =
                    _mm256_add_ps(_mm256_add_ps(acc[1], acc[3]), _mm256_add_ps(acc[5], acc[7]));
                let mut tmp = [0.0f32; NR];
                unsafe {
                    _mm256_storeu_ps(tmp.as_mut_ptr(), lo);
                    _mm256_storeu_ps(tmp.as_mut_ptr().add(8), hi);
                    for (j, t) in tmp.iter().enumerate().take(cols) {
                        *c.add(j) += t;
                    }
                }
            }

            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn $block<const R: usize>(
                k: usize,
                a: *const f32,
                a_rs: usize,
                bp: *const $elem,
                c: *mut f32,
                c_rs: usize,
                cols: usize,
            ) {
                let mut acc0 = [_mm256_setzero_ps(); R];
                let mut acc1 = [_mm256_setzero_ps(); R];
                for l in 0..k {
                    unsafe {
                        let b0 = $load(bp.add(l * NR));
                        let b1 = $load(bp.add(l * NR + 8));
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
        };
    }

    kernels!(mul_add_f32, row1_f32, block_f32, "avx2,fma", f32, load_f32);
    kernels!(
        mul_add_f16,
        row1_f16,
        block_f16,
        "avx2,fma,f16c",
        u16,
        load_f16
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::float::{f16_to_f32, f32_to_f16};
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

    /// `B` rounded to half floats packs as halves (where the CPU has F16C) and gives
    /// bit-for-bit the products of the same values in f32 panels.
    #[test]
    fn half_panels_are_used_for_exact_halves_and_change_no_bit() {
        let f16c = cfg!(target_arch = "x86_64") && {
            #[cfg(target_arch = "x86_64")]
            {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("f16c")
            }
            #[cfg(not(target_arch = "x86_64"))]
            false
        };
        let round = |x: f32| f16_to_f32(f32_to_f16(x).unwrap());
        for &(m, k, n) in &[
            (1, 7, 16),
            (1, 256, 1024),
            (2, 13, 20),
            (6, 9, 33),
            (13, 64, 15),
        ] {
            let mut rng = Rng::new((m * 7 + k * 3 + n) as u64);
            let a: Array2<f32> = init::uniform((m, k), 1.0, &mut rng);
            let w: Array2<f32> = init::uniform((n, k), 1.0, &mut rng).mapv(round);
            let half = PackedRhs::new(&w.t());
            assert_eq!(half.is_half(), f16c, "({m},{k},{n})");
            let single = half.clone().with_f32_panels();
            assert!(!single.is_half());
            let (mut c1, mut c2) = (Array2::<f32>::ones((m, n)), Array2::<f32>::ones((m, n)));
            half.mul_add(&mut c1.view_mut(), &a.view());
            single.mul_add(&mut c2.view_mut(), &a.view());
            let bits = |c: &Array2<f32>| c.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&c1), bits(&c2), "({m},{k},{n})");
            let naive = a.dot(&w.t()) + 1.0;
            for (x, y) in c1.iter().zip(&naive) {
                assert!((x - y).abs() < 1e-5 * k as f32, "({m},{k},{n}): {x} vs {y}");
            }
        }
        // One value that is not a half float keeps the whole matrix in f32.
        let mut w = Array2::<f32>::from_elem((4, 3), 0.5);
        w[[2, 1]] = 0.1;
        assert!(!PackedRhs::new(&w.view()).is_half());
        assert!(!PackedRhs::new(&w.mapv(f64::from).view()).is_half());
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
