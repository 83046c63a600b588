//! Unsupervised speaker adaptation by self-training.
//!
//! A speaker the network never heard is recognised worse than the training voices
//! (the default model: about 31 % greedy PER on an unseen festival voice against
//! 5 % on unseen variants of seen ones). Given several recordings of that speaker, and
//! no transcripts, the recogniser can adapt to them in two passes, as Kaldi's
//! speaker-adapted decoding does with fMLLR transforms estimated on a first pass:
//!
//! 1. decode every recording with the full decoder (lexicon and language model),
//!    whose phone sequence is better than the network's own best path because the
//!    words and the LM correct many phones;
//! 2. fine-tune a copy of the network on what that pass found (a few epochs at a
//!    small learning rate, every layer, with dropout, no dev set:
//!    [`TrainConfig::fixed_epochs`]): a CTC model with CTC on its phone sequences
//!    ([`pseudo_targets`]), a frame-level (hybrid) model with cross-entropy on its
//!    phone segmentation, the frame labels of the first pass's Viterbi path
//!    ([`pseudo_frame_labels`]);
//! 3. decode again with the adapted network.
//!
//! The defaults (6 epochs, learning rate 5e-4, dropout 0.2) were chosen on eight
//! voices the default model never heard that are not in its test split (the
//! borrowed-voice dev set, see the README), from 3 / 6 / 12 epochs, 2e-4 / 5e-4 /
//! 1e-3 and dropout 0 / 0.2 / 0.3.
//!
//! The caller does the decoding (any decoder, any resources) and passes the
//! first-pass hypotheses; [`adapt`] turns them into targets and trains. [`crate::recognizer::Recognizer::adapt`] runs the whole first pass and the training.

use ndarray::Array2;

use crate::am::model::{AcousticModel, Objective};
use crate::am::train::{Targets, TrainConfig, TrainExample, train};
use crate::decode::Hypothesis;
use crate::error::{Error, Result};
use crate::nn::augment::SpecAugmentConfig;
use crate::nn::optim::AdamConfig;
use crate::phones::TokenTable;

/// How the network is fine-tuned on the first pass's phones.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptConfig {
    /// Passes over the speaker's recordings. The number of updates grows with the
    /// amount of speech: ⌈utterances / batch_size⌉ per epoch.
    pub epochs: usize,
    /// Adam learning rate (after a 5-update warm-up).
    pub learning_rate: f64,
    /// Utterances per update.
    pub batch_size: usize,
    /// Gradient shards per update, run in parallel (use the core count).
    pub num_shards: usize,
    /// Dropout between the recurrent layers while adapting: a noisier student
    /// learns past more of its teacher's mistakes ("noisy student" self-training).
    pub dropout: f64,
    /// SpecAugment masking of the inputs while adapting (more student noise; none
    /// when `None`).
    pub spec_augment: Option<SpecAugmentConfig>,
    /// Rounds of decoding and fine-tuning ([`crate::recognizer::Recognizer::adapt`]): each round
    /// after the first decodes with the previous round's network and fine-tunes the
    /// original network on those labels.
    pub rounds: usize,
    /// Seed of the batch order and the dropout masks.
    pub seed: u64,
}

impl Default for AdaptConfig {
    fn default() -> Self {
        AdaptConfig {
            epochs: 6,
            learning_rate: 5e-4,
            batch_size: 16,
            num_shards: 2,
            dropout: 0.2,
            spec_augment: None,
            rounds: 1,
            seed: 1,
        }
    }
}

impl AdaptConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 || self.num_shards == 0 || self.rounds == 0 {
            return Err(Error::Config(
                "adaptation epochs, rounds, batch size and shards must be positive".into(),
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate < 1.0) {
            return Err(Error::Config(format!(
                "adaptation learning rate {} must lie in (0, 1)",
                self.learning_rate
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!(
                "adaptation dropout {} must lie in [0, 1)",
                self.dropout
            )));
        }
        Ok(())
    }
}

/// What [`adapt`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AdaptReport {
    /// Recordings passed in.
    pub utterances: usize,
    /// Recordings trained on (the others had no phones in their first pass, or too
    /// few frames for their labels).
    pub used: usize,
    /// Pseudo-label phones of the recordings that had any (the few too short for
    /// their labels included): CTC labels, or phone segments of the frame labels.
    pub labels: usize,
    /// Mean CTC loss per output frame of each epoch.
    pub train_loss: Vec<f64>,
}

/// CTC labels from a first-pass hypothesis: its phones in order, without blanks;
/// when the token table has `SIL`, with `SIL` at both ends as in the training
/// manifests and never two in a row. `None` when the hypothesis holds no phone
/// other than silence.
pub fn pseudo_targets(hyp: &Hypothesis, tokens: &TokenTable) -> Option<Vec<usize>> {
    let sil = tokens.index("SIL");
    let blank = tokens.blank();
    let mut out: Vec<usize> = sil.into_iter().collect();
    for p in &hyp.phones {
        if Some(p.token) == blank || p.token >= tokens.len() {
            continue;
        }
        if Some(p.token) == sil && out.last() == Some(&p.token) {
            continue;
        }
        out.push(p.token);
    }
    if out.iter().all(|&t| Some(t) == sil) {
        return None;
    }
    if let Some(sil) = sil.filter(|&s| out.last() != Some(&s)) {
        out.push(sil);
    }
    Some(out)
}

