//! Writes the starting corpus of every fuzz target into `seeds/<target>/`, using
//! hark's own writers (so every seed is a valid file that hark accepts), plus a
//! few hand-made variants. Run from `fuzz/`: `cargo run --release --bin make_seeds`.

use std::path::Path;

use hark::am::model::{
    AcousticModel, Architecture, FORMAT_VERSION, ModelConfig, Objective, RecurrentKind,
};
use hark::audio::Waveform;
use hark::rng::Rng;

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("seeds").join(target);
    std::fs::create_dir_all(&dir).expect("creating seeds dir");
    std::fs::write(dir.join(name), bytes).expect("writing a seed");
}

/// A WAV file with any header values (PCM/float/extensible), data as given.
fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8], extensible: bool) -> Vec<u8> {
    let align = channels * bits.div_ceil(8);
    let mut fmt = Vec::new();
    fmt.extend((if extensible { 0xFFFEu16 } else { tag }).to_le_bytes());
    fmt.extend(channels.to_le_bytes());
    fmt.extend(rate.to_le_bytes());
    fmt.extend((rate * align as u32).to_le_bytes());
    fmt.extend(align.to_le_bytes());
    fmt.extend(bits.to_le_bytes());
    if extensible {
        fmt.extend(22u16.to_le_bytes());
        fmt.extend(bits.to_le_bytes());
        fmt.extend(0u32.to_le_bytes());
        fmt.extend(tag.to_le_bytes());
        fmt.extend([0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71]);
    }
    let mut out = b"RIFF".to_vec();
    out.extend(((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend((fmt.len() as u32).to_le_bytes());
    out.extend(fmt);
    out.extend(b"data");
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    out
}

fn audio() {
    let tone: Vec<f32> = (0..1600)
        .map(|i| 0.5 * (i as f32 * 0.07).sin() * if (400..800).contains(&i) { 0.0 } else { 1.0 })
        .collect();
    let p = hark_fuzz::scratch("seed.wav");
    hark::audio::write_wav_16bit(&p, &Waveform::new(tone.clone(), 16_000)).expect("writing a WAV");
    put(
        "audio_wav",
        "pcm16_16k_mono.wav",
        &std::fs::read(&p).expect("reading back"),
    );
    let i16s: Vec<u8> = tone
        .iter()
        .flat_map(|&x| hark::audio::float_to_i16(x).to_le_bytes())
        .collect();
    put(
        "audio_wav",
        "pcm16_8k_stereo.wav",
        &wav(1, 2, 8_000, 16, &i16s[..1600], false),
    );
    let u8s: Vec<u8> = tone
        .iter()
        .take(400)
        .map(|&x| ((x * 127.0) as i32 + 128) as u8)
        .collect();
    put(
        "audio_wav",
        "pcm8_11k.wav",
        &wav(1, 1, 11_025, 8, &u8s, false),
    );
    let i24: Vec<u8> = tone
        .iter()
        .take(300)
        .flat_map(|&x| (((x * 8_388_607.0) as i32).to_le_bytes())[..3].to_vec())
        .collect();
    put(
        "audio_wav",
        "pcm24_44k1_ext.wav",
        &wav(1, 1, 44_100, 24, &i24, true),
    );
    let f32s: Vec<u8> = tone
        .iter()
        .take(300)
        .flat_map(|&x| x.to_le_bytes())
        .collect();
    put(
        "audio_wav",
        "float32_48k.wav",
        &wav(3, 1, 48_000, 32, &f32s, false),
    );
    let i32s: Vec<u8> = tone
        .iter()
        .take(200)
        .flat_map(|&x| ((x * 2e9) as i32).to_le_bytes())
        .collect();
    put(
        "audio_wav",
        "pcm32_22k_3ch.wav",
        &wav(1, 3, 22_050, 32, &i32s[..(i32s.len() / 12) * 12], false),
    );
}

fn lm_and_lexicon() {
    put(
        "arpa",
        "trigram.arpa",
        br#"
\data\
ngram 1=5
ngram 2=4
ngram 3=2

\1-grams:
-0.69897 </s>
-99 <s> -0.30103
-0.69897 yes -0.1
-0.69897 no -0.2
-1.5 <unk>

\2-grams:
-0.3 <s> yes -0.1
-0.4 yes no
-0.2 no </s>
-0.5 yes </s>

\3-grams:
-0.1 <s> yes no
-0.05 yes no </s>

\end\
"#,
    );
    put(
        "arpa",
        "unigram.arpa",
        b"\\data\\\nngram 1=3\n\n\\1-grams:\n-1 <s>\n-0.5 </s>\n-0.5 a\n\n\\end\\\n",
    );
    put(
        "lexicon",
        "cmudict.txt",
        b";;; comment\nYES  Y EH1 S\nNO  N OW1\nREAD  R EH1 D\nREAD(2)  R IY1 D\nA AH0\nA(2) EY1\n",
    );
}

fn manifest() {
    put("manifest", "plain.jsonl", br#"{"id": "u1", "audio": "wavs/u1.wav", "text": "yes no", "duration": 0.99, "speaker": "en-us"}
{"id": "u2", "audio": "/abs/u2.flac", "text": "", "duration": 0}
"#);
    put("manifest", "aligned.jsonl", br#"# comment
{"id":"t","audio":"a.wav","text":"b b","duration":1.159,"speaker":"espeak/en","phones":"SIL B IY SIL","alignment":[["SIL",0.0,0.088],["B",0.088,0.149],["IY",0.149,0.434],["SIL",0.434,1.159]]}
"#);
}

fn bundle(name: &str, kind: RecurrentKind, bidirectional: bool, normalize_input: bool) {
    let config = ModelConfig {
        format_version: FORMAT_VERSION,
        architecture: Architecture {
            kind,
            num_layers: 1,
            hidden_dim: 3,
            bidirectional,
            input_dim: 2,
            num_outputs: 3,
        },
        objective: Objective::Ctc,
        frame_stacking: 2,
        frame_subsampling: 2,
        normalize_input,
        features: serde_json::json!({"kind": "fbank", "num_bins": 2}),
    };
    let model = AcousticModel::new(config, &mut Rng::new(1)).expect("a valid tiny model");
    let dir = hark_fuzz::scratch(&format!("seed-{name}"));
    model.save(&dir).expect("saving the tiny model");
    let cfg = std::fs::read(dir.join("config.json")).expect("config");
    let st = std::fs::read(dir.join("model.safetensors")).expect("tensors");
    let mut out = (cfg.len() as u16).to_le_bytes().to_vec();
    out.extend(cfg);
    out.extend(st);
    put("model_bundle", &format!("{name}.bin"), &out);
}

fn index() {
    let mut ix = hark::qbe::index::Index::new(3).expect("dim 3");
    ix.add_file(
        "a.wav",
        &[(0.0, 0.5), (0.25, 0.75)],
        &[1.0, 0.0, 0.0, 0.5, 0.5, 0.0],
    )
    .expect("add");
    ix.add_file("b.wav", &[(1.0, 1.5)], &[0.0, 0.0, 2.0])
        .expect("add");
    put("index", "two_files.idx", &ix.to_bytes());
    put(
        "index",
        "empty.idx",
        &hark::qbe::index::Index::new(1).expect("dim 1").to_bytes(),
    );
}

fn main() {
    audio();
    lm_and_lexicon();
    manifest();
    bundle("lstm_bi_norm", RecurrentKind::Lstm, true, true);
    bundle("gru", RecurrentKind::Gru, false, false);
    bundle("rnn", RecurrentKind::Rnn, false, true);
    index();
    println!("seeds written under seeds/");
}
