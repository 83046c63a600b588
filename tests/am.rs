//! Acoustic-model training end to end on a synthetic task (in the spirit of
//! icefall's yesno recipe): each "phone" is a random prototype feature vector, an
//! utterance is 3–6 phones of 3–6 noisy frames each, and a tiny LSTM-CTC must learn
//! to read them back.

use hark::am::train::{Targets, TrainConfig, TrainExample, evaluate, train};
use hark::am::{
    AcousticModel, Architecture, FORMAT_VERSION, ModelConfig, Objective, RecurrentKind,
};
use hark::nn::Params;
use hark::nn::optim::{AdamConfig, GradClip};
use hark::rng::Rng;
use ndarray::Array2;

use crate::util::tmpdir;

const SEED: u64 = 17;
const DIM: usize = 6;
const PHONES: usize = 5; // outputs 1..=5, blank 0

fn corpus(n: usize, rng: &mut Rng, frame_labels: bool) -> Vec<TrainExample> {
    // Prototypes are fixed by their own seed so train and dev share them.
    let mut proto_rng = Rng::new(99);
    let protos: Vec<Vec<f32>> = (0..=PHONES)
        .map(|_| (0..DIM).map(|_| 2.0 * proto_rng.normal() as f32).collect())
        .collect();
    (0..n)
        .map(|u| {
            let count = 3 + rng.below(4);
            let labels: Vec<usize> = (0..count).map(|_| 1 + rng.below(PHONES)).collect();
            let mut rows = Vec::new();
            let mut frame_ids = Vec::new();
            for &l in &labels {
                // A short silence (prototype 0) before each phone separates repeats.
                for (id, dur) in [(0, 1 + rng.below(2)), (l, 3 + rng.below(4))] {
                    for _ in 0..dur {
                        rows.extend(protos[id].iter().map(|&p| p + 0.5 * rng.normal() as f32));
                        frame_ids.push(id);
                    }
                }
            }
            let frames = frame_ids.len();
            TrainExample {
                id: format!("utt{u}"),
                feats: Array2::from_shape_vec((frames, DIM), rows).unwrap(),
                targets: if frame_labels {
                    Targets::Frames(frame_ids)
                } else {
                    Targets::Ctc(labels)
                },
                audio: None,
            }
        })
        .collect()
}

fn table(symbols: &[&str]) -> hark::phones::TokenTable {
    hark::phones::TokenTable::new(symbols.iter().map(|s| s.to_string()).collect()).unwrap()
}

fn model(objective: Objective, bidirectional: bool) -> AcousticModel {
    let config = ModelConfig {
        format_version: FORMAT_VERSION,
        architecture: Architecture {
            kind: RecurrentKind::Lstm,
            num_layers: 1,
            hidden_dim: 24,
            bidirectional,
            input_dim: DIM,
            num_outputs: PHONES + 1,
        },
        objective,
        frame_stacking: 1,
        frame_subsampling: 1,
        normalize_input: true,
        features: serde_json::Value::Null,
    };
    AcousticModel::new(config, &mut Rng::new(SEED)).unwrap()
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        max_epochs: epochs,
        batch_size: 8,
        num_shards: 2,
        adam: AdamConfig {
            learning_rate: 0.01,
            warmup_steps: 5,
            grad_clipping: Some(GradClip::Norm(5.0)),
            ..Default::default()
        },
        patience: 100,
        seed: SEED,
        ..Default::default()
    }
}

