//! Seeded audio augmentation and resampling, done in hark so that training can also
//! augment on the fly: gain, additive noise at a given SNR, band limiting
//! (telephone channel), synthetic room reverberation and speed perturbation.
//!
//! Samples are f32 in [-1, 1].

use realfft::RealFftPlanner;

use crate::error::{Error, Result};
use crate::rng::Rng;

/// Resamples `x` from `from_hz` to `to_hz` with a Hann-windowed sinc (16 zero
/// crossings each side), low-passed at 0.95 × the lower Nyquist frequency.
/// Output length is `round(len × to / from)`.
pub fn resample(x: &[f32], from_hz: f64, to_hz: f64) -> Vec<f32> {
    if (from_hz - to_hz).abs() < 1e-9 || x.is_empty() {
        return x.to_vec();
    }
    const ZEROS: f64 = 16.0;
    let ratio = to_hz / from_hz;
    // Cutoff relative to the input rate (cycles per input sample).
    let cutoff = 0.5 * ratio.min(1.0) * 0.95;
    let half_width = ZEROS / (2.0 * cutoff);
    let kernel = |d: f64| -> f64 {
        if d.abs() >= half_width {
            return 0.0;
        }
        let arg = 2.0 * cutoff * d;
        let sinc = if arg.abs() < 1e-12 {
            1.0
        } else {
            (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
        };
        let w = 0.5 + 0.5 * (std::f64::consts::PI * d / half_width).cos();
        2.0 * cutoff * sinc * w
    };
    let n_out = (x.len() as f64 * ratio).round() as usize;
    // Output j sits at input position t = j * from / to = n + frac. With integer
    // rates from = M g, to = L g, frac takes only the L values p / L, so one filter
    // per phase p (a polyphase bank) serves every output. Other ratios (speed
    // perturbation) quantise frac to 1/PHASES, an error below 1e-4 of the kernel.
    const PHASES: usize = 1024;
    let (m, l) = match (from_hz.fract() == 0.0, to_hz.fract() == 0.0) {
        (true, true) => {
            let (a, b) = (from_hz as u64, to_hz as u64);
            let g = gcd(a, b);
            (a / g, b / g)
        }
        _ => (0, 0),
    };
    let exact = l > 0 && l as usize <= 4 * PHASES;
    let num_phases = if exact { l as usize } else { PHASES };
    let k_half = half_width.ceil() as isize + 1;
    let taps = (2 * k_half + 1) as usize;
    let mut bank = vec![0.0f32; num_phases * taps];
    for p in 0..num_phases {
        let frac = p as f64 / num_phases as f64;
        for k in -k_half..=k_half {
            bank[p * taps + (k + k_half) as usize] = kernel(k as f64 - frac) as f32;
        }
    }
    let mut y = Vec::with_capacity(n_out);
    for j in 0..n_out {
        let (n, p) = if exact {
            let jm = j as u64 * m;
            ((jm / l) as isize, (jm % l) as usize)
        } else {
            let t = j as f64 / ratio;
            let n = t.floor();
            let p = (((t - n) * PHASES as f64).round() as usize).min(PHASES);
            if p == PHASES {
                (n as isize + 1, 0)
            } else {
                (n as isize, p)
            }
        };
        let lo = (n - k_half).max(0);
        let hi = (n + k_half).min(x.len() as isize - 1);
        if lo > hi {
            y.push(0.0);
            continue;
        }
        let h = &bank[p * taps + (lo - (n - k_half)) as usize..][..(hi - lo + 1) as usize];
        let xs = &x[lo as usize..=hi as usize];
        let acc: f32 = xs.iter().zip(h).map(|(a, b)| a * b).sum();
        y.push(acc);
    }
    y
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Speed perturbation as Kaldi's `sox speed`: tempo and pitch both scale by
/// `factor` (> 1 is faster and shorter). Times in an alignment scale by `1/factor`.
pub fn speed(x: &[f32], factor: f64) -> Vec<f32> {
    resample(x, factor, 1.0)
}

/// Multiplies by `10^(db/20)`.
pub fn gain(x: &mut [f32], db: f64) {
    let g = 10f64.powf(db / 20.0) as f32;
    x.iter_mut().for_each(|v| *v *= g);
}

/// Scales down so that the peak is at most `peak` (no change when already below).
pub fn limit_peak(x: &mut [f32], peak: f32) {
    let m = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if m > peak {
        let g = peak / m;
        x.iter_mut().for_each(|v| *v *= g);
    }
}

/// Mean power of `x` (f64 accumulator).
pub fn power(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64
}

/// Colour of additive noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseColor {
    /// Flat spectrum.
    White,
    /// −3 dB/octave (Paul Kellet's filter).
    Pink,
    /// −6 dB/octave (leaky integrated white noise).
    Brown,
}

/// Adds noise so that signal power / noise power = `snr_db`. The signal power is
/// measured over samples above −50 dB of the peak, so leading and trailing
/// silence does not lower it.
pub fn add_noise(x: &mut [f32], snr_db: f64, color: NoiseColor, rng: &mut Rng) {
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak == 0.0 {
        return;
    }
    let floor = peak * 10f32.powf(-50.0 / 20.0);
    let active: Vec<f32> = x.iter().copied().filter(|v| v.abs() > floor).collect();
    let sig = power(&active);
    let mut noise: Vec<f32> = Vec::with_capacity(x.len());
    let (mut b0, mut b1, mut b2, mut br) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for _ in 0..x.len() {
        let w = rng.normal();
        let v = match color {
            NoiseColor::White => w,
            NoiseColor::Pink => {
                b0 = 0.99765 * b0 + w * 0.0990460;
                b1 = 0.96300 * b1 + w * 0.2965164;
                b2 = 0.57000 * b2 + w * 1.0526913;
                b0 + b1 + b2 + w * 0.1848
            }
            NoiseColor::Brown => {
                br = 0.995 * br + w * 0.1;
                br
            }
        };
        noise.push(v as f32);
    }
    let np = power(&noise);
    if np == 0.0 {
        return;
    }
    let scale = (sig / np / 10f64.powf(snr_db / 10.0)).sqrt() as f32;
    for (v, n) in x.iter_mut().zip(noise) {
        *v += n * scale;
    }
}

/// A second-order (biquad) filter section, RBJ cookbook coefficients.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    fn lowpass(fc: f64, sr: f64) -> Self {
        let w = 2.0 * std::f64::consts::PI * fc / sr;
        let alpha = w.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let c = w.cos();
        let a0 = 1.0 + alpha;
        Biquad {
            b: [(1.0 - c) / 2.0 / a0, (1.0 - c) / a0, (1.0 - c) / 2.0 / a0],
            a: [-2.0 * c / a0, (1.0 - alpha) / a0],
        }
    }

    fn highpass(fc: f64, sr: f64) -> Self {
        let w = 2.0 * std::f64::consts::PI * fc / sr;
        let alpha = w.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let c = w.cos();
        let a0 = 1.0 + alpha;
        Biquad {
            b: [(1.0 + c) / 2.0 / a0, -(1.0 + c) / a0, (1.0 + c) / 2.0 / a0],
            a: [-2.0 * c / a0, (1.0 - alpha) / a0],
        }
    }

    fn run(&self, x: &mut [f32]) {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0f64, 0.0, 0.0, 0.0);
        for v in x.iter_mut() {
            let x0 = *v as f64;
            let y0 =
                self.b[0] * x0 + self.b[1] * x1 + self.b[2] * x2 - self.a[0] * y1 - self.a[1] * y2;
            x2 = x1;
            x1 = x0;
            y2 = y1;
            y1 = y0;
            *v = y0 as f32;
        }
    }
}

