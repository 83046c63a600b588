//! Forced alignment of a known transcript, and alignment writers (JSON, CTM, TextGrid).
//!
//! The transcript's pronunciations are strung into one linear HMM: a sequence of
//! units (phones, optional silences, and for CTC an optional leading blank), each unit
//! one phone model of the [`HmmTopology`]. Viterbi over `[frames, states]` with
//! back-pointers gives each frame's state; runs of a unit are phone spans (for the
//! CTC topology only the phone state counts, not the blanks after it), and a word spans
//! its phones.

use std::fmt::Write as _;

use super::decodable::Decodable;
use super::hmm::HmmTopology;
use super::hypothesis::{PhoneSpan, WordSpan};
use crate::error::{Error, Result};
use crate::lexicon::{Lexicon, phone_symbol};
use crate::phones::{SIL, TokenTable};

const NONE: u32 = u32::MAX;

/// A transcript aligned to frames.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alignment {
    /// Words with frame spans (confidence 1).
    pub words: Vec<WordSpan>,
    /// Phones (including aligned optional silences) with frame spans.
    pub phones: Vec<PhoneSpan>,
    /// Viterbi log score of the alignment.
    pub score: f32,
}

/// One state of the linear alignment graph.
#[derive(Debug, Clone)]
struct LinState {
    pdf: u32,
    self_logp: f32,
    unit: u32,
    /// Emits the phone (not a CTC blank).
    is_phone: bool,
    preds: Vec<(u32, f32)>,
    start_logp: f32,
    final_logp: f32,
}

/// A unit of the linear graph: one phone model.
#[derive(Debug, Clone)]
struct Unit {
    token: u32,
    /// Index of the word it belongs to, NONE for silence / blank units.
    word: u32,
    optional: bool,
    /// A lone blank state (the CTC leading blank).
    blank_only: bool,
}

/// Aligns transcripts to a decodable.
#[derive(Debug, Clone)]
pub struct ForcedAligner {
    tokens: TokenTable,
    topology: HmmTopology,
    blank: Option<u32>,
    sil: Option<u32>,
    optional_silence: bool,
}

impl ForcedAligner {
    /// An aligner for the columns named by `tokens`. `optional_silence` inserts an
    /// optional `SIL` before, between and after words (when `SIL` is a token).
    pub fn new(tokens: TokenTable, topology: HmmTopology, optional_silence: bool) -> Result<Self> {
        topology.validate()?;
        let blank = tokens.blank().map(|b| b as u32);
        if topology.uses_blank() && blank.is_none() {
            return Err(Error::Invalid(
                "the CTC topology needs a <blk> token".into(),
            ));
        }
        let sil = tokens.index(SIL).map(|s| s as u32);
        Ok(ForcedAligner {
            tokens,
            topology,
            blank,
            sil,
            optional_silence,
        })
    }

    /// Aligns `text` (whitespace-separated words) using the lexicon's first
    /// pronunciation of each word; OOV words use the documented letter-to-sound
    /// fallback and are returned for a warning.
    pub fn align_text(
        &self,
        d: &dyn Decodable,
        lexicon: &Lexicon,
        text: &str,
    ) -> Result<(Alignment, Vec<String>)> {
        let mut words = Vec::new();
        let mut oov = Vec::new();
        for w in text.split_whitespace() {
            let (phones, is_oov) = lexicon.pronounce(w);
            if is_oov && !oov.contains(&w.to_lowercase()) {
                oov.push(w.to_lowercase());
            }
            let toks = phones
                .iter()
                .map(|&p| {
                    self.tokens
                        .index(phone_symbol(p))
                        .map(|i| i as u32)
                        .ok_or_else(|| {
                            Error::Invalid(format!(
                                "phone {} is not in the token table",
                                phone_symbol(p)
                            ))
                        })
                })
                .collect::<Result<Vec<u32>>>()?;
            words.push((w.to_lowercase(), toks));
        }
        Ok((self.align(d, &words)?, oov))
    }

