//! Query-by-example search through the command line, on the yes/no recordings:
//! `hark train-encoder` → `hark index` → `hark search` / `hark eval-search`, and the
//! index's robustness (corrupt files, interrupted runs).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hark::audio::{Waveform, load_16k, write_wav_16bit};

use crate::util::{hark, repo_root, tmpdir};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn yesno() -> PathBuf {
    repo_root().join("tests/data/yesno")
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "hark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tiny MFCC encoder trained once for all tests (word segments from a manifest
/// whose alignments spread each word's phones evenly over the utterance).
fn encoder() -> &'static PathBuf {
    static ENC: OnceLock<PathBuf> = OnceLock::new();
    ENC.get_or_init(|| {
        let dir = tmpdir("qbe-encoder");
        let src = std::fs::read_to_string(yesno().join("train.jsonl")).unwrap();
        let mut lines = String::new();
        for line in src.lines().take(24) {
            let mut u: serde_json::Value = serde_json::from_str(line).unwrap();
            let dur = u["duration"].as_f64().unwrap();
            let phones: Vec<&str> = u["text"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .flat_map(|w| {
                    if w == "yes" {
                        vec!["Y", "EH", "S"]
                    } else {
                        vec!["N", "OW"]
                    }
                })
                .collect();
            let step = dur / phones.len() as f64;
            let align: Vec<serde_json::Value> = phones
                .iter()
                .enumerate()
                .map(|(i, p)| serde_json::json!([p, i as f64 * step, (i + 1) as f64 * step]))
                .collect();
            u["alignment"] = serde_json::Value::Array(align);
            u["audio"] = serde_json::Value::String(s(&yesno().join(u["audio"].as_str().unwrap())));
            lines.push_str(&u.to_string());
            lines.push('\n');
        }
        let manifest = dir.join("train.jsonl");
        std::fs::write(&manifest, lines).unwrap();
        let enc = dir.join("encoder.safetensors");
        ok(&hark(&[
            "train-encoder",
            "--train",
            &s(&manifest),
            "--lexicon",
            &s(&yesno().join("lexicon.txt")),
            "--input",
            "mfcc",
            "--min-phones",
            "2",
            "--hidden",
            "16",
            "--embed",
            "12",
            "--decoder-hidden",
            "16",
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--pairs",
            "--jitter-secs",
            "0.03",
            "--out",
            &s(&enc),
        ]));
        assert!(enc.is_file());
        enc
    })
}

fn wav(name: &str) -> PathBuf {
    yesno().join("wavs").join(name)
}

/// Cuts `[start, end)` seconds of a recording into a new 16 kHz WAV.
fn cut(src: &Path, start: f64, end: f64, out: &Path) {
    let w = load_16k(src).unwrap();
    let (a, b) = ((start * 16_000.0) as usize, (end * 16_000.0) as usize);
    write_wav_16bit(
        out,
        &Waveform::new(w.samples[a..b.min(w.samples.len())].to_vec(), 16_000),
    )
    .unwrap();
}

fn index(enc: &Path, inputs: &[PathBuf], out: &Path) -> std::process::Output {
    let mut args = vec![
        "index".to_string(),
        "--encoder".into(),
        s(enc),
        "--out".into(),
        s(out),
    ];
    args.extend(inputs.iter().map(|p| s(p)));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    hark(&refs)
}

#[test]
fn index_then_search_returns_ranked_spans() {
    let enc = encoder();
    let dir = tmpdir("qbe-search");
    let idx = dir.join("yesno.idx");
    let files: Vec<PathBuf> = ["test_000.wav", "test_001.wav", "test_002.wav"]
        .iter()
        .map(|f| wav(f))
        .collect();
    ok(&index(enc, &files, &idx));
    let query = dir.join("q.wav");
    cut(&files[2], 0.3, 0.9, &query);
    let out = ok(&hark(&[
        "search",
        "--encoder",
        &s(enc),
        "--index",
        &s(&idx),
        "--top",
        "4",
        &s(&query),
    ]));
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 4, "{out}");
    let mut last = f32::INFINITY;
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.len(), 5, "{out}");
        assert_eq!(r[0], (i + 1).to_string());
        assert!(
            files
                .iter()
                .any(|f| r[1] == s(&std::path::absolute(f).unwrap())),
            "{}",
            r[1]
        );
        let (st, en, score): (f32, f32, f32) = (
            r[2].parse().unwrap(),
            r[3].parse().unwrap(),
            r[4].parse().unwrap(),
        );
        assert!(0.0 <= st && st < en, "{out}");
        assert!(score <= last + 1e-4 && score <= 1.0 + 1e-4, "{out}");
        last = score;
    }
    // JSON output carries the same hits.
    let js = ok(&hark(&[
        "search",
        "--encoder",
        &s(enc),
        "--index",
        &s(&idx),
        "--top",
        "4",
        "--format",
        "json",
        &s(&query),
    ]));
    let v: serde_json::Value = serde_json::from_str(&js).unwrap();
    assert_eq!(v["hits"].as_array().unwrap().len(), 4);
    assert_eq!(v["hits"][0]["file"].as_str().unwrap(), rows[0][1]);
}

#[test]
fn extending_an_index_skips_indexed_files() {
    let enc = encoder();
    let dir = tmpdir("qbe-extend");
    let idx = dir.join("x.idx");
    ok(&index(enc, &[wav("test_000.wav")], &idx));
    let one = hark::qbe::index::Index::load(&idx).unwrap();
    let n0 = one.len();
    drop(one);
    let out = index(enc, &[wav("test_000.wav"), wav("test_001.wav")], &idx);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 already indexed"));
    let two = hark::qbe::index::Index::load(&idx).unwrap();
    assert_eq!(two.files().len(), 2);
    assert!(two.len() > n0);
}

