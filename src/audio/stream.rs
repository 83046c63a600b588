//! Block-by-block reading of long recordings, and cutting them into pieces at
//! their quietest moments.
//!
//! [`AudioStream`] reads a WAV or FLAC file a block at a time (a FLAC file whose
//! header does not state its length is decoded whole first), so an hour of audio
//! never sits in memory at once.
//! [`Chunker`] turns a stream into pieces of at most
//! [`ChunkConfig::max_chunk_secs`] and resamples each piece to 16 kHz. A piece ends
//! in the middle of the first end-of-utterance pause (a quiet stretch of at least
//! [`ChunkConfig::end_pause_ms`] after some sound, see [`endpoint_cut`]), as an
//! endpointer would end an utterance; where the piece would outgrow the maximum
//! first, it is cut in the middle of the first shorter pause (at least
//! [`ChunkConfig::min_silence_ms`]) after [`ChunkConfig::min_chunk_secs`], see
//! [`quietest_cut`]. A piece ends where the next begins: no sample is dropped or
//! repeated.
//!
//! A WAV stream on a pipe (standard input) is read the same way
//! ([`AudioStream::from_pipe`]); [`Chunker::live`] then hands out each piece as
//! soon as its end pause has come in, for live transcription.

use std::path::{Path, PathBuf};

use super::flac::FlacSource;
use super::wav::{PipeWav, WavSource};
use crate::error::{Error, Result};

/// A mono audio file read in blocks at its own sample rate.
pub struct AudioStream {
    path: PathBuf,
    sample_rate: u32,
    num_samples: u64,
    samples_read: u64,
    source: Source,
}

enum Source {
    Wav(Box<WavSource>),
    Flac(Box<FlacSource>),
    Decoded(Vec<f32>),
    Pipe(Box<PipeWav>),
}

impl std::fmt::Debug for AudioStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioStream")
            .field("path", &self.path)
            .field("sample_rate", &self.sample_rate)
            .field("num_samples", &self.num_samples)
            .field("samples_read", &self.samples_read)
            .finish()
    }
}

impl AudioStream {
    /// Opens a WAV or FLAC file and checks its header (the same checks, and the
    /// same errors, as [`read_audio`](super::read_audio)). Samples are read later,
    /// block by block; a FLAC file whose header does not state its length is
    /// decoded here, to know its duration.
    pub fn open(path: &Path) -> Result<Self> {
        let (sample_rate, num_samples, source) = match super::open_wav_or_decode(path)? {
            super::Opened::Wav(w) => (w.sample_rate, w.num_frames, Source::Wav(Box::new(w))),
            super::Opened::Flac(f) => match f.num_frames {
                Some(n) => (f.sample_rate, n, Source::Flac(f)),
                None => {
                    let wave = super::read_opened(path, super::Opened::Flac(f))?;
                    (
                        wave.sample_rate,
                        wave.samples.len() as u64,
                        Source::Decoded(wave.samples),
                    )
                }
            },
        };
        Ok(AudioStream {
            path: path.to_path_buf(),
            sample_rate,
            num_samples,
            samples_read: 0,
            source,
        })
    }

    /// A WAV stream read front to back from `reader` (standard input, a pipe, a
    /// socket), called `name` in errors. Its length may be unknown: writers that
    /// cannot seek back to fix the header (`arecord`, `sox ... -t wav -`) declare a
    /// placeholder, and the audio then runs to the end of the stream. PCM of 8 to
    /// 32 bits, 32-bit float and G.711 A-law / μ-law, any rate and channel count.
    /// The header is read here.
    pub fn from_pipe(name: &Path, reader: Box<dyn std::io::Read + Send>) -> Result<Self> {
        let pipe = PipeWav::open(name, reader)?;
        Ok(AudioStream {
            path: name.to_path_buf(),
            sample_rate: pipe.sample_rate(),
            num_samples: 0,
            samples_read: 0,
            source: Source::Pipe(Box::new(pipe)),
        })
    }

