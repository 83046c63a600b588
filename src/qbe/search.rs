//! Query → ranked hits: the auto-encoder embedding search and the subsequence-DTW
//! baseline, on the same front-end frames.
//!
//! ```text
//! recording ─front end─▶ frames ─windows (multi-scale, sliding)─▶ encoder ─▶ Index
//! query     ─front end─▶ frames ─────────────────────────────────▶ encoder ─▶ cosine kNN + NMS
//! query/recording frames ─subsequence DTW─▶ best-matching spans          (baseline)
//! ```

use std::path::Path;

use ndarray::{Array1, ArrayRef2, ArrayView2, s};

use crate::error::{Error, Result};
use crate::qbe::autoencoder::AutoEncoder;
use crate::qbe::dtw::{FrameDistance, subsequence_dtw};
use crate::qbe::frontend::Frontend;
use crate::qbe::index::{Hit, Index};

/// Default largest overlap (fraction of the shorter span) between two hits in one
/// file; more overlapping hits are suppressed as duplicates.
pub const DEFAULT_MAX_OVERLAP: f32 = 0.2;

/// Starts embedded per encoder pass (bounds memory on long recordings).
const STARTS_PER_PASS: usize = 256;

/// Candidate windows (`[start, end)` frames) and their vectors, row-major
/// `[windows, dim]`.
pub type WindowVectors = (Vec<(usize, usize)>, Vec<f32>);

/// The auto-encoder's encoder with its front end: audio or frames → vectors.
#[derive(Debug)]
pub struct Embedder {
    encoder: AutoEncoder<f32>,
    frontend: Frontend,
    identity: u64,
}

impl Embedder {
    /// Pairs an encoder with a front end; their dimensions must agree.
    pub fn new(encoder: AutoEncoder<f32>, frontend: Frontend) -> Result<Self> {
        if encoder.config().input_dim != frontend.dim() {
            return Err(Error::dim(
                "encoder input vs front-end frames",
                encoder.config().input_dim,
                frontend.dim(),
            ));
        }
        encoder.config().segments.validate()?;
        let identity = embedder_identity(&encoder, &frontend)?;
        Ok(Embedder {
            encoder,
            frontend,
            identity,
        })
    }

    /// A 64-bit hash of everything that decides the vectors: the encoder's
    /// configuration (sizes, front end, windows) and weights, and the acoustic model's
    /// weights for posteriorgram frames. An index records it, so vectors of different
    /// embedders are never mixed or compared. Never 0 (0 marks "unknown").
    pub fn identity(&self) -> u64 {
        self.identity
    }

    /// Fails unless `index` is empty, of unknown origin, or made by this embedder.
    pub fn check_index(&self, index: &Index) -> Result<()> {
        if index.dim() != self.dim() {
            return Err(Error::dim(
                "index vectors vs encoder",
                index.dim(),
                self.dim(),
            ));
        }
        let id = index.embedder_id();
        if !index.is_empty() && id != 0 && id != self.identity {
            return Err(Error::Config(format!(
                "the index was built with another encoder or acoustic model \
                 (embedder {id:016x}, this one is {:016x}); rebuild it with \
                 `hark index --reindex` or search with the encoder that built it",
                self.identity
            )));
        }
        Ok(())
    }

    /// Loads `encoder.safetensors`; its front end comes from its config, with the
    /// acoustic model of `bundle` when the frames are posteriors.
    pub fn load(encoder_path: &Path, bundle: Option<&Path>) -> Result<Self> {
        let encoder = AutoEncoder::load(encoder_path)?;
        let frontend = Frontend::new(encoder.config().frontend.clone(), bundle)?;
        Self::new(encoder, frontend).map_err(|e| Error::Model {
            path: encoder_path.to_path_buf(),
            msg: e.to_string(),
        })
    }

    /// The encoder.
    pub fn encoder(&self) -> &AutoEncoder<f32> {
        &self.encoder
    }

    /// The front end.
    pub fn frontend(&self) -> &Frontend {
        &self.frontend
    }

    /// Vector size.
    pub fn dim(&self) -> usize {
        self.encoder.config().embed_dim
    }

    /// The vector of a whole segment `[frames, dim]`.
    pub fn embed(&self, frames: &ArrayRef2<f32>) -> Result<Array1<f32>> {
        let e = self.encoder.embed_batch(&[frames.view()])?;
        Ok(e.row(0).to_owned())
    }

