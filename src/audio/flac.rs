//! FLAC reading through symphonia (LibriSpeech ships FLAC).

use std::path::Path;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::error::{Error, Result};

/// A FLAC file decoded packet by packet: mono `f32` samples (channels averaged)
/// handed out in blocks, so a long recording never sits in memory whole.
pub(crate) struct FlacSource {
    path: std::path::PathBuf,
    format: Box<dyn FormatReader + 'static>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    /// Sample rate in Hz (from STREAMINFO).
    pub(crate) sample_rate: u32,
    /// Total samples per channel, when STREAMINFO states it.
    pub(crate) num_frames: Option<u64>,
    /// Decoded mono samples not yet handed out, from `pos` on.
    pending: Vec<f32>,
    pos: usize,
    interleaved: Vec<f32>,
    finished: bool,
}

impl FlacSource {
    /// Opens a FLAC stream and reads its header.
    pub(crate) fn open(path: &Path, file: std::fs::File) -> Result<Self> {
        let bad = |msg: String| Error::Audio {
            path: path.to_path_buf(),
            msg,
        };
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        hint.with_extension("flac");
        let format = symphonia::default::get_probe()
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
        let num_frames = track.num_frames.filter(|&n| n > 0);
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| bad("malformed FLAC: no audio codec parameters".into()))?;
        let sample_rate = params
            .sample_rate
            .filter(|&r| r > 0)
            .ok_or_else(|| bad("malformed FLAC: no sample rate".into()))?;
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(params, &AudioDecoderOptions::default())
            .map_err(|e| bad(format!("unsupported encoding: {}", sym_message(&e))))?;
        Ok(FlacSource {
            path: path.to_path_buf(),
            format,
            decoder,
            track_id,
            sample_rate,
            num_frames,
            pending: Vec::new(),
            pos: 0,
            interleaved: Vec::new(),
            finished: false,
        })
    }

    /// Decodes the next packet into `pending`; false at the end of the stream.
    fn decode_packet(&mut self) -> Result<bool> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(false),
                Err(e) => {
                    return Err(audio_error(
                        &self.path,
                        format!("malformed FLAC: {}", sym_message(&e)),
                    ));
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let buf = match self.decoder.decode(&packet) {
                Ok(b) => b,
                Err(e) => {
                    return Err(audio_error(
                        &self.path,
                        format!("malformed FLAC: {}", sym_message(&e)),
                    ));
                }
            };
            let spec = buf.spec();
            let channels = spec.channels().count();
            if channels == 0 {
                return Err(audio_error(&self.path, "malformed FLAC: 0 channels".into()));
            }
            if spec.rate() != self.sample_rate {
                return Err(audio_error(
                    &self.path,
                    format!(
                        "malformed FLAC: sample rate changes from {} to {} Hz",
                        self.sample_rate,
                        spec.rate()
                    ),
                ));
            }
            self.interleaved.resize(buf.samples_interleaved(), 0.0);
            buf.copy_to_slice_interleaved(&mut self.interleaved);
            let norm = 1.0 / channels as f32;
            self.pending.extend(
                self.interleaved
                    .chunks_exact(channels)
                    .map(|fr| fr.iter().sum::<f32>() * norm),
            );
            return Ok(true);
        }
    }

    /// Appends up to `max_samples` mono samples to `out`; returns how many (0 at
    /// the end).
    pub(crate) fn read_block(&mut self, max_samples: usize, out: &mut Vec<f32>) -> Result<usize> {
        let mut n = 0;
        while n < max_samples {
            if self.pos == self.pending.len() {
                self.pending.clear();
                self.pos = 0;
                if self.finished || !self.decode_packet()? {
                    self.finished = true;
                    break;
                }
                continue;
            }
            let take = (self.pending.len() - self.pos).min(max_samples - n);
            out.extend_from_slice(&self.pending[self.pos..self.pos + take]);
            self.pos += take;
            n += take;
        }
        Ok(n)
    }
}

fn audio_error(path: &Path, msg: String) -> Error {
    Error::Audio {
        path: path.to_path_buf(),
        msg,
    }
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
