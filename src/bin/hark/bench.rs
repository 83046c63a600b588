//! `hark bench`: every decoder on the same posteriors of a test manifest — error
//! rates, real-time factor per stage, peak memory.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use hark::am::AcousticModel;
use hark::am::adapt::AdaptConfig;
use hark::decode::{DecoderConfig, DecoderKind};
use hark::eval::ErrorStats;
use hark::manifest::Manifest;
use hark::recognizer::Recognizer;
use rayon::prelude::*;

/// Arguments of `hark bench`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hark bench --model models/mine data/corpus/test.jsonl --decoders greedy,beam,hmm\n  \
hark bench data/corpus/test.jsonl --plot docs/beam-sweep.svg --format json > bench.json\n\n\
Features and network run once per utterance (one thread per utterance); each decoder\n\
then decodes the same posteriors on one thread. PER compares the decoder's phones with\n\
the manifest's \"phones\" (SIL ignored), WER its words with \"text\". Real-time\n\
factors are CPU seconds of the thread doing the work per second of audio (so they\n\
hold on a busy machine and mean \"one core\"); wall-clock ones are in the JSON.\n\
Peak memory is the process's peak resident set size (VmHWM). With --plot every\n\
decoder is also run over a sweep of beams and WER is drawn against decoder RTF."
)]
pub struct BenchArgs {
    /// Test manifest (JSONL or Kaldi data directory).
    manifest: PathBuf,
    /// Model bundle (default: models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Decoders to run, comma-separated.
    #[arg(long, default_value = "greedy,beam,hmm", value_delimiter = ',')]
    decoders: Vec<String>,
    /// Beam for beam/hmm (default: each decoder's own).
    #[arg(long)]
    beam: Option<f32>,
    /// LM weight (default: each decoder's own).
    #[arg(long)]
    lm_weight: Option<f32>,
    /// Word insertion bonus in nats (default: each decoder's own).
    #[arg(long, allow_negative_numbers = true)]
    word_bonus: Option<f32>,
    /// Weight of the lexicon's pronunciation log-probabilities (default 1; 0 ignores
    /// them).
    #[arg(long)]
    pron_weight: Option<f32>,
    /// hmm with priors (hybrid): states per phone (default 1 for frames of 20 ms or
    /// more, else 3).
    #[arg(long)]
    hmm_states: Option<usize>,
    /// hmm with priors (hybrid): acoustic scale of log(posterior / prior).
    #[arg(long, default_value_t = 1.0)]
    acoustic_scale: f32,
    /// Use at most this many utterances (0 = all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// table (human) or json (one object).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
    /// Also sweep the beam of every decoder and draw WER (PER without a lexicon)
    /// against decoder real-time factor into this SVG file.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Beam sizes of the beam decoder's sweep (hypotheses).
    #[arg(long, value_delimiter = ',', default_value = "4,8,16,32,64,128,256")]
    sweep_beam: Vec<f32>,
    /// Beams of the hmm decoder's sweep (nats).
    #[arg(long, value_delimiter = ',', default_value = "6,8,10,12,14,16,20")]
    sweep_hmm: Vec<f32>,
    /// Also write every decoder's hypothesis of every utterance (default settings) to
    /// this JSON Lines file: id, decoder, reference and hypothesis words and phones,
    /// and their error counts (for reading the errors, as sclite's per-utterance
    /// report).
    #[arg(long)]
    hyps: Option<PathBuf>,
    /// Also decode with every combination of these LM weights and the
    /// `--tune-word-bonus` values (Kaldi's scoring sweep over LM weight and insertion
    /// penalty), on the same posteriors, and report each one's WER. Tune on a dev set,
    /// never on the test set.
    #[arg(long, value_delimiter = ',')]
    tune_lm_weight: Vec<f32>,
    /// Word bonuses of the tuning grid (default: the decoders' own).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    tune_word_bonus: Vec<f32>,
    /// Unsupervised speaker adaptation first (CTC or hybrid models): for each speaker of the
    /// manifest (its "speaker" field; utterances without one form one group), decode
    /// every utterance with hmm, fine-tune a copy of the network on the phones found,
    /// and compute that speaker's posteriors with it. Uses the audio, never the
    /// transcripts.
    #[arg(long)]
    adapt: bool,
    /// Adaptation: passes over each speaker's utterances.
    #[arg(long, default_value_t = AdaptConfig::default().epochs)]
    adapt_epochs: usize,
    /// Adaptation: Adam learning rate.
    #[arg(long, default_value_t = AdaptConfig::default().learning_rate)]
    adapt_lr: f64,
    /// Adaptation: dropout between the recurrent layers.
    #[arg(long, default_value_t = AdaptConfig::default().dropout)]
    adapt_dropout: f64,
    /// Adaptation: SpecAugment masking of the inputs (2 frequency masks of up to 8
    /// bins, 2 time masks of up to 20 frames).
    #[arg(long)]
    adapt_spec_augment: bool,
    /// Adaptation: rounds of decoding and fine-tuning.
    #[arg(long, default_value_t = AdaptConfig::default().rounds)]
    adapt_rounds: usize,
}