    /// The vector of a spoken query: the mean of the unit vectors of the query and of
    /// the query less one frame at its start, at its end, and at both (when at least
    /// 4 frames remain), so a cut a frame too wide matches like the exact one.
    pub fn embed_query(&self, frames: &ArrayRef2<f32>) -> Result<Array1<f32>> {
        let n = frames.nrows();
        let config = self.encoder.config();
        let e = if n >= 6 && !config.bidirectional && config.num_layers > 0 {
            // A unidirectional encoder reads (0, n−1) on its way to (0, n): two
            // passes (from frames 0 and 1) give all four cuts, as rows
            // start·3 + {0: n−2, 1: n−1, 2: n frames long}.
            let w = self
                .encoder
                .embed_windows(frames.view(), &[0, 1], &[n - 2, n - 1, n])?;
            w.select(ndarray::Axis(0), &[2, 4, 1, 3])
        } else {
            let mut cuts = vec![(0, n)];
            if n >= 6 {
                cuts.extend([(1, n), (0, n - 1), (1, n - 1)]);
            }
            let views: Vec<_> = cuts
                .iter()
                .map(|&(a, b)| frames.slice(s![a..b, ..]))
                .collect();
            self.encoder.embed_batch(&views)?
        };
        let mut mean = Array1::<f32>::zeros(e.ncols());
        for row in e.rows() {
            let norm = row.iter().map(|&x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                mean.scaled_add(1.0 / norm, &row);
            }
        }
        Ok(mean)
    }

    /// The candidate windows of a recording of `num_frames` frames as `[start, end)`
    /// frame pairs, grouped by start: every configured length that fits, plus, once
    /// per start, the window clipped at the end of the recording when it is at least
    /// the shortest length long (or the whole recording, when it is shorter than
    /// every window).
    pub fn windows(&self, num_frames: usize) -> Vec<(usize, usize)> {
        let seg = &self.encoder.config().segments;
        let lengths = seg.lengths();
        let min_len = lengths.first().copied().unwrap_or(1).min(num_frames);
        let mut out = Vec::new();
        let mut start = 0;
        while start < num_frames && num_frames - start >= min_len.max(1) {
            for &len in &lengths {
                if start + len <= num_frames {
                    out.push((start, start + len));
                } else {
                    if out.last() != Some(&(start, num_frames)) {
                        out.push((start, num_frames));
                    }
                    break;
                }
            }
            start += seg.hop_frames;
        }
        out
    }

    /// Embeds every candidate window of `frames`: returns the windows (frames) and
    /// their vectors, row-major `[windows, dim]`.
    pub fn embed_recording(&self, frames: ArrayView2<'_, f32>) -> Result<WindowVectors> {
        let windows = self.windows(frames.nrows());
        let lengths = self.encoder.config().segments.lengths();
        let mut vectors = Vec::with_capacity(windows.len() * self.dim());
        let mut i = 0;
        while i < windows.len() {
            // Gather up to STARTS_PER_PASS distinct starts.
            let mut starts = Vec::new();
            let mut j = i;
            while j < windows.len()
                && (starts.len() < STARTS_PER_PASS || starts.last() == Some(&windows[j].0))
            {
                if starts.last() != Some(&windows[j].0) {
                    starts.push(windows[j].0);
                }
                j += 1;
            }
            let e = self.encoder.embed_windows(frames, &starts, &lengths)?;
            for &(st, en) in &windows[i..j] {
                let si = starts
                    .iter()
                    .position(|&x| x == st)
                    .expect("invariant: every window's start was gathered");
                // The row of the first length reaching `en - st` (clipped windows
                // equal the first length that runs past the end).
                let li = lengths
                    .iter()
                    .position(|&l| st + l >= en)
                    .unwrap_or(lengths.len() - 1);
                vectors.extend(e.row(si * lengths.len() + li).iter());
            }
            i = j;
        }
        Ok((windows, vectors))
    }

    /// Adds (or replaces) one recording in `index` from its samples (16 kHz mono);
    /// returns the number of segments added.
    pub fn index_samples(&self, index: &mut Index, name: &str, samples: &[f32]) -> Result<usize> {
        let frames = self.frontend.compute(samples)?;
        self.index_frames(index, name, frames.view())
    }

    /// Adds (or replaces) one recording in `index` from its frames.
    pub fn index_frames(
        &self,
        index: &mut Index,
        name: &str,
        frames: ArrayView2<'_, f32>,
    ) -> Result<usize> {
        self.check_index(index)?;
        let (windows, vectors) = self.embed_recording(frames)?;
        let shift = self.frontend.frame_shift_secs();
        let spans: Vec<(f32, f32)> = windows
            .iter()
            .map(|&(a, b)| ((a as f64 * shift) as f32, (b as f64 * shift) as f32))
            .collect();
        index.add_file(name, &spans, &vectors)?;
        index.set_embedder_id(self.identity);
        Ok(spans.len())
    }