/// Frame labels from a first-pass hypothesis of a frame-level (hybrid) model, one
/// per output frame of the `frames` the network gave: each frame gets the phone
/// whose span holds it; a frame in no span (silence the decoder did not report)
/// gets `SIL` when the table has it, else the nearest phone before it (after it at
/// the start). `None` when the hypothesis holds no phone other than silence.
pub fn pseudo_frame_labels(
    hyp: &Hypothesis,
    frames: usize,
    tokens: &TokenTable,
) -> Option<Vec<usize>> {
    let sil = tokens.index("SIL");
    let mut labels: Vec<Option<usize>> = vec![None; frames];
    for p in hyp.phones.iter().filter(|p| p.token < tokens.len()) {
        for l in labels.iter_mut().take(p.end.min(frames)).skip(p.start) {
            *l = Some(p.token);
        }
    }
    if !labels.iter().any(|l| l.is_some() && *l != sil) {
        return None;
    }
    let first = labels.iter().flatten().next().copied()?;
    let mut last = first;
    Some(
        labels
            .into_iter()
            .map(|l| {
                let t = l.or(sil).unwrap_or(last);
                last = t;
                t
            })
            .collect(),
    )
}

/// Checks that `model` can be adapted: its outputs are `tokens`, with a blank for a
/// CTC model.
pub fn check_model(model: &AcousticModel, tokens: &TokenTable) -> Result<()> {
    if model.config.objective == Objective::Ctc && tokens.blank().is_none() {
        return Err(Error::Config(
            "speaker adaptation of a CTC model needs the blank token <blk> in its tokens".into(),
        ));
    }
    if tokens.len() != model.num_outputs() {
        return Err(Error::dim(
            "adaptation tokens",
            model.num_outputs(),
            tokens.len(),
        ));
    }
    Ok(())
}

/// Fine-tunes a copy of `model` on `(features, first-pass hypothesis)` pairs of one
/// speaker and returns it: with CTC on the hypotheses' phones for a CTC model, with
/// cross-entropy on their frame labels for a frame-level one. Features are un-normalised front-end output,
/// as [`crate::recognizer::Recognizer::features`] gives; the model keeps its input normalisation.
pub fn adapt(
    model: &AcousticModel,
    tokens: &TokenTable,
    utterances: Vec<(String, Array2<f32>, Hypothesis)>,
    config: &AdaptConfig,
) -> Result<(AcousticModel, AdaptReport)> {
    config.validate()?;
    check_model(model, tokens)?;
    let n = utterances.len();
    let (stack, sub) = (model.config.frame_stacking, model.config.frame_subsampling);
    let examples: Vec<TrainExample> = utterances
        .into_iter()
        .filter_map(|(id, feats, hyp)| {
            let targets = match model.config.objective {
                Objective::Ctc => Targets::Ctc(pseudo_targets(&hyp, tokens)?),
                Objective::Ce => {
                    let frames = feats.nrows();
                    let out = pseudo_frame_labels(&hyp, model.num_output_frames(frames), tokens)?;
                    // The trainer reads output frame j's label at input frame
                    // j·subsampling + stacking/2 (the centre of its window).
                    Targets::Frames(
                        (0..frames)
                            .map(|i| out[(i.saturating_sub(stack / 2) / sub).min(out.len() - 1)])
                            .collect(),
                    )
                }
            };
            Some(TrainExample {
                id,
                feats,
                targets,
                audio: None,
            })
        })
        .collect();
    if examples.is_empty() {
        return Err(Error::Invalid(format!(
            "speaker adaptation: none of the {n} recordings has a first-pass phone to learn from"
        )));
    }
    let labels_of = |e: &TrainExample| match &e.targets {
        Targets::Ctc(t) => t.len(),
        Targets::Frames(l) => 1 + l.windows(2).filter(|w| w[0] != w[1]).count(),
    };
    let train_config = TrainConfig {
        max_epochs: config.epochs,
        batch_size: config.batch_size,
        num_shards: config.num_shards,
        adam: AdamConfig {
            learning_rate: config.learning_rate,
            warmup_steps: 5,
            ..AdamConfig::default()
        },
        seed: config.seed,
        dropout: config.dropout,
        spec_augment: config.spec_augment,
        keep_input_norm: true,
        fixed_epochs: true,
        ..TrainConfig::default()
    };
    let mut adapted = model.clone();
    let report = train(
        &mut adapted,
        &examples,
        &[],
        &train_config,
        None,
        &mut |_| {},
    )?;
    let used = examples.len() - report.num_skipped;
    let labels = examples.iter().map(labels_of).sum();
    Ok((
        adapted,
        AdaptReport {
            utterances: n,
            used,
            labels,
            train_loss: report.history.iter().map(|h| h.train_loss).collect(),
        },
    ))
}
