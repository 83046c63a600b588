//! The command line, tested by running `hark` itself.

use crate::util::hark;

#[test]
fn help_lists_and_exits_zero() {
    let out = hark(&["--help"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("hark"), "{s}");
}

#[test]
fn unknown_subcommand_fails_nonzero() {
    let out = hark(&["no-such-command"]);
    assert!(!out.status.success());
}

#[test]
fn tokens_prints_ctc_table() {
    let out = hark(&["tokens", "--kind", "ctc"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 41);
    assert_eq!(lines[0], "<blk>");
    assert_eq!(lines[1], "SIL");
}

#[test]
fn lexicon_learn_adds_the_labelled_pronunciations_and_refuses_bad_input() {
    let d = crate::util::tmpdir("lexlearn");
    let lex = d.join("lex.txt");
    std::fs::write(&lex, "AND AH0 N D\nCAT K AE1 T\n").unwrap();
    let m = d.join("m.jsonl");
    let line = |text: &str, phones: &str| {
        format!(
            "{{\"id\":\"u\",\"audio\":\"u.wav\",\"text\":\"{text}\",\"phones\":\"{phones}\"}}\n"
        )
    };
    std::fs::write(
        &m,
        [
            line("cat and", "SIL K AE T AH N SIL"),
            line("and cat", "AH N K AE T"),
            line("cat", "K AE T"),
        ]
        .concat(),
    )
    .unwrap();
    let out_path = d.join("out.txt");
    let (l, o, mp) = (
        lex.to_str().unwrap(),
        out_path.to_str().unwrap(),
        m.to_str().unwrap(),
    );
    let out = hark(&["lexicon", "learn", "--lexicon", l, "--out", o, mp]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&out_path).unwrap();
    // "and" was said AH N twice and AH N D never: (0 + 1) / (2 + 1).
    assert_eq!(text, "and 0.3333 AH N D\nand(2) 1 AH N\ncat 1 K AE T\n");
    let out = hark(&[
        "lexicon",
        "learn",
        "--no-probs",
        "--lexicon",
        l,
        "--out",
        o,
        mp,
    ]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap(),
        "and AH N D\nand(2) AH N\ncat K AE T\n"
    );
    // A threshold above the two sightings adds nothing.
    let out = hark(&[
        "lexicon",
        "learn",
        "--lexicon",
        l,
        "--out",
        o,
        "--min-count",
        "3",
        mp,
    ]);
    assert!(out.status.success());
    // One pronunciation per word: every probability is 1, so none is written.
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap(),
        "and AH N D\ncat K AE T\n"
    );
    // Bad input: clear errors, non-zero exit, no output written.
    std::fs::remove_file(&out_path).unwrap();
    let out = hark(&[
        "lexicon",
        "learn",
        "--lexicon",
        l,
        "--out",
        o,
        "--min-share",
        "2",
        mp,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--min-share"));
    let out = hark(&[
        "lexicon",
        "learn",
        "--lexicon",
        l,
        "--out",
        o,
        "--prob-smoothing=-1",
        mp,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--prob-smoothing"));
    let missing = d.join("nope.jsonl");
    let out = hark(&[
        "lexicon",
        "learn",
        "--lexicon",
        l,
        "--out",
        o,
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.jsonl"));
    std::fs::write(&m, line("dog", "D AO G")).unwrap();
    let out = hark(&["lexicon", "learn", "--lexicon", l, "--out", o, mp]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no utterance"));
    assert!(!out_path.exists());
}

#[test]
fn convert_to_f16_halves_the_model_and_keeps_the_transcript() {
    let d = crate::util::tmpdir("convert");
    let root = crate::util::repo_root();
    let src = root.join("models/default");
    // The default model may already be f16: widen it to f32 first, then narrow again.
    let (b32, b16) = (d.join("b32"), d.join("b16"));
    for bundle in [&b32, &b16] {
        std::fs::create_dir_all(bundle).unwrap();
        for f in ["config.json", "tokens.txt", "lexicon.txt", "lm.arpa.gz"] {
            std::fs::copy(src.join(f), bundle.join(f)).unwrap();
        }
    }
    let convert = |dtype: &str, from: &std::path::Path, to: &std::path::Path| {
        hark(&[
            "convert",
            "--dtype",
            dtype,
            from.to_str().unwrap(),
            "--out",
            to.to_str().unwrap(),
        ])
    };
    let (f32_model, f16_model) = (b32.join("model.safetensors"), b16.join("model.safetensors"));
    for (dtype, from, to) in [
        ("f32", &src.join("model.safetensors"), &f32_model),
        ("f16", &f32_model, &f16_model),
    ] {
        let out = convert(dtype, from, to);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (a, b) = (
        std::fs::metadata(&f32_model).unwrap().len(),
        std::fs::metadata(&f16_model).unwrap().len(),
    );
    assert!(b * 2 < a + 4096 && b * 2 > a - 4096, "{a} vs {b}");
    let wav = root.join("audio/go_forward_ten_meters.wav");
    let text = |model: &std::path::Path| {
        let out = hark(&[
            "transcribe",
            "--model",
            model.to_str().unwrap(),
            "--decoder",
            "hmm",
            wav.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let t16 = text(&b16);
    assert!(t16.contains("go forward ten meters"), "{t16}");
    assert_eq!(t16, text(&b32));
    assert_eq!(t16, text(&src));
    // Not a safetensors file: a clear error naming it, and no output.
    let bad = d.join("bad.safetensors");
    std::fs::write(&bad, b"not tensors").unwrap();
    let dst = d.join("out.safetensors");
    let out = convert("f16", &bad, &dst);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.safetensors"));
    assert!(!dst.exists());
}

#[test]
fn bench_reports_every_decoder_writes_hyps_and_plot_and_refuses_bad_input() {
    let d = crate::util::tmpdir("bench");
    let m = sample_manifest(&d, false);
    let (hyps, plot) = (d.join("hyps.jsonl"), d.join("sweep.svg"));
    let out = hark(&[
        "bench",
        "-q",
        "--format",
        "json",
        "--hyps",
        hyps.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
        "--sweep-beam",
        "4,16",
        "--sweep-hmm",
        "8,16",
        "--tune-lm-weight",
        "0.5,1.5",
        "--tune-word-bonus=0,-1",
        m.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = v.to_string();
    for name in ["greedy", "beam", "hmm"] {
        assert!(text.contains(&format!("\"decoder\":\"{name}\"")), "{text}");
    }
    // The tuning grid: 2 LM weights x 2 bonuses for each word decoder.
    let tune = v["tune"].as_array().unwrap();
    assert_eq!(tune.len(), 2 * 2 * 2, "{text}");
    assert_eq!(tune[1]["lm_weight"], 0.5);
    assert_eq!(tune[1]["word_bonus"], -1.0);
    assert!(tune.iter().all(|r| r["wer"].is_number()), "{text}");
    // Every sample comes out word for word with the default model's lexicon decoders.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&hyps)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3 * SAMPLES.len());
    for l in &lines {
        if l["decoder"] != "greedy" {
            assert_eq!(l["hyp"], l["ref"], "{l}");
            assert_eq!(l["word_errors"]["sub"], 0, "{l}");
            assert_eq!(
                l["word_errors"]["ref"],
                l["ref"].as_str().unwrap().split(' ').count()
            );
        } else {
            assert!(l["word_errors"].is_null(), "greedy gives phones, not words");
            assert!(!l["hyp_phones"].as_str().unwrap().is_empty());
        }
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{svg:.80}"
    );
    // A manifest naming a missing file: an error naming it, and no hyps file.
    std::fs::remove_file(&hyps).unwrap();
    std::fs::write(
        &m,
        "{\"id\":\"x\",\"audio\":\"nope.wav\",\"text\":\"yes\"}\n",
    )
    .unwrap();
    let out = hark(&[
        "bench",
        "-q",
        "--hyps",
        hyps.to_str().unwrap(),
        m.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.wav"));
    assert!(!hyps.exists());
}

/// The committed sample recordings with their words.
const SAMPLES: [(&str, &str); 4] = [
    ("yes", "yes"),
    ("stop", "stop"),
    ("go_forward_ten_meters", "go forward ten meters"),
    ("digits_3719", "three seven one nine"),
];

/// `DIR/m.jsonl`: a manifest of the committed samples; with `speakers`, split
/// between two speakers.
fn sample_manifest(dir: &std::path::Path, speakers: bool) -> std::path::PathBuf {
    let root = crate::util::repo_root();
    let lines: String = SAMPLES
        .iter()
        .enumerate()
        .map(|(i, (f, t))| {
            let audio = root.join("audio").join(format!("{f}.wav"));
            let speaker = if speakers {
                format!(",\"speaker\":\"s{}\"", i % 2)
            } else {
                String::new()
            };
            format!(
                "{{\"id\":\"{f}\",\"audio\":\"{}\",\"text\":\"{t}\"{speaker}}}\n",
                audio.display()
            )
        })
        .collect();
    let m = dir.join("m.jsonl");
    std::fs::write(&m, lines).unwrap();
    m
}

#[test]
fn adapt_writes_a_bundle_that_still_transcribes_the_speaker_and_never_a_partial_one() {
    let d = crate::util::tmpdir("adapt");
    let root = crate::util::repo_root();
    let wavs: Vec<String> = SAMPLES
        .iter()
        .map(|(f, _)| {
            root.join("audio")
                .join(format!("{f}.wav"))
                .display()
                .to_string()
        })
        .collect();
    let out_dir = d.join("adapted");
    let mut args = vec!["adapt", "-q", "--out", out_dir.to_str().unwrap()];
    args.extend(wavs.iter().map(String::as_str));
    let out = hark(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "config.json",
        "model.safetensors",
        "tokens.txt",
        "lexicon.txt",
        "lm.arpa.gz",
    ] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("adapt.json")).unwrap()).unwrap();
    assert_eq!(info["report"]["used"], 4, "{info}");
    assert_eq!(info["report"]["train_loss"].as_array().unwrap().len(), 6);
    // The network changed, and it still recognises the speaker it was adapted to.
    assert_ne!(
        std::fs::read(out_dir.join("model.safetensors")).unwrap(),
        std::fs::read(root.join("models/default/model.safetensors")).unwrap()
    );
    for ((_, words), wav) in SAMPLES.iter().zip(&wavs) {
        let out = hark(&[
            "transcribe",
            "-q",
            "--decoder",
            "hmm",
            "--model",
            out_dir.to_str().unwrap(),
            wav,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(line.rsplit('\t').next(), Some(*words), "{line}");
    }
    // The same in one command: two passes.
    let mut two_pass = vec!["transcribe", "-q", "--adapt", "--decoder", "hmm"];
    two_pass.extend(wavs.iter().map(String::as_str));
    let out = hark(&two_pass);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for ((_, words), line) in SAMPLES.iter().zip(text.lines()) {
        assert_eq!(line.rsplit('\t').next(), Some(*words), "{text}");
    }
    // An existing output is never overwritten; a bad recording leaves nothing behind.
    let again = hark(&args);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let missing = d.join("nope.wav");
    let out2 = d.join("adapted2");
    let bad = hark(&[
        "adapt",
        "-q",
        "--out",
        out2.to_str().unwrap(),
        &wavs[0],
        missing.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nope.wav"));
    assert!(!out2.exists());
    // A frame-level (hybrid) bundle adapts with cross-entropy on the first pass's
    // segmentation, keeps its priors, and still recognises the speaker.
    let hybrid = root.join("models/hybrid");
    let out3 = d.join("adapted3");
    let mut args3 = vec![
        "adapt",
        "-q",
        "--model",
        hybrid.to_str().unwrap(),
        "--out",
        out3.to_str().unwrap(),
    ];
    args3.extend(wavs.iter().map(String::as_str));
    let out = hark(&args3);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its files are copies, symbolic links (its lexicon and LM) followed.
    for f in ["priors.txt", "lexicon.txt", "lm.arpa.gz", "tokens.txt"] {
        assert!(!out3.join(f).is_symlink(), "{f}");
        assert_eq!(
            std::fs::read(out3.join(f)).unwrap(),
            std::fs::read(hybrid.join(f)).unwrap(),
            "{f}"
        );
    }
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out3.join("adapt.json")).unwrap()).unwrap();
    assert_eq!(info["report"]["used"], 4, "{info}");
    let mut again3 = vec![
        "transcribe",
        "-q",
        "--decoder",
        "hmm",
        "--model",
        out3.to_str().unwrap(),
    ];
    again3.extend(wavs.iter().map(String::as_str));
    let out = hark(&again3);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && text.lines().count() == SAMPLES.len(),
        "{text}"
    );
    for ((_, words), line) in SAMPLES.iter().zip(text.lines()) {
        assert_eq!(line.rsplit('\t').next(), Some(*words), "{text}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bench_adapt_reports_the_speaker_adaptation_and_keeps_the_words() {
    let d = crate::util::tmpdir("bench-adapt");
    let m = sample_manifest(&d, true);
    let out = hark(&[
        "bench",
        "-q",
        "--adapt",
        "--adapt-epochs",
        "2",
        "--adapt-rounds",
        "2",
        "--decoders",
        "greedy,hmm",
        "--format",
        "json",
        m.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["adapt"]["speakers"], 2, "{v}");
    assert_eq!(v["adapt"]["used"], 4, "{v}");
    assert_eq!(v["adapt"]["epochs"], 2, "{v}");
    assert_eq!(v["adapt"]["rounds"], 2, "{v}");
    let hmm = &v["decoders"][1];
    assert_eq!(hmm["decoder"], "hmm");
    assert_eq!(hmm["wer"], 0.0, "{v}");
    // A bad setting is refused before any work.
    let bad = hark(&[
        "bench",
        "-q",
        "--adapt",
        "--adapt-lr",
        "0",
        m.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("learning rate"));
    let bad = hark(&[
        "bench",
        "-q",
        "--adapt",
        "--adapt-rounds",
        "0",
        m.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("rounds"));
}

/// 16-bit mono 16 kHz samples of a repository audio file.
fn pcm16(name: &str) -> Vec<i16> {
    let wave = hark::audio::load_16k(&crate::util::repo_root().join("audio").join(name)).unwrap();
    wave.samples
        .iter()
        .map(|&s| hark::audio::float_to_i16(s))
        .collect()
}

/// A WAV header for a 16 kHz mono 16-bit stream of unknown length, as `arecord`
/// writes to a pipe.
fn streaming_wav_header() -> Vec<u8> {
    let mut h = b"RIFF\xff\xff\xff\xffWAVEfmt ".to_vec();
    for v in [16u32, 1 | (1 << 16), 16_000, 32_000, 2 | (16 << 16)] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h.extend_from_slice(b"data\xff\xff\xff\xff");
    h
}

#[test]
fn transcribe_stdin_writes_each_utterance_as_soon_as_its_pause_has_come_in() {
    use std::io::{BufRead, Write};
    let bytes = |s: &[i16]| -> Vec<u8> { s.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let pause = vec![0i16; 16_000];
    let mut child = std::process::Command::new(crate::util::hark_bin())
        .args(["transcribe", "--decoder", "hmm", "--format", "json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            tx.send(line.unwrap()).unwrap();
        }
    });
    // "yes" and a second of silence: its line comes while the stream stays open.
    stdin.write_all(&streaming_wav_header()).unwrap();
    stdin.write_all(&bytes(&pcm16("yes.wav"))).unwrap();
    stdin.write_all(&bytes(&pause)).unwrap();
    stdin.flush().unwrap();
    let first = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("no transcript before the stream ended");
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["text"], "yes", "{first}");
    assert_eq!(first["file"], "-");
    // Then "stop" and the end of the stream: its words are on the stream's clock.
    let yes_len = pcm16("yes.wav").len() + pause.len();
    stdin.write_all(&bytes(&pcm16("stop.wav"))).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(status.success(), "{rest:?}");
    assert_eq!(rest.len(), 1, "{rest:?}");
    let second: serde_json::Value = serde_json::from_str(&rest[0]).unwrap();
    assert_eq!(second["text"], "stop", "{second}");
    let start = second["words"][0]["start"].as_f64().unwrap();
    assert!(start >= yes_len as f64 / 16_000.0 - 0.5, "{second}");
}

#[test]
fn transcribe_stdin_refuses_what_it_cannot_stream() {
    use std::io::Write;
    let run = |args: &[&str], input: &[u8]| {
        let mut child = std::process::Command::new(crate::util::hark_bin())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The process may exit before reading everything: a broken pipe is fine.
        let _ = child.stdin.take().unwrap().write_all(input);
        child.wait_with_output().unwrap()
    };
    let wav_file = std::fs::read(crate::util::repo_root().join("audio/yes.wav")).unwrap();
    for (args, input, msg) in [
        (
            vec!["transcribe", "-"],
            b"fLaC....".to_vec(),
            "<stdin>: not a RIFF/WAVE",
        ),
        (vec!["transcribe", "-"], Vec::new(), "<stdin>: empty stream"),
        (
            vec!["transcribe", "-", "audio/yes.wav"],
            wav_file.clone(),
            "only input",
        ),
        (vec!["transcribe", "--adapt", "-"], wav_file, "only input"),
    ] {
        let out = run(&args, &input);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(msg),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // --out is written once, at the end, whole.
    let d = crate::util::tmpdir("stdin-out");
    let path = d.join("t.txt");
    let mut wav = streaming_wav_header();
    wav.extend(pcm16("stop.wav").iter().flat_map(|v| v.to_le_bytes()));
    let out = run(&["transcribe", "--out", path.to_str().unwrap(), "-"], &wav);
    assert!(out.status.success() && out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "-\tstop\n");
}

#[test]
fn telephone_rate_audio_is_transcribed() {
    // The four samples at 8 kHz: the band above 4 kHz is empty. Without the noise
    // floor that loading gives such audio (`audio::to_16k`), SoX's 8 kHz copies of
    // three of them came out as "re helen i", "your when enemy no" and nothing.
    let d = crate::util::tmpdir("8k");
    let root = crate::util::repo_root();
    let mut args = vec![
        "transcribe".to_string(),
        "-q".into(),
        "--decoder".into(),
        "hmm".into(),
    ];
    for (f, _) in SAMPLES {
        let w = hark::audio::load_16k(&root.join("audio").join(format!("{f}.wav"))).unwrap();
        let narrow = hark::audio::resample(&w, 8_000).unwrap();
        let p = d.join(format!("{f}.wav"));
        hark::audio::write_wav_16bit(&p, &narrow).unwrap();
        args.push(p.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = hark(&args);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "stop" is left out: its /s/ lives above 4 kHz, and without it the word is
    // heard as "cup" or "top".
    for ((f, words), line) in SAMPLES.iter().zip(text.lines()) {
        if *f != "stop" {
            assert_eq!(line.rsplit('\t').next(), Some(*words), "{text}");
        }
    }
    assert_eq!(text.lines().count(), SAMPLES.len(), "{text}");
}
