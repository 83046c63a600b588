//! Reading and writing audio: every encoding, mixing, and every malformed input.

use super::*;

fn tmp(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hark-audio-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every sample encoding hark reads: PCM of 8 to 32 bits, and 32-bit float.
const DEPTHS: [(u16, hound::SampleFormat); 5] = [
    (8, hound::SampleFormat::Int),
    (16, hound::SampleFormat::Int),
    (24, hound::SampleFormat::Int),
    (32, hound::SampleFormat::Int),
    (32, hound::SampleFormat::Float),
];

fn write_hound(path: &Path, spec: hound::WavSpec, frames: &[Vec<f64>]) {
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for fr in frames {
        for &v in fr {
            match spec.sample_format {
                hound::SampleFormat::Float => w.write_sample(v as f32).unwrap(),
                hound::SampleFormat::Int => {
                    let scale = (1i64 << (spec.bits_per_sample - 1)) as f64;
                    let q = (v * scale).round() as i64;
                    let q = q.clamp(-(scale as i64), scale as i64 - 1);
                    if spec.bits_per_sample == 8 {
                        w.write_sample(q as i8).unwrap();
                    } else {
                        w.write_sample(q as i32).unwrap();
                    }
                }
            }
        }
    }
    w.finalize().unwrap();
}

#[test]
fn every_pcm_depth_and_float_reads_back() {
    let d = tmp("depths");
    let values = [0.0, 0.5, -0.5, -1.0, 0.25, 0.999];
    let frames: Vec<Vec<f64>> = values.iter().map(|&v| vec![v]).collect();
    for (bits, fmt) in DEPTHS {
        let p = d.join(format!("x{bits}{fmt:?}.wav"));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22_050,
            bits_per_sample: bits,
            sample_format: fmt,
        };
        write_hound(&p, spec, &frames);
        let w = read_audio(&p).unwrap();
        assert_eq!(w.sample_rate, 22_050);
        assert_eq!(w.samples.len(), values.len());
        // quantisation step of the depth (8-bit: 1/128)
        let tol = 1.0 / (1u64 << (bits - 1)) as f32;
        for (a, b) in w.samples.iter().zip(values) {
            assert!(
                (a - b as f32).abs() <= tol,
                "{bits}-bit {fmt:?}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn channels_are_averaged() {
    let d = tmp("stereo");
    let p = d.join("st.wav");
    let spec = hound::WavSpec {
        channels: 3,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    write_hound(&p, spec, &[vec![0.5, -0.5, 0.25], vec![0.25, 0.25, 0.25]]);
    let w = read_audio(&p).unwrap();
    assert_eq!(w.samples, vec![0.25 / 3.0, 0.25]);
}

#[test]
fn write_read_16bit_is_lossless_on_the_grid() {
    let d = tmp("rw");
    let p = d.join("rw.wav");
    let samples: Vec<f32> = (-5..5).map(|i| i as f32 * 1000.0 / 32768.0).collect();
    let w = Waveform::new(samples.clone(), 16_000);
    write_wav_16bit(&p, &w).unwrap();
    assert_eq!(read_audio(&p).unwrap(), w);
    assert_eq!(load_16k(&p).unwrap(), w);
    // clipping
    write_wav_16bit(&p, &Waveform::new(vec![2.0, -2.0], 8_000)).unwrap();
    assert_eq!(
        read_audio(&p).unwrap().samples,
        vec![32767.0 / 32768.0, -1.0]
    );
    assert!(write_wav_16bit(&p, &Waveform::new(vec![f32::NAN], 8_000)).is_err());
}

#[test]
fn load_16k_resamples() {
    let d = tmp("l16");
    let p = d.join("a.wav");
    let w = Waveform::new(vec![0.1; 44_100], 44_100);
    write_wav_16bit(&p, &w).unwrap();
    let r = load_16k(&p).unwrap();
    assert_eq!(r.sample_rate, 16_000);
    assert_eq!(r.samples.len(), 16_000);
    // DC passes with unit gain away from the zero-padded edges
    assert!((r.samples[8000] - 0.1).abs() < 1e-3, "{}", r.samples[8000]);
}

/// A canonical 44-byte header with the given fields and `data` bytes after it.
fn wav_bytes(tag: u16, channels: u16, rate: u32, bits: u16, data_len: u32, data: &[u8]) -> Vec<u8> {
    let align = channels * bits.div_ceil(8);
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * align as u32).to_le_bytes());
    b.extend_from_slice(&align.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    b.extend_from_slice(data);
    b
}

fn err_of(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let e = read_audio(&p).unwrap_err().to_string();
    assert!(e.contains(name), "error does not name the file: {e}");
    assert!(!e.contains('\n'), "error is not one line: {e}");
    e
}

#[test]
fn malformed_inputs_give_named_errors() {
    let d = tmp("bad");
    let ok = wav_bytes(1, 1, 16_000, 16, 4, &[0, 1, 0, 2]);
    // sanity: the canonical header reads
    std::fs::write(d.join("ok.wav"), &ok).unwrap();
    assert_eq!(read_audio(&d.join("ok.wav")).unwrap().samples.len(), 2);

    let e = read_audio(&d.join("missing.wav")).unwrap_err().to_string();
    assert!(e.contains("missing.wav"), "{e}");
    assert!(err_of(&d, "empty.wav", b"").contains("empty"));
    assert!(err_of(&d, "text.wav", b"hello, I am text\n").contains("not a WAV or FLAC"));
    assert!(err_of(&d, "short.wav", b"RIFF\x10\0").contains("truncated"));
    assert!(err_of(&d, "hdr.wav", &ok[..30]).contains("truncated"));
    assert!(err_of(&d, "cut.wav", &ok[..46]).contains("truncated"));
    let huge = wav_bytes(1, 1, 16_000, 16, 0xFFFF_FFF0, &[0, 1, 0, 2]);
    assert!(err_of(&d, "huge.wav", &huge).contains("declares 4294967280 bytes"));
    let zero_ch = wav_bytes(1, 0, 16_000, 16, 4, &[0, 1, 0, 2]);
    assert!(err_of(&d, "zero_ch.wav", &zero_ch).contains("0 channels"));
    let zero_rate = wav_bytes(1, 1, 0, 16, 4, &[0, 1, 0, 2]);
    assert!(err_of(&d, "zero_rate.wav", &zero_rate).contains("0 Hz"));
    let no_data = wav_bytes(1, 1, 16_000, 16, 0, &[]);
    assert!(err_of(&d, "nodata.wav", &no_data).contains("zero samples"));
    let adpcm = wav_bytes(0x11, 1, 8_000, 4, 2, &[0, 1]);
    assert!(err_of(&d, "adpcm.wav", &adpcm).contains("0x0011 (IMA ADPCM)"));
    let mulaw16 = wav_bytes(7, 1, 8_000, 16, 2, &[0, 1]);
    assert!(err_of(&d, "mulaw16.wav", &mulaw16).contains("16-bit G.711"));
    let f64wav = wav_bytes(3, 1, 8_000, 64, 8, &[0; 8]);
    assert!(err_of(&d, "f64.wav", &f64wav).contains("unsupported encoding"));
    let odd = wav_bytes(1, 1, 16_000, 16, 3, &[0, 1, 0]);
    assert!(err_of(&d, "odd.wav", &odd).contains("whole number"));
    let nan = wav_bytes(3, 1, 16_000, 32, 8, &[0, 0, 0, 0, 0, 0, 0xC0, 0x7F]);
    assert!(err_of(&d, "nan.wav", &nan).contains("not finite"));
    let inf = wav_bytes(3, 1, 16_000, 32, 4, &f32::INFINITY.to_le_bytes());
    assert!(err_of(&d, "inf.wav", &inf).contains("not finite"));
    assert!(err_of(&d, "rifx.wav", b"RIFX\0\0\0\0WAVEfmt ").contains("unsupported RIFF"));
    assert!(err_of(&d, "flac.flac", b"fLaC\0\0\0\x22garbage").contains("FLAC"));
}

#[test]
fn random_bytes_never_panic() {
    // Headers with random fields and random lengths: any outcome but a panic.
    let d = tmp("fuzz");
    let mut rng = crate::rng::Rng::new(99);
    let p = d.join("f.wav");
    for i in 0..300 {
        let mut b = wav_bytes(1, 1, 16_000, 16, 8, &[1, 2, 3, 4, 5, 6, 7, 8]);
        let flips = 1 + rng.below(4);
        for _ in 0..flips {
            let k = rng.below(b.len());
            b[k] = rng.below(256) as u8;
        }
        if i % 3 == 0 {
            b.truncate(rng.below(b.len() + 1));
        }
        std::fs::write(&p, &b).unwrap();
        let _ = read_audio(&p);
    }
}

#[test]
fn truncated_flac_is_an_error() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/features/speech.flac");
    let orig = std::fs::read(src).unwrap();
    let d = tmp("flaccut");
    let p = d.join("cut.flac");
    std::fs::write(&p, &orig[..orig.len() / 2]).unwrap();
    let e = read_audio(&p).unwrap_err().to_string();
    assert!(e.contains("cut.flac") && e.contains("truncated"), "{e}");
}

#[test]
fn corrupted_flac_never_panics() {
    // Flip bytes of a real FLAC file (header and frames), read it whole and as a
    // stream: any outcome but a panic.
    let src =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/features/speech.flac");
    let orig = std::fs::read(src).unwrap();
    let d = tmp("flacfuzz");
    let p = d.join("f.flac");
    let mut rng = crate::rng::Rng::new(7);
    for i in 0..200 {
        let mut b = orig.clone();
        for _ in 0..1 + rng.below(8) {
            // half the flips land in the first 200 bytes (STREAMINFO and first frame header)
            let k = if i % 2 == 0 {
                rng.below(200)
            } else {
                rng.below(b.len())
            };
            b[k] = rng.below(256) as u8;
        }
        if i % 5 == 0 {
            b.truncate(4 + rng.below(b.len() - 4));
        }
        std::fs::write(&p, &b).unwrap();
        let _ = read_audio(&p);
        // The same file read block by block, as long recordings are.
        if let Ok(mut s) = AudioStream::open(&p) {
            let mut out = Vec::new();
            while let Ok(n) = s.read(4096, &mut out) {
                if n == 0 {
                    break;
                }
            }
        }
    }
}

#[test]
fn flac_streams_in_blocks_equal_to_the_whole_file() {
    for name in ["speech.flac", "speech-44k1-stereo-24bit.flac"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/features")
            .join(name);
        let whole = read_audio(&path).unwrap();
        let mut stream = AudioStream::open(&path).unwrap();
        assert!(stream.reads_blocks(), "{name}: decoded up front");
        assert_eq!(stream.sample_rate(), whole.sample_rate);
        assert_eq!(stream.num_samples(), whole.samples.len() as u64, "{name}");
        let mut blocks = Vec::new();
        // Odd block sizes cross FLAC packet boundaries.
        for size in [1usize, 7, 1000, 4095, 4097, 100_000].iter().cycle() {
            if stream.read(*size, &mut blocks).unwrap() == 0 {
                break;
            }
        }
        assert_eq!(blocks, whole.samples, "{name}");
    }
}

/// `bytes` as a pipe stream.
fn pipe(bytes: Vec<u8>) -> Result<AudioStream> {
    AudioStream::from_pipe(Path::new("<stdin>"), Box::new(std::io::Cursor::new(bytes)))
}

/// Everything a stream yields, read in blocks of `block` samples.
fn drain(s: &mut AudioStream, block: usize) -> Vec<f32> {
    let mut out = Vec::new();
    while s.read(block, &mut out).unwrap() > 0 {}
    out
}

#[test]
fn pipe_streams_read_what_the_file_reader_reads() {
    let d = tmp("pipe");
    let frames: Vec<Vec<f64>> = (0..5000)
        .map(|i| {
            let v = 0.5 * (i as f64 * 0.01).sin();
            vec![v, -0.25 * v]
        })
        .collect();
    for (bits, fmt) in DEPTHS {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 22_050,
            bits_per_sample: bits,
            sample_format: fmt,
        };
        let path = d.join(format!("s{bits}{fmt:?}.wav"));
        write_hound(&path, spec, &frames);
        let want = read_audio(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let data_at = bytes.windows(4).position(|w| w == b"data").unwrap();
        // The exact length, then the placeholders of writers that cannot seek.
        for declared in [None, Some(0u32), Some(u32::MAX), Some(0x7FFF_FFFF)] {
            let mut b = bytes.clone();
            if let Some(len) = declared {
                b[data_at + 4..data_at + 8].copy_from_slice(&len.to_le_bytes());
            }
            let mut s = pipe(b).unwrap();
            assert_eq!(s.sample_rate(), 22_050);
            let got = drain(&mut s, 777);
            assert_eq!(got, want.samples, "{bits} bits {fmt:?} {declared:?}");
            assert_eq!(s.num_samples(), 5000);
        }
    }
    // A declared length shorter than the stream is honoured; a frame cut short by
    // the end of the stream is dropped; other chunks before the data are skipped.
    let data: Vec<u8> = [100i16, -200, 300, -400]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut s = pipe(wav_bytes(1, 1, 16_000, 16, 4, &data)).unwrap();
    assert_eq!(drain(&mut s, 10), vec![100.0 / 32768.0, -200.0 / 32768.0]);
    let mut s = pipe(wav_bytes(1, 1, 16_000, 16, 0, &data[..7])).unwrap();
    assert_eq!(drain(&mut s, 10).len(), 3);
    let mut with_list = wav_bytes(1, 1, 16_000, 16, 0, &data);
    let list = [b"LIST".as_slice(), &3u32.to_le_bytes(), b"abc\0"].concat();
    with_list.splice(36..36, list);
    let mut s = pipe(with_list).unwrap();
    assert_eq!(drain(&mut s, 10).len(), 4);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn bad_pipe_streams_give_named_errors() {
    let err = |bytes: Vec<u8>| {
        let e = pipe(bytes).unwrap_err().to_string();
        assert!(e.contains("<stdin>") && !e.contains('\n'), "{e}");
        e
    };
    assert!(err(Vec::new()).contains("empty stream"));
    assert!(err(b"fLaC\0\0\0\0\0\0\0\0".to_vec()).contains("not a RIFF/WAVE"));
    assert!(err(b"RIFF\0\0\0\0WAVE".to_vec()).contains("no fmt chunk"));
    let ok = wav_bytes(1, 1, 16_000, 16, 0, &[0, 0]);
    assert!(err(ok[..40].to_vec()).contains("no data chunk"));
    assert!(err(wav_bytes(2, 1, 8_000, 4, 0, &[0])).contains("MS ADPCM"));
    assert!(err(wav_bytes(1, 0, 16_000, 16, 0, &[])).contains("0 channels"));
    let mut data_first = b"RIFF\0\0\0\0WAVEdata\0\0\0\0".to_vec();
    data_first.extend_from_slice(&[0; 8]);
    assert!(err(data_first).contains("data chunk before fmt"));
    let mut huge_fmt = ok.clone();
    huge_fmt[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(err(huge_fmt).contains("fmt chunk of"));
    // NaN samples are refused by position, as from a file.
    let nan: Vec<u8> = f32::NAN.to_le_bytes().to_vec();
    let mut s = pipe(wav_bytes(3, 1, 16_000, 32, 0, &nan)).unwrap();
    let e = s.read(10, &mut Vec::new()).unwrap_err().to_string();
    assert!(e.contains("<stdin>"), "{e}");
}

#[test]
fn random_pipe_bytes_never_panic() {
    let mut rng = crate::rng::Rng::new(5);
    for n in 0..300 {
        let mut b = wav_bytes(1, 1, 16_000, 16, 0, &[1, 2, 3, 4]);
        for _ in 0..1 + n % 4 {
            let i = rng.below(b.len());
            b[i] = rng.below(256) as u8;
        }
        b.truncate(rng.below(b.len() + 1));
        if let Ok(mut s) = pipe(b) {
            let mut out = Vec::new();
            while let Ok(k) = s.read(3, &mut out) {
                if k == 0 {
                    break;
                }
            }
        }
    }
}

#[test]
fn g711_decodes_every_code_as_sox_does() {
    // tests/data/g711: every A-law and mu-law byte at 8 kHz, and SoX 14.4.2's
    // decoding of each to 16-bit PCM (make.py there).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/g711");
    for law in ["mulaw", "alaw"] {
        let coded = dir.join(format!("{law}_all.wav"));
        let sox = read_audio(&dir.join(format!("{law}_all.s16.wav"))).unwrap();
        let ours = read_audio(&coded).unwrap();
        assert_eq!(ours.sample_rate, 8_000);
        assert_eq!(ours.samples, sox.samples, "{law}");
        // Block by block, and front to back from a pipe: the same samples.
        let mut stream = AudioStream::open(&coded).unwrap();
        assert_eq!(stream.num_samples(), 256);
        assert_eq!(drain(&mut stream, 37), sox.samples, "{law} in blocks");
        let mut piped = pipe(std::fs::read(&coded).unwrap()).unwrap();
        assert_eq!(drain(&mut piped, 37), sox.samples, "{law} from a pipe");
    }
    // The extremes, from G.711's tables.
    use super::wav::{alaw, mulaw};
    assert_eq!(
        (mulaw(0x00), mulaw(0x80), mulaw(0xFF), mulaw(0x7F)),
        (-32_124, 32_124, 0, 0)
    );
    assert_eq!(
        (alaw(0xD5), alaw(0x55), alaw(0xAA), alaw(0x2A)),
        (8, -8, 32_256, -32_256)
    );
}

#[test]
fn audio_below_16k_gets_a_noise_floor_and_other_rates_do_not() {
    let tone = |rate: u32| -> Vec<f32> {
        (0..rate as usize)
            .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin())
            .collect()
    };
    // 16 kHz passes untouched; 44.1 kHz is only resampled.
    assert_eq!(to_16k(tone(16_000), 16_000).unwrap(), tone(16_000));
    let plain = resample(&Waveform::new(tone(44_100), 44_100), 16_000).unwrap();
    assert_eq!(to_16k(tone(44_100), 44_100).unwrap(), plain.samples);
    // 8 kHz: resampled, plus white noise UPSAMPLED_NOISE_FLOOR_SNR_DB below the
    // tone, the same each time.
    let plain = resample(&Waveform::new(tone(8_000), 8_000), 16_000)
        .unwrap()
        .samples;
    let ours = to_16k(tone(8_000), 8_000).unwrap();
    assert_eq!(ours, to_16k(tone(8_000), 8_000).unwrap());
    let power = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / v.len() as f64;
    let noise: Vec<f32> = ours.iter().zip(&plain).map(|(a, b)| a - b).collect();
    let snr = 10.0 * (power(&plain) / power(&noise)).log10();
    assert!(
        (snr - UPSAMPLED_NOISE_FLOOR_SNR_DB).abs() < 0.5,
        "SNR {snr} dB"
    );
    // The band above 4 kHz is no longer digitally silent: its energy is the noise's.
    let high = |v: &[f32]| -> f64 {
        // Energy after six first differences, a high-pass that takes the 440 Hz
        // tone down by 92 dB and leaves white noise at about +13 dB.
        let mut d: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
        for _ in 0..6 {
            d = d.windows(2).map(|w| w[1] - w[0]).collect();
        }
        d.iter().map(|x| x * x).sum()
    };
    assert!(
        high(&ours) > 10.0 * high(&plain),
        "{} vs {}",
        high(&ours),
        high(&plain)
    );
}