#[test]
fn tiny_lstm_ctc_learns_synthetic_phones() {
    let mut rng = Rng::new(SEED);
    let mut train_set = corpus(120, &mut rng, false);
    let dev_set = corpus(30, &mut rng, false);
    // An utterance too short for its labels is skipped, not fatal.
    let mut short = train_set[0].clone();
    short.feats = short.feats.slice(ndarray::s![..2, ..]).to_owned();
    train_set.push(short);
    let mut m = model(Objective::Ctc, true);
    let (_, per_before) = evaluate(&m, &dev_set).unwrap();
    let report = train(&mut m, &train_set, &dev_set, &config(12), None, &mut |_| {}).unwrap();
    assert_eq!(report.num_skipped, 1);
    let last = report.history.last().unwrap();
    assert!(
        report.best_dev_per < 0.10,
        "dev PER {} (before training {per_before}); history {:?}",
        report.best_dev_per,
        report.history
    );
    assert!(last.train_loss < report.history[0].train_loss);
    // The returned model is the best epoch's.
    let (_, per) = evaluate(&m, &dev_set).unwrap();
    assert_eq!(per, report.best_dev_per);
    // And it survives a save/load round trip.
    let dir = tmpdir("am-ctc");
    m.save(&dir).unwrap();
    let back = AcousticModel::load(&dir).unwrap();
    assert_eq!(
        back.log_posteriors(&dev_set[0].feats).unwrap(),
        m.log_posteriors(&dev_set[0].feats).unwrap()
    );
}

#[test]
fn tiny_lstm_cross_entropy_learns_frame_labels() {
    let mut rng = Rng::new(SEED + 1);
    let train_set = corpus(80, &mut rng, true);
    let dev_set = corpus(20, &mut rng, true);
    let mut m = model(Objective::Ce, false);
    let report = train(&mut m, &train_set, &dev_set, &config(6), None, &mut |_| {}).unwrap();
    assert!(report.best_dev_per < 0.15, "{:?}", report.history);
}

#[test]
fn training_is_deterministic_and_resume_continues_exactly() {
    let mut rng = Rng::new(SEED + 2);
    let train_set = corpus(24, &mut rng, false);
    let dev_set = corpus(6, &mut rng, false);
    let run = |epochs: usize, ckpt: Option<&std::path::Path>| {
        let mut m = model(Objective::Ctc, false);
        let mut cfg = config(epochs);
        cfg.dropout = 0.0;
        cfg.spec_augment = Some(Default::default());
        train(&mut m, &train_set, &dev_set, &cfg, ckpt, &mut |_| {}).unwrap();
        m
    };
    let a = run(3, None);
    let b = run(3, None);
    assert_eq!(weights(&a), weights(&b), "two runs with one seed differ");
    // Interrupt after 2 epochs, then resume to 3 from the checkpoint.
    let dir = tmpdir("am-resume");
    run(2, Some(&dir));
    let resumed = run(3, Some(&dir));
    assert_eq!(
        weights(&resumed),
        weights(&a),
        "resumed run differs from an uninterrupted one"
    );
}

/// Every weight's bits, in visit order (to compare training runs exactly).
fn weights(m: &AcousticModel) -> Vec<u32> {
    let mut all = Vec::new();
    m.visit(&mut |_, _, v| all.extend(v.iter().map(|x| x.to_bits())));
    all
}

/// The front end of the tone corpora: 40-bin fbank.
fn tone_front_end() -> hark::features::FeatureConfig {
    hark::features::FeatureConfig {
        num_bins: Some(40),
        ..Default::default()
    }
}

/// A fresh model over 40-dim features whose config names `front_end`, so that
/// augmentations that recompute features from audio (VTLP, speed) can run.
fn audio_model(objective: Objective, front_end: &hark::features::FeatureConfig) -> AcousticModel {
    let mut m = model(objective, false);
    m.config.architecture.input_dim = 40;
    m.config.features = serde_json::to_value(front_end).unwrap();
    AcousticModel::new(m.config, &mut Rng::new(SEED)).unwrap()
}

/// The weights of a fresh CTC [`audio_model`] after training on `set` with `cfg`.
fn trained_weights(
    front_end: &hark::features::FeatureConfig,
    set: &[TrainExample],
    dev: &[TrainExample],
    cfg: &TrainConfig,
) -> hark::Result<Vec<u32>> {
    let mut m = audio_model(Objective::Ctc, front_end);
    train(&mut m, set, dev, cfg, None, &mut |_| {}).map(|_| weights(&m))
}

/// Utterances made of tones (one frequency per "phone"), carrying their audio, with
/// 40-bin fbank features from the front end in the model's config.
fn tone_corpus(
    n: usize,
    rng: &mut Rng,
    front_end: &hark::features::FeatureConfig,
) -> Vec<TrainExample> {
    tones(n, 3, 2400, rng, front_end)
}

