//! Matrix products through the pure-Rust `gemm` crate.
//!
//! One entry point, [`matmul`], computes `C = alpha·C + beta·A·B` for 2-D views with
//! arbitrary strides, so a transposed operand is just `w.t()` and no copy is made.
//! Products run single-threaded (`Parallelism::None`): hark parallelises over
//! minibatch shards with rayon instead of threading each product, which keeps the
//! small per-timestep products (batch × hidden · hidden × 4·hidden) free of
//! synchronisation cost.
//!
//! `gemm` picks its kernels at run time (AVX2+FMA, or AVX-512 when built with the
//! `x86-v4` feature and the CPU has it).

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::nn::Float;

/// `c = alpha·c + beta·(a · b)`; with `alpha == 0` the old contents of `c` are ignored
/// (even NaN).
///
/// # Panics
/// When the shapes disagree (`a: [m, k]`, `b: [k, n]`, `c: [m, n]`): shapes are fixed
/// by the layer definitions, so a mismatch is a programming error.
pub fn matmul<T: Float>(
    alpha: T,
    c: &mut ArrayViewMut2<'_, T>,
    beta: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert_eq!(k, k2, "matmul: inner dimensions {k} and {k2} differ");
    assert_eq!(c.dim(), (m, n), "matmul: output shape");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if alpha == T::zero() {
            c.fill(T::zero());
        } else {
            c.mapv_inplace(|v| v * alpha);
        }
        return;
    }
    let (c_rs, c_cs) = (c.strides()[0], c.strides()[1]);
    let (a_rs, a_cs) = (a.strides()[0], a.strides()[1]);
    let (b_rs, b_cs) = (b.strides()[0], b.strides()[1]);
    // SAFETY: the pointers and strides come from live ndarray views whose shapes were
    // checked above, so every index gemm touches (i < m, j < n, l < k) is inside the
    // views; `c` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            c_cs,
            c_rs,
            alpha != T::zero(),
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            alpha,
            beta,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use ndarray::Array2;

    fn random(rows: usize, cols: usize, rng: &mut Rng) -> Array2<f64> {
        Array2::from_shape_fn((rows, cols), |_| rng.uniform_range(-1.0, 1.0))
    }

    fn naive(a: &ArrayView2<f64>, b: &ArrayView2<f64>) -> Array2<f64> {
        let mut c = Array2::zeros((a.nrows(), b.ncols()));
        for i in 0..a.nrows() {
            for j in 0..b.ncols() {
                for l in 0..a.ncols() {
                    c[[i, j]] += a[[i, l]] * b[[l, j]];
                }
            }
        }
        c
    }

    #[test]
    fn matches_naive_product_with_transposes_and_accumulation() {
        let mut rng = Rng::new(11);
        for &(m, k, n) in &[(1, 7, 5), (3, 1, 4), (17, 33, 9), (64, 20, 80)] {
            let a = random(m, k, &mut rng);
            let bt = random(n, k, &mut rng); // stored transposed
            let c0 = random(m, n, &mut rng);
            let expected = naive(&a.view(), &bt.t()) * 0.5 + &c0 * 2.0;
            let mut c = c0.clone();
            matmul(2.0, &mut c.view_mut(), 0.5, &a.view(), &bt.t());
            let err = (&c - &expected)
                .mapv(f64::abs)
                .fold(0.0f64, |x, &y| x.max(y));
            assert!(err < 1e-12 * k as f64, "({m},{k},{n}): {err}");
            // alpha = 0 ignores NaN in c.
            let mut c = Array2::from_elem((m, n), f64::NAN);
            matmul(0.0, &mut c.view_mut(), 1.0, &a.view(), &bt.t());
            let err = (&c - &naive(&a.view(), &bt.t())).mapv(f64::abs).sum();
            assert!(err < 1e-10, "{err}");
        }
    }

    #[test]
    fn works_on_column_slices() {
        let mut rng = Rng::new(5);
        let a = random(6, 10, &mut rng);
        let b = random(4, 3, &mut rng);
        let sub = a.slice(ndarray::s![.., 3..7]);
        let mut c = Array2::zeros((6, 3));
        matmul(0.0, &mut c.view_mut(), 1.0, &sub, &b.view());
        let err = (&c - &naive(&sub, &b.view())).mapv(f64::abs).sum();
        assert!(err < 1e-12);
    }
}
