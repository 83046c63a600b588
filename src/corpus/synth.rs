//! `hark corpus synth`: a seeded, resumable, parallel build of train / dev / test
//! manifests of synthetic speech, labelled with the phones each engine actually
//! spoke and their times.
//!
//! Utterance `i` of a split is a pure function of (seed, split, i): its voice,
//! prompt, prosody and channel come from `Rng::fork`. A build therefore resumes by
//! skipping the ids already in the manifests and continues exactly where an
//! interrupted build stopped. Manifests are rewritten atomically every
//! [`SynthConfig::checkpoint_secs`] and at the end.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::corpus::augment::{self, Channel, ChannelConfig};
use crate::corpus::borrowed::{BORROWED_VOICES, borrowed_voice};
use crate::corpus::cmudict::CmuDict;
use crate::corpus::engines::{Engine, Engines, Prosody, Voice};
use crate::corpus::phonemap::{self, map_espeak, map_festival, push_merged};
use crate::corpus::text::{PromptKind, PromptSource};
use crate::error::{Error, Result};
use crate::manifest::{AlignedPhone, Manifest, Utterance};
use crate::rng::Rng;

/// Output sample rate of the corpus.
pub const SAMPLE_RATE: u32 = 16_000;

/// The three splits, in the order they are built (small ones first, so that an
/// interrupted build already has dev and test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    /// Held-out sentences, training voices.
    Dev,
    /// Held-out sentences and held-out voices.
    Test,
    /// Training.
    Train,
}

impl Split {
    /// `train`, `dev` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }

    fn tag(self) -> u64 {
        match self {
            Split::Train => 0x7261_696e,
            Split::Dev => 0x6465_7600,
            Split::Test => 0x7465_7374,
        }
    }
}

/// A voice and its share of a split's utterances.
#[derive(Debug, Clone)]
pub struct VoiceEntry {
    /// The voice.
    pub voice: Voice,
    /// Relative weight (utterance share).
    pub weight: f64,
}

/// eSpeak NG English accents used for training (`en` is British English).
pub const ESPEAK_TRAIN_ACCENTS: [&str; 7] = [
    "en-us",
    "en",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-rp",
    "en-gb-x-gbcwmd",
    "en-us-nyc",
];
/// The eSpeak NG accent held out for the test split.
pub const ESPEAK_TEST_ACCENT: &str = "en-029";
/// eSpeak NG variants used for training.
pub const ESPEAK_TRAIN_VARIANTS: [&str; 30] = [
    "m1", "m2", "m3", "m4", "m5", "m6", "m8", "f1", "f2", "f3", "f5", "klatt", "klatt2", "klatt3",
    "klatt4", "klatt5", "adam", "Andy", "annie", "boris", "david", "ed", "iven", "john", "linda",
    "max", "michel", "norbert", "paul", "steph",
];
/// eSpeak NG variants held out for the test split (issue 3).
pub const ESPEAK_TEST_VARIANTS: [&str; 4] = ["f4", "m7", "klatt6", "croak"];

/// The training voices (train and dev splits) with their weights: the natural
/// speakers behind flite and festival weigh more than eSpeak NG in total.
pub fn train_voices() -> Vec<VoiceEntry> {
    let mut v = vec![
        VoiceEntry {
            voice: Voice::new(Engine::Flite, "kal16"),
            weight: 0.12,
        },
        VoiceEntry {
            voice: Voice::new(Engine::Flite, "awb"),
            weight: 0.12,
        },
        VoiceEntry {
            voice: Voice::new(Engine::Flite, "rms"),
            weight: 0.12,
        },
        VoiceEntry {
            voice: Voice::new(Engine::Flite, "slt"),
            weight: 0.12,
        },
        VoiceEntry {
            voice: Voice::new(Engine::Festival, "kal_diphone"),
            weight: 0.10,
        },
        VoiceEntry {
            voice: Voice::new(Engine::Festival, "cmu_us_slt_arctic_hts"),
            weight: 0.10,
        },
    ];
    let n = (ESPEAK_TRAIN_ACCENTS.len() * ESPEAK_TRAIN_VARIANTS.len()) as f64;
    for a in ESPEAK_TRAIN_ACCENTS {
        for var in ESPEAK_TRAIN_VARIANTS {
            v.push(VoiceEntry {
                voice: Voice::new(Engine::Espeak, &format!("{a}+{var}")),
                weight: 0.32 / n,
            });
        }
    }
    v
}

