//! The corpus recipe: importers on tiny fixture trees made here, text preparation,
//! manifests, and (when the TTS engines are installed) a resumable synthesis.

use std::path::{Path, PathBuf};

use hark::corpus::sphere::sphere_bytes;
use hark::manifest::Manifest;

use crate::util::{hark, repo_root, tmpdir};

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn wav_bytes(samples: &[i16], sample_rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut c = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut c, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    c.into_inner()
}

/// A FLAC header (marker + STREAMINFO) for `total` samples at `rate`: all that the
/// importer reads of a FLAC file.
fn flac_header(rate: u32, total: u64) -> Vec<u8> {
    let mut b = b"fLaC".to_vec();
    b.extend_from_slice(&[0x80, 0, 0, 34]); // last block, STREAMINFO, 34 bytes
    let mut si = [0u8; 34];
    si[0..2].copy_from_slice(&4096u16.to_be_bytes());
    si[2..4].copy_from_slice(&4096u16.to_be_bytes());
    // 20 bits rate | 3 bits channels-1 | 5 bits bps-1 | 36 bits total samples
    si[10] = (rate >> 12) as u8;
    si[11] = (rate >> 4) as u8;
    // mono (channels-1 = 0); bits per sample 16 (bps-1 = 15 = 0b01111, whose high
    // bit ends byte 12 and low four bits start byte 13).
    si[12] = ((rate & 0xf) << 4) as u8;
    si[13] = 0xf0 | ((total >> 32) & 0xf) as u8;
    si[14..18].copy_from_slice(&((total & 0xffff_ffff) as u32).to_be_bytes());
    b.extend_from_slice(&si);
    b
}