#[test]
fn truncated_or_corrupted_index_is_a_clear_error() {
    let enc = encoder();
    let dir = tmpdir("qbe-corrupt");
    let idx = dir.join("broken.idx");
    ok(&index(enc, &[wav("test_000.wav")], &idx));
    let bytes = std::fs::read(&idx).unwrap();
    let query = wav("test_001.wav");
    let search = || {
        hark(&[
            "search",
            "--encoder",
            &s(enc),
            "--index",
            &s(&idx),
            &s(&query),
        ])
    };
    for (what, data) in [
        ("truncated", bytes[..bytes.len() * 2 / 3].to_vec()),
        ("flipped", {
            let mut b = bytes.clone();
            let k = b.len() / 2;
            b[k] ^= 0x10;
            b
        }),
        ("empty", Vec::new()),
    ] {
        std::fs::write(&idx, &data).unwrap();
        let out = search();
        assert_eq!(out.status.code(), Some(2), "{what}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("broken.idx"), "{what}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{what}: one-line error: {err}"
        );
        // Extending a broken index refuses rather than overwriting it.
        let out = index(enc, &[wav("test_001.wav")], &idx);
        assert!(!out.status.success(), "{what}");
        assert_eq!(std::fs::read(&idx).unwrap(), data, "{what}");
    }
}

#[test]
fn interrupted_index_leaves_the_previous_index_intact() {
    let enc = encoder();
    let dir = tmpdir("qbe-interrupt");
    let idx = dir.join("keep.idx");
    ok(&index(enc, &[wav("test_000.wav")], &idx));
    let before = std::fs::read(&idx).unwrap();
    // A run that fails part-way (an unreadable recording after a good one).
    let bad = dir.join("bad.wav");
    std::fs::write(&bad, b"RIFF....WAVEnot really").unwrap();
    let out = index(enc, &[wav("test_001.wav"), bad.clone()], &idx);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.wav"));
    assert_eq!(std::fs::read(&idx).unwrap(), before);
    // A run killed with SIGKILL at some point: the file is the old index or the
    // complete new one, never a partial one.
    let mut args = vec![
        "index".to_string(),
        "--encoder".into(),
        s(enc),
        "--out".into(),
        s(&idx),
    ];
    for i in 0..16 {
        args.push(s(&wav(&format!("test_{i:03}.wav"))));
    }
    let mut child = std::process::Command::new(crate::util::hark_bin())
        .args(&args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    let _ = child.kill();
    let _ = child.wait();
    let after = std::fs::read(&idx).unwrap();
    if after != before {
        let ix = hark::qbe::index::Index::load(&idx).unwrap();
        assert_eq!(ix.files().len(), 16);
    }
    hark::qbe::index::Index::load(&idx).unwrap();
}

#[test]
fn eval_search_scores_a_hand_built_case() {
    let enc = encoder();
    let dir = tmpdir("qbe-eval");
    // The query is an exact copy of 0.5 s of test_002, searched in test_002 alone
    // (other yes/no recordings of the same voice hold near-identical words): DTW
    // finds the copy first and a second, non-overlapping match after it.
    let rec = wav("test_002.wav");
    let query = dir.join("q.wav");
    cut(&rec, 0.4, 0.9, &query);
    let line = serde_json::json!({
        "query": "q.wav",
        "relevant": [{"audio": s(&rec), "start": 0.4, "end": 0.9}],
        "corpus": [s(&rec)],
    });
    let manifest = dir.join("qbe.jsonl");
    std::fs::write(&manifest, format!("{line}\n")).unwrap();
    let per_query = dir.join("per_query.jsonl");
    let out = ok(&hark(&[
        "eval-search",
        "--encoder",
        &s(enc),
        "--methods",
        "ae,dtw-mfcc",
        "--format",
        "json",
        "--per-query",
        &s(&per_query),
        &s(&manifest),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let reports = v.as_array().unwrap();
    assert_eq!(reports.len(), 2);
    let dtw = &reports[1];
    assert_eq!(dtw["method"], "dtw-mfcc");
    // One relevant span found first: AP = 1, P@10 = 1/10, P@N = 1.
    assert_eq!(dtw["map"].as_f64().unwrap(), 1.0);
    assert!((dtw["p_at_10"].as_f64().unwrap() - 0.1).abs() < 1e-12);
    assert_eq!(dtw["p_at_n"].as_f64().unwrap(), 1.0);
    // The reported AP of the embedding search follows from its ranked hits:
    // 1/rank of the first relevant hit (one relevant span).
    let pq = std::fs::read_to_string(&per_query).unwrap();
    let ae: serde_json::Value = serde_json::from_str(pq.lines().next().unwrap()).unwrap();
    assert_eq!(ae["method"], "ae");
    let ap = ae["ap"].as_f64().unwrap();
    let top: Vec<bool> = ae["top_hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[4].as_bool().unwrap())
        .collect();
    if let Some(r) = top.iter().position(|&x| x) {
        assert!((ap - 1.0 / (r + 1) as f64).abs() < 1e-12, "{pq}");
    } else {
        assert!(ap < 0.2 + 1e-12, "{pq}");
    }
    assert_eq!(reports[0]["map"].as_f64().unwrap(), ap);
}