/// The borrowed voices ([`crate::corpus::borrowed`]), equally weighted: a corpus of
/// accented English from eight more human speakers, to add to the standard one.
pub fn borrowed_voices() -> Vec<VoiceEntry> {
    BORROWED_VOICES
        .iter()
        .map(|b| VoiceEntry {
            voice: Voice::new(Engine::Borrowed, b.name),
            weight: 1.0 / BORROWED_VOICES.len() as f64,
        })
        .collect()
}

/// Which voices speak the train and dev splits (test always uses [`test_voices`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VoiceSet {
    /// flite, festival and eSpeak NG English voices ([`train_voices`]).
    #[default]
    Standard,
    /// festival's diphone voices of other languages ([`borrowed_voices`]).
    Borrowed,
}

/// The test-only voices: festival `ked_diphone`, eSpeak NG's held-out variants on
/// every accent, and the held-out accent with every variant.
pub fn test_voices() -> Vec<VoiceEntry> {
    let mut v = vec![VoiceEntry {
        voice: Voice::new(Engine::Festival, "ked_diphone"),
        weight: 0.4,
    }];
    let mut espeak = Vec::new();
    for a in ESPEAK_TRAIN_ACCENTS.iter().chain([&ESPEAK_TEST_ACCENT]) {
        for var in ESPEAK_TEST_VARIANTS {
            espeak.push(format!("{a}+{var}"));
        }
    }
    for var in ESPEAK_TRAIN_VARIANTS {
        espeak.push(format!("{ESPEAK_TEST_ACCENT}+{var}"));
    }
    let w = 0.6 / espeak.len() as f64;
    v.extend(espeak.iter().map(|name| VoiceEntry {
        voice: Voice::new(Engine::Espeak, name),
        weight: w,
    }));
    v
}

/// Draws rate and pitch for a voice.
pub fn draw_prosody(voice: &Voice, rng: &mut Rng) -> Prosody {
    let stretch = rng.uniform_range(0.8, 1.3);
    let pitch = match voice.engine {
        Engine::Espeak => rng.uniform_range(20.0, 80.0),
        Engine::Flite if voice.name.starts_with("kal") => rng.uniform_range(80.0, 135.0),
        Engine::Flite => rng.uniform_range(0.85, 1.2),
        Engine::Festival => rng.uniform_range(85.0, 140.0),
        Engine::Borrowed => {
            let (lo, hi) = borrowed_voice(&voice.name).map_or((100.0, 200.0), |b| b.f0_hz);
            rng.uniform_range(lo, hi)
        }
    };
    Prosody { stretch, pitch }
}

fn pick_voice<'a>(voices: &'a [VoiceEntry], rng: &mut Rng) -> &'a Voice {
    let total: f64 = voices.iter().map(|v| v.weight).sum();
    let mut r = rng.uniform() * total;
    for v in voices {
        if r < v.weight {
            return &v.voice;
        }
        r -= v.weight;
    }
    &voices[voices.len() - 1].voice
}

/// Settings of a corpus build.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Output folder: `train.jsonl`, `dev.jsonl`, `test.jsonl`, `wavs/`, `meta/`.
    pub out: PathBuf,
    /// Normalised sentences, one per line (from `hark corpus text`).
    pub sentences: PathBuf,
    /// CMUdict-format lexicon (sentences with unknown words are dropped).
    pub lexicon: PathBuf,
    /// Hours of training audio.
    pub train_hours: f64,
    /// Hours of dev audio.
    pub dev_hours: f64,
    /// Hours of test audio.
    pub test_hours: f64,
    /// Seed of everything random.
    pub seed: u64,
    /// Worker threads (each runs its own engine processes).
    pub jobs: usize,
    /// The eSpeak NG phoneme-event helper.
    pub espeak_helper: PathBuf,
    /// Channel augmentation.
    pub channel: ChannelConfig,
    /// Fraction of sentences held out for dev, and for test (each).
    pub heldout_fraction: f64,
    /// Seconds between manifest checkpoints.
    pub checkpoint_secs: f64,
    /// Voices of the train and dev splits.
    pub voice_set: VoiceSet,
}