    /// Aligns words given as `(word, token sequence)`.
    pub fn align(&self, d: &dyn Decodable, words: &[(String, Vec<u32>)]) -> Result<Alignment> {
        if d.num_indices() != self.tokens.len() {
            return Err(Error::dim(
                "forced alignment (token table vs decodable columns)",
                self.tokens.len(),
                d.num_indices(),
            ));
        }
        let units = self.units(words);
        let states = self.linear_states(&units);
        let num_frames = d.num_frames_ready();
        let s = states.len();
        if num_frames == 0 {
            return Err(Error::Invalid("no frames to align".into()));
        }
        let mut prev = vec![f32::NEG_INFINITY; s];
        let mut cur = vec![f32::NEG_INFINITY; s];
        let mut back = vec![NONE; num_frames * s];
        let row = d.frame_scores(0);
        for (j, st) in states.iter().enumerate() {
            prev[j] = st.start_logp + row[st.pdf as usize];
        }
        for t in 1..num_frames {
            let row = d.frame_scores(t);
            for (j, st) in states.iter().enumerate() {
                let mut best = prev[j] + st.self_logp;
                let mut arg = j as u32;
                for &(p, lp) in &st.preds {
                    let v = prev[p as usize] + lp;
                    if v > best {
                        best = v;
                        arg = p;
                    }
                }
                cur[j] = best + row[st.pdf as usize];
                back[t * s + j] = arg;
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        let (mut j, score) = states
            .iter()
            .enumerate()
            .map(|(j, st)| (j, prev[j] + st.final_logp))
            .fold((NONE as usize, f32::NEG_INFINITY), |a, b| {
                if b.1 > a.1 { b } else { a }
            });
        if score == f32::NEG_INFINITY || score.is_nan() {
            return Err(Error::Invalid(format!(
                "the transcript cannot be aligned to {num_frames} frames (too short, or impossible scores)"
            )));
        }
        let mut path = vec![0u32; num_frames];
        for t in (0..num_frames).rev() {
            path[t] = j as u32;
            if t > 0 {
                j = back[t * s + j] as usize;
            }
        }
        // runs of units -> phone spans (phone states only), words from their phones
        let mut phones: Vec<PhoneSpan> = Vec::new();
        let mut phone_units: Vec<u32> = Vec::new();
        let mut last_unit = NONE;
        for (t, &st) in path.iter().enumerate() {
            let st = &states[st as usize];
            if !st.is_phone {
                continue;
            }
            if st.unit == last_unit {
                phones
                    .last_mut()
                    .expect("invariant: last_unit is set with a push")
                    .end = t + 1;
            } else {
                let u = &units[st.unit as usize];
                phones.push(PhoneSpan {
                    phone: self
                        .tokens
                        .symbol(u.token as usize)
                        .unwrap_or("?")
                        .to_string(),
                    token: u.token as usize,
                    start: t,
                    end: t + 1,
                });
                phone_units.push(st.unit);
                last_unit = st.unit;
            }
        }
        let mut out_words: Vec<WordSpan> = Vec::new();
        let mut last_word = NONE;
        for (p, &u) in phones.iter().zip(&phone_units) {
            let w = units[u as usize].word;
            if w == NONE {
                continue;
            }
            if w == last_word {
                out_words
                    .last_mut()
                    .expect("invariant: last_word is set with a push")
                    .end = p.end;
            } else {
                out_words.push(WordSpan {
                    word: words[w as usize].0.clone(),
                    start: p.start,
                    end: p.end,
                    confidence: 1.0,
                });
                last_word = w;
            }
        }
        Ok(Alignment {
            words: out_words,
            phones,
            score,
        })
    }

    fn units(&self, words: &[(String, Vec<u32>)]) -> Vec<Unit> {
        let mut units = Vec::new();
        let sil = if self.optional_silence {
            self.sil
        } else {
            None
        };
        if let (HmmTopology::Ctc, Some(b)) = (self.topology, self.blank) {
            units.push(Unit {
                token: b,
                word: NONE,
                optional: true,
                blank_only: true,
            });
        }
        for (wi, (_, toks)) in words.iter().enumerate() {
            if let Some(s) = sil {
                units.push(Unit {
                    token: s,
                    word: NONE,
                    optional: true,
                    blank_only: false,
                });
            }
            for &t in toks {
                units.push(Unit {
                    token: t,
                    word: wi as u32,
                    optional: false,
                    blank_only: false,
                });
            }
        }
        if let Some(s) = sil {
            units.push(Unit {
                token: s,
                word: NONE,
                optional: true,
                blank_only: false,
            });
        }
        units
    }

    fn linear_states(&self, units: &[Unit]) -> Vec<LinState> {
        let template = self.topology.states();
        let blank = self.blank.unwrap_or(0);
        let mut states: Vec<LinState> = Vec::new();
        // exits[u] = (state index, exit logp, blocks same) of unit u
        let mut exits: Vec<Vec<(u32, f32, bool)>> = Vec::with_capacity(units.len());
        let mut entries: Vec<u32> = Vec::with_capacity(units.len());
        for (ui, u) in units.iter().enumerate() {
            let first = states.len() as u32;
            entries.push(first);
            let mut ex = Vec::new();
            if u.blank_only {
                states.push(LinState {
                    pdf: blank,
                    self_logp: 0.0,
                    unit: ui as u32,
                    is_phone: false,
                    preds: vec![],
                    start_logp: f32::NEG_INFINITY,
                    final_logp: f32::NEG_INFINITY,
                });
                ex.push((first, 0.0, false));
            } else {
                for (k, hs) in template.iter().enumerate() {
                    let idx = states.len() as u32;
                    let preds = if k == 0 {
                        vec![]
                    } else {
                        let p = &template[k - 1];
                        vec![(idx - 1, p.next_logp)]
                    };
                    states.push(LinState {
                        pdf: if hs.emits_blank { blank } else { u.token },
                        self_logp: hs.self_logp,
                        unit: ui as u32,
                        is_phone: !hs.emits_blank,
                        preds,
                        start_logp: f32::NEG_INFINITY,
                        final_logp: f32::NEG_INFINITY,
                    });
                    if hs.exit_logp > f32::NEG_INFINITY {
                        ex.push((idx, hs.exit_logp, hs.exit_blocks_same));
                    }
                }
            }
            exits.push(ex);
        }
        // unit-to-unit arcs: from unit a's exits into unit b's entry, for a = b-1, and
        // a = b-2 when b-1 is optional (optional units are never adjacent, but a run of
        // leading optional units is handled by the start set below)
        for b in 0..units.len() {
            let mut sources = Vec::new();
            if b >= 1 {
                sources.push(b - 1);
                if units[b - 1].optional && b >= 2 {
                    sources.push(b - 2);
                    if units[b - 2].optional && b >= 3 {
                        sources.push(b - 3);
                    }
                }
            }
            let entry = entries[b] as usize;
            for a in sources {
                for &(st, lp, blocks) in &exits[a] {
                    if blocks && units[a].token == units[b].token {
                        continue;
                    }
                    states[entry].preds.push((st, lp));
                }
            }
            // start: unit b is reachable at frame 0 if all units before it are optional
            if units[..b].iter().all(|u| u.optional) {
                states[entry].start_logp = 0.0;
            }
        }
        for a in 0..units.len() {
            if units[a + 1..].iter().all(|u| u.optional) {
                for &(st, lp, _) in &exits[a] {
                    states[st as usize].final_logp = lp;
                }
            }
        }
        states
    }
}

/// JSON: `{"words":[{"word","start","end"}],"phones":[{"phone","start","end"}]}` in seconds.
pub fn to_json(a: &Alignment, frame_shift_secs: f64) -> String {
    let words: Vec<serde_json::Value> = a
        .words
        .iter()
        .map(|w| serde_json::json!({"word": w.word, "start": round3(w.start as f64 * frame_shift_secs), "end": round3(w.end as f64 * frame_shift_secs)}))
        .collect();
    let phones: Vec<serde_json::Value> = a
        .phones
        .iter()
        .map(|p| serde_json::json!({"phone": p.phone, "start": round3(p.start as f64 * frame_shift_secs), "end": round3(p.end as f64 * frame_shift_secs)}))
        .collect();
    serde_json::json!({"words": words, "phones": phones, "score": a.score}).to_string()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Kaldi CTM: `<utt> 1 <start> <duration> <word> <conf>` per word, seconds with 3 decimals.
pub fn to_ctm(utt: &str, words: &[WordSpan], frame_shift_secs: f64) -> String {
    let mut s = String::new();
    for w in words {
        let start = w.start as f64 * frame_shift_secs;
        let dur = (w.end - w.start) as f64 * frame_shift_secs;
        let _ = writeln!(
            s,
            "{utt} 1 {start:.3} {dur:.3} {} {:.2}",
            w.word, w.confidence
        );
    }
    s
}

/// Praat TextGrid (long text format) with interval tiers `words` and `phones`; gaps
/// become empty intervals so each tier covers `[0, num_frames × shift]`.
pub fn to_textgrid(a: &Alignment, num_frames: usize, frame_shift_secs: f64) -> String {
    let xmax = num_frames as f64 * frame_shift_secs;
    let mut s = String::new();
    let _ = write!(
        s,
        "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\nxmin = 0\nxmax = {xmax}\ntiers? <exists>\nsize = 2\nitem []:\n"
    );
    type Spans<'a> = Vec<(usize, usize, &'a str)>;
    let tiers: [(&str, Spans); 2] = [
        (
            "words",
            a.words
                .iter()
                .map(|w| (w.start, w.end, w.word.as_str()))
                .collect(),
        ),
        (
            "phones",
            a.phones
                .iter()
                .map(|p| (p.start, p.end, p.phone.as_str()))
                .collect(),
        ),
    ];
    for (k, (name, spans)) in tiers.iter().enumerate() {
        let mut ivs: Vec<(usize, usize, &str)> = Vec::new();
        let mut t = 0;
        for &(st, en, label) in spans {
            if st > t {
                ivs.push((t, st, ""));
            }
            ivs.push((st, en, label));
            t = en;
        }
        if t < num_frames {
            ivs.push((t, num_frames, ""));
        }
        let _ = write!(
            s,
            "    item [{}]:\n        class = \"IntervalTier\"\n        name = \"{name}\"\n        xmin = 0\n        xmax = {xmax}\n        intervals: size = {}\n",
            k + 1,
            ivs.len()
        );
        for (i, (st, en, label)) in ivs.iter().enumerate() {
            let _ = write!(
                s,
                "        intervals [{}]:\n            xmin = {}\n            xmax = {}\n            text = \"{}\"\n",
                i + 1,
                round3(*st as f64 * frame_shift_secs),
                round3(*en as f64 * frame_shift_secs),
                label.replace('"', "\"\"")
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{LogPosteriors, ScaledLikelihoods};
    use ndarray::Array2;
    use std::path::Path;

    fn lexicon() -> Lexicon {
        Lexicon::parse("hello HH AH L OW\nworld W ER L D\n", Path::new("lex")).unwrap()
    }

    #[test]
    fn hybrid_alignment_recovers_planted_segments() {
        let tokens = TokenTable::hybrid_default();
        let sym = |s: &str| tokens.index(s).unwrap();
        // planted: SIL 0-6, HH 6-10, AH 10-16, L 16-20, OW 20-27, SIL 27-31, W 31-35, ER 35-41, L 41-45, D 45-50, SIL 50-55
        let plan = [
            ("SIL", 6),
            ("HH", 4),
            ("AH", 6),
            ("L", 4),
            ("OW", 7),
            ("SIL", 4),
            ("W", 4),
            ("ER", 6),
            ("L", 4),
            ("D", 5),
            ("SIL", 5),
        ];
        let mut path = Vec::new();
        for (p, n) in plan {
            path.extend(std::iter::repeat_n(sym(p), n));
        }
        // the planted phone gets 0.6, the rest share 0.4 (so neighbours are not free)
        let m = Array2::from_shape_fn((path.len(), 40), |(t, c)| {
            if c == path[t] {
                0.6f32.ln()
            } else {
                (0.4f32 / 39.0).ln()
            }
        });
        let priors = vec![(1.0f32 / 40.0).ln(); 40];
        let d = ScaledLikelihoods::new(&m, &priors, 1.0, 1.0).unwrap();
        let topo = HmmTopology::LeftToRight {
            num_states: 3,
            self_loop_prob: 0.5,
        };
        let al = ForcedAligner::new(tokens.clone(), topo, true).unwrap();
        let (a, oov) = al.align_text(&d, &lexicon(), "Hello WORLD").unwrap();
        assert!(oov.is_empty());
        let got: Vec<(&str, usize, usize)> = a
            .phones
            .iter()
            .map(|p| (p.phone.as_str(), p.start, p.end))
            .collect();
        let mut want = Vec::new();
        let mut t = 0;
        for (p, n) in plan {
            want.push((p, t, t + n));
            t += n;
        }
        assert_eq!(got, want);
        let w: Vec<(&str, usize, usize)> = a
            .words
            .iter()
            .map(|w| (w.word.as_str(), w.start, w.end))
            .collect();
        assert_eq!(w, [("hello", 6, 27), ("world", 31, 50)]);
        // writers
        let json: serde_json::Value = serde_json::from_str(&to_json(&a, 0.01)).unwrap();
        assert_eq!(json["words"][1]["start"], 0.31);
        let ctm = to_ctm("utt1", &a.words, 0.01);
        assert_eq!(ctm.lines().next().unwrap(), "utt1 1 0.060 0.210 hello 1.00");
        let tg = to_textgrid(&a, path.len(), 0.01);
        assert!(
            tg.contains("name = \"phones\"") && tg.contains("intervals: size = 11"),
            "{tg}"
        );
        assert!(tg.contains("intervals: size = 5")); // "", hello, "", world, ""
    }

    #[test]
    fn ctc_alignment_finds_spikes_and_respects_repeats() {
        // "L L" needs a blank between the two L spikes
        let tokens = TokenTable::ctc_default();
        let sym = |s: &str| tokens.index(s).unwrap();
        let spikes = [
            (2usize, "HH"),
            (4, "AH"),
            (7, "L"),
            (9, "OW"),
            (13, "W"),
            (15, "ER"),
            (17, "L"),
            (19, "D"),
        ];
        let m = Array2::from_shape_fn((22, 41), |(t, c)| {
            let want = spikes.iter().find(|s| s.0 == t).map_or(0, |s| sym(s.1));
            if c == want {
                0.9f32.ln()
            } else {
                (0.1f32 / 40.0).ln()
            }
        });
        let al = ForcedAligner::new(tokens, HmmTopology::Ctc, false).unwrap();
        let (a, _) = al
            .align_text(&LogPosteriors::new(m).unwrap(), &lexicon(), "hello world")
            .unwrap();
        let got: Vec<(usize, usize)> = a.phones.iter().map(|p| (p.start, p.end)).collect();
        let want: Vec<(usize, usize)> = spikes.iter().map(|s| (s.0, s.0 + 1)).collect();
        assert_eq!(got, want);
        assert_eq!((a.words[0].start, a.words[0].end), (2, 10));
        // too few frames for the transcript is an error, not a panic
        let short = Array2::from_elem((2, 41), (1.0f32 / 41.0).ln());
        assert!(
            al.align_text(
                &LogPosteriors::new(short).unwrap(),
                &lexicon(),
                "hello world"
            )
            .is_err()
        );
    }

    #[test]
    fn oov_words_use_the_fallback_and_are_reported() {
        let tokens = TokenTable::hybrid_default();
        let m = Array2::from_elem((40, 40), (1.0f32 / 40.0).ln());
        let al = ForcedAligner::new(
            tokens,
            HmmTopology::LeftToRight {
                num_states: 1,
                self_loop_prob: 0.5,
            },
            true,
        )
        .unwrap();
        let (a, oov) = al
            .align_text(&LogPosteriors::new(m).unwrap(), &lexicon(), "hello zork")
            .unwrap();
        assert_eq!(oov, ["zork"]);
        assert_eq!(a.words.len(), 2);
    }
}
