//! The whole pipeline through the command line, on the tiny yes/no corpus:
//! audio → features → `hark train` → model bundle → `hark transcribe` / `posteriors`
//! / `decode`. This checks that the stages fit together (formats, times, errors);
//! recognition accuracy is measured by `hark bench` on the synthetic corpus.

use crate::util::{hark, repo_root, tmpdir};

#[test]
fn train_then_transcribe_yesno() {
    let data = repo_root().join("tests/data/yesno");
    let dir = tmpdir("pipeline");
    let model = dir.join("model");
    let s = |p: &std::path::Path| p.to_string_lossy().into_owned();
    // `hark train` on the yes/no corpus: 1 layer, 23 mel bins, one thread, plus `extra`.
    let train = |out_dir: &std::path::Path, extra: &[&str]| {
        let (tr, dev, lex, out) = (
            s(&data.join("train.jsonl")),
            s(&data.join("test.jsonl")),
            s(&data.join("lexicon.txt")),
            s(out_dir),
        );
        let mut args = vec![
            "train",
            "--train",
            &tr,
            "--dev",
            &dev,
            "--out",
            &out,
            "--lexicon",
            &lex,
            "--layers",
            "1",
            "--bins",
            "23",
            "--threads",
            "1",
        ];
        args.extend_from_slice(extra);
        hark(&args)
    };
    let out = train(&model, &["--hidden", "16", "--epochs", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "config.json",
        "model.safetensors",
        "tokens.txt",
        "train_log.json",
    ] {
        assert!(model.join(f).is_file(), "{f} missing");
    }
    std::fs::copy(data.join("lexicon.txt"), model.join("lexicon.txt")).unwrap();

    let wav = data.join("wavs/test_002.wav");
    for decoder in ["greedy", "beam", "hmm"] {
        let out = hark(&[
            "transcribe",
            "--model",
            &s(&model),
            "--decoder",
            decoder,
            "--format",
            "json",
            &s(&wav),
        ]);
        assert!(
            out.status.success(),
            "{decoder}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("one JSON object per input");
        assert_eq!(v["decoder"], decoder);
        let dur = v["duration"].as_f64().unwrap();
        for w in v["words"].as_array().unwrap() {
            let (st, en) = (w["start"].as_f64().unwrap(), w["end"].as_f64().unwrap());
            assert!(0.0 <= st && st <= en && en <= dur + 0.05, "{w} in {dur} s");
            if decoder != "greedy" {
                let word = w["word"].as_str().unwrap();
                assert!(
                    word == "yes" || word == "no",
                    "{word} is not in the lexicon"
                );
            }
        }
    }

    // posteriors → decode gives the same words as transcribe.
    let post = dir.join("post.npy");
    let out = hark(&[
        "posteriors",
        "--model",
        &s(&model),
        &s(&wav),
        "--out",
        &s(&post),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dec = hark(&["decode", "--model", &s(&model), "--posteriors", &s(&post)]);
    let tr = hark(&["transcribe", "--model", &s(&model), &s(&wav)]);
    let words = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .split('\t')
            .nth(1)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    assert_eq!(words(&dec), words(&tr));

    // Forced alignment: every word gets a span, in order, inside the file.
    for format in ["json", "ctm", "textgrid"] {
        let out = hark(&[
            "align",
            "--model",
            &s(&model),
            "--text",
            "yes no",
            "--format",
            format,
            &s(&wav),
        ]);
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("yes") && text.contains("no"),
            "{format}: {text}"
        );
        if format == "ctm" {
            let starts: Vec<f64> = text
                .lines()
                .map(|l| l.split_whitespace().nth(2).unwrap().parse().unwrap())
                .collect();
            assert_eq!(starts.len(), 2);
            assert!(starts[0] <= starts[1]);
        }
    }

    // One Recognizer shared by 8 threads gives exactly the sequential results.
    let rec = hark::recognizer::Recognizer::load(&model, hark::decode::DecoderConfig::default())
        .expect("bundle loads in the library too");
    let files: Vec<_> = (0..8)
        .map(|i| data.join(format!("wavs/test_{i:03}.wav")))
        .collect();
    let sequential: Vec<String> = files
        .iter()
        .map(|f| rec.transcribe_file(f).unwrap().text)
        .collect();
    let parallel: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .map(|f| scope.spawn(|| rec.transcribe_file(f).unwrap().text))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(sequential, parallel);

    // A missing input fails that input only, with its name, and a non-zero exit.
    let out = hark(&["transcribe", "--model", &s(&model), &s(&wav), "no-such.wav"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such.wav") && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);

    // --init: a second model starts from the first one's recurrent layers; a model
    // of another shape is refused with a message naming the --init directory.
    let m = s(&model);
    let train_from = |out_dir: &std::path::Path, hidden: &str| {
        train(
            out_dir,
            &[
                "--hidden", hidden, "--epochs", "1", "--lr", "1e-9", "--init", &m,
            ],
        )
    };
    let bad = train_from(&dir.join("init-bad"), "8");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("--init") && !err.contains("panicked"), "{err}");
    let good = train_from(&dir.join("init-good"), "16");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    // With a vanishing learning rate the recurrent weights stay those of `model`.
    let weights = |d: &std::path::Path| -> Vec<f32> {
        let m = hark::am::AcousticModel::load(d).unwrap();
        m.named_tensors()
            .into_iter()
            .filter(|t| t.name.contains("lstm"))
            .flat_map(|t| t.values)
            .collect()
    };
    let (a, b) = (weights(&model), weights(&dir.join("init-good")));
    assert!(!a.is_empty() && a.len() == b.len());
    let max_diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 1e-4, "recurrent weights moved by {max_diff}");
}

/// The committed default bundle (`models/default`, found without `--model`) gets the
/// sample files in `audio/` right, word for word, with every decoder that uses words.
#[test]
fn default_and_hybrid_models_transcribe_the_samples() {
    let audio = repo_root().join("audio");
    let expected = [
        ("digits_3719.wav", "three seven one nine"),
        ("go_forward_ten_meters.wav", "go forward ten meters"),
        ("stop.wav", "stop"),
        ("yes.wav", "yes"),
    ];
    let hybrid = repo_root().join("models/hybrid");
    // The default CTC model with both of its word decoders, and the frame-level
    // (cross-entropy) model with the hybrid HMM decoder.
    for (model, decoder) in [(None, "beam"), (None, "hmm"), (Some(&hybrid), "hmm")] {
        let mut args = vec!["transcribe", "--quiet", "--decoder", decoder];
        let m = model.map(|m| m.to_string_lossy().into_owned());
        if let Some(m) = &m {
            args.extend(["--model", m]);
        }
        let a = audio.to_string_lossy();
        args.push(&a);
        let out = hark(&args);
        let decoder = format!("{decoder} ({})", m.as_deref().unwrap_or("default"));
        assert!(
            out.status.success(),
            "{decoder}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        for (file, words) in expected {
            let line = text
                .lines()
                .find(|l| l.split('\t').next().is_some_and(|f| f.ends_with(file)))
                .unwrap_or_else(|| panic!("{decoder}: no line for {file} in {text}"));
            assert_eq!(line.split('\t').nth(1), Some(words), "{decoder}: {line}");
        }
    }
}