    /// The file's sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Total number of (mono) samples in the file; for a pipe, the samples read
    /// so far.
    pub fn num_samples(&self) -> u64 {
        match self.source {
            Source::Pipe(_) => self.samples_read,
            _ => self.num_samples,
        }
    }

    /// Duration of the whole file in seconds (for a pipe, of what was read so far).
    pub fn duration_secs(&self) -> f64 {
        self.num_samples() as f64 / self.sample_rate as f64
    }

    /// Whether samples come from the file block by block (not decoded up front).
    #[cfg(test)]
    pub(crate) fn reads_blocks(&self) -> bool {
        !matches!(self.source, Source::Decoded(_))
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends up to `max_samples` samples to `out`; returns how many (0 at the end).
    /// A NaN, infinite or out-of-range sample is an error naming its index in the file.
    pub fn read(&mut self, max_samples: usize, out: &mut Vec<f32>) -> Result<usize> {
        let start = out.len();
        match &mut self.source {
            Source::Wav(w) => out.extend(w.read_block(max_samples)?),
            Source::Flac(f) => {
                f.read_block(max_samples, out)?;
            }
            Source::Pipe(p) => out.extend(p.read_block(max_samples)?),
            Source::Decoded(all) => {
                let from = self.samples_read as usize;
                let to = from.saturating_add(max_samples).min(all.len());
                out.extend_from_slice(all.get(from..to).unwrap_or_default());
            }
        }
        super::check_samples(&self.path, self.samples_read, &out[start..])?;
        let n = out.len() - start;
        self.samples_read += n as u64;
        Ok(n)
    }
}

/// How a long recording is cut into pieces for recognition.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkConfig {
    /// Longest piece, seconds. Inputs up to this long are one piece. Larger → more
    /// context per piece and more memory (features, network activations).
    pub max_chunk_secs: f64,
    /// Shortest piece (except the last), seconds: the cut goes at the first pause
    /// after this. Smaller → pieces closer to single phrases; larger → more
    /// context per piece.
    pub min_chunk_secs: f64,
    /// Shortest pause cut at, milliseconds. Larger → fewer cuts inside sentences,
    /// and fewer pauses found.
    pub min_silence_ms: f64,
    /// A pause of at least this long, milliseconds, ends a piece wherever it falls
    /// (an utterance boundary, as in Kaldi's endpointing rules): each utterance of a
    /// recording is then recognised on its own, with no language-model or network
    /// context carried over from the one before. 0 turns this off (pieces are then
    /// cut only to stay under `max_chunk_secs`).
    pub end_pause_ms: f64,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            max_chunk_secs: 30.0,
            min_chunk_secs: 2.0,
            min_silence_ms: 200.0,
            end_pause_ms: 300.0,
        }
    }
}

impl ChunkConfig {
    /// Checks that `0 < min_silence_ms / 1000 < min_chunk_secs < max_chunk_secs`
    /// and `0 <= end_pause_ms / 1000 < max_chunk_secs`.
    pub fn validate(&self) -> Result<()> {
        let ok = self.min_silence_ms > 0.0
            && self.min_silence_ms / 1000.0 < self.min_chunk_secs
            && self.min_chunk_secs < self.max_chunk_secs
            && self.max_chunk_secs.is_finite();
        if !ok {
            return Err(Error::Config(format!(
                "chunking needs 0 < min_silence_ms/1000 < min_chunk_secs < max_chunk_secs, got {} ms, {} s, {} s",
                self.min_silence_ms, self.min_chunk_secs, self.max_chunk_secs
            )));
        }
        if !(self.end_pause_ms >= 0.0 && self.end_pause_ms / 1000.0 < self.max_chunk_secs) {
            return Err(Error::Config(format!(
                "chunking needs 0 <= end_pause_ms/1000 < max_chunk_secs, got {} ms, {} s",
                self.end_pause_ms, self.max_chunk_secs
            )));
        }
        Ok(())
    }
}