/// Band-limits to `[low_hz, high_hz]` with two cascaded Butterworth biquads at each
/// edge (24 dB/octave); `low_hz = 300, high_hz = 3400` is a telephone channel.
pub fn band_limit(x: &mut [f32], low_hz: f64, high_hz: f64, sample_rate: f64) {
    if low_hz > 0.0 {
        let hp = Biquad::highpass(low_hz, sample_rate);
        hp.run(x);
        hp.run(x);
    }
    if high_hz < sample_rate / 2.0 {
        let lp = Biquad::lowpass(high_hz, sample_rate);
        lp.run(x);
        lp.run(x);
    }
}

/// A synthetic room impulse response: a direct path, then exponentially decaying
/// Gaussian noise reaching −60 dB after `rt60_secs`, with `wet` the energy ratio of
/// the tail to the direct path.
pub fn room_impulse(rt60_secs: f64, wet: f64, sample_rate: f64, rng: &mut Rng) -> Vec<f32> {
    let n = ((rt60_secs * sample_rate) as usize).max(2);
    let mut h = vec![0.0f32; n];
    h[0] = 1.0;
    let decay = (-3.0 * std::f64::consts::LN_10 / (rt60_secs * sample_rate)).exp();
    let mut env = 1.0f64;
    let mut tail = vec![0.0f64; n];
    for t in tail.iter_mut().skip(1) {
        env *= decay;
        *t = rng.normal() * env;
    }
    let e: f64 = tail.iter().map(|v| v * v).sum();
    let s = if e > 0.0 { (wet / e).sqrt() } else { 0.0 };
    for (hv, t) in h.iter_mut().zip(&tail).skip(1) {
        *hv = (t * s) as f32;
    }
    h
}

