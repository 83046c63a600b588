//! `hark train-encoder`: train the query-by-example auto-encoder on word segments
//! cut from a manifest's alignments.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use hark::lexicon::Lexicon;
use hark::manifest::Manifest;
use hark::nn::optim::AdamConfig;
use hark::qbe::autoencoder::{AutoEncoder, AutoEncoderConfig, Corruption};
use hark::qbe::frontend::{FrameKind, Frontend, FrontendConfig};
use hark::qbe::segment::SegmentConfig;
use hark::qbe::train::{EncoderTrainConfig, resample_frames, train_encoder};
use hark::qbe::words::{read_lexicon, word_spans};
use hark::rng::Rng;
use ndarray::{Array2, s};

use crate::model_dir;

/// Arguments of `hark train-encoder`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  hark train-encoder --train data/corpus/train.jsonl --lexicon data/lexicon/cmudict.dict \\\n      --model models/default --input posteriors --max-utts 3000 --out models/default/encoder.safetensors\n\n\
Word segments come from each utterance's phone \"alignment\", \"text\" and the lexicon.\n\
Checkpoints go to OUT.ckpt/ after every epoch; --resume continues from there."
)]
pub struct TrainEncoderArgs {
    /// Training manifest with text and phone alignments.
    #[arg(long)]
    train: PathBuf,
    /// Dev manifest (default: 5 % of the training segments are held out).
    #[arg(long)]
    dev: Option<PathBuf>,
    /// CMUdict-format lexicon (locates words in the alignments).
    #[arg(long)]
    lexicon: PathBuf,
    /// Model bundle whose acoustic model makes the posteriorgrams.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Output encoder file (encoder.safetensors).
    #[arg(long)]
    out: PathBuf,
    /// Input frames.
    #[arg(long, default_value = "posteriors", value_parser = ["posteriors", "mfcc", "fbank"])]
    input: String,
    /// Posteriorgram temperature (posteriors input).
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Use at most this many training utterances (seeded choice).
    #[arg(long)]
    max_utts: Option<usize>,
    /// Shortest word used, in phones.
    #[arg(long, default_value_t = 3)]
    min_phones: usize,
    /// Encoder LSTM hidden size.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Encoder LSTM layers.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    /// Bidirectional encoder (slower indexing).
    #[arg(long)]
    bidirectional: bool,
    /// Embedding size.
    #[arg(long, default_value_t = 64)]
    embed: usize,
    /// Decoder LSTM hidden size.
    #[arg(long, default_value_t = 128)]
    decoder_hidden: usize,
    /// Epochs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Segments per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Peak learning rate (Adam).
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Correspondence training: the decoder rebuilds another instance of the same
    /// word (another voice where possible, time-warped to the input's length)
    /// instead of the input itself; words seen once keep their own target.
    #[arg(long)]
    pairs: bool,
    /// Denoising: standard deviation of Gaussian noise added to the input (0 = off).
    #[arg(long, default_value_t = 0.0)]
    noise: f64,
    /// Denoising: probability of zeroing an input frame (0 = off).
    #[arg(long, default_value_t = 0.0)]
    frame_drop: f64,
    /// Index windows: shortest, seconds.
    #[arg(long, default_value_t = 0.3)]
    win_min_secs: f64,
    /// Index windows: longest, seconds.
    #[arg(long, default_value_t = 1.2)]
    win_max_secs: f64,
    /// Index windows: number of lengths.
    #[arg(long, default_value_t = 5)]
    win_scales: usize,
    /// Index windows: hop, seconds.
    #[arg(long, default_value_t = 0.06)]
    win_hop_secs: f64,
    /// Continue from OUT.ckpt/.
    #[arg(long)]
    resume: bool,
    /// Start from this encoder's weights (e.g. the bundle's, to adapt it to a new
    /// acoustic model's posteriorgrams in a few epochs); its architecture must match
    /// the one the other options describe.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Boundary jitter: each training segment's start and end move by a random amount
    /// in [−J, J] seconds (seeded), and the decoder must still rebuild the word as cut
    /// exactly (or its partner, with --pairs), so vectors tolerate the inexact
    /// boundaries of the index windows (0 = off).
    #[arg(long, default_value_t = 0.0)]
    jitter_secs: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (segment extraction and gradient shards).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// A word segment: the word, its voice, its frames `[frames, dim]` as aligned, and
/// the frames the encoder reads (the same, or cut with jittered boundaries).
type Segment = (String, String, Array2<f32>, Array2<f32>);

/// Seed stream of the boundary jitter of utterance `i`.
const JITTER_STREAM: u64 = 0x4A17_7E50_0000_0000;

/// Word segments of a manifest's utterances.
/// How [`segments`] cuts words.
struct CutOptions {
    /// Shortest word, in phones.
    min_phones: usize,
    /// Boundary jitter of the encoder's input, seconds (0 = exact cuts).
    jitter_secs: f64,
    seed: u64,
    threads: usize,
    quiet: bool,
}

fn segments(
    manifest: &Manifest,
    indices: &[usize],
    lexicon: &Lexicon,
    frontend: &Frontend,
    opts: &CutOptions,
) -> anyhow::Result<Vec<Segment>> {
    let CutOptions {
        min_phones,
        jitter_secs,
        seed,
        threads,
        quiet,
    } = *opts;
    use rayon::prelude::*;
    let shift = frontend.frame_shift_secs();
    let bar = crate::util::progress_bar(indices.len() as u64, quiet);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()?;
    let parts: Vec<anyhow::Result<Vec<Segment>>> = pool.install(|| {
        indices
            .par_iter()
            .map(|&i| {
                let u = &manifest.utterances[i];
                let Some(words) = word_spans(u, lexicon) else {
                    bar.inc(1);
                    return Ok(Vec::new());
                };
                let path = manifest.audio_path(u);
                let frames = frontend
                    .compute_file(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let n = frames.nrows();
                let mut out = Vec::new();
                let mut rng = Rng::fork(seed ^ JITTER_STREAM, i as u64);
                let jitter = jitter_secs / shift;
                let mut moved = |x: usize| -> usize {
                    let d = rng.uniform_range(-jitter, jitter).round();
                    (x as f64 + d).clamp(0.0, n as f64) as usize
                };
                for w in words
                    .iter()
                    .filter(|w| w.num_phones >= min_phones && w.mismatch <= 0.5)
                {
                    let a = ((w.start / shift).floor() as usize).min(n);
                    let b = ((w.end / shift).ceil() as usize).clamp(a, n);
                    if b - a >= 2 {
                        let voice = u.speaker.clone().unwrap_or_else(|| u.id.clone());
                        let exact = frames.slice(s![a..b, ..]).to_owned();
                        let (ja, jb) = (moved(a), moved(b));
                        let input = if jitter > 0.0 && jb >= ja + 2 {
                            frames.slice(s![ja..jb, ..]).to_owned()
                        } else {
                            exact.clone()
                        };
                        out.push((w.word.clone(), voice, exact, input));
                    }
                }
                bar.inc(1);
                Ok(out)
            })
            .collect()
    });
    bar.finish_and_clear();
    let mut all = Vec::new();
    for p in parts {
        all.extend(p?);
    }
    Ok(all)
}

/// Runs `hark train-encoder`.
pub fn run(args: TrainEncoderArgs, quiet: bool) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let kind: FrameKind = args.input.parse()?;
    let frontend_config = FrontendConfig {
        kind,
        temperature: args.temperature,
        ..FrontendConfig::default()
    };
    let bundle = if kind == FrameKind::Posteriors {
        Some(model_dir::resolve(args.model.as_deref())?)
    } else {
        None
    };
    let frontend = Frontend::new(frontend_config.clone(), bundle.as_deref())?;
    let lexicon = read_lexicon(&args.lexicon)?;
    let train =
        Manifest::load(&args.train).with_context(|| format!("loading {}", args.train.display()))?;
    let mut rng = Rng::new(args.seed);
    let mut pick: Vec<usize> = (0..train.utterances.len()).collect();
    if let Some(n) = args.max_utts {
        rng.shuffle(&mut pick);
        pick.truncate(n);
        pick.sort_unstable();
    }
    let mut segs = segments(
        &train,
        &pick,
        &lexicon,
        &frontend,
        &CutOptions {
            min_phones: args.min_phones,
            jitter_secs: args.jitter_secs,
            seed: args.seed,
            threads: args.threads,
            quiet,
        },
    )?;
    let dev_segs = match &args.dev {
        Some(d) => {
            let dev = Manifest::load(d).with_context(|| format!("loading {}", d.display()))?;
            let idx: Vec<usize> = (0..dev.utterances.len()).collect();
            segments(
                &dev,
                &idx,
                &lexicon,
                &frontend,
                &CutOptions {
                    min_phones: args.min_phones,
                    jitter_secs: 0.0,
                    seed: args.seed,
                    threads: args.threads,
                    quiet,
                },
            )?
        }
        None => {
            rng.shuffle(&mut segs);
            let n_dev = segs.len() / 20;
            segs.split_off(segs.len() - n_dev)
        }
    };
    let dev_segs: Vec<Array2<f32>> = dev_segs.into_iter().map(|x| x.2).collect();
    if !(0.0..=0.5).contains(&args.jitter_secs) {
        bail!("--jitter-secs {} must be in [0, 0.5]", args.jitter_secs);
    }
    let targets: Option<Vec<Array2<f32>>> = if args.pairs {
        let (t, paired) = partners(&segs, &mut rng);
        eprintln!(
            "{paired} of {} segments paired with another instance of their word",
            segs.len()
        );
        Some(t)
    } else if args.jitter_secs > 0.0 {
        // The exact cut, time-warped to the jittered input's length.
        Some(
            segs.iter()
                .map(|x| resample_frames(x.2.view(), x.3.nrows()))
                .collect(),
        )
    } else {
        None
    };
    let segs: Vec<Array2<f32>> = segs.into_iter().map(|x| x.3).collect();
    if segs.is_empty() {
        bail!(
            "no word segments in {} (are there \"alignment\" fields?)",
            args.train.display()
        );
    }
    let frames: usize = segs.iter().map(|a| a.nrows()).sum();
    eprintln!(
        "{} training segments ({} frames, {:.1} frames each), {} dev segments, {}-dim {} frames every {:.0} ms ({:.1} s)",
        segs.len(),
        frames,
        frames as f64 / segs.len() as f64,
        dev_segs.len(),
        frontend.dim(),
        args.input,
        frontend.frame_shift_secs() * 1e3,
        t0.elapsed().as_secs_f64()
    );
    let shift = frontend.frame_shift_secs();
    let to_frames = |secs: f64| ((secs / shift).round() as usize).max(1);
    let segments_cfg = SegmentConfig {
        min_frames: to_frames(args.win_min_secs),
        max_frames: to_frames(args.win_max_secs),
        num_scales: args.win_scales,
        hop_frames: to_frames(args.win_hop_secs),
    };
    segments_cfg.validate()?;
    let config = AutoEncoderConfig {
        input_dim: frontend.dim(),
        hidden_dim: args.hidden,
        num_layers: args.layers,
        bidirectional: args.bidirectional,
        embed_dim: args.embed,
        decoder_hidden_dim: args.decoder_hidden,
        input_kind: args.input.clone(),
        frontend: frontend_config,
        segments: segments_cfg,
    };
    let mut model = match &args.init {
        None => AutoEncoder::<f32>::new(config, &mut Rng::fork(args.seed, 1))?,
        Some(path) => AutoEncoder::<f32>::load_as(path, config)?,
    };
    let train_config = EncoderTrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        adam: AdamConfig {
            learning_rate: args.lr,
            warmup_steps: 100,
            ..AdamConfig::default()
        },
        corruption: (args.noise > 0.0 || args.frame_drop > 0.0).then_some(Corruption {
            noise_std: args.noise,
            frame_drop: args.frame_drop,
        }),
        seed: args.seed,
        threads: args.threads,
    };
    let ckpt = checkpoint_dir(&args.out);
    if ckpt.join("state.json").exists() && !args.resume {
        bail!(
            "{} holds a checkpoint: pass --resume to continue it, or delete it",
            ckpt.display()
        );
    }
    let bar = crate::util::progress_bar(0, quiet);
    let mut last_epoch = 0;
    let state = train_encoder(
        &mut model,
        &segs,
        targets.as_deref(),
        &dev_segs,
        &train_config,
        Some(&ckpt),
        &mut |p| {
            if p.epoch != last_epoch {
                last_epoch = p.epoch;
                bar.set_length(p.num_batches as u64);
                bar.set_position(0);
            }
            bar.set_position(p.batch as u64);
            bar.set_message(format!("epoch {} loss {:.4}", p.epoch, p.loss));
            if p.batch == p.num_batches {
                bar.suspend(|| {
                    eprintln!(
                        "epoch {}/{}: train loss {:.5} ({:.0} s elapsed)",
                        p.epoch,
                        args.epochs,
                        p.loss,
                        t0.elapsed().as_secs_f64()
                    )
                });
            }
        },
    )?;
    bar.finish_and_clear();
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    model.save(&args.out)?;
    for h in &state.history {
        eprintln!(
            "epoch {:>3}: train {:.5} dev {:.5} ({:.0} s)",
            h.epoch, h.train_loss, h.dev_loss, h.secs
        );
    }
    eprintln!(
        "best dev loss {:.5}; wrote {} in {:.0} s",
        state.best_dev_loss.unwrap_or(f64::NAN),
        args.out.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// For each segment, another instance of the same word (a different voice when
/// one exists, as aligned), resampled to the length of the segment's input; the
/// segment's own exact cut when its word occurs once.
fn partners(segs: &[Segment], rng: &mut Rng) -> (Vec<Array2<f32>>, usize) {
    let mut by_word: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (w, _, _, _)) in segs.iter().enumerate() {
        by_word.entry(w.as_str()).or_default().push(i);
    }
    let mut paired = 0;
    let targets = segs
        .iter()
        .enumerate()
        .map(|(i, (w, voice, exact, input))| {
            let same = &by_word[w.as_str()];
            let other_voice: Vec<usize> = same
                .iter()
                .copied()
                .filter(|&j| &segs[j].1 != voice)
                .collect();
            let others: Vec<usize> = if other_voice.is_empty() {
                same.iter().copied().filter(|&j| j != i).collect()
            } else {
                other_voice
            };
            if others.is_empty() {
                return resample_frames(exact.view(), input.nrows());
            }
            let j = others[rng.below(others.len())];
            paired += 1;
            resample_frames(segs[j].2.view(), input.nrows())
        })
        .collect();
    (targets, paired)
}

/// Where checkpoints of `out` go: `OUT.ckpt/` next to it.
fn checkpoint_dir(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".ckpt");
    out.with_file_name(name)
}