/// One utterance after the first stage: log-posteriors, audio seconds, CPU seconds
/// spent on features and on the network, wall seconds of both.
struct Staged {
    post: ndarray::Array2<f32>,
    audio: f64,
    feat_cpu: f64,
    net_cpu: f64,
    wall: f64,
}

/// An f32 as the f64 of its shortest decimal form (1.2f32 → 1.2, not 1.2000000476…).
fn short_f64(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// Peak resident set size of this process in MB (Linux `/proc/self/status`).
fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Error rates and speed of one decoder setting over the staged posteriors.
struct DecoderRun {
    per: ErrorStats,
    wer: ErrorStats,
    cpu: f64,
    wall: f64,
    failed: usize,
    /// Per utterance: the best hypothesis's words and phones (`SIL` and blanks
    /// dropped) and its word and phone errors.
    hyps: Vec<UttResult>,
}

/// One utterance's result, for `--hyps`.
struct UttResult {
    text: String,
    phones: String,
    word_errors: Option<ErrorStats>,
    phone_errors: Option<ErrorStats>,
}

fn run_decoder(
    rec: &Recognizer,
    config: &DecoderConfig,
    utts: &[hark::manifest::Utterance],
    staged: &[Staged],
) -> anyhow::Result<DecoderRun> {
    let res = rec.resources();
    let mut decoder = res.build_decoder(config)?;
    let mut run = DecoderRun {
        per: ErrorStats::default(),
        wer: ErrorStats::default(),
        cpu: 0.0,
        wall: 0.0,
        failed: 0,
        hyps: Vec::with_capacity(utts.len()),
    };
    for (u, st) in utts.iter().zip(staged) {
        let d = res.decodable(config, st.post.clone())?;
        let clock = crate::util::CpuClock::start();
        let hyps = decoder.decode(d.as_ref());
        let (cpu, wall) = clock.elapsed();
        run.cpu += cpu;
        run.wall += wall;
        let mut phone_errors = None;
        let best = match hyps {
            Ok(h) if !h.is_empty() => h.into_iter().next().expect("non-empty"),
            _ => {
                run.failed += 1;
                hark::decode::Hypothesis::default()
            }
        };
        if let Some(ref_phones) = &u.phones {
            let r: Vec<&str> = ref_phones
                .split_whitespace()
                .filter(|p| *p != "SIL")
                .collect();
            let h: Vec<&str> = best
                .phones
                .iter()
                .map(|p| p.phone.as_str())
                .filter(|p| *p != "SIL" && *p != "<blk>")
                .collect();
            let e = ErrorStats::compute(&r, &h);
            run.per.add(&e);
            phone_errors = Some(e);
        }
        let mut word_errors = None;
        if res.lexicon.is_some() && config.kind != DecoderKind::Greedy {
            let e = ErrorStats::compute_words(&u.text, &best.text());
            run.wer.add(&e);
            word_errors = Some(e);
        }
        run.hyps.push(UttResult {
            text: best.text(),
            phones: best
                .phones
                .iter()
                .map(|p| p.phone.as_str())
                .filter(|p| *p != "SIL" && *p != "<blk>")
                .collect::<Vec<_>>()
                .join(" "),
            word_errors,
            phone_errors,
        });
    }
    Ok(run)
}

/// Runs `hark bench`.
pub fn run(args: BenchArgs, quiet: bool) -> anyhow::Result<()> {
    let dir = crate::model_dir::resolve(args.model.as_deref())?;
    let mut kinds: Vec<DecoderKind> = args
        .decoders
        .iter()
        .map(|d| d.parse::<DecoderKind>())
        .collect::<hark::Result<_>>()?;
    // Greedy decoding works with every model; the others are checked below.
    let greedy = DecoderConfig {
        kind: DecoderKind::Greedy,
        ..Default::default()
    };
    let rec = Recognizer::load(&dir, greedy)
        .with_context(|| format!("loading model {}", dir.display()))?;
    if rec.resources().tokens.blank().is_none() && kinds.contains(&DecoderKind::Beam) {
        eprintln!(
            "{}: frame-level (ce) model: the beam decoder (CTC) is skipped",
            dir.display()
        );
        kinds.retain(|&k| k != DecoderKind::Beam);
    }
    if kinds.is_empty() {
        bail!("no decoder left to run on {}", dir.display());
    }
    let manifest = Manifest::load(&args.manifest)?;
    let mut utts = manifest.utterances.clone();
    if args.limit > 0 {
        utts.truncate(args.limit);
    }
    if utts.is_empty() {
        bail!("{}: no utterances", args.manifest.display());
    }
    let config_for = |kind, beam| DecoderConfig {
        kind,
        beam,
        lm_weight: args.lm_weight,
        word_bonus: args.word_bonus,
        pron_weight: args.pron_weight,
        hmm_states: args
            .hmm_states
            .or(Some(DecoderConfig::hmm_states_for(rec.frame_shift_secs()))),
        acoustic_scale: args.acoustic_scale,
        ..Default::default()
    };
    // Stage 0 (--adapt): one adapted network per speaker.
    let (group_of, models, adapt_report) = if args.adapt {
        let cfg = AdaptConfig {
            epochs: args.adapt_epochs,
            learning_rate: args.adapt_lr,
            dropout: args.adapt_dropout,
            rounds: args.adapt_rounds,
            spec_augment: args
                .adapt_spec_augment
                .then(hark::nn::augment::SpecAugmentConfig::default),
            num_shards: rayon::current_num_threads(),
            ..AdaptConfig::default()
        };
        cfg.validate()?;
        let (g, m, r) = adapt_by_speaker(
            &rec,
            &manifest,
            &utts,
            &config_for(DecoderKind::Hmm, None),
            &cfg,
            quiet,
        )?;
        (g, m, Some(r))
    } else {
        (vec![0; utts.len()], vec![rec.model().clone()], None)
    };
    // Stage 1: audio, features, network, once per utterance.
    let bar = crate::util::progress_bar(utts.len() as u64, quiet);
    bar.set_message("features + network");
    let staged: Vec<anyhow::Result<Staged>> = utts
        .par_iter()
        .zip(&group_of)
        .map(|(u, &g)| {
            let path = manifest.audio_path(u);
            let wave = hark::audio::load_16k(&path)?;
            let c0 = crate::util::CpuClock::start();
            let feats = rec.features(&wave.samples)?;
            let (feat_cpu, feat_wall) = c0.elapsed();
            let c1 = crate::util::CpuClock::start();
            let post = models[g].log_posteriors(&feats)?;
            let (net_cpu, net_wall) = c1.elapsed();
            bar.inc(1);
            Ok(Staged {
                post,
                audio: wave.duration_secs(),
                feat_cpu,
                net_cpu,
                wall: feat_wall + net_wall,
            })
        })
        .collect();
    bar.finish_and_clear();
    let mut posts = Vec::with_capacity(utts.len());
    let (mut audio_secs, mut feat_secs, mut net_secs, mut stage_wall, mut frames) =
        (0.0, 0.0, 0.0, 0.0, 0usize);
    for (u, r) in utts.iter().zip(staged) {
        let st = r.with_context(|| format!("utterance {}", u.id))?;
        audio_secs += st.audio;
        feat_secs += st.feat_cpu;
        net_secs += st.net_cpu;
        stage_wall += st.wall;
        frames += st.post.nrows();
        posts.push(st);
    }
    // Stage 2: every decoder on the same posteriors, one thread.
    let mut rows = Vec::new();
    let mut hyp_lines = String::new();
    for &kind in &kinds {
        let config = config_for(kind, args.beam);
        let run = run_decoder(&rec, &config, &utts, &posts)?;
        if args.hyps.is_some() {
            let counts = |e: &Option<ErrorStats>| {
                e.as_ref().map(|e| {
                    serde_json::json!({"sub": e.sub, "del": e.del, "ins": e.ins, "ref": e.ref_len})
                })
            };
            for (u, h) in utts.iter().zip(&run.hyps) {
                let line = serde_json::json!({
                    "id": u.id,
                    "decoder": kind.name(),
                    "ref": u.text,
                    "hyp": h.text,
                    "word_errors": counts(&h.word_errors),
                    "ref_phones": u.phones.as_deref().map(|p| p
                        .split_whitespace()
                        .filter(|p| *p != "SIL")
                        .collect::<Vec<_>>()
                        .join(" ")),
                    "hyp_phones": h.phones,
                    "phone_errors": counts(&h.phone_errors),
                });
                hyp_lines.push_str(&line.to_string());
                hyp_lines.push('\n');
            }
        }
        rows.push(serde_json::json!({
            "decoder": kind.name(),
            "beam": config.effective_beam(),
            "utterances": utts.len(),
            "failed": run.failed,
            "per": run.per.rate(),
            "per_detail": run.per.report("PER"),
            "wer": (run.wer.ref_len > 0).then(|| run.wer.rate()),
            "wer_detail": (run.wer.ref_len > 0).then(|| run.wer.report("WER")),
            "rtf_features": feat_secs / audio_secs,
            "rtf_network": net_secs / audio_secs,
            "rtf_decoder": run.cpu / audio_secs,
            "rtf_total": (feat_secs + net_secs + run.cpu) / audio_secs,
            "rtf_total_wall": (stage_wall + run.wall) / audio_secs,
            "decoder_frames_per_sec": frames as f64 / run.cpu.max(1e-9),
        }));
    }
    if let Some(path) = &args.hyps {
        hark::fsio::write_atomic(path, hyp_lines.as_bytes())?;
    }
    // Optional LM weight × word bonus grid.
    let mut tune = Vec::new();
    if !args.tune_lm_weight.is_empty() || !args.tune_word_bonus.is_empty() {
        let weights: Vec<Option<f32>> = if args.tune_lm_weight.is_empty() {
            vec![args.lm_weight]
        } else {
            args.tune_lm_weight.iter().map(|&w| Some(w)).collect()
        };
        let bonuses: Vec<Option<f32>> = if args.tune_word_bonus.is_empty() {
            vec![args.word_bonus]
        } else {
            args.tune_word_bonus.iter().map(|&b| Some(b)).collect()
        };
        let word_kinds: Vec<DecoderKind> = kinds
            .iter()
            .copied()
            .filter(|&k| k != DecoderKind::Greedy)
            .collect();
        let bar = crate::util::progress_bar(
            (word_kinds.len() * weights.len() * bonuses.len()) as u64,
            quiet,
        );
        bar.set_message("LM weight x word bonus");
        for &kind in &word_kinds {
            for &lm_weight in &weights {
                for &word_bonus in &bonuses {
                    let config = DecoderConfig {
                        lm_weight,
                        word_bonus,
                        ..config_for(kind, args.beam)
                    };
                    let run = run_decoder(&rec, &config, &utts, &posts)?;
                    bar.inc(1);
                    tune.push(serde_json::json!({
                        "decoder": kind.name(),
                        "lm_weight": lm_weight.map(short_f64),
                        "word_bonus": word_bonus.map(short_f64),
                        "wer": (run.wer.ref_len > 0).then(|| run.wer.rate()),
                        "wer_detail": (run.wer.ref_len > 0).then(|| run.wer.report("WER")),
                        "per": run.per.rate(),
                        "rtf_decoder": run.cpu / audio_secs,
                    }));
                }
            }
        }
        bar.finish_and_clear();
    }
    // Optional beam sweep and plot.
    let mut sweep = Vec::new();
    if let Some(plot_path) = &args.plot {
        let bar = crate::util::progress_bar(
            kinds
                .iter()
                .map(|k| match k {
                    DecoderKind::Greedy => 0,
                    DecoderKind::Beam => args.sweep_beam.len(),
                    DecoderKind::Hmm => args.sweep_hmm.len(),
                } as u64)
                .sum(),
            quiet,
        );
        bar.set_message("beam sweep");
        let mut series = Vec::new();
        for &kind in &kinds {
            let beams: Vec<Option<f32>> = match kind {
                // no beam to sweep; greedy gives phones, not words
                DecoderKind::Greedy => continue,
                DecoderKind::Beam => args.sweep_beam.iter().map(|&b| Some(b)).collect(),
                DecoderKind::Hmm => args.sweep_hmm.iter().map(|&b| Some(b)).collect(),
            };
            let mut points = Vec::new();
            for beam in beams {
                let config = config_for(kind, beam);
                let run = run_decoder(&rec, &config, &utts, &posts)?;
                bar.inc(1);
                let words = run.wer.ref_len > 0;
                let err = if words {
                    run.wer.rate()
                } else {
                    run.per.rate()
                };
                let rtf = run.cpu / audio_secs;
                sweep.push(serde_json::json!({
                    "decoder": kind.name(),
                    "beam": config.effective_beam(),
                    "wer": words.then(|| run.wer.rate()),
                    "per": run.per.rate(),
                    "rtf_decoder": rtf,
                }));
                points.push(crate::plot::Point {
                    x: rtf,
                    y: err,
                    label: config
                        .effective_beam()
                        .map_or(String::new(), |b| format!("{b}")),
                });
            }
            series.push(crate::plot::Series {
                name: kind.name().to_string(),
                points,
            });
        }
        bar.finish_and_clear();
        let title = format!(
            "{} utterances ({:.2} h), model {}",
            utts.len(),
            audio_secs / 3600.0,
            dir.file_name().map_or_else(
                || dir.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        );
        let svg = crate::plot::svg_line_chart(
            &title,
            "decoder real-time factor (CPU s per audio s, log scale)",
            "error rate % (WER; PER without a lexicon)",
            &series,
        );
        hark::fsio::write_atomic(plot_path, svg.as_bytes())?;
    }
    let report = serde_json::json!({
        "model": dir.display().to_string(),
        "manifest": args.manifest.display().to_string(),
        "audio_hours": audio_secs / 3600.0,
        "peak_rss_mb": peak_rss_mb(),
        "decoders": rows,
        "sweep": sweep,
        "tune": tune,
        "adapt": adapt_report,
    });
    let mut out = std::io::stdout().lock();
    if args.format == "json" {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} utterances, {:.2} h of audio; peak RSS {:.0} MB",
        utts.len(),
        audio_secs / 3600.0,
        peak_rss_mb().unwrap_or(f64::NAN)
    )?;
    if let Some(a) = &report["adapt"].as_object() {
        let f = |k: &str| a.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
        writeln!(
            out,
            "speaker-adapted (unsupervised): {} speakers, {} of {} utterances used, \
             {:.0} s CPU for first pass + training (RTF {:.4})",
            f("speakers"),
            f("used"),
            f("utterances"),
            f("cpu_secs"),
            f("rtf"),
        )?;
    }
    writeln!(
        out,
        "{:<8} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "decoder", "PER%", "WER%", "RTF feat", "RTF net", "RTF dec", "RTF all", "dec frames/s"
    )?;
    for r in report["decoders"].as_array().into_iter().flatten() {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        writeln!(
            out,
            "{:<8} {:>7.2} {:>7} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>12.0}",
            r["decoder"].as_str().unwrap_or("?"),
            f("per"),
            r["wer"]
                .as_f64()
                .map_or("-".to_string(), |w| format!("{w:.2}")),
            f("rtf_features"),
            f("rtf_network"),
            f("rtf_decoder"),
            f("rtf_total"),
            f("decoder_frames_per_sec"),
        )?;
    }
    for r in report["decoders"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "{}: {}",
            r["decoder"].as_str().unwrap_or("?"),
            r["per_detail"].as_str().unwrap_or("")
        )?;
        if let Some(w) = r["wer_detail"].as_str() {
            writeln!(out, "{}: {w}", r["decoder"].as_str().unwrap_or("?"))?;
        }
    }
    if !tune.is_empty() {
        writeln!(
            out,
            "{:<8} {:>9} {:>10} {:>7} {:>7}",
            "decoder", "LM weight", "word bonus", "WER%", "PER%"
        )?;
        // `null` means the decoder's default; print it as such.
        let num =
            |v: &serde_json::Value| v.as_f64().map_or("default".to_string(), |x| format!("{x}"));
        for r in &tune {
            writeln!(
                out,
                "{:<8} {:>9} {:>10} {:>7} {:>7.2}",
                r["decoder"].as_str().unwrap_or("?"),
                num(&r["lm_weight"]),
                num(&r["word_bonus"]),
                r["wer"]
                    .as_f64()
                    .map_or("-".to_string(), |w| format!("{w:.2}")),
                r["per"].as_f64().unwrap_or(f64::NAN),
            )?;
        }
    }
    Ok(())
}