/// Convolves `x` with `h` (FFT, output truncated to `x.len()`).
pub fn convolve(x: &[f32], h: &[f32]) -> Result<Vec<f32>> {
    if x.is_empty() || h.is_empty() {
        return Ok(x.to_vec());
    }
    let n = (x.len() + h.len() - 1).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let mut a = vec![0.0f32; n];
    a[..x.len()].copy_from_slice(x);
    let mut b = vec![0.0f32; n];
    b[..h.len()].copy_from_slice(h);
    let mut fa = fwd.make_output_vec();
    let mut fb = fwd.make_output_vec();
    let err = |e: realfft::FftError| Error::Invalid(format!("fft convolution: {e}"));
    fwd.process(&mut a, &mut fa).map_err(err)?;
    fwd.process(&mut b, &mut fb).map_err(err)?;
    for (p, q) in fa.iter_mut().zip(&fb) {
        *p *= *q;
    }
    let mut y = inv.make_output_vec();
    inv.process(&mut fa, &mut y).map_err(err)?;
    let scale = 1.0 / n as f32;
    Ok(y[..x.len()].iter().map(|v| v * scale).collect())
}

/// One drawn set of channel effects (recorded in the corpus metadata).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Channel {
    /// Speed factor (tempo and pitch); 1 = unchanged.
    pub speed: f64,
    /// Reverberation `(rt60_secs, wet)`, if any.
    pub reverb: Option<(f64, f64)>,
    /// Band limits `(low_hz, high_hz)`, if any.
    pub band: Option<(f64, f64)>,
    /// Additive noise `(snr_db, colour)`, if any.
    pub noise: Option<(f64, NoiseColor)>,
    /// Final gain in dB (before peak limiting to 0.98).
    pub gain_db: f64,
}

/// Probabilities and ranges of the channel effects.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// Probability of speed perturbation, and its range.
    pub speed_prob: f64,
    /// Speed factor range.
    pub speed_range: (f64, f64),
    /// Probability of reverberation.
    pub reverb_prob: f64,
    /// RT60 range in seconds.
    pub rt60_range: (f64, f64),
    /// Probability of band limiting (half of these are telephone-band).
    pub band_prob: f64,
    /// Probability of additive noise.
    pub noise_prob: f64,
    /// SNR range in dB.
    pub snr_range: (f64, f64),
    /// SNR range (dB) of the faint white noise floor added when no other noise is
    /// drawn, so that pauses are never digital silence (whose log energies real
    /// recordings never show); `None` for none.
    pub floor_snr_range: Option<(f64, f64)>,
    /// Gain range in dB.
    pub gain_range: (f64, f64),
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            speed_prob: 0.3,
            speed_range: (0.9, 1.1),
            reverb_prob: 0.2,
            rt60_range: (0.15, 0.6),
            band_prob: 0.2,
            noise_prob: 0.5,
            snr_range: (5.0, 30.0),
            floor_snr_range: Some((45.0, 65.0)),
            gain_range: (-18.0, 0.0),
        }
    }
}

