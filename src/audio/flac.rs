//! FLAC reading through symphonia (LibriSpeech ships FLAC).

use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::Waveform;
use crate::error::{Error, Result};

/// Decodes a whole FLAC file to mono `f32` (channels averaged).
pub(super) fn read_flac(path: &Path, file: std::fs::File) -> Result<Waveform> {
    let bad = |msg: String| Error::Audio {
        path: path.to_path_buf(),
        msg,
    };
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    hint.with_extension("flac");
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| bad(format!("malformed FLAC: {}", sym_message(&e))))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| bad("malformed FLAC: no audio stream".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| bad("malformed FLAC: no audio codec parameters".into()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| bad(format!("unsupported encoding: {}", sym_message(&e))))?;

    let mut samples: Vec<f32> = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut sample_rate = 0u32;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(bad(format!("malformed FLAC: {}", sym_message(&e)))),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = decoder
            .decode(&packet)
            .map_err(|e| bad(format!("malformed FLAC: {}", sym_message(&e))))?;
        let spec = buf.spec();
        let channels = spec.channels().count();
        if channels == 0 {
            return Err(bad("malformed FLAC: 0 channels".into()));
        }
        if sample_rate == 0 {
            sample_rate = spec.rate();
        } else if spec.rate() != sample_rate {
            return Err(bad(format!(
                "malformed FLAC: sample rate changes from {sample_rate} to {} Hz",
                spec.rate()
            )));
        }
        interleaved.resize(buf.samples_interleaved(), 0.0);
        buf.copy_to_slice_interleaved(&mut interleaved);
        let norm = 1.0 / channels as f32;
        samples.extend(
            interleaved
                .chunks_exact(channels)
                .map(|fr| fr.iter().sum::<f32>() * norm),
        );
    }
    if sample_rate == 0 {
        return Err(bad("contains zero samples".into()));
    }
    Ok(Waveform {
        samples,
        sample_rate,
    })
}

/// A short description of a symphonia error.
fn sym_message(e: &SymError) -> String {
    match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "truncated data".into()
        }
        other => other.to_string(),
    }
}