/// Mean square (per sample) below which a stretch counts as a pause whatever the
/// rest of the recording: −70 dBFS.
const SILENCE_FLOOR: f64 = 1e-7;

/// Energies (sums of squares) of the windows of `hops_per_window` hops of `hop`
/// samples over `samples`, window k starting at hop k; `None` when `samples` holds
/// no more than one window.
fn window_energies(samples: &[f32], hop: usize, hops_per_window: usize) -> Option<Vec<f64>> {
    let energy: Vec<f64> = samples
        .chunks(hop)
        .map(|c| c.iter().map(|&x| f64::from(x) * f64::from(x)).sum())
        .collect();
    if energy.len() <= hops_per_window {
        return None;
    }
    let mut sums = Vec::with_capacity(energy.len() - hops_per_window + 1);
    let mut s: f64 = energy[..hops_per_window].iter().sum();
    sums.push(s);
    for k in hops_per_window..energy.len() {
        s += energy[k] - energy[k - hops_per_window];
        sums.push(s.max(0.0));
    }
    Some(sums)
}

/// Where to cut `samples` (at `rate` Hz): in the middle of the first pause whose
/// middle lies in `[min_len, max_len]`. A pause is a run of stretches of `window`
/// samples (slid in 10 ms hops) each at most 6 dB louder than the quietest
/// stretch of the search range, or below −70 dBFS. Cutting at the first pause
/// rather than the quietest one keeps pieces close to the phrases they hold; with
/// no pause at all, the cut still goes where it is quietest.
///
/// Returns `samples.len()` when it is at most `max_len`.
pub fn quietest_cut(
    samples: &[f32],
    rate: u32,
    min_len: usize,
    max_len: usize,
    window: usize,
) -> usize {
    if samples.len() <= max_len {
        return samples.len();
    }
    let hop = (rate as usize / 100).max(1);
    let hops_per_window = window.div_ceil(hop).max(1);
    // Energies of the windows in the search range [lo, hi).
    let lo = min_len.saturating_sub(window / 2) / hop * hop;
    let hi = (max_len + window / 2).min(samples.len());
    let Some(sums) = window_energies(&samples[lo.min(hi)..hi], hop, hops_per_window) else {
        return max_len;
    };
    let centre = |k: usize| lo + k * hop + hops_per_window * hop / 2;
    let valid = |k: usize| (min_len..=max_len).contains(&centre(k));
    let Some(quietest) = (0..sums.len())
        .filter(|&k| valid(k))
        .map(|k| sums[k])
        .min_by(f64::total_cmp)
    else {
        return max_len;
    };
    let threshold = (quietest * 4.0).max(SILENCE_FLOOR * (hops_per_window * hop) as f64);
    let quiet = |k: usize| sums[k] <= threshold;
    let Some(first) = (0..sums.len()).find(|&k| valid(k) && quiet(k)) else {
        return max_len;
    };
    // The whole pause: back to where it starts, on to where it ends.
    let mut start = first;
    while start > 0 && quiet(start - 1) {
        start -= 1;
    }
    let mut end = first;
    while end + 1 < sums.len() && quiet(end + 1) {
        end += 1;
    }
    ((centre(start) + centre(end)) / 2).clamp(min_len, max_len)
}