impl ChannelConfig {
    /// Draws one channel.
    pub fn draw(&self, rng: &mut Rng) -> Channel {
        let speed = if rng.uniform() < self.speed_prob {
            rng.uniform_range(self.speed_range.0, self.speed_range.1)
        } else {
            1.0
        };
        let reverb = (rng.uniform() < self.reverb_prob).then(|| {
            (
                rng.uniform_range(self.rt60_range.0, self.rt60_range.1),
                rng.uniform_range(0.1, 0.6),
            )
        });
        let band = (rng.uniform() < self.band_prob).then(|| {
            if rng.uniform() < 0.5 {
                (300.0, 3400.0)
            } else {
                (
                    rng.uniform_range(50.0, 200.0),
                    rng.uniform_range(4000.0, 7000.0),
                )
            }
        });
        let noise = if rng.uniform() < self.noise_prob {
            let c = match rng.below(3) {
                0 => NoiseColor::White,
                1 => NoiseColor::Pink,
                _ => NoiseColor::Brown,
            };
            Some((rng.uniform_range(self.snr_range.0, self.snr_range.1), c))
        } else {
            self.floor_snr_range
                .map(|(lo, hi)| (rng.uniform_range(lo, hi), NoiseColor::White))
        };
        let gain_db = rng.uniform_range(self.gain_range.0, self.gain_range.1);
        Channel {
            speed,
            reverb,
            band,
            noise,
            gain_db,
        }
    }
}

impl Channel {
    /// The identity channel.
    pub fn clean() -> Self {
        Channel {
            speed: 1.0,
            reverb: None,
            band: None,
            noise: None,
            gain_db: 0.0,
        }
    }

