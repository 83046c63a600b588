//! Finite-difference gradient checks in f64 (tests only).
//!
//! Central differences with step 1e-5 have truncation error ~1e-10·|f'''| and
//! rounding error ~1e-11 for losses of order one, so an analytic gradient that
//! agrees to 1e-6 (relative to max(1, |g|)) is right; a wrong term is off by O(1).

use ndarray::Array2;

use crate::nn::Params;

const EPS: f64 = 1e-5;

/// Compares every parameter gradient in `grads` (same layout as `model`) against
/// central differences of `loss`. Large tensors are checked at up to 40 spread
/// positions each.
pub fn check_param_grads<P: Params<f64> + Clone>(
    model: &P,
    grads: &P,
    loss: impl Fn(&P) -> f64,
    tol: f64,
) {
    let mut analytic: Vec<(String, Vec<f64>)> = Vec::new();
    grads.visit(&mut |name, _, v| analytic.push((name.to_string(), v.to_vec())));
    let mut checked = 0;
    for (ti, (name, g)) in analytic.iter().enumerate() {
        let n = g.len();
        let step = (n / 40).max(1);
        for i in (0..n).step_by(step) {
            let perturbed = |delta: f64| {
                let mut m = model.clone();
                let mut k = 0;
                m.visit_mut(&mut |_, _, v| {
                    if k == ti {
                        v[i] += delta;
                    }
                    k += 1;
                });
                loss(&m)
            };
            let numeric = (perturbed(EPS) - perturbed(-EPS)) / (2.0 * EPS);
            let err = (numeric - g[i]).abs() / 1f64.max(numeric.abs()).max(g[i].abs());
            assert!(
                err < tol,
                "gradient of {name}[{i}]: analytic {} vs numeric {numeric} (rel err {err:e})",
                g[i]
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no parameters checked");
}

/// Compares the input gradient `dx` against central differences of `loss(x)`.
pub fn check_input_grad(
    x: &Array2<f64>,
    dx: &Array2<f64>,
    loss: impl Fn(&Array2<f64>) -> f64,
    tol: f64,
) {
    assert_eq!(x.dim(), dx.dim(), "input gradient shape");
    let step = (x.len() / 60).max(1);
    for (i, (&g, idx)) in dx.iter().zip(x.indexed_iter().map(|(i, _)| i)).enumerate() {
        if i % step != 0 {
            continue;
        }
        let mut xp = x.clone();
        xp[idx] += EPS;
        let mut xm = x.clone();
        xm[idx] -= EPS;
        let numeric = (loss(&xp) - loss(&xm)) / (2.0 * EPS);
        let err = (numeric - g).abs() / 1f64.max(numeric.abs()).max(g.abs());
        assert!(
            err < tol,
            "input gradient at {idx:?}: analytic {g} vs numeric {numeric} (rel err {err:e})"
        );
    }
}
