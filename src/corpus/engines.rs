//! Driving the TTS engines as separate processes (hark links none of them):
//! eSpeak NG through the `espeak-events` helper (scripts/espeak-events.c), flite
//! once per chunk, and festival as one long-lived `festival --pipe` per worker.
//! Each returns 16-bit audio at the engine's rate and the phones it spoke with
//! their times, as `(engine phone, start_s, end_s)`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::corpus::borrowed::{Inventory, Plan, borrowed_voice, default_voice_root};
use crate::corpus::phonemap::{map_festival, map_segments};
use crate::error::{Error, Result};
use crate::rng::Rng;

/// The engine behind a voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// eSpeak NG (formant synthesis; 22.05 kHz).
    Espeak,
    /// flite (diphone kal16, clustergen awb / rms / slt; 16 kHz).
    Flite,
    /// festival (diphone kal / ked, HTS slt).
    Festival,
    /// festival diphone voices of other languages speaking English phone strings
    /// ([`crate::corpus::borrowed`]).
    Borrowed,
}

impl Engine {
    /// Lower-case name used in voice ids.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Espeak => "espeak",
            Engine::Flite => "flite",
            Engine::Festival => "festival",
            Engine::Borrowed => "borrowed",
        }
    }
}

/// A voice: engine plus the engine's own voice name (`en-us+m3`, `kal16`,
/// `kal_diphone`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Voice {
    /// The engine.
    pub engine: Engine,
    /// The engine's voice name.
    pub name: String,
}

impl Voice {
    /// Builds a voice.
    pub fn new(engine: Engine, name: &str) -> Self {
        Voice {
            engine,
            name: name.to_string(),
        }
    }

    /// `engine/name`, the id used as the manifest's `speaker`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.engine.name(), self.name)
    }

    /// Whether the engine can take a pitch setting for this voice (festival's HTS
    /// voice cannot; its pitch varies only through speed perturbation).
    pub fn has_pitch_control(&self) -> bool {
        !(self.engine == Engine::Festival && self.name.ends_with("_hts"))
    }
}

/// Rate and pitch for one request.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Prosody {
    /// Duration multiplier (> 1 is slower).
    pub stretch: f64,
    /// Pitch setting in the engine's unit: eSpeak `-p` (0–99), flite clustergen
    /// `f0_shift` (multiplier), flite kal16 and festival diphones target F0 mean
    /// (Hz), borrowed voices the starting F0 (Hz). Ignored by festival HTS.
    pub pitch: f64,
}

/// Audio and phone segments as the engine produced them.
#[derive(Debug, Clone)]
pub struct EngineOutput {
    /// Samples in [-1, 1].
    pub samples: Vec<f32>,
    /// The engine's sample rate.
    pub sample_rate: u32,
    /// `(engine phone, start_s, end_s)`, contiguous from the start.
    pub segments: Vec<(String, f64, f64)>,
}

fn engine_err(engine: &str, msg: impl Into<String>) -> Error {
    Error::Engine {
        engine: engine.to_string(),
        msg: msg.into(),
    }
}