    /// Applies the channel to 16 kHz (or `sample_rate`) audio. `rng` draws the
    /// impulse response and the noise.
    pub fn apply(&self, x: &[f32], sample_rate: f64, rng: &mut Rng) -> Result<Vec<f32>> {
        let mut y = if (self.speed - 1.0).abs() > 1e-9 {
            speed(x, self.speed)
        } else {
            x.to_vec()
        };
        if let Some((rt60, wet)) = self.reverb {
            let h = room_impulse(rt60, wet, sample_rate, rng);
            y = convolve(&y, &h)?;
        }
        if let Some((lo, hi)) = self.band {
            band_limit(&mut y, lo, hi, sample_rate);
        }
        // Normalise the level before noise so the SNR is independent of engine gain.
        limit_peak(&mut y, 0.9);
        if let Some((snr, color)) = self.noise {
            add_noise(&mut y, snr, color, rng);
        }
        gain(&mut y, self.gain_db);
        limit_peak(&mut y, 0.98);
        if y.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                op: "channel augmentation".into(),
            });
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(f: f64, sr: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / sr).sin() as f32 * 0.5)
            .collect()
    }

    #[test]
    fn resample_keeps_a_passband_sine() {
        // 1 kHz at 22.05 kHz -> 16 kHz must equal 1 kHz generated at 16 kHz
        // (away from the edges where the kernel is truncated).
        let x = sine(1000.0, 22050.0, 22050);
        let y = resample(&x, 22050.0, 16000.0);
        assert_eq!(y.len(), 16000);
        let want = sine(1000.0, 16000.0, 16000);
        let err = y[200..15800]
            .iter()
            .zip(&want[200..15800])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 5e-3, "max error {err}");
    }

    #[test]
    fn resample_removes_content_above_new_nyquist() {
        // 10 kHz is above 8 kHz: after 32 kHz -> 16 kHz only filter leakage remains.
        let x = sine(10000.0, 32000.0, 32000);
        let y = resample(&x, 32000.0, 16000.0);
        let p = power(&y[500..15500]);
        assert!(p < 1e-5 * power(&x), "leak {p}");
    }

    #[test]
    fn polyphase_and_quantised_phases_agree() {
        // 22050 -> 16000 uses the exact 320-phase bank; nudging the input rate off
        // an integer takes the 1024-phase quantised path. The two differ only by
        // the phase quantisation (< 1/2048 sample) and the 1e-9 rate change.
        let mut rng = Rng::new(11);
        let x: Vec<f32> = (0..4000).map(|_| rng.normal() as f32 * 0.1).collect();
        let a = resample(&x, 22050.0, 16000.0);
        let b = resample(&x, 22050.0 + 1e-9, 16000.0);
        assert_eq!(a.len(), b.len());
        let err = a
            .iter()
            .zip(&b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 2e-3, "max difference {err}");
    }

    #[test]
    fn speed_changes_length() {
        let x = sine(440.0, 16000.0, 16000);
        assert_eq!(speed(&x, 1.1).len(), (16000.0f64 / 1.1).round() as usize);
        assert_eq!(speed(&x, 0.9).len(), (16000.0f64 / 0.9).round() as usize);
    }

    #[test]
    fn noise_hits_the_requested_snr() {
        let x = sine(300.0, 16000.0, 32000);
        for (snr, c) in [
            (5.0, NoiseColor::White),
            (20.0, NoiseColor::Pink),
            (10.0, NoiseColor::Brown),
        ] {
            let mut y = x.clone();
            add_noise(&mut y, snr, c, &mut Rng::new(1));
            let n: Vec<f32> = y.iter().zip(&x).map(|(a, b)| a - b).collect();
            let got = 10.0 * (power(&x) / power(&n)).log10();
            // Exact by construction up to the active-sample selection (a sine has
            // few samples below -50 dB of its peak).
            assert!((got - snr).abs() < 0.1, "{c:?}: {got} vs {snr}");
        }
    }

    #[test]
    fn telephone_band_attenuates_outside() {
        let sr = 16000.0;
        let mut lo = sine(80.0, sr, 16000);
        let mut mid = sine(1000.0, sr, 16000);
        let mut hi = sine(6500.0, sr, 16000);
        for x in [&mut lo, &mut mid, &mut hi] {
            band_limit(x, 300.0, 3400.0, sr);
        }
        let db = |x: &[f32]| 10.0 * (power(&x[4000..]) / 0.125).log10();
        assert!(db(&mid) > -1.0, "mid {}", db(&mid));
        assert!(db(&lo) < -35.0, "low {}", db(&lo));
        assert!(db(&hi) < -25.0, "high {}", db(&hi));
    }

    #[test]
    fn fft_convolution_matches_direct() {
        let mut rng = Rng::new(5);
        let x: Vec<f32> = (0..300).map(|_| rng.normal() as f32).collect();
        let h: Vec<f32> = (0..37).map(|_| rng.normal() as f32).collect();
        let y = convolve(&x, &h).unwrap();
        for n in 0..x.len() {
            let mut d = 0.0f64;
            for k in 0..h.len().min(n + 1) {
                d += x[n - k] as f64 * h[k] as f64;
            }
            assert!((y[n] as f64 - d).abs() < 1e-3, "n={n}");
        }
    }

    #[test]
    fn channel_is_seeded_and_bounded() {
        let cfg = ChannelConfig::default();
        let x = sine(500.0, 16000.0, 8000);
        for s in 0..20 {
            let c = cfg.draw(&mut Rng::new(s));
            assert_eq!(c, cfg.draw(&mut Rng::new(s)));
            assert!(c.noise.is_some(), "always at least a noise floor");
            let a = c.apply(&x, 16000.0, &mut Rng::new(s)).unwrap();
            let b = c.apply(&x, 16000.0, &mut Rng::new(s)).unwrap();
            assert_eq!(a, b);
            assert!(a.iter().all(|v| v.abs() <= 0.98 + 1e-6));
        }
    }
}
