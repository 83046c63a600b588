//! `hark decode` and `hark lm build`, tested by running the binary on files made here.

use crate::util::{hark, tmpdir};
use hark::phones::TokenTable;
use ndarray::Array2;
use std::path::Path;

const LEXICON: &str = "go G OW1\nstop S T AA1 P\nleft L EH1 F T\nright R AY1 T\nten T EH1 N\n";

/// Peaky CTC log-posteriors spelling `phones` (4 frames each: blank, phone, phone, blank).
fn peaky(phones: &[&str]) -> Array2<f32> {
    let t = TokenTable::ctc_default();
    let mut path = vec![0usize; 3];
    for p in phones {
        let i = t.index(p).unwrap();
        path.extend([0, i, i, 0]);
    }
    path.extend([0, 0, 0]);
    Array2::from_shape_fn((path.len(), 41), |(f, c)| {
        if c == path[f] {
            0.95f32.ln()
        } else {
            (0.05f32 / 40.0).ln()
        }
    })
}

fn setup(dir: &Path) {
    std::fs::write(dir.join("lexicon.txt"), LEXICON).unwrap();
    std::fs::write(
        dir.join("corpus.txt"),
        "go left\ngo right\nstop\ngo ten\ngo left ten\n",
    )
    .unwrap();
    hark::fsio::write_npy(
        &dir.join("a.npy"),
        &peaky(&["G", "OW", "L", "EH", "F", "T"]),
    )
    .unwrap();
    hark::fsio::write_npy(&dir.join("b.npy"), &peaky(&["S", "T", "AA", "P"])).unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn decode_beam_with_lexicon_and_built_lm() {
    let dir = tmpdir("decode-beam");
    setup(&dir);
    let lm = dir.join("lm.arpa");
    let out = hark(&[
        "lm",
        "build",
        s(&dir.join("corpus.txt")),
        "--order",
        "3",
        "--vocab",
        s(&dir.join("lexicon.txt")),
        "--out",
        s(&lm),
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&lm)
            .unwrap()
            .starts_with("\\data\\")
    );
    let out = hark(&[
        "decode",
        "--posteriors",
        s(&dir.join("a.npy")),
        s(&dir.join("b.npy")),
        "--lexicon",
        s(&dir.join("lexicon.txt")),
        "--lm",
        s(&lm),
        "--decoder",
        "beam",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].ends_with("a.npy\tgo left"), "{text}");
    assert!(lines[1].ends_with("b.npy\tstop"), "{text}");
}

#[test]
fn decode_json_and_model_bundle() {
    let dir = tmpdir("decode-json");
    setup(&dir);
    std::fs::write(dir.join("tokens.txt"), TokenTable::ctc_default().to_text()).unwrap();
    for decoder in ["beam", "hmm"] {
        let out = hark(&[
            "decode",
            "--posteriors",
            s(&dir.join("a.npy")),
            "--model",
            s(&dir),
            "--decoder",
            decoder,
            "--format",
            "json",
            "--frame-shift-ms",
            "20",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["text"], "go left", "{decoder}");
        let words = v["words"].as_array().unwrap();
        assert_eq!(words[0]["word"], "go");
        // "go" is spelled in frames 3..11 (G at 4-5, OW at 8-9): 20 ms frames
        let start = words[0]["start"].as_f64().unwrap();
        assert!((0.0..=0.1).contains(&start), "{decoder}: {start}");
        assert!(words[0]["conf"].as_f64().unwrap() > 0.5);
        assert_eq!(v["phones"], "G OW L EH F T", "{decoder}");
    }
}

#[test]
fn decode_greedy_and_phone_mode_without_lexicon() {
    let dir = tmpdir("decode-greedy");
    setup(&dir);
    for decoder in ["greedy", "beam", "hmm"] {
        let out = hark(&[
            "decode",
            "--posteriors",
            s(&dir.join("b.npy")),
            "--decoder",
            decoder,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.trim_end().ends_with("\tS T AA P"), "{decoder}: {text}");
    }
}

#[test]
fn decode_errors_are_one_line_and_nonzero() {
    let dir = tmpdir("decode-err");
    setup(&dir);
    let out = hark(&["decode", "--posteriors", s(&dir.join("missing.npy"))]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing.npy") && err.trim().lines().count() == 1,
        "{err}"
    );
    let out = hark(&[
        "decode",
        "--posteriors",
        s(&dir.join("a.npy")),
        "--lm",
        s(&dir.join("corpus.txt")),
    ]);
    assert!(!out.status.success());
    std::fs::write(dir.join("bad_lex.txt"), "go G OW1\nbad XX\n").unwrap();
    let out = hark(&[
        "decode",
        "--posteriors",
        s(&dir.join("a.npy")),
        "--lexicon",
        s(&dir.join("bad_lex.txt")),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad_lex.txt:2"));
}

#[test]
fn decode_hybrid_posteriors_with_priors() {
    // 40 columns (SIL + 39 phones): frame-level posteriors of "go" = G OW with silence
    let dir = tmpdir("decode-hybrid");
    std::fs::write(dir.join("lexicon.txt"), LEXICON).unwrap();
    let t = TokenTable::hybrid_default();
    let plan = [("SIL", 5), ("G", 6), ("OW", 8), ("SIL", 5)];
    let mut path = Vec::new();
    for (p, n) in plan {
        path.extend(std::iter::repeat_n(t.index(p).unwrap(), n));
    }
    let m = Array2::from_shape_fn((path.len(), 40), |(f, c)| {
        if c == path[f] {
            0.8f32.ln()
        } else {
            (0.2f32 / 39.0).ln()
        }
    });
    hark::fsio::write_npy(&dir.join("h.npy"), &m).unwrap();
    std::fs::write(dir.join("priors.txt"), "0.025\n".repeat(40)).unwrap();
    let (npy, lex) = (dir.join("h.npy"), dir.join("lexicon.txt"));
    for priors in [true, false] {
        let mut args = vec![
            "decode",
            "--posteriors",
            s(&npy),
            "--lexicon",
            s(&lex),
            "--decoder",
            "hmm",
            "--format",
            "json",
        ];
        let p = dir.join("priors.txt");
        if priors {
            args.extend(["--priors", s(&p)]);
        }
        let out = hark(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["text"], "go");
        assert_eq!(v["words"][0]["start"], 0.05);
        assert_eq!(v["words"][0]["end"], 0.19);
        assert_eq!(v["phones"], "G OW");
    }
}
