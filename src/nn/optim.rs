//! Adam with warm-up and learning-rate decay, and gradient clipping.

use crate::error::{Error, Result};
use crate::nn::params::VisitMut;
use crate::nn::{Float, Params};

/// Gradient clipping, applied to the whole gradient before the update (cf. burn's
/// `GradientClippingConfig`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum GradClip {
    /// Rescale all gradients together when their global L2 norm exceeds this value
    /// (Pascanu et al.'s remedy for the cliffs of the RNN error surface). Smaller →
    /// safer steps, slower progress.
    Norm(f64),
    /// Clamp every gradient element to `[-v, v]`.
    Value(f64),
}

impl GradClip {
    /// Clips `grads` in place. Returns the global L2 norm before clipping (f64
    /// accumulation) and whether anything was changed.
    pub fn apply<T: Float>(&self, grads: &mut dyn ParamsDyn<T>) -> (f64, bool) {
        let norm = grads.dyn_l2_norm();
        match *self {
            GradClip::Norm(max) => {
                if norm > max {
                    let k = T::from_f64(max / (norm + 1e-12));
                    grads.dyn_visit_mut(&mut |_, _, v| v.iter_mut().for_each(|x| *x *= k));
                    (norm, true)
                } else {
                    (norm, false)
                }
            }
            GradClip::Value(max) => {
                let (lo, hi) = (T::from_f64(-max), T::from_f64(max));
                let mut changed = false;
                grads.dyn_visit_mut(&mut |_, _, v| {
                    for x in v.iter_mut() {
                        let c = x.max(lo).min(hi);
                        changed |= c != *x;
                        *x = c;
                    }
                });
                (norm, changed)
            }
        }
    }
}

/// Object-safe access to parameters (so clipping works on any network).
pub trait ParamsDyn<T: Float> {
    /// See [`Params::visit_mut`].
    fn dyn_visit_mut(&mut self, f: &mut VisitMut<'_, T>);
    /// See [`Params::l2_norm`].
    fn dyn_l2_norm(&self) -> f64;
}

impl<T: Float, P: Params<T>> ParamsDyn<T> for P {
    fn dyn_visit_mut(&mut self, f: &mut VisitMut<'_, T>) {
        self.visit_mut(f)
    }
    fn dyn_l2_norm(&self) -> f64 {
        self.l2_norm()
    }
}

/// Adam settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    /// Peak learning rate (after warm-up, before decay). Larger → faster, less stable.
    pub learning_rate: f64,
    /// Decay of the first-moment estimate.
    pub beta1: f64,
    /// Decay of the second-moment estimate.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub epsilon: f64,
    /// Linear warm-up from 0 to `learning_rate` over this many steps.
    pub warmup_steps: u64,
    /// Optional clipping before each update.
    pub grad_clipping: Option<GradClip>,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            warmup_steps: 0,
            grad_clipping: Some(GradClip::Norm(5.0)),
        }
    }
}

impl AdamConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let ok = self.learning_rate > 0.0
            && (0.0..1.0).contains(&self.beta1)
            && (0.0..1.0).contains(&self.beta2)
            && self.epsilon > 0.0;
        let clip_ok = match self.grad_clipping {
            Some(GradClip::Norm(v)) | Some(GradClip::Value(v)) => v > 0.0,
            None => true,
        };
        if !ok || !clip_ok {
            return Err(Error::Config(format!("invalid Adam settings: {self:?}")));
        }
        Ok(())
    }

    /// A fresh optimiser for parameters laid out like `params`.
    pub fn init<T: Float>(&self, params: &impl Params<T>) -> Result<Adam<T>> {
        self.validate()?;
        let mut m = Vec::new();
        params.visit(&mut |_, _, v| m.push(vec![T::zero(); v.len()]));
        Ok(Adam {
            config: *self,
            v: m.clone(),
            m,
            step: 0,
            lr_scale: 1.0,
        })
    }
}

/// What one update did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Whether clipping changed the gradient.
    pub clipped: bool,
    /// Learning rate used.
    pub learning_rate: f64,
}

/// Adam optimiser state (Kingma & Ba 2015, with bias correction).
#[derive(Debug, Clone, PartialEq)]
pub struct Adam<T> {
    /// Settings.
    pub config: AdamConfig,
    /// First moments, one vector per parameter tensor in visiting order.
    pub m: Vec<Vec<T>>,
    /// Second moments.
    pub v: Vec<Vec<T>>,
    /// Updates done so far.
    pub step: u64,
    /// Multiplier on the learning rate from decay (1 at the start).
    pub lr_scale: f64,
}

impl<T: Float> Adam<T> {
    /// Learning rate for the next step: warm-up ramp × decay scale × peak.
    pub fn learning_rate(&self) -> f64 {
        let warm = if self.config.warmup_steps > 0 {
            ((self.step + 1) as f64 / self.config.warmup_steps as f64).min(1.0)
        } else {
            1.0
        };
        self.config.learning_rate * warm * self.lr_scale
    }

    /// Multiplies the learning rate by `factor` from now on (e.g. 0.5 when the dev
    /// error stops improving).
    pub fn decay(&mut self, factor: f64) {
        self.lr_scale *= factor;
    }