impl SynthConfig {
    /// Defaults for `hours` of training audio (dev and test 5 % each, at least
    /// 6 minutes).
    pub fn new(out: &Path, sentences: &Path, lexicon: &Path, hours: f64) -> Self {
        let side = (hours * 0.05).max(0.1);
        SynthConfig {
            out: out.to_path_buf(),
            sentences: sentences.to_path_buf(),
            lexicon: lexicon.to_path_buf(),
            train_hours: hours,
            dev_hours: side,
            test_hours: side,
            seed: 1,
            jobs: 1,
            espeak_helper: PathBuf::from("data/tools/espeak-events"),
            channel: ChannelConfig::default(),
            heldout_fraction: 0.05,
            checkpoint_secs: 60.0,
            voice_set: VoiceSet::Standard,
        }
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let ok = |x: f64| x.is_finite() && x >= 0.0;
        if !ok(self.train_hours) || !ok(self.dev_hours) || !ok(self.test_hours) {
            return Err(Error::Config("hours must be finite and >= 0".into()));
        }
        if self.jobs == 0 {
            return Err(Error::Config("jobs must be >= 1".into()));
        }
        if !(0.0..0.5).contains(&self.heldout_fraction) {
            return Err(Error::Config(
                "held-out fraction must be in [0, 0.5)".into(),
            ));
        }
        Ok(())
    }
}

/// Per-utterance record of how it was made (`meta/<split>.jsonl`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SynthMeta {
    /// Utterance id.
    pub id: String,
    /// Voice id (`engine/name`).
    pub voice: String,
    /// Speaking style.
    pub kind: PromptKind,
    /// Rate and pitch given to the engine.
    pub prosody: Prosody,
    /// Channel applied afterwards.
    pub channel: Channel,
    /// Engine phones that had no mapping (should be empty).
    #[serde(default)]
    pub unmapped: Vec<String>,
}

/// What the build is doing, for progress reports.
#[derive(Debug, Clone)]
pub struct SynthProgress {
    /// Split being built.
    pub split: Split,
    /// Utterances done in this split (including resumed ones).
    pub done: usize,
    /// Utterances made in this run (all splits).
    pub made: usize,
    /// Failed requests in this run.
    pub failed: usize,
    /// Audio seconds done in this split.
    pub done_secs: f64,
    /// Target seconds of this split.
    pub target_secs: f64,
    /// Audio seconds made in this run (all splits).
    pub made_secs: f64,
    /// Audio seconds done in all splits (including resumed ones).
    pub total_done_secs: f64,
    /// Target seconds of all splits.
    pub total_target_secs: f64,
    /// Wall time of this run.
    pub elapsed: Duration,
}

/// Summary of a finished build.
#[derive(Debug, Clone, Default)]
pub struct SynthSummary {
    /// Per split: (utterances, seconds).
    pub splits: BTreeMap<String, (usize, f64)>,
    /// Per voice id: seconds (all splits).
    pub voice_secs: BTreeMap<String, f64>,
    /// Utterances made in this run.
    pub made: usize,
    /// Failed requests in this run.
    pub failed: usize,
}

/// FNV-1a hash of a sentence mixed with the seed: decides its split.
fn sentence_hash(s: &str, seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Splits sentences into disjoint (train, dev, test) pools, each shuffled.
pub fn split_sentences(sentences: &[String], seed: u64, heldout: f64) -> [Vec<String>; 3] {
    let mut pools: [Vec<String>; 3] = Default::default();
    let cut = (heldout * 10_000.0) as u64;
    for s in sentences {
        let h = sentence_hash(s, seed) % 10_000;
        let k = if h < cut {
            1
        } else if h < 2 * cut {
            2
        } else {
            0
        };
        pools[k].push(s.clone());
    }
    for (k, p) in pools.iter_mut().enumerate() {
        Rng::fork(seed, 0x5e47 + k as u64).shuffle(p);
    }
    pools
}

fn words_of(sentences: &[String]) -> Vec<String> {
    let set: HashSet<&str> = sentences.iter().flat_map(|s| s.split(' ')).collect();
    let mut v: Vec<String> = set.into_iter().map(str::to_string).collect();
    v.sort();
    v
}

/// Everything needed to make utterance `index` of a split.
struct SplitPlan<'a> {
    split: Split,
    seed: u64,
    /// Mixed into the per-utterance seeds and prefixed to ids, so that a corpus of
    /// another voice set (same seed, hence the same sentence split) draws other
    /// prompts and its ids never collide with the standard corpus's.
    stream: (u64, &'static str),
    voices: Vec<VoiceEntry>,
    source: PromptSource<'a>,
    channel: &'a ChannelConfig,
}

impl SplitPlan<'_> {
    fn id(&self, index: usize) -> String {
        format!("{}{}-{index:07}", self.stream.1, self.split.name())
    }

    fn rel_audio(&self, index: usize) -> String {
        format!(
            "wavs/{}/{:04}/{}.wav",
            self.split.name(),
            index / 1000,
            self.id(index)
        )
    }
}