/// Reads a 16-bit PCM mono WAV into f32 samples and its rate.
pub fn read_wav_i16(path: &Path) -> Result<(Vec<f32>, u32)> {
    let mut r = hound::WavReader::open(path).map_err(|e| Error::Audio {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    let spec = r.spec();
    if spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
        return Err(Error::Audio {
            path: path.to_path_buf(),
            msg: format!("expected 16-bit PCM, got {} bits", spec.bits_per_sample),
        });
    }
    let ch = spec.channels.max(1) as usize;
    let mut out = Vec::new();
    let mut acc = 0.0f32;
    for (i, s) in r.samples::<i16>().enumerate() {
        let s = s.map_err(|e| Error::Audio {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        acc += s as f32 / 32768.0;
        if (i + 1) % ch == 0 {
            out.push(acc / ch as f32);
            acc = 0.0;
        }
    }
    Ok((out, spec.sample_rate))
}

/// Parses flite's `-psdur` output (`ph:end ph:end ...`, end times in seconds).
pub fn parse_flite_psdur(text: &str) -> Result<Vec<(String, f64, f64)>> {
    let mut out = Vec::new();
    let mut prev = 0.0;
    for tok in text.split_whitespace() {
        let (ph, end) = tok
            .rsplit_once(':')
            .ok_or_else(|| engine_err("flite", format!("bad -psdur token {tok:?}")))?;
        let end: f64 = end
            .parse()
            .map_err(|_| engine_err("flite", format!("bad -psdur time in {tok:?}")))?;
        out.push((ph.to_string(), prev, end));
        prev = end;
    }
    Ok(out)
}

/// Parses a festival `utt.save.segs` file (`#` header, then `end 100 phone`).
pub fn parse_festival_segs(text: &str, path: &Path) -> Result<Vec<(String, f64, f64)>> {
    let mut out = Vec::new();
    let mut prev = 0.0;
    let mut in_body = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if !in_body {
            in_body = line == "#";
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 3 {
            return Err(Error::parse(path, i + 1, "expected `end 100 phone`"));
        }
        let end: f64 = f[0]
            .parse()
            .map_err(|_| Error::parse(path, i + 1, format!("bad time {:?}", f[0])))?;
        out.push((f[2].to_string(), prev, end));
        prev = end;
    }
    Ok(out)
}

/// Undoes a hack of festival's `ked_diphone` voice. Its diphone set has no plain
/// `er`, so the voice's post-lexical rule (`ked_diphone_fix_phone_name` in
/// `ked_diphone.scm`) inserts an `r` after every `er` and gives it the second half
/// of the vowel's time ("this is a hack and leaves the utterance somewhat tainted
/// (an extra phone has appeared)", says its comment). The audio is one r-coloured
/// vowel, which every other voice labels `er` alone, so the inserted `r` is merged
/// back into the `er`: exactly one `r` after each `er`, so that a real `r` that
/// follows (`her right`: `er r r`) stays.
pub fn undo_ked_er_r(segments: Vec<(String, f64, f64)>) -> Vec<(String, f64, f64)> {
    let mut out: Vec<(String, f64, f64)> = Vec::with_capacity(segments.len());
    let mut after_er = false;
    for seg in segments {
        if after_er && seg.0 == "r" {
            if let Some(er) = out.last_mut() {
                er.2 = seg.2;
            }
            after_er = false;
            continue;
        }
        after_er = seg.0 == "er";
        out.push(seg);
    }
    out
}

/// Parses the helper's `.pho` file (`start_sample<TAB>phoneme`, last line
/// `end_sample<TAB>#`) into segments, adding a leading pause when the first
/// phoneme starts after 0.
pub fn parse_espeak_pho(
    text: &str,
    sample_rate: u32,
    path: &Path,
) -> Result<Vec<(String, f64, f64)>> {
    let mut events: Vec<(u64, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (s, name) = line
            .split_once('\t')
            .ok_or_else(|| Error::parse(path, i + 1, "expected `sample<TAB>phoneme`"))?;
        let s: u64 = s
            .trim()
            .parse()
            .map_err(|_| Error::parse(path, i + 1, format!("bad sample {s:?}")))?;
        events.push((s, name.to_string()));
    }
    let sr = sample_rate as f64;
    let mut out = Vec::new();
    if let Some((first, _)) = events.first() {
        if *first > 0 {
            out.push(("_".to_string(), 0.0, *first as f64 / sr));
        }
    }
    for w in events.windows(2) {
        let (s, ref name) = w[0];
        let e = w[1].0.max(s);
        if name != "#" {
            out.push((name.clone(), s as f64 / sr, e as f64 / sr));
        }
    }
    Ok(out)
}

struct EspeakHelper {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

struct Festival {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    voice: Option<String>,
    counter: u64,
}

/// One worker's engine processes and scratch folder.
pub struct Engines {
    tmp: PathBuf,
    espeak_helper: PathBuf,
    espeak: Option<EspeakHelper>,
    festival: Option<Festival>,
    /// Diphone inventories of the borrowed voices, read on first use.
    inventories: std::collections::HashMap<&'static str, Inventory>,
}

impl Engines {
    /// Engines writing scratch files under `tmp` (created), with the eSpeak helper
    /// at `espeak_helper`.
    pub fn new(tmp: &Path, espeak_helper: &Path) -> Result<Self> {
        std::fs::create_dir_all(tmp).map_err(|e| Error::io(tmp, "creating", e))?;
        Ok(Engines {
            tmp: tmp.to_path_buf(),
            espeak_helper: espeak_helper.to_path_buf(),
            espeak: None,
            festival: None,
            inventories: Default::default(),
        })
    }

    /// Speaks `text` with `voice`.
    pub fn speak(&mut self, voice: &Voice, text: &str, prosody: Prosody) -> Result<EngineOutput> {
        if text.contains(['\t', '\n', '"', '\\']) {
            return Err(engine_err(
                &voice.id(),
                format!("text holds characters the engines cannot be given: {text:?}"),
            ));
        }
        let out = match voice.engine {
            Engine::Espeak => self.espeak(voice, text, prosody),
            Engine::Flite => self.flite(voice, text, prosody),
            Engine::Festival => self.festival(voice, text, prosody),
            Engine::Borrowed => self.borrowed(voice, text, prosody),
        }?;
        if out.samples.is_empty() {
            return Err(engine_err(&voice.id(), format!("no audio for {text:?}")));
        }
        Ok(out)
    }

    fn espeak(&mut self, voice: &Voice, text: &str, p: Prosody) -> Result<EngineOutput> {
        if self.espeak.is_none() {
            let mut child = Command::new(&self.espeak_helper)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    engine_err(
                        "espeak",
                        format!(
                            "cannot run {} ({e}); build it with scripts/build-espeak-events.sh",
                            self.espeak_helper.display()
                        ),
                    )
                })?;
            let stdin = child
                .stdin
                .take()
                .ok_or_else(|| engine_err("espeak", "no stdin"))?;
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| engine_err("espeak", "no stdout"))?;
            self.espeak = Some(EspeakHelper {
                child,
                stdin,
                stdout: BufReader::new(stdout),
            });
        }
        let prefix = self.tmp.join("espeak");
        let h = self.espeak.as_mut().expect("invariant: started above");
        let rate = (175.0 / p.stretch).round() as i64;
        let pitch = p.pitch.round().clamp(0.0, 99.0) as i64;
        let req = format!(
            "{}\t{}\t{rate}\t{pitch}\t{text}\n",
            prefix.display(),
            voice.name
        );
        let mut line = String::new();
        let io = h
            .stdin
            .write_all(req.as_bytes())
            .and_then(|_| h.stdin.flush())
            .and_then(|_| h.stdout.read_line(&mut line));
        if io.is_err() || line.is_empty() {
            let _ = h.child.kill();
            let _ = h.child.wait();
            self.espeak = None;
            return Err(engine_err(&voice.id(), "espeak-events helper died"));
        }
        if !line.starts_with("ok ") {
            return Err(engine_err(&voice.id(), line.trim().to_string()));
        }
        let wav = prefix.with_extension("wav");
        let pho = prefix.with_extension("pho");
        let (samples, sr) = read_wav_i16(&wav)?;
        let text = std::fs::read_to_string(&pho).map_err(|e| Error::io(&pho, "reading", e))?;
        let segments = parse_espeak_pho(&text, sr, &pho)?;
        Ok(EngineOutput {
            samples,
            sample_rate: sr,
            segments,
        })
    }

    fn flite(&mut self, voice: &Voice, text: &str, p: Prosody) -> Result<EngineOutput> {
        let wav = self.tmp.join("flite.wav");
        let _ = std::fs::remove_file(&wav);
        let mut cmd = Command::new("flite");
        cmd.arg("-voice")
            .arg(&voice.name)
            .arg("--setf")
            .arg(format!("duration_stretch={:.3}", p.stretch));
        if voice.name.starts_with("kal") {
            cmd.arg("--setf")
                .arg(format!("int_f0_target_mean={:.1}", p.pitch));
        } else {
            cmd.arg("--setf").arg(format!("f0_shift={:.3}", p.pitch));
        }
        let out = cmd
            .arg("-t")
            .arg(text)
            .arg("-o")
            .arg(&wav)
            .arg("-psdur")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                engine_err(
                    "flite",
                    format!("cannot run flite ({e}); run scripts/install-tts.sh"),
                )
            })?;
        if !out.status.success() {
            return Err(engine_err(
                &voice.id(),
                format!(
                    "exit {}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
        let segments = parse_flite_psdur(&String::from_utf8_lossy(&out.stdout))?;
        let (samples, sr) = read_wav_i16(&wav)?;
        Ok(EngineOutput {
            samples,
            sample_rate: sr,
            segments,
        })
    }

    /// Sends `script` to the long-lived festival process (started on first use) and
    /// waits until it has run; `voice` (festival's name) is selected first unless it
    /// is the current one.
    fn festival_eval(&mut self, id: &str, voice: &str, script: &str) -> Result<()> {
        if self.festival.is_none() {
            let mut child = Command::new("festival")
                .arg("--pipe")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    engine_err(
                        "festival",
                        format!("cannot run festival ({e}); run scripts/install-tts.sh"),
                    )
                })?;
            let stdin = child
                .stdin
                .take()
                .ok_or_else(|| engine_err("festival", "no stdin"))?;
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| engine_err("festival", "no stdout"))?;
            self.festival = Some(Festival {
                child,
                stdin,
                stdout: BufReader::new(stdout),
                voice: None,
                counter: 0,
            });
        }
        let f = self.festival.as_mut().expect("invariant: started above");
        f.counter += 1;
        let mut full = String::new();
        if f.voice.as_deref() != Some(voice) {
            full.push_str(&format!("(voice_{voice})\n"));
            f.voice = Some(voice.to_string());
        }
        full.push_str(script);
        full.push_str(&format!(
            "(print \"hark-done {}\")\n(fflush nil)\n",
            f.counter
        ));
        let marker = format!("hark-done {}", f.counter);
        let sent = f
            .stdin
            .write_all(full.as_bytes())
            .and_then(|_| f.stdin.flush());
        let mut ok = sent.is_ok();
        if ok {
            ok = false;
            let mut line = String::new();
            loop {
                line.clear();
                match f.stdout.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line.contains(&marker) => {
                        ok = true;
                        break;
                    }
                    Ok(_) => {}
                }
            }
        }
        if !ok {
            let _ = f.child.kill();
            let _ = f.child.wait();
            self.festival = None;
            return Err(engine_err(id, "festival process died"));
        }
        Ok(())
    }

    fn festival(&mut self, voice: &Voice, text: &str, p: Prosody) -> Result<EngineOutput> {
        let wav = self.tmp.join("festival.wav");
        let segs = self.tmp.join("festival.segs");
        let _ = std::fs::remove_file(&wav);
        let _ = std::fs::remove_file(&segs);
        let mut script = format!("(Parameter.set 'Duration_Stretch {:.3})\n", p.stretch);
        if voice.has_pitch_control() {
            script.push_str(&format!(
                "(set! int_lr_params '((target_f0_mean {:.1}) (target_f0_std {:.1}) (model_f0_mean 170) (model_f0_std 34)))\n",
                p.pitch,
                (p.pitch * 0.15).max(5.0)
            ));
        }
        script.push_str(&format!(
            "(set! hark_u (Utterance Text \"{text}\"))\n(utt.synth hark_u)\n(utt.save.wave hark_u \"{}\" 'riff)\n(utt.save.segs hark_u \"{}\")\n",
            wav.display(),
            segs.display(),
        ));
        self.festival_eval(&voice.id(), &voice.name, &script)?;
        if !wav.exists() || !segs.exists() {
            return Err(engine_err(
                &voice.id(),
                format!("festival made no output for {text:?}"),
            ));
        }
        let seg_text =
            std::fs::read_to_string(&segs).map_err(|e| Error::io(&segs, "reading", e))?;
        let mut segments = parse_festival_segs(&seg_text, &segs)?;
        if voice.name == "ked_diphone" {
            segments = undo_ked_er_r(segments);
        }
        let (samples, sr) = read_wav_i16(&wav)?;
        Ok(EngineOutput {
            samples,
            sample_rate: sr,
            segments,
        })
    }

    /// A borrowed voice: festival's English front end (`kal_diphone`, at the
    /// requested rate) gives the phones and durations, [`Plan`] renders them in the
    /// voice's language, and the voice speaks the segment list. The returned
    /// segments are the English labels (CMU phones and `SIL`), scaled to the audio.
    fn borrowed(&mut self, voice: &Voice, text: &str, p: Prosody) -> Result<EngineOutput> {
        let bv = borrowed_voice(&voice.name)
            .ok_or_else(|| engine_err(&voice.id(), "not a borrowed voice"))?;
        let english = self.festival(
            &Voice::new(Engine::Festival, "kal_diphone"),
            text,
            Prosody {
                stretch: p.stretch,
                pitch: 110.0,
            },
        )?;
        let dur = english.samples.len() as f64 / f64::from(english.sample_rate.max(1));
        let (ali, unknown) = map_segments(&english.segments, dur, map_festival);
        if let Some(u) = unknown.first() {
            return Err(engine_err(
                &voice.id(),
                format!("festival phone {u:?} has no mapping"),
            ));
        }
        if !self.inventories.contains_key(bv.name) {
            let inv = Inventory::load(&default_voice_root(), bv)?;
            self.inventories.insert(bv.name, inv);
        }
        // The accents are a function of the request, so a resumed build repeats them.
        let mut seed = 0xcbf2_9ce4_8422_2325u64 ^ p.pitch.to_bits();
        for b in text.bytes().chain(voice.name.bytes()) {
            seed = (seed ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        let plan = Plan::new(
            &ali,
            bv.language,
            self.inventories.get(bv.name),
            p.pitch,
            &mut Rng::new(seed),
        )
        .map_err(|e| engine_err(&voice.id(), e.to_string()))?;
        let wav = self.tmp.join("borrowed.wav");
        let _ = std::fs::remove_file(&wav);
        let script = format!(
            "{}(utt.synth hark_u)\n(utt.save.wave hark_u \"{}\" 'riff)\n",
            plan.scheme("hark_u"),
            wav.display()
        );
        self.festival_eval(&voice.id(), bv.name, &script)?;
        if !wav.exists() {
            return Err(engine_err(
                &voice.id(),
                format!("festival made no output for {text:?}"),
            ));
        }
        let (samples, sr) = read_wav_i16(&wav)?;
        let got = samples.len() as f64 / f64::from(sr.max(1));
        let scale = got / plan.duration().max(1e-9);
        let segments = plan
            .labels
            .iter()
            .map(|a| (a.0.clone(), a.1 * scale, a.2 * scale))
            .collect();
        Ok(EngineOutput {
            samples,
            sample_rate: sr,
            segments,
        })
    }
}

impl Drop for Engines {
    fn drop(&mut self) {
        if let Some(mut h) = self.espeak.take() {
            drop(h.stdin);
            let _ = h.child.wait();
        }
        if let Some(mut f) = self.festival.take() {
            let _ = f.stdin.write_all(b"(quit)\n");
            drop(f.stdin);
            let _ = f.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flite_psdur_parses_to_contiguous_segments() {
        let s = parse_flite_psdur("pau:0.220 g:0.325 ow:0.489 pau:0.7 \n").unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[1], ("g".to_string(), 0.22, 0.325));
        assert!(parse_flite_psdur("pau-0.2").is_err());
    }

    #[test]
    fn festival_segs_parse() {
        let t = "#\n0.2400 100 pau\n0.3328 100 g\n";
        let s = parse_festival_segs(t, Path::new("x.segs")).unwrap();
        assert_eq!(
            s,
            vec![("pau".into(), 0.0, 0.24), ("g".into(), 0.24, 0.3328)]
        );
        assert!(parse_festival_segs("#\n0.1 pau\n", Path::new("x.segs")).is_err());
    }

    #[test]
    fn ked_inserted_r_merges_back_into_its_er() {
        let seg = |v: &[(&str, f64, f64)]| -> Vec<(String, f64, f64)> {
            v.iter().map(|(p, s, e)| (p.to_string(), *s, *e)).collect()
        };
        // "her right": the voice's er r, then the word's own r.
        let spoken = seg(&[
            ("hh", 0.0, 0.1),
            ("er", 0.1, 0.2),
            ("r", 0.2, 0.3),
            ("r", 0.3, 0.35),
            ("ay", 0.35, 0.5),
            ("t", 0.5, 0.6),
        ]);
        assert_eq!(
            undo_ked_er_r(spoken),
            seg(&[
                ("hh", 0.0, 0.1),
                ("er", 0.1, 0.3),
                ("r", 0.3, 0.35),
                ("ay", 0.35, 0.5),
                ("t", 0.5, 0.6),
            ])
        );
        // An utterance-final er r, two er in a row, and an r after other phones.
        let spoken = seg(&[
            ("r", 0.0, 0.1),
            ("er", 0.1, 0.2),
            ("r", 0.2, 0.3),
            ("er", 0.3, 0.4),
            ("r", 0.4, 0.5),
        ]);
        assert_eq!(
            undo_ked_er_r(spoken),
            seg(&[("r", 0.0, 0.1), ("er", 0.1, 0.3), ("er", 0.3, 0.5)])
        );
        assert_eq!(undo_ked_er_r(Vec::new()), Vec::new());
    }

    #[test]
    fn espeak_pho_gets_leading_pause_and_end() {
        let t = "441\tg\n2205\toU\n4410\t_\n6615\t#\n";
        let s = parse_espeak_pho(t, 22050, Path::new("p")).unwrap();
        let names: Vec<&str> = s.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["_", "g", "oU", "_"]);
        assert!((s[0].2 - 0.02).abs() < 1e-12);
        assert!((s[3].2 - 0.3).abs() < 1e-12);
    }
}
