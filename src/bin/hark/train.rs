//! `hark train`: manifests in, model bundle out.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use hark::am::train::{
    Progress, SpeedConfig, Targets, TrainConfig, TrainExample, VtlpConfig, train,
};
use hark::am::{
    AcousticModel, Architecture, FORMAT_VERSION, ModelConfig, Objective, RecurrentKind,
};
use hark::features::{FeatureConfig, FeatureKind};
use hark::lexicon::Lexicon;
use hark::manifest::{Manifest, Utterance};
use hark::nn::augment::{EqAugmentConfig, SpecAugmentConfig};
use hark::nn::optim::{AdamConfig, GradClip};
use hark::phones::{SIL, TokenTable, strip_stress};
use hark::rng::Rng;

/// Frame shift of the features, for turning alignments into frame labels.
const FRAME_SHIFT_SECS: f64 = 0.010;
/// Half the analysis window: frame `t` is centred at `t * shift + 12.5 ms`.
const FRAME_CENTRE_SECS: f64 = 0.0125;

/// Arguments of `hark train`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  hark train --train data/train.jsonl --dev data/dev.jsonl --out models/mine \\\n      --objective ctc --layers 2 --hidden 256 --bidirectional --epochs 20\n\n\
Each manifest line's \"audio\" names a WAV/FLAC file (features computed with --features/\n\
--bins) or a feature matrix (.npy, [frames, dim], e.g. from `hark features --out x.npy`).\n\
CTC targets come from \"phones\", frame labels\n\
for --objective ce from \"alignment\". The output directory receives config.json,\n\
model.safetensors, tokens.txt, train_log.json and, for ce, priors.txt; checkpoints go\n\
to OUT/checkpoint (continue with --resume)."
)]
pub struct TrainArgs {
    /// Training manifests (JSONL or Kaldi data directories); several are read in turn
    /// and trained on together (`--train a.jsonl b.jsonl`).
    #[arg(long, required = true, num_args = 1..)]
    train: Vec<PathBuf>,
    /// Dev manifest, decoded after every epoch for early stopping.
    #[arg(long)]
    dev: PathBuf,
    /// Output model directory.
    #[arg(long)]
    out: PathBuf,
    /// `ctc` (phones, blank 0) or `ce` (frame labels from alignments, hybrid decoding).
    #[arg(long, default_value = "ctc", value_parser = ["ctc", "ce"])]
    objective: String,
    /// Recurrent cell.
    #[arg(long, default_value = "lstm", value_parser = ["lstm", "gru", "rnn"])]
    kind: String,
    /// Recurrent layers.
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Hidden units per direction. Larger → more accurate, slower.
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// Bidirectional layers (better accuracy; no streaming).
    #[arg(long)]
    bidirectional: bool,
    /// Frames stacked into one input.
    #[arg(long, default_value_t = 1)]
    stack: usize,
    /// Keep every n-th stacked frame. Larger → faster, coarser.
    #[arg(long, default_value_t = 1)]
    subsample: usize,
    /// Maximum epochs.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Utterances per batch.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Peak learning rate (Adam).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Warm-up updates.
    #[arg(long, default_value_t = 200)]
    warmup: u64,
    /// Global gradient-norm clipping threshold (0 disables).
    #[arg(long, default_value_t = 5.0)]
    clip_norm: f64,
    /// Dropout between recurrent layers.
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// Apply SpecAugment time/frequency masking.
    #[arg(long)]
    spec_augment: bool,
    /// Vocal-tract length perturbation: recompute each training utterance's features
    /// in every batch with a random VTLN warp in [1 − R, 1 + R] (e.g. 0.1; 0 = off).
    /// Needs audio inputs; keeps the training audio in memory (~230 MB per hour).
    #[arg(long, default_value_t = 0.0)]
    vtlp: f32,
    /// Random equaliser: add to each training utterance's log filter-bank energies one
    /// smooth random gain curve of at most this many nats (e.g. 1.0 ≈ ±4.3 dB; 0 = off).
    #[arg(long, default_value_t = 0.0)]
    eq: f32,
    /// Speed perturbation: resample each training utterance's audio in every batch by a
    /// random factor in [MIN, MAX] (e.g. 0.9,1.1) and recompute its features. CTC only;
    /// needs audio inputs and keeps the training audio in memory, as --vtlp does.
    #[arg(long, value_name = "MIN,MAX", value_parser = parse_speed)]
    speed: Option<SpeedConfig>,
    /// Epochs without dev improvement before stopping.
    #[arg(long, default_value_t = 3)]
    patience: usize,
    /// Minutes between checkpoints.
    #[arg(long, default_value_t = 10.0)]
    checkpoint_minutes: f64,
    /// Continue from OUT/checkpoint.
    #[arg(long)]
    resume: bool,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Front end for audio inputs (ignored for .npy inputs).
    #[arg(long, default_value = "fbank", value_parser = ["fbank", "mfcc"])]
    features: String,
    /// Mel bins of the front end.
    #[arg(long, default_value_t = 40)]
    bins: usize,
    /// Lexicon used to derive phone targets from the text when a manifest line has
    /// no "phones" (CMUdict format).
    #[arg(long)]
    lexicon: Option<PathBuf>,
    /// Start from the recurrent layers and input normalisation of this model bundle
    /// (same features and layer shapes), e.g. a frame-level (ce) model from a trained
    /// CTC model. The output layer is copied too when the objectives agree
    /// (fine-tuning), and is new otherwise.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Worker threads (and gradient shards per batch).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Copies the recurrent layers and input normalisation of the bundle in `dir` into
/// `model`; the features, frame rate and layer shapes must agree.
fn init_from(model: &mut AcousticModel, dir: &std::path::Path) -> anyhow::Result<()> {
    let src = AcousticModel::load(dir)?;
    let (a, b) = (&src.config, &model.config);
    let arch = |c: &hark::am::ModelConfig| {
        let x = &c.architecture;
        (
            x.kind,
            x.num_layers,
            x.hidden_dim,
            x.bidirectional,
            x.input_dim,
        )
    };
    // Compare front ends as configurations (their JSON numbers may print differently).
    let front = |c: &hark::am::ModelConfig| {
        serde_json::from_value::<FeatureConfig>(c.features.clone()).map_err(|_| c.features.clone())
    };
    if arch(a) != arch(b)
        || front(a) != front(b)
        || a.frame_stacking != b.frame_stacking
        || a.frame_subsampling != b.frame_subsampling
        || a.normalize_input != b.normalize_input
    {
        bail!(
            "{}: --init model differs from the one being trained (features, frame \
             rate or recurrent layers); pass the same --features/--bins/--stack/\
             --subsample/--kind/--layers/--hidden/--bidirectional",
            dir.display()
        );
    }
    model.encoder = src.encoder;
    model.norm = src.norm;
    if a.objective == b.objective && a.architecture.num_outputs == b.architecture.num_outputs {
        model.output = src.output;
    }
    Ok(())
}

/// Features of one utterance: a precomputed `.npy` matrix, or audio (WAV/FLAC)
/// run through the model's front end. The single place where extraction plugs in.
fn load_features(
    manifest: &Manifest,
    u: &Utterance,
    features: &FeatureConfig,
    keep_audio: bool,
) -> anyhow::Result<(ndarray::Array2<f32>, Option<Arc<hark::audio::Waveform>>)> {
    let path = manifest.audio_path(u);
    if path.extension().is_some_and(|e| e == "npy") {
        if keep_audio {
            bail!(
                "{}: --vtlp and --speed need audio inputs, not precomputed features",
                path.display()
            );
        }
        return Ok((hark::fsio::read_npy(&path)?, None));
    }
    let wave = hark::audio::load_16k(&path)?;
    let feats = features
        .compute(&wave)
        .with_context(|| format!("features of {}", path.display()))?;
    Ok((feats, keep_audio.then(|| Arc::new(wave))))
}

/// The phone transcript of an utterance: its `"phones"`, or else its text through
/// the lexicon (first pronunciation of each word).
fn phone_string(u: &Utterance, lexicon: Option<&Lexicon>, path: &Path) -> anyhow::Result<String> {
    if let Some(p) = &u.phones {
        return Ok(p.clone());
    }
    let lex = lexicon.with_context(|| {
        format!(
            "{}: utterance {} has no \"phones\" (give --lexicon to derive them from the text)",
            path.display(),
            u.id
        )
    })?;
    let mut out = Vec::new();
    for w in u.text.split_whitespace() {
        let (prons, oov) = lex.pronounce(&w.to_lowercase());
        if oov {
            bail!(
                "{}: utterance {}: word {w:?} is not in the lexicon",
                path.display(),
                u.id
            );
        }
        out.extend(prons.into_iter().map(hark::lexicon::phone_symbol));
    }
    Ok(out.join(" "))
}

fn examples(
    path: &Path,
    objective: Objective,
    tokens: &TokenTable,
    features: &FeatureConfig,
    lexicon: Option<&Lexicon>,
    keep_audio: bool,
) -> anyhow::Result<Vec<TrainExample>> {
    use rayon::prelude::*;
    let manifest =
        Manifest::load(path).with_context(|| format!("loading manifest {}", path.display()))?;
    let loaded: Vec<_> = manifest
        .utterances
        .par_iter()
        .map(|u| load_features(&manifest, u, features, keep_audio))
        .collect::<anyhow::Result<_>>()?;
    let mut out = Vec::with_capacity(manifest.utterances.len());
    for (u, (feats, audio)) in manifest.utterances.iter().zip(loaded) {
        let targets = match objective {
            Objective::Ctc => {
                let phones = phone_string(u, lexicon, path)?;
                let ids = phones
                    .split_whitespace()
                    .map(|p| {
                        let p = strip_stress(p);
                        tokens.index(&p).with_context(|| {
                            format!("{}: utterance {}: unknown phone {p}", path.display(), u.id)
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Targets::Ctc(ids)
            }
            Objective::Ce => {
                let ali = u.alignment.as_ref().with_context(|| {
                    format!(
                        "{}: utterance {} has no \"alignment\"",
                        path.display(),
                        u.id
                    )
                })?;
                let sil = tokens.index(SIL).context("token table lacks SIL")?;
                let mut labels = vec![sil; feats.nrows()];
                for (t, label) in labels.iter_mut().enumerate() {
                    let centre = t as f64 * FRAME_SHIFT_SECS + FRAME_CENTRE_SECS;
                    if let Some(a) = ali.iter().find(|a| a.1 <= centre && centre < a.2) {
                        let p = strip_stress(&a.0);
                        *label = tokens.index(&p).with_context(|| {
                            format!("{}: utterance {}: unknown phone {p}", path.display(), u.id)
                        })?;
                    }
                }
                Targets::Frames(labels)
            }
        };
        out.push(TrainExample {
            id: u.id.clone(),
            feats,
            targets,
            audio,
        });
    }
    Ok(out)
}

/// Runs `hark train`.
pub fn run(args: TrainArgs, quiet: bool) -> anyhow::Result<()> {
    let objective = if args.objective == "ctc" {
        Objective::Ctc
    } else {
        Objective::Ce
    };
    let tokens = match objective {
        Objective::Ctc => TokenTable::ctc_default(),
        Objective::Ce => TokenTable::hybrid_default(),
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.max(1))
        .build_global()
        .ok();
    let features = FeatureConfig {
        kind: args.features.parse::<FeatureKind>()?,
        num_bins: Some(args.bins),
        ..Default::default()
    };
    features.validate()?;
    let lexicon = args.lexicon.as_deref().map(Lexicon::read).transpose()?;
    if !(0.0..0.5).contains(&args.vtlp) {
        bail!("--vtlp {} must be in [0, 0.5)", args.vtlp);
    }
    let vtlp = (args.vtlp > 0.0).then(|| VtlpConfig::symmetric(args.vtlp));
    if args.eq != 0.0 && features.kind != FeatureKind::Fbank {
        bail!("--eq shapes log filter-bank energies: it needs --features fbank");
    }
    let mut train_set = Vec::new();
    for path in &args.train {
        train_set.extend(examples(
            path,
            objective,
            &tokens,
            &features,
            lexicon.as_ref(),
            vtlp.is_some() || args.speed.is_some(),
        )?);
    }
    let dev_set = examples(
        &args.dev,
        objective,
        &tokens,
        &features,
        lexicon.as_ref(),
        false,
    )?;
    if !quiet {
        eprintln!(
            "training on {} utterances from {} manifest(s); {} dev utterances",
            train_set.len(),
            args.train.len(),
            dev_set.len()
        );
    }
    let input_dim = train_set
        .first()
        .map(|e| e.feats.ncols())
        .context("empty training manifest")?;
    let kind = match args.kind.as_str() {
        "gru" => RecurrentKind::Gru,
        "rnn" => RecurrentKind::Rnn,
        _ => RecurrentKind::Lstm,
    };
    let config = ModelConfig {
        format_version: FORMAT_VERSION,
        architecture: Architecture {
            kind,
            num_layers: args.layers,
            hidden_dim: args.hidden,
            bidirectional: args.bidirectional,
            input_dim,
            num_outputs: tokens.len(),
        },
        objective,
        frame_stacking: args.stack,
        frame_subsampling: args.subsample,
        normalize_input: true,
        features: if input_dim == features.dim() {
            serde_json::to_value(&features)?
        } else {
            serde_json::json!({"source": "npy", "feat_dim": input_dim})
        },
    };
    let train_config = TrainConfig {
        max_epochs: args.epochs,
        batch_size: args.batch_size,
        num_shards: args.threads.max(1),
        adam: AdamConfig {
            learning_rate: args.lr,
            warmup_steps: args.warmup,
            grad_clipping: (args.clip_norm > 0.0).then_some(GradClip::Norm(args.clip_norm)),
            ..Default::default()
        },
        dropout: args.dropout,
        spec_augment: args.spec_augment.then(SpecAugmentConfig::default),
        patience: args.patience,
        checkpoint_minutes: args.checkpoint_minutes,
        seed: args.seed,
        keep_input_norm: args.init.is_some(),
        vtlp,
        speed: args.speed,
        eq: (args.eq != 0.0).then(|| EqAugmentConfig::new(args.eq)),
        ..Default::default()
    };
    let ckpt = args.out.join("checkpoint");
    if ckpt.join("state.json").exists() && !args.resume {
        bail!(
            "{} holds a checkpoint: pass --resume to continue it, or remove it",
            ckpt.display()
        );
    }
    let mut model = AcousticModel::new(config, &mut Rng::new(args.seed))?;
    if let Some(init) = &args.init {
        init_from(&mut model, init)?;
    }
    // Without a terminal (nohup, CI logs) a plain line every 60 s and at the end of
    // each epoch stands in for the bar, unless --quiet.
    let log_lines = !quiet && !std::io::stderr().is_terminal();
    let mut last_line = std::time::Instant::now();
    let bar = if quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}",
        )
        .context("progress template")?,
    );
    let mut on_progress = |p: &Progress| {
        bar.set_length(p.num_batches as u64);
        bar.set_position(p.batch as u64);
        bar.set_prefix(p.epoch.to_string());
        bar.set_message(format!(
            "loss {:.4} clip {:.0}% {:.0} frames/s",
            p.loss,
            100.0 * p.clip_rate,
            p.frames_per_sec
        ));
        if log_lines && (p.batch == p.num_batches || last_line.elapsed().as_secs() >= 60) {
            last_line = std::time::Instant::now();
            eprintln!(
                "epoch {} batch {}/{} loss {:.4} clip {:.0}% {:.0} frames/s",
                p.epoch,
                p.batch,
                p.num_batches,
                p.loss,
                100.0 * p.clip_rate,
                p.frames_per_sec
            );
        }
    };
    let report = train(
        &mut model,
        &train_set,
        &dev_set,
        &train_config,
        Some(&ckpt),
        &mut on_progress,
    )?;
    bar.finish_and_clear();
    model.save(&args.out)?;
    hark::fsio::write_atomic(&args.out.join("tokens.txt"), tokens.to_text().as_bytes())?;
    if objective == Objective::Ce {
        let labels: Vec<&[usize]> = train_set
            .iter()
            .filter_map(|e| match &e.targets {
                Targets::Frames(l) => Some(l.as_slice()),
                Targets::Ctc(_) => None,
            })
            .collect();
        let priors = hark::am::priors::count_priors(labels, tokens.len())?;
        hark::am::priors::write_priors(&args.out.join("priors.txt"), &priors)?;
    }
    let log = serde_json::to_string_pretty(&report)?;
    hark::fsio::write_atomic(&args.out.join("train_log.json"), log.as_bytes())?;
    for e in &report.history {
        println!(
            "epoch {}\ttrain_loss {:.4}\tdev_loss {:.4}\tdev_PER {:.2}%\tclip {:.0}%\t{:.0} frames/s",
            e.epoch,
            e.train_loss,
            e.dev_loss,
            100.0 * e.dev_per,
            100.0 * e.clip_rate,
            e.frames_per_sec
        );
    }
    if report.num_skipped > 0 {
        eprintln!(
            "hark: skipped {} training utterances too short for their labels",
            report.num_skipped
        );
    }
    println!(
        "best epoch {} dev PER {:.2}% -> {}",
        report.best_epoch,
        100.0 * report.best_dev_per,
        args.out.display()
    );
    Ok(())
}

/// `MIN,MAX` speed-perturbation factors.
fn parse_speed(s: &str) -> Result<SpeedConfig, String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?}: expected MIN,MAX (e.g. 0.9,1.1)"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<f32>()
            .map_err(|e| format!("{v:?}: {e} (expected MIN,MAX, e.g. 0.9,1.1)"))
    };
    SpeedConfig::new(parse(a)?, parse(b)?).map_err(|e| e.to_string())
}