/// Makes one utterance: engine calls per chunk, resampling, pauses, channel,
/// WAV file and labels.
fn make_utterance(
    plan: &SplitPlan<'_>,
    index: usize,
    out: &Path,
    engines: &mut Engines,
) -> Result<(Utterance, SynthMeta)> {
    let mut rng = Rng::fork(plan.seed ^ plan.split.tag() ^ plan.stream.0, index as u64);
    let voice = pick_voice(&plan.voices, &mut rng).clone();
    let prompt = plan.source.draw(index, &mut rng);
    let prosody = draw_prosody(&voice, &mut rng);
    let channel = plan.channel.draw(&mut rng);
    let sr = SAMPLE_RATE as f64;
    let rhotic = phonemap::espeak_is_rhotic(&voice.name);
    let mut samples: Vec<f32> = Vec::new();
    let mut ali: Vec<AlignedPhone> = Vec::new();
    let mut unmapped: Vec<String> = Vec::new();
    // A little leading silence of varying length.
    let lead = rng.uniform_range(0.0, 0.25);
    push_silence(&mut samples, &mut ali, lead, sr);
    for (k, chunk) in prompt.chunks.iter().enumerate() {
        let o = engines.speak(&voice, chunk, prosody)?;
        let y = augment::resample(&o.samples, o.sample_rate as f64, sr);
        let dur = y.len() as f64 / sr;
        let (part, unknown) = match voice.engine {
            Engine::Espeak => phonemap::map_segments(&o.segments, dur, |p| map_espeak(p, rhotic)),
            // Borrowed voices already report hark phones, which map_festival keeps.
            Engine::Flite | Engine::Festival | Engine::Borrowed => {
                phonemap::map_segments(&o.segments, dur, map_festival)
            }
        };
        unmapped.extend(unknown.into_iter().map(str::to_string));
        let offset = samples.len() as f64 / sr;
        let mut covered = 0.0;
        for p in part {
            covered = p.2;
            push_merged(&mut ali, AlignedPhone(p.0, p.1 + offset, p.2 + offset));
        }
        if covered < dur {
            push_merged(
                &mut ali,
                AlignedPhone("SIL".into(), covered + offset, dur + offset),
            );
        }
        samples.extend_from_slice(&y);
        if let Some(gap) = prompt.gaps_secs.get(k) {
            push_silence(&mut samples, &mut ali, *gap, sr);
        }
    }
    let trail = rng.uniform_range(0.0, 0.25);
    push_silence(&mut samples, &mut ali, trail, sr);
    let mut ch_rng = Rng::fork(
        plan.seed ^ plan.split.tag() ^ plan.stream.0 ^ 0xc4a7,
        index as u64,
    );
    let y = channel.apply(&samples, sr, &mut ch_rng)?;
    let duration = y.len() as f64 / sr;
    let scale = 1.0 / channel.speed;
    let mut alignment = Vec::with_capacity(ali.len());
    for AlignedPhone(p, s, e) in ali {
        let s = round_ms((s * scale).min(duration));
        let e = round_ms((e * scale).min(duration));
        if e > s {
            alignment.push(AlignedPhone(p, s, e));
        }
    }
    if alignment.iter().all(|a| a.0 == "SIL") {
        return Err(Error::Engine {
            engine: voice.id(),
            msg: format!("no phones for {:?}", prompt.text),
        });
    }
    let rel = plan.rel_audio(index);
    write_wav_16k(&out.join(&rel), &y)?;
    let id = plan.id(index);
    let utt = Utterance {
        id: id.clone(),
        audio: rel,
        text: prompt.text.clone(),
        duration: round_ms(duration),
        speaker: Some(voice.id()),
        phones: Some(phonemap::phone_string(&alignment)),
        alignment: Some(alignment),
    };
    let meta = SynthMeta {
        id,
        voice: voice.id(),
        kind: prompt.kind,
        prosody,
        channel,
        unmapped,
    };
    Ok((utt, meta))
}