#[test]
fn import_librispeech_tree() {
    let d = tmpdir("ls");
    let src = d.join("LibriSpeech/dev-clean/84/121123");
    write(
        &src.join("84-121123.trans.txt"),
        "84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS THAN FIVE MINUTES\n",
    );
    write(&src.join("84-121123-0000.flac"), flac_header(16000, 32000));
    write(&src.join("84-121123-0001.flac"), flac_header(16000, 8000));
    let out = d.join("manifests/dev.jsonl");
    let o = hark(&[
        "corpus",
        "import",
        "--format",
        "librispeech",
        d.join("LibriSpeech").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = Manifest::load(&out).unwrap();
    assert_eq!(m.utterances.len(), 2);
    let u = &m.utterances[0];
    assert_eq!(u.id, "84-121123-0000");
    assert_eq!(u.text, "go do you hear");
    assert_eq!(u.speaker.as_deref(), Some("84"));
    assert!((u.duration - 2.0).abs() < 1e-9);
    assert!((m.utterances[1].duration - 0.5).abs() < 1e-9);
    // The audio lies outside the manifest's folder: the path is absolute.
    assert_eq!(m.audio_path(u), src.join("84-121123-0000.flac"));
}

#[test]
fn import_librispeech_missing_audio_fails() {
    let d = tmpdir("ls-bad");
    write(&d.join("src/1/2/1-2.trans.txt"), "1-2-0000 HELLO\n");
    let o = hark(&[
        "corpus",
        "import",
        "--format",
        "librispeech",
        d.join("src").to_str().unwrap(),
        "--out",
        d.join("m.jsonl").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("1-2.trans.txt:1"), "{e}");
}

#[test]
fn import_kaldi_with_segments_cuts_audio() {
    let d = tmpdir("kaldi-seg");
    let data = d.join("data/train");
    // 1 s recording: sample value = index, so cut boundaries are checkable.
    let rec: Vec<i16> = (0..16000).map(|i| i as i16).collect();
    write(&d.join("audio/rec1.wav"), wav_bytes(&rec, 16000));
    write(
        &data.join("wav.scp"),
        format!("rec1 {}\n", d.join("audio/rec1.wav").display()),
    );
    write(
        &data.join("segments"),
        "utt-a rec1 0.10 0.35\nutt-b rec1 0.5 1.0\n",
    );
    write(&data.join("text"), "utt-a HELLO THERE\nutt-b GOODBYE\n");
    write(&data.join("utt2spk"), "utt-a spk1\nutt-b spk2\n");
    let out = d.join("out/m.jsonl");
    hark::corpus::import::import(hark::corpus::import::Format::Kaldi, &data, &out).unwrap();
    let m = Manifest::load(&out).unwrap();
    assert_eq!(m.utterances.len(), 2);
    let a = &m.utterances[0];
    assert_eq!(a.audio, "wavs/utt-a.wav");
    assert_eq!(a.text, "hello there");
    assert_eq!(a.speaker.as_deref(), Some("spk1"));
    assert!((a.duration - 0.25).abs() < 1e-9);
    let r = hound::WavReader::open(m.audio_path(a)).unwrap();
    let s: Vec<i16> = r.into_samples::<i16>().map(|x| x.unwrap()).collect();
    assert_eq!(s.len(), 4000);
    assert_eq!((s[0], s[3999]), (1600, 5599));
    // A segment naming an unknown recording is an error with its line.
    write(
        &data.join("segments"),
        "utt-a rec1 0.1 0.2\nutt-c rec9 0 1\n",
    );
    let e = hark::corpus::import::import(hark::corpus::import::Format::Kaldi, &data, &out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("segments:2"), "{e}");
}

#[test]
fn import_kaldi_without_segments_reads_durations() {
    let d = tmpdir("kaldi-plain");
    let data = d.join("data");
    write(&data.join("a.wav"), wav_bytes(&vec![0; 8000], 16000));
    write(&data.join("wav.scp"), "a a.wav\n");
    write(&data.join("text"), "a YES\n");
    let out = data.join("m.jsonl");
    hark::corpus::import::import(hark::corpus::import::Format::Kaldi, &data, &out).unwrap();
    let m = Manifest::load(&out).unwrap();
    assert_eq!(m.utterances[0].audio, "a.wav");
    assert!((m.utterances[0].duration - 0.5).abs() < 1e-9);
}

#[test]
fn import_timit_converts_sphere_and_folds_phones() {
    let d = tmpdir("timit");
    let spk = d.join("TIMIT/TRAIN/DR1/FCJF0");
    let samples: Vec<i16> = (0..8000).map(|i| ((i % 100) - 50) as i16).collect();
    write(&spk.join("SA1.WAV"), sphere_bytes(&samples, 16000, false));
    write(
        &spk.join("SA1.PHN"),
        "0 1600 h#\n1600 2400 sh\n2400 3200 ix\n3200 4000 hv\n4000 4800 eh\n4800 5200 dcl\n5200 5600 jh\n5600 8000 h#\n",
    );
    write(&spk.join("SA1.WRD"), "1600 3200 she\n3200 5600 had\n");
    // A second utterance whose audio is already RIFF (converted copies exist).
    write(&spk.join("SX1.WAV"), wav_bytes(&samples[..4800], 16000));
    write(
        &spk.join("SX1.PHN"),
        "0 1600 h#\n1600 3200 bcl\n3200 4800 b\n",
    );
    write(&spk.join("SX1.WRD"), "1600 4800 be\n");
    let out = d.join("m/timit.jsonl");
    let o = hark(&[
        "corpus",
        "import",
        "--format",
        "timit",
        d.join("TIMIT").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = Manifest::load(&out).unwrap();
    assert_eq!(m.utterances.len(), 2);
    let u = &m.utterances[0];
    assert_eq!(u.id, "fcjf0_sa1");
    assert_eq!(u.text, "she had");
    assert_eq!(u.speaker.as_deref(), Some("fcjf0"));
    // dcl+jh merge into one JH; ix -> IH, hv -> HH.
    assert_eq!(u.phones.as_deref(), Some("SIL SH IH HH EH JH SIL"));
    let ali = u.alignment.as_ref().unwrap();
    assert_eq!(ali[5].0, "JH");
    assert!((ali[5].1 - 0.3).abs() < 1e-9 && (ali[5].2 - 0.35).abs() < 1e-9);
    assert!((u.duration - 0.5).abs() < 1e-9);
    // The SPHERE audio was converted to a readable WAV with the same samples.
    assert_eq!(u.audio, "wavs/fcjf0_sa1.wav");
    let r = hound::WavReader::open(m.audio_path(u)).unwrap();
    let s: Vec<i16> = r.into_samples::<i16>().map(|x| x.unwrap()).collect();
    assert_eq!(s, samples);
    let v = &m.utterances[1];
    assert_eq!(v.phones.as_deref(), Some("SIL B"));
    assert_eq!(m.audio_path(v), spk.join("SX1.WAV"));
}

#[test]
fn corpus_text_keeps_normalised_sentences_in_lexicon() {
    let d = tmpdir("text");
    let data = repo_root().join("tests/data/corpus");
    let out = d.join("sentences.txt");
    let vocab = d.join("lexicon.txt");
    let o = hark(&[
        "corpus",
        "text",
        "--lexicon",
        data.join("lexicon.txt").to_str().unwrap(),
        data.join("raw.txt").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--vocab-out",
        vocab.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Expected lines worked out by hand in tests/data/corpus/README.md.
    let got = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        got,
        "the cat sat on the mat\na dog ran home in nineteen eighty four\nthe dog ran home with the cat on the mat\n"
    );
    let lex = std::fs::read_to_string(&vocab).unwrap();
    assert!(lex.contains("THE DH AH\nTHE(2) DH IY\n"), "{lex}");
    assert!(!lex.contains("DAMN"), "{lex}");
}

#[test]
fn corpus_import_rejects_unknown_format() {
    let o = hark(&[
        "corpus", "import", "--format", "wsj", "x", "--out", "y.jsonl",
    ]);
    assert!(!o.status.success());
}

fn have(cmd: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

fn espeak_helper() -> Option<PathBuf> {
    let p = repo_root().join("data/tools/espeak-events");
    p.exists().then_some(p)
}

/// Builds a tiny corpus with the real engines, then resumes it to a larger size:
/// the first utterances are kept byte for byte and the rest continue the same
/// seeded sequence as a build made in one go. Skipped (with a note) where the
/// engines are not installed (scripts/install-tts.sh).
#[test]
fn synth_is_resumable_and_deterministic() {
    let Some(helper) = espeak_helper() else {
        eprintln!(
            "skipping synth test: run scripts/install-tts.sh to build data/tools/espeak-events"
        );
        return;
    };
    if !have("flite") || !have("festival") {
        eprintln!("skipping synth test: flite/festival not installed (scripts/install-tts.sh)");
        return;
    }
    let d = tmpdir("synth");
    let text = d.join("sentences.txt");
    // 96 sentences, so that the 5 % dev and test pools are not empty.
    let mut lines = String::new();
    for subj in ["the cat", "a dog", "the dog", "a cat"] {
        for verb in ["sat", "ran"] {
            for place in [
                "on the mat",
                "home",
                "with the cat",
                "with the dog",
                "on a mat",
                "on the dog",
            ] {
                for tail in ["", " in nineteen eighty four"] {
                    lines.push_str(&format!("{subj} {verb} {place}{tail}\n"));
                }
            }
        }
    }
    std::fs::write(&text, lines).unwrap();
    let lex = repo_root().join("tests/data/corpus/lexicon.txt");
    let run = |out: &Path, hours: &str| {
        let o = hark(&[
            "corpus",
            "synth",
            "--text",
            text.to_str().unwrap(),
            "--lexicon",
            lex.to_str().unwrap(),
            "--hours",
            hours,
            "--dev-hours",
            "0",
            "--test-hours",
            "0.0005",
            "--seed",
            "5",
            "--espeak-helper",
            helper.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let a = d.join("a");
    run(&a, "0.001");
    let first = Manifest::load(&a.join("train.jsonl")).unwrap();
    assert!(!first.utterances.is_empty());
    let first_wav = std::fs::read(first.audio_path(&first.utterances[0])).unwrap();
    run(&a, "0.003");
    let resumed = Manifest::load(&a.join("train.jsonl")).unwrap();
    assert!(resumed.utterances.len() > first.utterances.len());
    assert_eq!(
        resumed.utterances[..first.utterances.len()],
        first.utterances[..]
    );
    assert_eq!(
        std::fs::read(resumed.audio_path(&resumed.utterances[0])).unwrap(),
        first_wav
    );
    // A lost WAV is made again, identical, and the manifest stays the same.
    let lost = resumed.audio_path(&resumed.utterances[1]);
    let lost_bytes = std::fs::read(&lost).unwrap();
    std::fs::remove_file(&lost).unwrap();
    run(&a, "0.003");
    assert_eq!(std::fs::read(&lost).unwrap(), lost_bytes);
    assert_eq!(
        Manifest::load(&a.join("train.jsonl")).unwrap().utterances,
        resumed.utterances
    );
    let b = d.join("b");
    run(&b, "0.003");
    let direct = Manifest::load(&b.join("train.jsonl")).unwrap();
    assert_eq!(direct.utterances, resumed.utterances);
    // Labels: phones in the 39+SIL set, contiguous alignment covering the audio.
    for u in &direct.utterances {
        let ali = u.alignment.as_ref().unwrap();
        assert!(ali.iter().all(|p| hark::phones::is_phone(&p.0)), "{u:?}");
        assert!(
            ali.windows(2).all(|w| (w[0].2 - w[1].1).abs() < 2e-3),
            "{u:?}"
        );
        assert!((ali.last().unwrap().2 - u.duration).abs() < 2e-3, "{u:?}");
        let wav = hound::WavReader::open(direct.audio_path(u)).unwrap();
        assert_eq!(wav.spec().sample_rate, 16000);
    }
    // Test voices never appear in train.
    let test = Manifest::load(&b.join("test.jsonl")).unwrap();
    assert!(!test.utterances.is_empty());
    for u in &direct.utterances {
        let s = u.speaker.as_deref().unwrap();
        assert!(
            !s.contains("ked_diphone") && !s.contains("en-029") && !s.ends_with("+croak"),
            "{s}"
        );
    }
    // A different seed on the same folder is refused.
    let o = hark(&[
        "corpus",
        "synth",
        "--text",
        text.to_str().unwrap(),
        "--lexicon",
        lex.to_str().unwrap(),
        "--hours",
        "0.003",
        "--seed",
        "6",
        "--espeak-helper",
        helper.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
        "-q",
    ]);
    assert!(!o.status.success());
}

/// `--voices borrowed`: festival's Italian, Finnish and Czech diphone voices say
/// English phone strings; the labels are hark phones covering the audio, ids are
/// prefixed so the corpus can join a standard one, and builds are deterministic.
/// Skipped where festival or the voices are not installed (scripts/install-tts.sh).
#[test]
fn borrowed_voices_speak_english_phone_strings_deterministically() {
    let voices = Path::new("/usr/share/festival/voices");
    if !have("festival")
        || !voices.join("italian/lp_diphone").exists()
        || !voices.join("czech/czech_ph").exists()
        || !voices.join("finnish/hy_fi_mv_diphone").exists()
    {
        eprintln!(
            "skipping borrowed-voice test: festival voices not installed (scripts/install-tts.sh)"
        );
        return;
    }
    let d = tmpdir("borrowed");
    let text = d.join("sentences.txt");
    let mut lines = String::new();
    for subj in ["the cat", "a dog", "the dog", "a cat"] {
        for place in ["on the mat", "home", "with the cat", "in the garden"] {
            for verb in ["sat", "ran", "waited"] {
                lines.push_str(&format!("{subj} {verb} {place}\n"));
            }
        }
    }
    std::fs::write(&text, lines).unwrap();
    let lex = repo_root().join("tests/data/corpus/lexicon.txt");
    let run = |out: &Path| {
        let o = hark(&[
            "corpus",
            "synth",
            "--voices",
            "borrowed",
            "--text",
            text.to_str().unwrap(),
            "--lexicon",
            lex.to_str().unwrap(),
            "--hours",
            "0.004",
            "--dev-hours",
            "0",
            "--test-hours",
            "0",
            "--seed",
            "3",
            "--out",
            out.to_str().unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let (a, b) = (d.join("a"), d.join("b"));
    run(&a);
    run(&b);
    let ma = Manifest::load(&a.join("train.jsonl")).unwrap();
    let mb = Manifest::load(&b.join("train.jsonl")).unwrap();
    assert!(ma.utterances.len() >= 3, "{}", ma.utterances.len());
    assert_eq!(ma.utterances, mb.utterances);
    for u in &ma.utterances {
        assert!(u.id.starts_with("btrain-"), "{}", u.id);
        assert!(u.speaker.as_deref().unwrap().starts_with("borrowed/"));
        let ali = u.alignment.as_ref().unwrap();
        assert_eq!(ali[0].1, 0.0);
        for w in ali.windows(2) {
            assert!((w[0].2 - w[1].1).abs() < 1e-9, "{}: gap in alignment", u.id);
        }
        assert!(
            (ali.last().unwrap().2 - u.duration).abs() < 0.002,
            "{}",
            u.id
        );
        assert!(ali.iter().all(|p| hark::phones::is_phone(&p.0)), "{}", u.id);
        assert!(ali.iter().filter(|p| p.0 != "SIL").count() >= 5, "{}", u.id);
        let wav_a = std::fs::read(ma.audio_path(u)).unwrap();
        assert_eq!(wav_a, std::fs::read(mb.audio_path(u)).unwrap(), "{}", u.id);
        let (samples, rate) = hark::audio::load_16k(&ma.audio_path(u))
            .map(|w| (w.samples.len(), 16_000))
            .unwrap();
        assert!((samples as f64 / rate as f64 - u.duration).abs() < 0.002);
    }
}