/// Where an utterance ends in `samples` (at `rate` Hz): the middle of the first
/// pause of at least `window` samples that follows some sound and whose middle
/// lies at or before `max_len`, or `None` when there is none. A pause is a run of
/// `window`-sample stretches (slid in 10 ms hops) each at most 6 dB louder than
/// the quietest such stretch of `samples[..max_len + window]` and 20 dB quieter
/// than the loudest (so steady sound has no pause), or below −70 dBFS.
/// Leading silence is no utterance end: the pause must come after a stretch that
/// is not quiet. Neither is trailing silence: a pause that runs to the end of
/// `samples` counts only when `more_follows` (more audio is still to be read).
pub fn endpoint_cut(
    samples: &[f32],
    rate: u32,
    max_len: usize,
    window: usize,
    more_follows: bool,
) -> Option<usize> {
    let hop = (rate as usize / 100).max(1);
    let hops_per_window = window.div_ceil(hop).max(1);
    let hi = (max_len + window).min(samples.len());
    let sums = window_energies(&samples[..hi], hop, hops_per_window)?;
    let quietest = sums.iter().copied().min_by(f64::total_cmp)?;
    let loudest = sums.iter().copied().max_by(f64::total_cmp)?;
    let threshold = (quietest * 4.0)
        .min(loudest / 100.0)
        .max(SILENCE_FLOOR * (hops_per_window * hop) as f64);
    let quiet = |k: usize| sums[k] <= threshold;
    let centre = |k: usize| k * hop + hops_per_window * hop / 2;
    let sound = (0..sums.len()).find(|&k| !quiet(k))?;
    let start = (sound..sums.len()).find(|&k| quiet(k))?;
    let mut end = start;
    while end + 1 < sums.len() && quiet(end + 1) {
        end += 1;
    }
    if !more_follows && hi == samples.len() && end + 1 == sums.len() {
        return None;
    }
    let cut = (centre(start) + centre(end)) / 2;
    (cut > 0 && cut <= max_len).then_some(cut)
}

/// One piece of a long recording, at 16 kHz.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Where the piece starts in the file, seconds.
    pub start_secs: f64,
    /// The samples, 16 kHz mono.
    pub samples: Vec<f32>,
}

/// Cuts an [`AudioStream`] into [`Chunk`]s at quiet moments (see the module docs).
/// Holds at most `max_chunk_secs` of audio plus one read block.
#[derive(Debug)]
pub struct Chunker {
    stream: AudioStream,
    config: ChunkConfig,
    buf: Vec<f32>,
    /// Index in the file of `buf[0]`, samples at the file's rate.
    buf_start: u64,
    finished: bool,
    live: bool,
}

impl Chunker {
    /// A chunker over `stream`.
    pub fn new(stream: AudioStream, config: ChunkConfig) -> Result<Self> {
        config.validate()?;
        Ok(Chunker {
            stream,
            config,
            buf: Vec::new(),
            buf_start: 0,
            finished: false,
            live: false,
        })
    }

    /// A chunker for live audio (a pipe from a microphone): it reads 100 ms at a
    /// time and hands out a piece as soon as an end-of-utterance pause of
    /// [`ChunkConfig::end_pause_ms`] has come in (cut in the middle of the pause
    /// heard so far), instead of first filling [`ChunkConfig::max_chunk_secs`]. A
    /// piece is then ready about `end_pause_ms` after its speech ends. Without end
    /// pauses (`end_pause_ms` 0) it cuts as [`Chunker::new`] does.
    pub fn live(stream: AudioStream, config: ChunkConfig) -> Result<Self> {
        Ok(Chunker {
            live: true,
            ..Chunker::new(stream, config)?
        })
    }

    /// The stream being cut.
    pub fn stream(&self) -> &AudioStream {
        &self.stream
    }