/// `n` utterances of `num_labels` tones of `samples` samples each; consecutive labels
/// differ, so CTC needs at least `num_labels` output frames.
fn tones(
    n: usize,
    num_labels: usize,
    samples: usize,
    rng: &mut Rng,
    front_end: &hark::features::FeatureConfig,
) -> Vec<TrainExample> {
    (0..n)
        .map(|u| {
            let mut labels: Vec<usize> = Vec::new();
            while labels.len() < num_labels {
                let l = 1 + rng.below(PHONES);
                if labels.last() != Some(&l) {
                    labels.push(l);
                }
            }
            let mut audio = Vec::new();
            for &l in &labels {
                let f = 300.0 * l as f32;
                audio.extend((0..samples).map(|i| {
                    0.3 * (2.0 * std::f32::consts::PI * f * i as f32 / 16000.0).sin()
                        + 0.01 * rng.normal() as f32
                }));
            }
            let wave = hark::audio::Waveform::new(audio, 16000);
            TrainExample {
                id: format!("tone{u}"),
                feats: front_end.compute(&wave).unwrap(),
                targets: Targets::Ctc(labels),
                audio: Some(wave.into()),
            }
        })
        .collect()
}

#[test]
fn equaliser_augmentation_is_seeded_changes_training_and_checks_its_range() {
    use hark::nn::augment::EqAugmentConfig;
    let mut rng = Rng::new(SEED + 5);
    let train_set = corpus(8, &mut rng, false);
    let dev_set = corpus(2, &mut rng, false);
    let run = |eq: Option<EqAugmentConfig>| {
        let mut m = model(Objective::Ctc, false);
        let cfg = TrainConfig { eq, ..config(1) };
        train(&mut m, &train_set, &dev_set, &cfg, None, &mut |_| {}).map(|_| weights(&m))
    };
    let eq = Some(EqAugmentConfig::new(1.0));
    let a = run(eq).unwrap();
    assert_eq!(a, run(eq).unwrap(), "equaliser runs differ");
    assert_ne!(a, run(None).unwrap(), "the equaliser changed nothing");
    let err = run(Some(EqAugmentConfig::new(-1.0)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_nats"), "{err}");
}

#[test]
fn vtlp_recomputes_warped_features_deterministically() {
    use hark::am::VtlpConfig;
    let front_end = tone_front_end();
    let mut rng = Rng::new(SEED + 3);
    let train_set = tone_corpus(8, &mut rng, &front_end);
    let dev_set = tone_corpus(2, &mut rng, &front_end);
    let run = |vtlp: Option<VtlpConfig>, set: &[TrainExample]| {
        trained_weights(
            &front_end,
            set,
            &dev_set,
            &TrainConfig { vtlp, ..config(1) },
        )
    };
    let vtlp = Some(VtlpConfig::symmetric(0.1));
    let a = run(vtlp, &train_set).unwrap();
    assert_eq!(a, run(vtlp, &train_set).unwrap(), "VTLP runs differ");
    assert_ne!(a, run(None, &train_set).unwrap(), "VTLP changed nothing");
    // A warp of exactly 1 recomputes the stored features: same as no VTLP.
    let identity = Some(VtlpConfig::symmetric(0.0));
    assert_eq!(
        run(identity, &train_set).unwrap(),
        run(None, &train_set).unwrap()
    );
    // VTLP without audio, or with a warp the front end refuses, is a config error.
    let no_audio: Vec<TrainExample> = train_set
        .iter()
        .map(|e| TrainExample {
            audio: None,
            ..e.clone()
        })
        .collect();
    let err = run(vtlp, &no_audio).unwrap_err().to_string();
    assert!(err.contains("carry their audio"), "{err}");
    let err = run(Some(VtlpConfig::symmetric(0.9)), &train_set)
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid configuration"), "{err}");
}

#[test]
fn speed_perturbation_is_seeded_ctc_only_and_keeps_labels_reachable() {
    use hark::am::SpeedConfig;
    let front_end = tone_front_end();
    let mut rng = Rng::new(SEED + 7);
    let train_set = tone_corpus(8, &mut rng, &front_end);
    let dev_set = tone_corpus(2, &mut rng, &front_end);
    let run = |speed: Option<SpeedConfig>, set: &[TrainExample]| {
        trained_weights(
            &front_end,
            set,
            &dev_set,
            &TrainConfig { speed, ..config(1) },
        )
    };
    let speed = Some(SpeedConfig::new(0.9, 1.1).unwrap());
    let a = run(speed, &train_set).unwrap();
    assert_eq!(a, run(speed, &train_set).unwrap(), "speed runs differ");
    assert_ne!(a, run(None, &train_set).unwrap(), "speed changed nothing");
    // A factor of exactly 1 recomputes the stored features: same as none.
    let identity = Some(SpeedConfig::new(1.0, 1.0).unwrap());
    assert_eq!(
        run(identity, &train_set).unwrap(),
        run(None, &train_set).unwrap()
    );
    // 30 labels in 43 frames: twice as fast leaves 21 frames, too few for CTC, so
    // every draw falls back to the stored features and training is unchanged.
    let tight = tones(6, 30, 240, &mut rng, &front_end);
    assert_eq!(tight[0].feats.nrows(), 43);
    let double = Some(SpeedConfig::new(2.0, 2.0).unwrap());
    assert_eq!(run(double, &tight).unwrap(), run(None, &tight).unwrap());
    // Out-of-range factors, frame labels and missing audio are errors.
    for (lo, hi) in [(0.3, 1.1), (1.1, 0.9), (1.0, 2.5), (f32::NAN, 1.0)] {
        let err = SpeedConfig::new(lo, hi).unwrap_err().to_string();
        assert!(err.contains("speed perturbation range"), "{err}");
    }
    let frames: Vec<TrainExample> = train_set
        .iter()
        .map(|e| TrainExample {
            targets: Targets::Frames(vec![1; e.feats.nrows()]),
            ..e.clone()
        })
        .collect();
    let mut m = audio_model(Objective::Ce, &front_end);
    let cfg = TrainConfig { speed, ..config(1) };
    let err = train(&mut m, &frames, &frames[..2], &cfg, None, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs the ctc objective"), "{err}");
    let no_audio: Vec<TrainExample> = train_set
        .iter()
        .map(|e| TrainExample {
            audio: None,
            ..e.clone()
        })
        .collect();
    let err = run(speed, &no_audio).unwrap_err().to_string();
    assert!(err.contains("carry their audio"), "{err}");
}

#[test]
fn hark_train_cli_writes_a_loadable_bundle_and_guards_its_checkpoint() {
    use crate::util::hark;
    let dir = tmpdir("am-cli");
    let mut rng = Rng::new(SEED + 3);
    let names = ["AA", "AE", "AH", "AO", "AW"];
    for (split, n) in [("train", 16), ("dev", 4)] {
        let mut lines = String::new();
        for e in corpus(n, &mut rng, false) {
            let file = format!("{split}-{}.npy", e.id);
            hark::fsio::write_npy(&dir.join(&file), &e.feats).unwrap();
            let Targets::Ctc(labels) = &e.targets else {
                unreachable!()
            };
            let phones: Vec<&str> = labels.iter().map(|&l| names[l - 1]).collect();
            lines += &format!(
                "{{\"id\": \"{}\", \"audio\": \"{file}\", \"text\": \"x\", \"duration\": 1.0, \"phones\": \"{}\"}}\n",
                e.id,
                phones.join(" ")
            );
        }
        std::fs::write(dir.join(format!("{split}.jsonl")), lines).unwrap();
    }
    let out = dir.join("model");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "train",
            "--train",
            dir.join("train.jsonl").to_str().unwrap(),
            "--dev",
            dir.join("dev.jsonl").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--layers",
            "1",
            "--hidden",
            "8",
            "--batch-size",
            "4",
            "--warmup",
            "1",
            "--quiet",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        hark(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(&["--epochs", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("dev_PER"));
    let m = AcousticModel::load(&out).unwrap();
    assert_eq!(m.num_outputs(), 41);
    assert!(out.join("tokens.txt").exists() && out.join("train_log.json").exists());
    // A second run must not silently overwrite the checkpoint.
    let o = run(&["--epochs", "2"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"));
    let o = run(&["--resume", "--epochs", "3"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Several training manifests are read in turn.
    let two = dir.join("two");
    let o = hark(&[
        "train",
        "--train",
        dir.join("train.jsonl").to_str().unwrap(),
        dir.join("dev.jsonl").to_str().unwrap(),
        "--dev",
        dir.join("dev.jsonl").to_str().unwrap(),
        "--out",
        two.to_str().unwrap(),
        "--layers",
        "1",
        "--hidden",
        "8",
        "--epochs",
        "1",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("training on 20 utterances from 2 manifest(s)"),
        "{err}"
    );

    // hark posteriors: the trained bundle turns features into log-posteriors.
    let feats = dir.join("dev-utt0.npy");
    let post = dir.join("post.npy");
    let o = hark(&[
        "posteriors",
        "--model",
        out.to_str().unwrap(),
        feats.to_str().unwrap(),
        "--out",
        post.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lp = hark::fsio::read_npy(&post).unwrap();
    let expected = AcousticModel::load(&out)
        .unwrap()
        .log_posteriors(&hark::fsio::read_npy(&feats).unwrap())
        .unwrap();
    assert_eq!(lp, expected);
    let o = hark(&[
        "posteriors",
        "--model",
        dir.to_str().unwrap(),
        feats.to_str().unwrap(),
        "--out",
        post.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("config.json"));
}

#[test]
fn first_pass_phones_become_ctc_labels_with_silence_at_both_ends() {
    use hark::am::adapt::pseudo_targets;
    use hark::decode::{Hypothesis, PhoneSpan};
    let tokens = table(&["<blk>", "SIL", "AA", "B"]);
    let hyp = |ids: &[usize]| Hypothesis {
        phones: ids
            .iter()
            .enumerate()
            .map(|(i, &t)| PhoneSpan {
                phone: tokens.symbol(t).unwrap().to_string(),
                token: t,
                start: i,
                end: i + 1,
            })
            .collect(),
        ..Default::default()
    };
    // blanks dropped, SIL added at the ends, repeated SIL merged, phones repeated kept
    assert_eq!(
        pseudo_targets(&hyp(&[2, 0, 2, 3]), &tokens),
        Some(vec![1, 2, 2, 3, 1])
    );
    assert_eq!(
        pseudo_targets(&hyp(&[1, 1, 2, 1, 1, 3, 1]), &tokens),
        Some(vec![1, 2, 1, 3, 1])
    );
    // nothing but silence and blanks: no labels
    assert_eq!(pseudo_targets(&hyp(&[1, 0, 1]), &tokens), None);
    assert_eq!(pseudo_targets(&hyp(&[]), &tokens), None);
    // a table without SIL: the phones alone
    let plain = table(&["<blk>", "a", "b"]);
    assert_eq!(pseudo_targets(&hyp(&[1, 0, 2]), &plain), Some(vec![1, 2]));
}

/// A model trained on the synthetic corpus (frame labels for `Ce`), 60 utterances of
/// a new "speaker" (every feature scaled and shifted) to adapt on, the dev set spoken
/// by that speaker, and the model's PER on it (checked to be well above its PER on
/// the plain dev set).
fn shifted_speaker(
    objective: Objective,
    seed: u64,
) -> (AcousticModel, Vec<TrainExample>, Vec<TrainExample>, f64) {
    let frame_labels = objective == Objective::Ce;
    let mut rng = Rng::new(seed);
    let train_set = corpus(120, &mut rng, frame_labels);
    let dev_set = corpus(30, &mut rng, frame_labels);
    let mut base = model(objective, true);
    train(
        &mut base,
        &train_set,
        &dev_set,
        &config(12),
        None,
        &mut |_| {},
    )
    .unwrap();
    let speaker = |set: &[TrainExample]| -> Vec<TrainExample> {
        set.iter()
            .map(|e| {
                let mut e = e.clone();
                e.feats.mapv_inplace(|x| 0.6 * x + 0.9);
                e
            })
            .collect()
    };
    let shift_adapt = speaker(&corpus(60, &mut rng, frame_labels));
    let shift_test = speaker(&dev_set);
    let (_, per_seen) = evaluate(&base, &dev_set).unwrap();
    let (_, per_before) = evaluate(&base, &shift_test).unwrap();
    assert!(
        per_before > per_seen + 0.1,
        "the shift should hurt: {per_seen} → {per_before}"
    );
    (base, shift_adapt, shift_test, per_before)
}

#[test]
fn adaptation_learns_a_shifted_speaker_from_first_pass_phones_and_keeps_the_normalisation() {
    use hark::am::adapt::{AdaptConfig, adapt};
    use hark::decode::{Hypothesis, PhoneSpan};
    let (base, shift_adapt, shift_test, per_before) = shifted_speaker(Objective::Ctc, SEED + 7);
    // First-pass labels (here the true phones, as a perfect first pass would give).
    let tokens = table(&["<blk>", "a", "b", "c", "d", "e"]);
    let recordings: Vec<(String, Array2<f32>, Hypothesis)> = shift_adapt
        .iter()
        .map(|e| {
            let Targets::Ctc(labels) = &e.targets else {
                unreachable!()
            };
            let phones = labels
                .iter()
                .map(|&t| PhoneSpan {
                    phone: tokens.symbol(t).unwrap().to_string(),
                    token: t,
                    start: 0,
                    end: 0,
                })
                .collect();
            (
                e.id.clone(),
                e.feats.clone(),
                Hypothesis {
                    phones,
                    ..Default::default()
                },
            )
        })
        .collect();
    let cfg = AdaptConfig {
        epochs: 8,
        learning_rate: 0.005,
        batch_size: 8,
        ..AdaptConfig::default()
    };
    let (adapted, report) = adapt(&base, &tokens, recordings, &cfg).unwrap();
    assert_eq!((report.utterances, report.used), (60, 60));
    assert_eq!(report.train_loss.len(), 8);
    assert!(report.train_loss[7] < report.train_loss[0], "{report:?}");
    let (_, per_after) = evaluate(&adapted, &shift_test).unwrap();
    assert!(
        per_after < 0.5 * per_before,
        "adapted PER {per_after} against {per_before} before"
    );
    // The network is tuned, its input normalisation is the base model's.
    assert_eq!(adapted.norm, base.norm);
    // A CTC model needs its blank among the tokens.
    let no_blank = table(&["SIL", "a", "b", "c", "d", "e"]);
    let err = adapt(&base, &no_blank, Vec::new(), &cfg).unwrap_err();
    assert!(err.to_string().contains("<blk>"), "{err}");
}

#[test]
fn first_pass_segments_become_frame_labels_with_silence_in_the_gaps() {
    use hark::am::adapt::pseudo_frame_labels;
    use hark::decode::{Hypothesis, PhoneSpan};
    let tokens = table(&["SIL", "AA", "B"]);
    let hyp = |spans: &[(usize, usize, usize)]| Hypothesis {
        phones: spans
            .iter()
            .map(|&(token, start, end)| PhoneSpan {
                phone: String::new(),
                token,
                start,
                end,
            })
            .collect(),
        ..Default::default()
    };
    // Spans fill their frames; the gaps before, between and after are silence.
    assert_eq!(
        pseudo_frame_labels(&hyp(&[(1, 1, 3), (2, 4, 6)]), 8, &tokens),
        Some(vec![0, 1, 1, 0, 2, 2, 0, 0])
    );
    // Spans past the last frame are cut; silence alone gives no labels.
    assert_eq!(
        pseudo_frame_labels(&hyp(&[(2, 0, 9)]), 3, &tokens),
        Some(vec![2, 2, 2])
    );
    assert_eq!(pseudo_frame_labels(&hyp(&[(0, 0, 4)]), 4, &tokens), None);
    assert_eq!(pseudo_frame_labels(&hyp(&[]), 4, &tokens), None);
    assert_eq!(pseudo_frame_labels(&hyp(&[(1, 0, 2)]), 0, &tokens), None);
    // Without SIL, a gap takes the phone before it (after it at the start).
    let plain = table(&["AA", "B"]);
    assert_eq!(
        pseudo_frame_labels(&hyp(&[(1, 2, 3), (0, 4, 5)]), 6, &plain),
        Some(vec![1, 1, 1, 1, 0, 0])
    );
}

#[test]
fn adaptation_of_a_frame_level_model_learns_a_shifted_speaker_from_first_pass_segments() {
    use hark::am::adapt::{AdaptConfig, adapt};
    use hark::decode::{Hypothesis, PhoneSpan};
    let (base, shift_adapt, shift_test, per_before) = shifted_speaker(Objective::Ce, SEED + 11);
    // First-pass segmentation: the true frame labels as phone spans, silence (0)
    // left out as a decoder that does not report it would.
    let tokens = table(&["SIL", "a", "b", "c", "d", "e"]);
    let recordings: Vec<(String, Array2<f32>, Hypothesis)> = shift_adapt
        .iter()
        .map(|e| {
            let Targets::Frames(frames) = &e.targets else {
                unreachable!()
            };
            let mut phones: Vec<PhoneSpan> = Vec::new();
            for (t, &l) in frames.iter().enumerate() {
                match phones.last_mut() {
                    Some(p) if p.token == l && p.end == t => p.end = t + 1,
                    _ if l != 0 => phones.push(PhoneSpan {
                        phone: tokens.symbol(l).unwrap().to_string(),
                        token: l,
                        start: t,
                        end: t + 1,
                    }),
                    _ => {}
                }
            }
            let hyp = Hypothesis {
                phones,
                ..Default::default()
            };
            (e.id.clone(), e.feats.clone(), hyp)
        })
        .collect();
    let cfg = AdaptConfig {
        epochs: 8,
        learning_rate: 0.005,
        batch_size: 8,
        ..AdaptConfig::default()
    };
    let (adapted, report) = adapt(&base, &tokens, recordings, &cfg).unwrap();
    assert_eq!((report.utterances, report.used), (60, 60));
    // Every phone segment and the silences between them.
    let segments: usize = shift_adapt
        .iter()
        .map(|e| match &e.targets {
            Targets::Frames(l) => 1 + l.windows(2).filter(|w| w[0] != w[1]).count(),
            Targets::Ctc(_) => 0,
        })
        .sum();
    assert_eq!(report.labels, segments);
    assert!(report.train_loss[7] < report.train_loss[0], "{report:?}");
    let (_, per_after) = evaluate(&adapted, &shift_test).unwrap();
    assert!(
        per_after < 0.5 * per_before,
        "adapted PER {per_after} against {per_before} before"
    );
    assert_eq!(adapted.norm, base.norm);
}

#[test]
fn fixed_epochs_train_without_dev_keep_the_last_model_and_never_decay() {
    let mut rng = Rng::new(SEED + 9);
    let train_set = corpus(24, &mut rng, false);
    let mut m = model(Objective::Ctc, false);
    // Without fixed epochs a dev set is required.
    let err = train(
        &mut m.clone(),
        &train_set,
        &[],
        &config(2),
        None,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("dev"), "{err}");
    let cfg = TrainConfig {
        fixed_epochs: true,
        patience: 1,
        ..config(3)
    };
    let report = train(&mut m, &train_set, &[], &cfg, None, &mut |_| {}).unwrap();
    // All three epochs ran despite patience 1, with no dev evaluation; the
    // learning rate never decayed; and the model returned is the trained one (a
    // second run from it starts at a lower loss and moves it further).
    assert_eq!(report.history.len(), 3);
    assert!(report.history.iter().all(|h| h.dev_per.is_nan()));
    // (it rises through the warm-up, then stays)
    let lrs: Vec<f64> = report.history.iter().map(|h| h.learning_rate).collect();
    assert!(lrs.windows(2).all(|w| w[1] >= w[0]), "{lrs:?}");
    assert_eq!(lrs[2], cfg.adam.learning_rate);
    let mut again = m.clone();
    let r2 = train(&mut again, &train_set, &[], &cfg, None, &mut |_| {}).unwrap();
    assert!(r2.history[0].train_loss < report.history[0].train_loss);
    assert_ne!(weights(&again), weights(&m));
}
