//! Shared checks of the fuzz targets. Each `check_*` takes the raw fuzz input,
//! feeds it to one of hark's readers and asserts the properties that must hold
//! for every input: no panic, no abort, and for accepted inputs a few invariants
//! (stream = whole read, save → load round trips, finite outputs).
//!
//! The functions are plain Rust so a crash input can be replayed outside
//! libFuzzer; `tests/reliability.rs` replays every kept crash through the same
//! public API calls.

use std::path::{Path, PathBuf};

/// A per-process scratch file for readers that take a path.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hark-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating the scratch directory");
    dir.join(name)
}

fn write(path: &Path, data: &[u8]) {
    std::fs::write(path, data).expect("writing the scratch file");
}

/// WAV or FLAC bytes: `read_audio`, the block reader, the chunker and the resampler.
pub fn check_audio(data: &[u8]) {
    let path = scratch("input.audio");
    write(&path, data);
    let whole = hark::audio::read_audio(&path);
    let Ok(mut stream) = hark::audio::AudioStream::open(&path) else {
        assert!(
            whole.is_err(),
            "AudioStream::open failed where read_audio succeeded"
        );
        return;
    };
    // Reading in odd-sized blocks gives exactly the samples of the whole read.
    let mut blocks = Vec::new();
    let streamed = loop {
        match stream.read(997, &mut blocks) {
            Ok(0) => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
    };
    match (&whole, &streamed) {
        (Ok(w), Ok(())) => {
            assert_eq!(w.samples.len(), blocks.len(), "stream length");
            assert!(
                w.samples
                    .iter()
                    .zip(&blocks)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "stream samples differ from read_audio"
            );
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("stream failed where read_audio succeeded: {e}"),
        (Err(e), Ok(())) => {
            // The stream reports zero-sample files as an empty stream.
            assert!(
                blocks.is_empty(),
                "read_audio failed ({e}) but the stream read samples"
            );
        }
    }
    let Ok(wave) = whole else { return };
    // Resampling to 16 kHz (bounded work: skip absurd output lengths).
    let out_len = wave.samples.len() as u64 * 16_000 / u64::from(wave.sample_rate.max(1));
    if out_len < 1 << 22 {
        let Ok(w16) = hark::audio::load_16k(&path) else {
            return;
        };
        assert!(
            w16.samples.iter().all(|x| x.is_finite()),
            "resampler made a non-finite sample"
        );
        // Chunking: pieces tile the file (exactly, at 16 kHz).
        let config = hark::audio::ChunkConfig {
            max_chunk_secs: 0.25,
            min_chunk_secs: 0.1,
            min_silence_ms: 20.0,
            end_pause_ms: 50.0,
        };
        let stream = hark::audio::AudioStream::open(&path).expect("opened once already");
        let mut chunker = hark::audio::Chunker::new(stream, config).expect("valid config");
        let mut joined = Vec::new();
        let mut last_start = -1.0;
        while let Some(c) = chunker.next_chunk().expect("the whole read succeeded") {
            assert!(c.start_secs > last_start, "chunk starts go forward");
            last_start = c.start_secs;
            if wave.sample_rate == 16_000 {
                assert_eq!((c.start_secs * 16_000.0).round() as usize, joined.len());
            }
            joined.extend(c.samples);
        }
        if wave.sample_rate == 16_000 {
            assert_eq!(joined, wave.samples, "chunks do not tile the file");
        }
    }
}

/// WAV bytes on a pipe: `AudioStream::from_pipe` read in odd-sized blocks, and the
/// live chunker. Where the bytes are also a valid WAV file, the pipe gives the
/// file reader's samples; the live chunker's pieces tile what the pipe gives.
pub fn check_pipe(data: &[u8]) {
    let open = || {
        hark::audio::AudioStream::from_pipe(
            Path::new("<stdin>"),
            Box::new(std::io::Cursor::new(data.to_vec())),
        )
    };
    let Ok(mut stream) = open() else { return };
    let mut blocks = Vec::new();
    let streamed = loop {
        match stream.read(997, &mut blocks) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(_) => break false,
        }
    };
    let path = scratch("pipe.wav");
    write(&path, data);
    if let (true, Ok(w)) = (streamed, hark::audio::read_audio(&path)) {
        assert!(
            w.samples
                .iter()
                .zip(&blocks)
                .all(|(a, b)| a.to_bits() == b.to_bits())
                && w.samples.len() == blocks.len(),
            "pipe samples differ from read_audio"
        );
    }
    if !streamed || stream.sample_rate() != 16_000 || blocks.len() > 1 << 20 {
        return;
    }
    let config = hark::audio::ChunkConfig {
        max_chunk_secs: 0.25,
        min_chunk_secs: 0.1,
        min_silence_ms: 20.0,
        end_pause_ms: 50.0,
    };
    let stream = open().expect("opened once already");
    let mut live = hark::audio::Chunker::live(stream, config).expect("valid config");
    let mut joined = Vec::new();
    while let Some(c) = live.next_chunk().expect("the whole read succeeded") {
        assert_eq!((c.start_secs * 16_000.0).round() as usize, joined.len());
        joined.extend(c.samples);
    }
    assert_eq!(joined, blocks, "live chunks do not tile the stream");
}

/// ARPA text: parse, then score every vocabulary word and a few pairs.
pub fn check_arpa(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(lm) = hark::lm::ArpaLm::parse(text, Path::new("fuzz.arpa")) else {
        return;
    };
    let vocab: Vec<&str> = lm.vocab().iter().take(32).map(String::as_str).collect();
    for (i, w) in vocab.iter().enumerate() {
        let s = lm.sentence_score(&[w]);
        assert!(!s.is_nan(), "NaN score for {w:?}");
        let pair = [vocab[(i * 7 + 3) % vocab.len()], w, "no-such-word"];
        assert!(!lm.sentence_score(&pair).is_nan(), "NaN score for {pair:?}");
    }
}

/// CMUdict-format text: parse; the printed lexicon parses back to the same one.
pub fn check_lexicon(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(lex) = hark::lexicon::Lexicon::parse(text, Path::new("fuzz.lex")) else {
        return;
    };
    let printed = lex.to_text();
    let back = hark::lexicon::Lexicon::parse(&printed, Path::new("printed.lex"))
        .unwrap_or_else(|e| panic!("printed lexicon does not parse: {e}\n{printed}"));
    assert_eq!(lex.words, back.words, "words change through to_text");
    for w in 0..lex.num_words() {
        let a: Vec<_> = lex
            .prons_of(w as _)
            .iter()
            .map(|&p| &lex.prons[p as usize].phones)
            .collect();
        let b: Vec<_> = back
            .prons_of(w as _)
            .iter()
            .map(|&p| &back.prons[p as usize].phones)
            .collect();
        assert_eq!(
            a, b,
            "pronunciations of {} change through to_text",
            lex.words[w]
        );
    }
    for w in lex.words.iter().take(16) {
        let _ = lex.pronounce(w);
    }
}

/// JSON Lines manifest: load; written back, it loads to the same utterances.
pub fn check_manifest(data: &[u8]) {
    let path = scratch("manifest.jsonl");
    write(&path, data);
    let Ok(m) = hark::manifest::Manifest::load(&path) else {
        return;
    };
    let again = scratch("manifest2.jsonl");
    hark::manifest::Manifest::write(&again, &m.utterances).expect("writing a loaded manifest");
    let back = hark::manifest::Manifest::load(&again)
        .unwrap_or_else(|e| panic!("written manifest does not load: {e}"));
    assert_eq!(m.utterances.len(), back.utterances.len());
    for (a, b) in m.utterances.iter().zip(&back.utterances) {
        assert_eq!((&a.id, &a.audio, &a.text), (&b.id, &b.audio, &b.text));
        assert!((a.duration - b.duration).abs() <= 1e-9 * a.duration.abs().max(1.0));
        let _ = m.audio_path(a);
    }
    let _ = m.total_duration();
}

/// Model bundle: `[u16 LE n][n bytes config.json][model.safetensors]`. Load it;
/// an accepted model of modest size runs on a few frames and gives finite output.
pub fn check_model_bundle(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let n = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    let (config, tensors) = data[2..].split_at(n);
    let dir = scratch("bundle");
    std::fs::create_dir_all(&dir).expect("creating the bundle directory");
    write(&dir.join("config.json"), config);
    write(&dir.join("model.safetensors"), tensors);
    let Ok(model) = hark::am::AcousticModel::load(&dir) else {
        return;
    };
    if let Ok(fc) =
        serde_json::from_value::<hark::features::FeatureConfig>(model.config.features.clone())
    {
        let _ = fc.validate();
    }
    let d = model.input_dim();
    if d == 0 || d > 512 {
        return;
    }
    let feats = ndarray::Array2::<f32>::from_shape_fn((7, d), |(t, j)| {
        ((t * 31 + j * 7) % 13) as f32 - 6.0
    });
    if let Ok(lp) = model.log_posteriors(&feats) {
        assert_eq!(lp.ncols(), model.num_outputs());
        assert!(
            lp.iter().all(|x| !x.is_nan()),
            "NaN log-posterior from an accepted model"
        );
    }
}

/// FNV-1a, the checksum of hark's index files (so inputs get past it).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Search index bytes. The last 8 bytes are replaced by the right checksum so the
/// fuzzer explores the structure behind it; then load and search.
pub fn check_index(data: &[u8]) {
    let mut bytes = data.to_vec();
    if bytes.len() >= 8 {
        let body = bytes.len() - 8;
        let sum = fnv1a(&bytes[..body]);
        bytes[body..].copy_from_slice(&sum.to_le_bytes());
    }
    let path = scratch("index.bin");
    write(&path, &bytes);
    let Ok(mut index) = hark::qbe::index::Index::load(&path) else {
        return;
    };
    let dim = index.dim();
    if dim > 4096 {
        return;
    }
    let q: Vec<f32> = (0..dim).map(|i| (i % 5) as f32 - 2.0).collect();
    let exact = index.search(&q, 5, 0.5);
    if let Ok(hits) = &exact {
        assert!(hits.len() <= 5);
    }
    // With at most 256 vectors (one candidate pool) the 8-bit scan, alone or over
    // every coarse list, ranks exactly like the float search; probing one list
    // still gives as many hits (falling back to the whole scan when it must).
    if index.len() * dim <= 1 << 20 {
        for (lists, probes) in [(0, 0), (3, 3), (3, 1)] {
            index.build_fast_search_with(hark::qbe::index::FastSearch { lists, probes });
            let fast = index.search(&q, 5, 0.5);
            match (&exact, &fast) {
                (Ok(a), Ok(b)) if probes == lists && index.len() <= 256 => assert_eq!(a, b),
                (Ok(a), Ok(b)) => assert_eq!(a.len(), b.len()),
                (Err(_), Err(_)) => {}
                _ => panic!("exact and fast search disagree on success"),
            }
        }
    }
    let _ = index.files();
    let _ = index.to_bytes();
}