    /// The next piece, or `None` after the last.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let rate = self.stream.sample_rate();
        let secs = |s: f64| (s * rate as f64).round() as usize;
        let max_len = secs(self.config.max_chunk_secs).max(2);
        let min_len = secs(self.config.min_chunk_secs).clamp(1, max_len - 1);
        let window = secs(self.config.min_silence_ms / 1000.0).max(1);
        // Keep half a window beyond the longest piece so a cut near the end sees
        // the whole quiet stretch around it.
        let want = max_len + window;
        let end_window = secs(self.config.end_pause_ms / 1000.0);
        if self.live && end_window > 0 {
            let block = (rate as usize / 10).max(1);
            while !self.finished && self.buf.len() < want {
                let n = self
                    .stream
                    .read(block.min(want - self.buf.len()), &mut self.buf)?;
                if n == 0 {
                    self.finished = true;
                } else if let Some(cut) = endpoint_cut(
                    &self.buf,
                    rate,
                    max_len.min(self.buf.len()),
                    end_window,
                    true,
                ) {
                    return self.take(cut).map(Some);
                }
            }
        }
        while !self.finished && self.buf.len() < want {
            let n = self.stream.read(want - self.buf.len(), &mut self.buf)?;
            if n == 0 {
                self.finished = true;
            }
        }
        if self.buf.is_empty() {
            return Ok(None);
        }
        // A file that fits in one piece is one piece, as in `Recognizer::transcribe`.
        let whole_file = self.finished && self.buf_start == 0 && self.buf.len() <= max_len;
        let endpoint = if end_window > 0 && !whole_file {
            endpoint_cut(
                &self.buf,
                rate,
                max_len.min(self.buf.len()),
                end_window,
                !self.finished,
            )
        } else {
            None
        };
        let cut = match endpoint {
            Some(cut) => cut,
            None if self.finished && self.buf.len() <= max_len => self.buf.len(),
            None => quietest_cut(&self.buf, rate, min_len, max_len, window),
        };
        self.take(cut).map(Some)
    }

    /// Hands out `buf[..cut]` as the next piece.
    fn take(&mut self, cut: usize) -> Result<Chunk> {
        let rate = self.stream.sample_rate();
        let rest = self.buf.split_off(cut);
        let piece = std::mem::replace(&mut self.buf, rest);
        let start_secs = self.buf_start as f64 / rate as f64;
        self.buf_start += cut as u64;
        let samples = super::to_16k(piece, rate)?;
        Ok(Chunk {
            start_secs,
            samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Waveform;

    /// A 440 Hz tone of `secs` seconds at 16 kHz.
    fn tone(secs: f64) -> Vec<f32> {
        let n = (secs * 16_000.0) as usize;
        (0..n)
            .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin())
            .collect()
    }

    #[test]
    fn cut_lands_in_the_middle_of_the_pause() {
        // 12 s tone, 0.6 s silence, 12 s tone: with a 10-20 s search range the
        // cut is the pause's middle, 12.3 s.
        let mut x = tone(12.0);
        x.extend(std::iter::repeat_n(0.0, 9600));
        x.extend(tone(12.0));
        let cut = quietest_cut(&x, 16_000, 160_000, 320_000, 1600);
        assert!((cut as i64 - 196_800).abs() <= 160, "cut at {cut}");
    }

    #[test]
    fn cut_prefers_the_quieter_pause_and_stays_in_range() {
        // Pauses at 11 s (noise 1e-2) and 15 s (noise 1e-4): the quieter one wins.
        let mut x = tone(11.0);
        x.extend((0..3200).map(|i| if i % 2 == 0 { 1e-2 } else { -1e-2 }));
        x.extend(tone(3.8));
        x.extend((0..3200).map(|i| if i % 2 == 0 { 1e-4 } else { -1e-4 }));
        x.extend(tone(20.0));
        let cut = quietest_cut(&x, 16_000, 160_000, 320_000, 1600);
        let pause2 = 16_000 * 11 + 3200 + 60_800;
        assert!(cut >= pause2 && cut <= pause2 + 3200, "cut at {cut}");
        // No pause at all: the cut still lies in [min, max].
        let y = tone(40.0);
        let c = quietest_cut(&y, 16_000, 160_000, 320_000, 1600);
        assert!((160_000..=320_000).contains(&c), "{c}");
        // Short input: no cut.
        assert_eq!(quietest_cut(&y[..1000], 16_000, 10, 2000, 100), 1000);
    }

    #[test]
    fn cut_goes_at_the_first_pause_not_the_deepest() {
        // Pauses at 3 s (−80 dBFS noise) and 6 s (digital silence), searched from
        // 2 s: both are pauses (the first is below −70 dBFS), so the cut is the
        // middle of the first, 3.15 s.
        let hiss = |n: usize| (0..n).map(|i| if i % 2 == 0 { 1e-4 } else { -1e-4 });
        let mut x = tone(3.0);
        x.extend(hiss(4800));
        x.extend(tone(3.0));
        x.extend(std::iter::repeat_n(0.0, 4800));
        x.extend(tone(30.0));
        let cut = quietest_cut(&x, 16_000, 32_000, 480_000, 3200);
        assert!((cut as i64 - (48_000 + 2400)).abs() <= 160, "cut at {cut}");
    }

    #[test]
    fn endpoint_is_the_middle_of_the_first_long_pause_after_sound() {
        // 0.4 s leading silence, 1 s tone, 0.3 s pause, 1 s tone, 0.8 s pause,
        // 1 s tone. With 0.5 s end pauses: the leading silence follows no sound and
        // the 0.3 s pause is too short, so the end is the middle of the 0.8 s pause,
        // 3.1 s.
        let silence = |secs: f64| std::iter::repeat_n(0.0f32, (secs * 16_000.0) as usize);
        let mut x: Vec<f32> = silence(0.4).collect();
        x.extend(tone(1.0));
        x.extend(silence(0.3));
        x.extend(tone(1.0));
        x.extend(silence(0.8));
        x.extend(tone(1.0));
        let cut = endpoint_cut(&x, 16_000, x.len(), 8_000, false).unwrap();
        assert!((cut as i64 - 49_600).abs() <= 160, "cut at {cut}");
        // A maximum before that pause: no end point.
        assert_eq!(endpoint_cut(&x, 16_000, 40_000, 8_000, false), None);
        // Shorter end pauses find the 0.3 s one, at 1.55 s.
        let cut = endpoint_cut(&x, 16_000, x.len(), 3_200, false).unwrap();
        assert!((cut as i64 - 24_800).abs() <= 160, "cut at {cut}");
        // Steady sound (the quietest stretch is not 20 dB below the loudest) and
        // silence alone have no end point.
        assert_eq!(endpoint_cut(&tone(5.0), 16_000, 80_000, 8_000, false), None);
        // Trailing silence ends an utterance only when more audio follows.
        let mut y = tone(1.0);
        y.extend(silence(1.0));
        assert_eq!(endpoint_cut(&y, 16_000, y.len(), 8_000, false), None);
        let cut = endpoint_cut(&y, 16_000, y.len(), 8_000, true).unwrap();
        assert!((cut as i64 - 24_000).abs() <= 160, "cut at {cut}");
        let quiet: Vec<f32> = silence(3.0).collect();
        assert_eq!(endpoint_cut(&quiet, 16_000, 48_000, 8_000, true), None);
    }

    #[test]
    fn chunker_ends_pieces_at_utterance_pauses() {
        // Three 3 s utterances with 0.7 s gaps; pieces of 4-8 s. Each piece holds
        // one utterance, cut in the middle of the gaps; with end points off, the
        // first cut is the first pause after 4 s, the second gap.
        let mut x = tone(3.0);
        x.extend(std::iter::repeat_n(0.0, 11_200));
        x.extend(tone(3.0));
        x.extend(std::iter::repeat_n(0.0, 11_200));
        x.extend(tone(3.0));
        let dir = std::env::temp_dir().join(format!("hark-endpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("three.wav");
        crate::audio::write_wav_16bit(&path, &Waveform::new(x.clone(), 16_000)).unwrap();
        let pieces = |config: ChunkConfig| {
            let mut c = Chunker::new(AudioStream::open(&path).unwrap(), config).unwrap();
            let mut out = Vec::new();
            while let Some(p) = c.next_chunk().unwrap() {
                out.push((p.start_secs, p.samples.len()));
            }
            out
        };
        let config = ChunkConfig {
            max_chunk_secs: 8.0,
            min_chunk_secs: 4.0,
            ..Default::default()
        };
        let got = pieces(config.clone());
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            (got[1].0 - 3.35).abs() < 0.011 && (got[2].0 - 7.05).abs() < 0.011,
            "{got:?}"
        );
        assert_eq!(got.iter().map(|p| p.1).sum::<usize>(), x.len());
        let off = pieces(ChunkConfig {
            end_pause_ms: 0.0,
            ..config.clone()
        });
        assert_eq!(off.len(), 2, "{off:?}");
        assert!((off[1].0 - 7.05).abs() < 0.011, "{off:?}");
        // A file no longer than the maximum is one piece.
        let whole = pieces(ChunkConfig {
            max_chunk_secs: 11.0,
            ..config
        });
        assert_eq!(whole, vec![(0.0, x.len())]);
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A reader that counts the bytes taken from it.
    struct Counted(
        std::io::Cursor<Vec<u8>>,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    );

    impl std::io::Read for Counted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
            Ok(n)
        }
    }

    #[test]
    fn live_chunker_hands_out_a_piece_once_its_end_pause_has_come_in() {
        // 1 s tone, 0.6 s silence, 1 s tone, 0.6 s silence, 1 s tone, streamed as
        // a WAV of unknown length.
        let silence = |secs: f64| std::iter::repeat_n(0.0f32, (secs * 16_000.0) as usize);
        let mut x = tone(1.0);
        x.extend(silence(0.6));
        x.extend(tone(1.0));
        x.extend(silence(0.6));
        x.extend(tone(1.0));
        let dir = std::env::temp_dir().join(format!("hark-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.wav");
        crate::audio::write_wav_16bit(&path, &Waveform::new(x.clone(), 16_000)).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let reader = Counted(std::io::Cursor::new(bytes), taken.clone());
        let stream = AudioStream::from_pipe(Path::new("-"), Box::new(reader)).unwrap();
        let mut live = Chunker::live(stream, ChunkConfig::default()).unwrap();
        let first = live.next_chunk().unwrap().unwrap();
        // Ready 0.3 s into the first pause (plus one 100 ms read), long before the
        // 30 s a file chunker would read first.
        let heard = (taken.load(std::sync::atomic::Ordering::SeqCst) - 44) / 2;
        assert!(heard <= 16_000 * 14 / 10 + 1600, "read {heard} samples");
        assert_eq!(first.start_secs, 0.0);
        let end = first.samples.len();
        assert!(
            (16_000..16_000 + 9600).contains(&end),
            "first piece ends at {end}"
        );
        // The pieces tile the stream: three utterances, nothing dropped or repeated.
        let mut all = first.samples;
        let mut starts = vec![0.0];
        while let Some(c) = live.next_chunk().unwrap() {
            assert!((c.start_secs * 16_000.0 - all.len() as f64).abs() < 0.5);
            starts.push(c.start_secs);
            all.extend(c.samples);
        }
        assert_eq!(starts.len(), 3, "{starts:?}");
        assert_eq!(all.len(), x.len());
        let q =
            |v: &[f32]| -> Vec<i32> { v.iter().map(|s| (s * 32768.0).round() as i32).collect() };
        assert_eq!(q(&all), q(&x));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn config_validation() {
        assert!(ChunkConfig::default().validate().is_ok());
        let bad = ChunkConfig {
            min_chunk_secs: 40.0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        for end_pause_ms in [-1.0, 40_000.0, f64::NAN] {
            let bad = ChunkConfig {
                end_pause_ms,
                ..Default::default()
            };
            assert!(bad.validate().is_err(), "{end_pause_ms}");
        }
    }
}