/// `--adapt`: groups the utterances by speaker and adapts one copy of the network to
/// each ([`Recognizer::adapt`]). Returns each utterance's group, the groups' models
/// and a summary for the report.
fn adapt_by_speaker(
    rec: &Recognizer,
    manifest: &Manifest,
    utts: &[hark::manifest::Utterance],
    first_pass: &DecoderConfig,
    config: &AdaptConfig,
    quiet: bool,
) -> anyhow::Result<(Vec<usize>, Vec<AcousticModel>, serde_json::Value)> {
    let mut names: Vec<&str> = Vec::new();
    let group_of: Vec<usize> = utts
        .iter()
        .map(|u| {
            let name = u.speaker.as_deref().unwrap_or("");
            match names.iter().position(|n| *n == name) {
                Some(i) => i,
                None => {
                    names.push(name);
                    names.len() - 1
                }
            }
        })
        .collect();
    let bar = crate::util::progress_bar(names.len() as u64, quiet);
    bar.set_message("speaker adaptation");
    let cpu0 = crate::util::process_cpu_secs();
    let wall0 = std::time::Instant::now();
    let (mut models, mut used, mut labels, mut audio) = (Vec::new(), 0, 0, 0.0);
    for (g, name) in names.iter().enumerate() {
        let members: Vec<&hark::manifest::Utterance> = utts
            .iter()
            .zip(&group_of)
            .filter(|(_, k)| **k == g)
            .map(|(u, _)| u)
            .collect();
        let feats: Vec<anyhow::Result<(String, ndarray::Array2<f32>, f64)>> = members
            .par_iter()
            .map(|u| {
                let wave = hark::audio::load_16k(&manifest.audio_path(u))?;
                Ok((
                    u.id.clone(),
                    rec.features(&wave.samples)?,
                    wave.duration_secs(),
                ))
            })
            .collect();
        let mut recordings = Vec::with_capacity(feats.len());
        for (u, r) in members.iter().zip(feats) {
            let (id, f, secs) = r.with_context(|| format!("utterance {}", u.id))?;
            audio += secs;
            recordings.push((id, f));
        }
        let (model, report) = rec
            .adapt(recordings, first_pass, config)
            .with_context(|| format!("adapting to speaker {name:?}"))?;
        used += report.used;
        labels += report.labels;
        models.push(model);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = match (cpu0, crate::util::process_cpu_secs()) {
        (Some(a), Some(b)) => b - a,
        _ => wall,
    };
    let summary = serde_json::json!({
        "speakers": names.len(),
        "utterances": utts.len(),
        "used": used,
        "labels": labels,
        "epochs": config.epochs,
        "learning_rate": config.learning_rate,
        "dropout": config.dropout,
        "rounds": config.rounds,
        "spec_augment": config.spec_augment.is_some(),
        "cpu_secs": cpu,
        "wall_secs": wall,
        "rtf": cpu / audio.max(1e-9),
    });
    Ok((group_of, models, summary))
}