    /// Clips `grads` (if configured) and updates `params`.
    ///
    /// # Panics
    /// When `params` has another layout than the one the optimiser was made for.
    pub fn step<P: Params<T>>(&mut self, params: &mut P, grads: &mut P) -> StepStats {
        let (grad_norm, clipped) = match self.config.grad_clipping {
            Some(clip) => clip.apply(grads),
            None => (grads.l2_norm(), false),
        };
        let lr = self.learning_rate();
        self.step += 1;
        let c = &self.config;
        let bc1 = 1.0 - c.beta1.powi(self.step as i32);
        let bc2 = 1.0 - c.beta2.powi(self.step as i32);
        let step_size = T::from_f64(lr / bc1);
        let (b1, b2) = (T::from_f64(c.beta1), T::from_f64(c.beta2));
        let (one, eps) = (T::one(), T::from_f64(c.epsilon));
        let inv_bc2 = T::from_f64(1.0 / bc2);
        let mut g_all: Vec<Vec<T>> = Vec::new();
        grads.visit(&mut |_, _, g| g_all.push(g.to_vec()));
        let mut i = 0;
        let (m_all, v_all) = (&mut self.m, &mut self.v);
        params.visit_mut(&mut |name, _, p| {
            let (g, m, v) = (&g_all[i], &mut m_all[i], &mut v_all[i]);
            assert_eq!(g.len(), p.len(), "Adam: layout of {name}");
            for j in 0..p.len() {
                m[j] = b1 * m[j] + (one - b1) * g[j];
                v[j] = b2 * v[j] + (one - b2) * g[j] * g[j];
                p[j] -= step_size * m[j] / ((v[j] * inv_bc2).sqrt() + eps);
            }
            i += 1;
        });
        StepStats {
            grad_norm,
            clipped,
            learning_rate: lr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Linear;
    use crate::rng::Rng;

    #[test]
    fn first_adam_step_moves_each_weight_by_the_learning_rate() {
        // With bias correction, step 1 moves every parameter by lr·g/(|g|+eps) ≈ lr·sign(g).
        let mut rng = Rng::new(1);
        let mut lin = Linear::<f64>::new(3, 2, &mut rng);
        let before = lin.clone();
        let mut g = lin.zeros_like();
        g.weight.fill(0.3);
        g.bias.fill(-2.0);
        let cfg = AdamConfig {
            learning_rate: 0.01,
            grad_clipping: None,
            ..Default::default()
        };
        let mut adam = cfg.init(&lin).unwrap();
        adam.step(&mut lin, &mut g);
        let dw = &before.weight - &lin.weight;
        let db = &before.bias - &lin.bias;
        assert!(dw.iter().all(|&d| (d - 0.01).abs() < 1e-8));
        assert!(db.iter().all(|&d| (d + 0.01).abs() < 1e-8));
    }

    #[test]
    fn adam_minimises_a_quadratic() {
        let mut rng = Rng::new(2);
        let mut lin = Linear::<f64>::new(4, 1, &mut rng);
        let cfg = AdamConfig {
            learning_rate: 0.05,
            warmup_steps: 10,
            ..Default::default()
        };
        let mut adam = cfg.init(&lin).unwrap();
        for _ in 0..2000 {
            // L = Σ (p - 1)², dL/dp = 2(p - 1).
            let mut g = lin.clone();
            g.visit_mut(&mut |_, _, v| v.iter_mut().for_each(|x| *x = 2.0 * (*x - 1.0)));
            adam.step(&mut lin, &mut g);
        }
        lin.visit(&mut |_, _, v| assert!(v.iter().all(|x| (x - 1.0).abs() < 1e-3), "{v:?}"));
    }

    #[test]
    fn warmup_ramps_and_decay_scales_the_rate() {
        let lin = Linear::<f32>::new(2, 2, &mut Rng::new(0));
        let cfg = AdamConfig {
            learning_rate: 1.0,
            warmup_steps: 4,
            ..Default::default()
        };
        let mut adam = cfg.init(&lin).unwrap();
        assert_eq!(adam.learning_rate(), 0.25);
        adam.step = 10;
        assert_eq!(adam.learning_rate(), 1.0);
        adam.decay(0.5);
        assert_eq!(adam.learning_rate(), 0.5);
    }

    #[test]
    fn norm_clipping_rescales_to_the_threshold_and_value_clipping_clamps() {
        let mut lin = Linear::<f32>::new(2, 2, &mut Rng::new(0));
        lin.weight.fill(3.0);
        lin.bias.fill(4.0);
        // norm = sqrt(4·9 + 2·16) = sqrt(68)
        let (norm, clipped) = GradClip::Norm(1.0).apply(&mut lin);
        assert!((norm - 68f64.sqrt()).abs() < 1e-5);
        assert!(clipped);
        assert!((lin.l2_norm() - 1.0).abs() < 1e-5);
        let (_, clipped) = GradClip::Norm(10.0).apply(&mut lin);
        assert!(!clipped);
        lin.weight.fill(-3.0);
        GradClip::Value(0.5).apply(&mut lin);
        assert!(lin.weight.iter().all(|&w| w == -0.5));
        assert!(
            AdamConfig {
                grad_clipping: Some(GradClip::Norm(-1.0)),
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
