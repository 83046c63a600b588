//! Streaming feature extraction that gives exactly the batch result.
//!
//! Audio arrives in chunks of any size. A frame is computed as soon as all of its
//! samples have arrived (Kaldi `OnlineGenericBaseFeature`). Without `snip_edges`
//! the last frames reflect the signal at its end, so they wait for
//! [`OnlineFeatures::input_finished`]. Samples no frame can need any more are
//! dropped, so memory stays bounded by the frames kept, not the audio.
//!
//! Dither, when on, draws from one stream in frame order, exactly as the batch
//! extractor does, so streaming equals batch with dither too.

use ndarray::Array2;

use super::FeatureExtractor;
use super::window::{FrameConfig, FrameProcessor};
use crate::error::{Error, Result};

/// Streaming wrapper around any [`FeatureExtractor`].
///
/// Protocol: call [`accept_waveform`](Self::accept_waveform) with each chunk, then
/// [`input_finished`](Self::input_finished) once. Frames `0 .. num_frames_ready()`
/// can be read with [`frame`](Self::frame) (until taken) or removed with
/// [`take_frames`](Self::take_frames).
#[derive(Debug, Clone)]
pub struct OnlineFeatures<F: FeatureExtractor> {
    extractor: F,
    processor: FrameProcessor,
    /// Buffered samples; `samples[0]` is signal sample `offset`.
    samples: Vec<f32>,
    offset: u64,
    /// Computed frames not yet taken, row-major `[.., dim]`; row 0 is frame `first_kept`.
    frames: Vec<f32>,
    first_kept: usize,
    num_ready: usize,
    finished: bool,
    window: Vec<f64>,
}

impl<F: FeatureExtractor> OnlineFeatures<F> {
    /// A streaming extractor (validates the frame configuration).
    pub fn new(extractor: F) -> Result<Self> {
        let config = extractor.frame_config().clone();
        config.validate()?;
        Ok(OnlineFeatures {
            processor: FrameProcessor::new(&config),
            window: vec![0.0; config.padded_window_size()],
            extractor,
            samples: Vec::new(),
            offset: 0,
            frames: Vec::new(),
            first_kept: 0,
            num_ready: 0,
            finished: false,
        })
    }

    /// Feature dimension.
    pub fn dim(&self) -> usize {
        self.extractor.dim()
    }

    /// The framing configuration.
    pub fn frame_config(&self) -> &FrameConfig {
        self.processor.config()
    }