    /// Searches `index` for a spoken query given as frames.
    pub fn search_frames(
        &self,
        index: &Index,
        query: &ArrayRef2<f32>,
        k: usize,
        max_overlap: f32,
    ) -> Result<Vec<Hit>> {
        let q = self.query_vector(index, query)?;
        index.search(
            q.as_slice().expect("invariant: fresh array is contiguous"),
            k,
            max_overlap,
        )
    }

    /// The vector [`Embedder::search_frames`] looks up in `index` for the query
    /// frames `query` (checked against the index first): the first half of a search,
    /// for callers that time the query encoder apart from the scan.
    pub fn query_vector(&self, index: &Index, query: &ArrayRef2<f32>) -> Result<Array1<f32>> {
        if query.nrows() == 0 {
            return Err(Error::Invalid("the query has no frames".into()));
        }
        self.check_index(index)?;
        self.embed_query(query)
    }
}

/// See [`Embedder::identity`].
fn embedder_identity(encoder: &AutoEncoder<f32>, frontend: &Frontend) -> Result<u64> {
    use crate::nn::Params;
    use crate::qbe::index::{FNV_OFFSET, fnv1a_extend};
    let config = serde_json::to_vec(encoder.config())
        .map_err(|e| Error::Invalid(format!("encoder configuration: {e}")))?;
    let mut h = fnv1a_extend(FNV_OFFSET, &config);
    let mut weights = |name: &str, _: &[usize], values: &[f32]| {
        h = fnv1a_extend(h, name.as_bytes());
        for v in values {
            h = fnv1a_extend(h, &v.to_le_bytes());
        }
    };
    encoder.visit(&mut weights);
    if let Some(am) = frontend.acoustic_model() {
        am.visit(&mut weights);
    }
    Ok(h.max(1))
}