fn round_ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn push_silence(samples: &mut Vec<f32>, ali: &mut Vec<AlignedPhone>, secs: f64, sr: f64) {
    let n = (secs * sr).round() as usize;
    if n == 0 {
        return;
    }
    let start = samples.len() as f64 / sr;
    samples.resize(samples.len() + n, 0.0);
    push_merged(
        ali,
        AlignedPhone("SIL".into(), start, samples.len() as f64 / sr),
    );
}

/// Writes 16 kHz 16-bit mono PCM atomically.
pub fn write_wav_16k(path: &Path, samples: &[f32]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "creating", e))?;
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut buf = std::io::Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    {
        let audio_err = |e: hound::Error| Error::Audio {
            path: path.to_path_buf(),
            msg: e.to_string(),
        };
        let mut w = hound::WavWriter::new(&mut buf, spec).map_err(audio_err)?;
        for &s in samples {
            let v = (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16;
            w.write_sample(v).map_err(audio_err)?;
        }
        w.finalize().map_err(audio_err)?;
    }
    crate::fsio::write_atomic(path, &buf.into_inner())
}

/// The build record kept in `synth.json` (a resumed build must match it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct BuildRecord {
    seed: u64,
    num_sentences: usize,
    heldout_fraction: f64,
}

/// Loads a split's manifest and metadata when present (for resuming).
fn load_existing(
    out: &Path,
    split: Split,
) -> Result<(BTreeMap<usize, Utterance>, HashMap<String, SynthMeta>)> {
    let mpath = out.join(format!("{}.jsonl", split.name()));
    let mut utts = BTreeMap::new();
    if mpath.exists() {
        for u in Manifest::load(&mpath)?.utterances {
            let idx =
                u.id.rsplit('-')
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| Error::parse(&mpath, 0, format!("unexpected id {:?}", u.id)))?;
            // Only utterances whose audio is there count as done.
            if out.join(&u.audio).exists() {
                utts.insert(idx, u);
            }
        }
    }
    let meta_path = out.join("meta").join(format!("{}.jsonl", split.name()));
    let mut meta = HashMap::new();
    if meta_path.exists() {
        let t =
            std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, "reading", e))?;
        for (i, line) in t.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let m: SynthMeta = serde_json::from_str(line)
                .map_err(|e| Error::parse(&meta_path, i + 1, e.to_string()))?;
            meta.insert(m.id.clone(), m);
        }
    }
    Ok((utts, meta))
}

fn write_split(
    out: &Path,
    split: Split,
    utts: &BTreeMap<usize, Utterance>,
    meta: &HashMap<String, SynthMeta>,
) -> Result<()> {
    let list: Vec<Utterance> = utts.values().cloned().collect();
    Manifest::write(&out.join(format!("{}.jsonl", split.name())), &list)?;
    let mut s = String::new();
    for u in &list {
        if let Some(m) = meta.get(&u.id) {
            s.push_str(&serde_json::to_string(m).unwrap_or_default());
            s.push('\n');
        }
    }
    let meta_dir = out.join("meta");
    std::fs::create_dir_all(&meta_dir).map_err(|e| Error::io(&meta_dir, "creating", e))?;
    crate::fsio::write_atomic(
        &meta_dir.join(format!("{}.jsonl", split.name())),
        s.as_bytes(),
    )
}

/// Reads normalised sentences (one per line), keeping those fully in `dict`.
pub fn load_sentences(path: &Path, dict: &CmuDict) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && l.split(' ').all(|w| dict.contains(w)))
        .map(str::to_string)
        .collect())
}