    /// Appends samples in `[-1, 1)` at `sample_rate` Hz and computes every frame they complete.
    pub fn accept_waveform(&mut self, sample_rate: u32, chunk: &[f32]) -> Result<()> {
        if self.finished {
            return Err(Error::Invalid(
                "accept_waveform called after input_finished".into(),
            ));
        }
        super::check_rate(self.frame_config(), sample_rate)?;
        if let Some(i) = chunk.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite {
                op: format!(
                    "online features input sample {}",
                    self.received() + i as u64
                ),
            });
        }
        self.samples.extend_from_slice(chunk);
        self.compute_ready(false)
    }

    /// Declares the end of the input; computes the frames that waited for it.
    pub fn input_finished(&mut self) -> Result<()> {
        if !self.finished {
            self.finished = true;
            self.compute_ready(true)?;
        }
        Ok(())
    }

    /// Whether [`input_finished`](Self::input_finished) has been called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Number of frames computed so far (taken or not).
    pub fn num_frames_ready(&self) -> usize {
        self.num_ready
    }

    /// Whether `frame` is the last frame of the utterance (only known once input is finished).
    pub fn is_last_frame(&self, frame: usize) -> bool {
        self.finished && frame + 1 == self.num_ready
    }

    /// Frame `t` (`[dim]`), if it is ready and not yet taken.
    pub fn frame(&self, t: usize) -> Option<&[f32]> {
        if t < self.first_kept || t >= self.num_ready {
            return None;
        }
        let d = self.dim();
        let i = t - self.first_kept;
        Some(&self.frames[i * d..(i + 1) * d])
    }

    /// Removes and returns the ready frames not taken before, `[frames, dim]`.
    pub fn take_frames(&mut self) -> Array2<f32> {
        let d = self.dim();
        let n = self.frames.len() / d;
        let data = std::mem::take(&mut self.frames);
        self.first_kept += n;
        Array2::from_shape_vec((n, d), data)
            .expect("invariant: frames holds whole rows of dim values")
    }

    fn received(&self) -> u64 {
        self.offset + self.samples.len() as u64
    }

    fn compute_ready(&mut self, flush: bool) -> Result<()> {
        let config = self.processor.config().clone();
        let total = self.received();
        let target = config.num_frames(total, flush) as usize;
        let size = config.window_size();
        let d = self.extractor.dim();
        while self.num_ready < target {
            let t = self.num_ready as u64;
            self.processor
                .extract(&self.samples, self.offset, total, t, &mut self.window)?;
            let e = self.processor.process(&mut self.window[..size]);
            self.window[size..].fill(0.0);
            let start = self.frames.len();
            self.frames.resize(start + d, 0.0);
            self.extractor
                .compute_frame(e, &mut self.window, &mut self.frames[start..]);
            self.num_ready += 1;
        }
        // Drop samples that no later frame can need. A later frame starts at or after
        // the next frame's first sample; reflection at the end reaches back at most one
        // frame length, so keep that much before it.
        let keep_from =
            (config.first_sample_of_frame(self.num_ready as u64) - size as i64).max(0) as u64;
        if keep_from > self.offset {
            let drop = ((keep_from - self.offset) as usize).min(self.samples.len());
            self.samples.drain(..drop);
            self.offset += drop as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Waveform;
    use crate::features::{FbankConfig, MfccConfig};
    use crate::rng::Rng;
    use proptest::prelude::*;

    const SEED: u64 = 17;

    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut r = Rng::new(seed);
        (0..n).map(|_| (0.3 * r.normal()) as f32).collect()
    }

    /// Streams `x` in the given chunk sizes (cycled), taking frames now and then.
    fn stream<F: FeatureExtractor>(ex: F, x: &[f32], chunks: &[usize]) -> Array2<f32> {
        let mut on = OnlineFeatures::new(ex).unwrap();
        let d = on.dim();
        let mut got: Vec<f32> = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        while pos < x.len() {
            let c = chunks[k % chunks.len()].max(1).min(x.len() - pos);
            on.accept_waveform(16_000, &x[pos..pos + c]).unwrap();
            pos += c;
            if k % 3 == 0 {
                got.extend(on.take_frames().iter());
            }
            k += 1;
        }
        on.input_finished().unwrap();
        got.extend(on.take_frames().iter());
        let n = got.len() / d;
        assert_eq!(n, on.num_frames_ready());
        Array2::from_shape_vec((n, d), got).unwrap()
    }

    fn batch<F: FeatureExtractor>(mut ex: F, x: &[f32]) -> Array2<f32> {
        ex.compute(&Waveform::new(x.to_vec(), 16_000)).unwrap()
    }

    fn fbank(snip_edges: bool, dither: f32) -> crate::features::Fbank {
        let mut c = FbankConfig::default();
        c.frame.snip_edges = snip_edges;
        c.frame.dither = dither;
        c.frame.dither_seed = SEED;
        c.init().unwrap()
    }

    #[test]
    fn streaming_equals_batch_smoke_one_sample_chunks() {
        let x = noise(2000, 1);
        let ex = fbank(true, 0.0);
        assert_eq!(stream(ex.clone(), &x, &[1]), batch(ex, &x));
    }

    #[test]
    fn streaming_equals_batch_smoke_no_snip_edges_frame_sized_chunks() {
        let x = noise(3210, 2);
        let ex = fbank(false, 0.0);
        assert_eq!(stream(ex.clone(), &x, &[400, 160]), batch(ex, &x));
    }

    #[test]
    fn streaming_equals_batch_smoke_mfcc_with_dither() {
        let x = noise(4000, 3);
        let mut c = MfccConfig::default();
        c.frame.dither = 1.0;
        c.frame.dither_seed = SEED;
        let ex = c.init().unwrap();
        assert_eq!(stream(ex.clone(), &x, &[37, 1000, 5]), batch(ex, &x));
    }

    #[test]
    fn streaming_equals_batch_smoke_shorter_than_a_frame() {
        let x = noise(100, 4);
        for snip in [true, false] {
            let ex = fbank(snip, 0.0);
            assert_eq!(stream(ex.clone(), &x, &[7]), batch(ex, &x));
        }
    }

    #[test]
    fn frames_are_readable_until_taken_and_rate_is_checked() {
        let x = noise(1000, 5);
        let mut on = OnlineFeatures::new(fbank(true, 0.0)).unwrap();
        on.accept_waveform(16_000, &x).unwrap();
        assert_eq!(on.num_frames_ready(), 4);
        assert!(on.frame(3).is_some() && on.frame(4).is_none());
        assert!(!on.is_last_frame(3));
        let taken = on.take_frames();
        assert_eq!(taken.nrows(), 4);
        assert!(on.frame(0).is_none());
        assert!(on.accept_waveform(8_000, &x).is_err());
        assert!(on.accept_waveform(16_000, &[f32::NAN]).is_err());
        on.input_finished().unwrap();
        assert!(on.is_last_frame(3));
        assert!(on.accept_waveform(16_000, &x).is_err());
    }

    #[test]
    fn buffered_audio_stays_bounded() {
        for snip in [true, false] {
            let mut on = OnlineFeatures::new(fbank(snip, 0.0)).unwrap();
            let x = noise(1000, 6);
            for _ in 0..100 {
                on.accept_waveform(16_000, &x).unwrap();
                let _ = on.take_frames();
                // at most one frame of look-back, one frame, and one chunk
                assert!(on.samples.len() <= 400 + 400 + 1000, "{}", on.samples.len());
            }
            assert!(on.frames.is_empty());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn streaming_equals_batch(
            len in 0usize..5000,
            chunks in proptest::collection::vec(1usize..900, 1..8),
            snip_edges: bool,
            dither in prop_oneof![Just(0.0f32), Just(1.0f32)],
            seed in 0u64..1000,
        ) {
            let x = noise(len, seed);
            let ex = fbank(snip_edges, dither);
            prop_assert_eq!(stream(ex.clone(), &x, &chunks), batch(ex, &x));
        }
    }
}