/// Subsequence-DTW search of one query over many recordings' frames: up to
/// `matches_per_file` non-overlapping matches per recording, ranked together by
/// length-normalised cost; a hit's score is the negated cost.
pub fn dtw_search(
    query: ArrayView2<'_, f32>,
    recordings: &[(String, ndarray::Array2<f32>)],
    frame_shift_secs: f64,
    distance: FrameDistance,
    matches_per_file: usize,
    k: usize,
) -> Result<Vec<Hit>> {
    let mut hits = Vec::new();
    for (name, frames) in recordings {
        for m in subsequence_dtw(query, frames.view(), distance, matches_per_file)? {
            hits.push(Hit {
                file: name.clone(),
                start_s: (m.start as f64 * frame_shift_secs) as f32,
                end_s: (m.end as f64 * frame_shift_secs) as f32,
                score: -m.cost,
            });
        }
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    hits.truncate(k);
    Ok(hits)
}

/// Cuts `frames[start..end]` (clipped to the matrix).
pub fn slice_frames(frames: &ArrayRef2<f32>, start: usize, end: usize) -> ArrayView2<'_, f32> {
    let n = frames.nrows();
    let a = start.min(n);
    frames.slice(s![a..end.clamp(a, n), ..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qbe::autoencoder::AutoEncoderConfig;
    use crate::qbe::frontend::{FrameKind, FrontendConfig};
    use crate::qbe::segment::SegmentConfig;
    use crate::rng::Rng;
    use ndarray::Array2;

    fn embedder(bidirectional: bool) -> Embedder {
        let frontend = Frontend::new(
            FrontendConfig {
                kind: FrameKind::Mfcc,
                ..Default::default()
            },
            None,
        )
        .unwrap();
        let cfg = AutoEncoderConfig {
            input_dim: 39,
            hidden_dim: 8,
            num_layers: 1,
            bidirectional,
            embed_dim: 6,
            decoder_hidden_dim: 8,
            input_kind: "mfcc".into(),
            frontend: frontend.config().clone(),
            segments: SegmentConfig {
                min_frames: 4,
                max_frames: 8,
                num_scales: 2,
                hop_frames: 3,
            },
        };
        let ae = AutoEncoder::new(cfg, &mut Rng::new(7)).unwrap();
        Embedder::new(ae, frontend).unwrap()
    }

    #[test]
    fn an_index_refuses_vectors_and_queries_of_another_embedder() {
        let a = embedder(false);
        let b = embedder(true);
        assert_ne!(a.identity(), b.identity());
        assert_eq!(
            a.identity(),
            embedder(false).identity(),
            "identity is not stable"
        );
        let frames = Array2::from_shape_fn((20, 39), |(t, d)| ((t * 7 + d) % 5) as f32);
        let mut index = Index::new(6).unwrap();
        a.index_frames(&mut index, "one.wav", frames.view())
            .unwrap();
        assert_eq!(index.embedder_id(), a.identity());
        // The identity survives a save/load round trip.
        let path = std::env::temp_dir().join(format!("hark-embid-{}.idx", std::process::id()));
        index.save(&path).unwrap();
        let index = Index::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(index.embedder_id(), a.identity());
        let q = frames.slice(s![2..10, ..]);
        assert!(a.search_frames(&index, &q, 3, 0.2).is_ok());
        let err = b.search_frames(&index, &q, 3, 0.2).unwrap_err().to_string();
        assert!(err.contains("another encoder"), "{err}");
        let mut index = index;
        let err = b
            .index_frames(&mut index, "two.wav", frames.view())
            .unwrap_err();
        assert!(err.to_string().contains("another encoder"), "{err}");
        // An index of unknown origin (0) is accepted by any embedder of its size.
        index.set_embedder_id(0);
        assert!(b.search_frames(&index, &q, 3, 0.2).is_ok());
    }

    #[test]
    fn windows_cover_the_end_without_duplicates() {
        let e = embedder(false);
        // lengths 4 and 8, hop 3, 11 frames.
        assert_eq!(
            e.windows(11),
            vec![(0, 4), (0, 8), (3, 7), (3, 11), (6, 10), (6, 11)]
        );
        assert_eq!(e.windows(3), vec![(0, 3)]);
        assert!(e.windows(0).is_empty());
    }

    #[test]
    fn recording_vectors_equal_separate_embeddings() {
        for bi in [false, true] {
            let e = embedder(bi);
            let mut rng = Rng::new(3);
            let frames = Array2::from_shape_fn((11, 39), |_| rng.normal() as f32);
            let (windows, vecs) = e.embed_recording(frames.view()).unwrap();
            for (w, &(a, b)) in windows.iter().enumerate() {
                let one = e.embed(&frames.slice(s![a..b, ..])).unwrap();
                for d in 0..6 {
                    assert!(
                        (vecs[w * 6 + d] - one[d]).abs() < 1e-5,
                        "bi={bi} window {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_window_of_the_recording_finds_itself() {
        let e = embedder(false);
        let mut rng = Rng::new(9);
        let rec = Array2::from_shape_fn((40, 39), |_| rng.normal() as f32);
        let mut index = Index::new(6).unwrap();
        e.index_frames(&mut index, "r.wav", rec.view()).unwrap();
        let q = rec.slice(s![12..20, ..]).to_owned();
        let hits = e.search_frames(&index, &q, 3, 0.2).unwrap();
        assert_eq!(hits[0].file, "r.wav");
        assert!((hits[0].start_s - 0.12).abs() < 1e-6 && (hits[0].end_s - 0.20).abs() < 1e-6);
        // The score is the cosine of the query vector (a mean over trimmed cuts) and
        // the window's own vector.
        let (qv, wv) = (e.embed_query(&q).unwrap(), e.embed(&q).unwrap());
        let cos = qv.dot(&wv) / (qv.dot(&qv).sqrt() * wv.dot(&wv).sqrt());
        assert!((hits[0].score - cos).abs() < 1e-5 && cos > 0.8, "{cos}");
    }

    #[test]
    fn query_vector_is_the_mean_of_four_unit_cut_vectors() {
        // Unidirectional encoders take the two-pass path, bidirectional ones embed
        // the four cuts one by one: both give the mean of the unit vectors of
        // (0, n), (1, n), (0, n−1) and (1, n−1).
        let mut rng = Rng::new(4);
        let q = Array2::from_shape_fn((9, 39), |_| rng.normal() as f32);
        for bidirectional in [false, true] {
            let e = embedder(bidirectional);
            let mut want = Array1::<f32>::zeros(6);
            for (a, b) in [(0, 9), (1, 9), (0, 8), (1, 8)] {
                let v = e.embed(&q.slice(s![a..b, ..]).to_owned()).unwrap();
                want.scaled_add(1.0 / v.dot(&v).sqrt(), &v);
            }
            let got = e.embed_query(&q).unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{bidirectional}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn dtw_search_ranks_across_files() {
        let onehot = |seq: &[usize]| {
            let mut a = Array2::from_elem((seq.len(), 4), 0.01f32);
            for (t, &k) in seq.iter().enumerate() {
                a[[t, k]] = 1.0;
            }
            a
        };
        let q = onehot(&[1, 2]);
        let recs = vec![
            ("a".to_string(), onehot(&[0, 3, 0, 3])),
            ("b".to_string(), onehot(&[0, 1, 2, 0])),
        ];
        let hits = dtw_search(q.view(), &recs, 0.01, FrameDistance::Cosine, 1, 5).unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].file, "b");
        assert!((hits[0].start_s - 0.01).abs() < 1e-6 && (hits[0].end_s - 0.03).abs() < 1e-6);
        assert!(hits[0].score > hits[1].score);
    }
}