/// Builds (or resumes) the corpus. `progress` is called about once a second.
pub fn synthesize(
    cfg: &SynthConfig,
    progress: &mut dyn FnMut(&SynthProgress),
) -> Result<SynthSummary> {
    cfg.validate()?;
    let dict = CmuDict::load(&cfg.lexicon)?;
    let sentences = load_sentences(&cfg.sentences, &dict)?;
    if sentences.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no sentence has all its words in {}",
            cfg.sentences.display(),
            cfg.lexicon.display()
        )));
    }
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::io(&cfg.out, "creating", e))?;
    let record = BuildRecord {
        seed: cfg.seed,
        num_sentences: sentences.len(),
        heldout_fraction: cfg.heldout_fraction,
    };
    let rec_path = cfg.out.join("synth.json");
    if rec_path.exists() {
        let t =
            std::fs::read_to_string(&rec_path).map_err(|e| Error::io(&rec_path, "reading", e))?;
        let old: BuildRecord =
            serde_json::from_str(&t).map_err(|e| Error::parse(&rec_path, 1, e.to_string()))?;
        if old != record {
            return Err(Error::Invalid(format!(
                "{} was built with {old:?}, not {record:?}; resume with the same seed and text, or use another --out",
                cfg.out.display()
            )));
        }
    } else {
        crate::fsio::write_atomic(
            &rec_path,
            serde_json::to_string(&record)
                .unwrap_or_default()
                .as_bytes(),
        )?;
    }
    let [train, dev, test] = split_sentences(&sentences, cfg.seed, cfg.heldout_fraction);
    let pools = [
        (Split::Dev, dev, cfg.dev_hours),
        (Split::Test, test, cfg.test_hours),
        (Split::Train, train, cfg.train_hours),
    ];
    let start = Instant::now();
    let mut summary = SynthSummary::default();
    let mut made_secs = 0.0;
    let total_target: f64 = pools.iter().map(|p| p.2 * 3600.0).sum();
    // Seconds already on disk (a resumed build), for the overall progress.
    let mut total_done = 0.0;
    for (split, _, _) in &pools {
        total_done += load_existing(&cfg.out, *split)?
            .0
            .values()
            .map(|u| u.duration)
            .sum::<f64>();
    }
    for (split, pool, hours) in &pools {
        let words = words_of(pool);
        let plan = SplitPlan {
            split: *split,
            seed: cfg.seed,
            stream: match cfg.voice_set {
                VoiceSet::Standard => (0, ""),
                VoiceSet::Borrowed => (0xb0bb_0000_0000_0000, "b"),
            },
            voices: match (*split, cfg.voice_set) {
                (Split::Test, _) => test_voices(),
                (_, VoiceSet::Standard) => train_voices(),
                (_, VoiceSet::Borrowed) => borrowed_voices(),
            },
            source: PromptSource {
                sentences: pool,
                words: &words,
            },
            channel: &cfg.channel,
        };
        let (mut utts, mut meta) = load_existing(&cfg.out, *split)?;
        let target = hours * 3600.0;
        let mut done_secs: f64 = utts.values().map(|u| u.duration).sum();
        if done_secs < target && !pool.is_empty() {
            let done_idx: HashSet<usize> = utts.keys().copied().collect();
            let next = AtomicUsize::new(0);
            let stop = AtomicBool::new(false);
            let (tx, rx) = mpsc::channel::<(usize, Result<(Utterance, SynthMeta)>)>();
            let mut last_ckpt = Instant::now();
            let mut last_report = Instant::now();
            let mut attempts = 0usize;
            let mut fatal: Option<Error> = None;
            std::thread::scope(|scope| {
                for w in 0..cfg.jobs {
                    let tx = tx.clone();
                    let (plan, next, stop, done_idx) = (&plan, &next, &stop, &done_idx);
                    let tmp = cfg.out.join("tmp").join(format!("worker-{w}"));
                    let helper = cfg.espeak_helper.clone();
                    let out = cfg.out.clone();
                    scope.spawn(move || {
                        let mut engines = match Engines::new(&tmp, &helper) {
                            Ok(e) => e,
                            Err(e) => {
                                let _ = tx.send((usize::MAX, Err(e)));
                                return;
                            }
                        };
                        while !stop.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if done_idx.contains(&i) {
                                continue;
                            }
                            let r = make_utterance(plan, i, &out, &mut engines);
                            if tx.send((i, r)).is_err() {
                                break;
                            }
                        }
                    });
                }
                drop(tx);
                for (i, r) in rx.iter() {
                    attempts += 1;
                    match r {
                        Ok((u, m)) => {
                            if done_secs < target {
                                done_secs += u.duration;
                                made_secs += u.duration;
                                total_done += u.duration;
                                summary.made += 1;
                                meta.insert(u.id.clone(), m);
                                utts.insert(i, u);
                            } else {
                                // Overshoot from other workers: keep it only if it
                                // is not past the target (deterministic on resume).
                                let _ = std::fs::remove_file(cfg.out.join(&u.audio));
                            }
                        }
                        Err(e) => {
                            summary.failed += 1;
                            // Failing to start is fatal; so is a high failure rate.
                            if i == usize::MAX || (attempts >= 50 && summary.failed * 10 > attempts)
                            {
                                fatal.get_or_insert(e);
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                    if done_secs >= target {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if last_report.elapsed() >= Duration::from_secs(1) {
                        last_report = Instant::now();
                        progress(&SynthProgress {
                            split: *split,
                            done: utts.len(),
                            made: summary.made,
                            failed: summary.failed,
                            done_secs,
                            target_secs: target,
                            made_secs,
                            total_done_secs: total_done,
                            total_target_secs: total_target,
                            elapsed: start.elapsed(),
                        });
                    }
                    if last_ckpt.elapsed().as_secs_f64() >= cfg.checkpoint_secs {
                        last_ckpt = Instant::now();
                        if let Err(e) = write_split(&cfg.out, *split, &utts, &meta) {
                            fatal.get_or_insert(e);
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
            });
            write_split(&cfg.out, *split, &utts, &meta)?;
            if let Some(e) = fatal {
                return Err(e);
            }
        } else {
            write_split(&cfg.out, *split, &utts, &meta)?;
        }
        progress(&SynthProgress {
            split: *split,
            done: utts.len(),
            made: summary.made,
            failed: summary.failed,
            done_secs,
            target_secs: target,
            made_secs,
            total_done_secs: total_done,
            total_target_secs: total_target,
            elapsed: start.elapsed(),
        });
        summary
            .splits
            .insert(split.name().to_string(), (utts.len(), done_secs));
        for u in utts.values() {
            *summary
                .voice_secs
                .entry(u.speaker.clone().unwrap_or_default())
                .or_default() += u.duration;
        }
    }
    let _ = std::fs::remove_dir_all(cfg.out.join("tmp"));
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentence_splits_are_disjoint_and_seeded() {
        let s: Vec<String> = (0..2000).map(|i| format!("sentence number {i}")).collect();
        let [tr, dv, te] = split_sentences(&s, 9, 0.05);
        assert_eq!(tr.len() + dv.len() + te.len(), s.len());
        let a: HashSet<&String> = tr.iter().collect();
        assert!(dv.iter().chain(&te).all(|x| !a.contains(x)));
        assert!(dv.len() > 50 && dv.len() < 150, "{}", dv.len());
        assert_eq!(split_sentences(&s, 9, 0.05)[1], dv);
    }

    #[test]
    fn test_voices_are_held_out_of_training() {
        let train: HashSet<Voice> = train_voices().into_iter().map(|v| v.voice).collect();
        for v in test_voices() {
            assert!(!train.contains(&v.voice), "{v:?}");
        }
        let natural: f64 = train_voices()
            .iter()
            .filter(|v| v.voice.engine != Engine::Espeak)
            .map(|v| v.weight)
            .sum();
        assert!(natural > 0.6, "natural voices weigh more: {natural}");
    }

    #[test]
    fn wav_writer_roundtrips() {
        let d = std::env::temp_dir().join(format!("hark-synth-wav-{}", std::process::id()));
        let p = d.join("a/b.wav");
        let x: Vec<f32> = (0..1600).map(|i| ((i as f32) * 0.01).sin() * 0.5).collect();
        write_wav_16k(&p, &x).unwrap();
        let (y, sr) = crate::corpus::engines::read_wav_i16(&p).unwrap();
        assert_eq!(sr, 16000);
        assert_eq!(y.len(), x.len());
        assert!(y.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1.0 / 32000.0));
    }
}
