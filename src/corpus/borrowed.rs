//! Borrowed voices: festival's diphone voices of other languages (Italian, Finnish,
//! Czech) made to speak English.
//!
//! The Debian TTS engines offer only four natural English speakers (kal, awb, rms,
//! slt) besides eSpeak NG's formant voices, and a model trained on them generalises
//! poorly to a fifth (the held-out `ked_diphone`). Eight more human speakers are
//! installable as diphone voices of other languages. They cannot read English text,
//! but they can say a phone string: festival's English front end (the `kal_diphone`
//! voice) gives each sentence its phones and durations, every English phone is
//! rendered with the nearest phones of the voice's language (Italian-, Finnish- or
//! Czech-accented English), and the voice synthesises that segment list with the
//! given durations and an F0 contour drawn here.
//!
//! Labels describe what the audio says: a vowel keeps its English label when the
//! voice's nearest vowel stands in for it (Italian `E` for `AE`), but a consonant
//! that turns into another English phoneme is labelled as what was said (`DH` spoken
//! as `d` is `D`; Italian drops `HH`, so the label drops it too). Diphthongs are one
//! label over two phones (`AY` = `a j`). A pair of phones whose diphone the voice
//! lacks gets a 30 ms pause between them (labelled `SIL`) rather than the silence
//! festival would splice in unannounced.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::manifest::AlignedPhone;
use crate::rng::Rng;

/// A voice's language: which phone table renders English with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// Italian phone set (`lp_diphone`, `pc_diphone`).
    Italian,
    /// Finnish (suopuhe) phone set (`suo_fi_lj_diphone`, `hy_fi_mv_diphone`).
    Finnish,
    /// Czech phone set (`czech_dita`, `czech_krb`, `czech_machac`, `czech_ph`).
    Czech,
}

/// One borrowed voice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BorrowedVoice {
    /// festival's voice name (`voice_<name>` selects it).
    pub name: &'static str,
    /// Its language.
    pub language: Language,
    /// Range of the utterance's base F0 in Hz (drawn per utterance).
    pub f0_hz: (f64, f64),
    /// Folder under festival's `voices/` holding `group/*.group`.
    pub dir: &'static str,
}

/// The eight borrowed voices (Debian packages `festvox-italp16k`, `festvox-itapc16k`,
/// `festvox-suopuhe-lj`, `festvox-suopuhe-mv`, `festvox-czech-{dita,krb,machac,ph}`).
pub const BORROWED_VOICES: [BorrowedVoice; 8] = [
    BorrowedVoice {
        name: "lp_diphone",
        language: Language::Italian,
        f0_hz: (170.0, 240.0),
        dir: "italian/lp_diphone",
    },
    BorrowedVoice {
        name: "pc_diphone",
        language: Language::Italian,
        f0_hz: (95.0, 140.0),
        dir: "italian/pc_diphone",
    },
    BorrowedVoice {
        name: "suo_fi_lj_diphone",
        language: Language::Finnish,
        f0_hz: (170.0, 230.0),
        dir: "finnish/suo_fi_lj_diphone",
    },
    BorrowedVoice {
        name: "hy_fi_mv_diphone",
        language: Language::Finnish,
        f0_hz: (90.0, 130.0),
        dir: "finnish/hy_fi_mv_diphone",
    },
    BorrowedVoice {
        name: "czech_dita",
        language: Language::Czech,
        f0_hz: (170.0, 230.0),
        dir: "czech/czech_dita",
    },
    BorrowedVoice {
        name: "czech_krb",
        language: Language::Czech,
        f0_hz: (200.0, 280.0),
        dir: "czech/czech_krb",
    },
    BorrowedVoice {
        name: "czech_machac",
        language: Language::Czech,
        f0_hz: (95.0, 135.0),
        dir: "czech/czech_machac",
    },
    BorrowedVoice {
        name: "czech_ph",
        language: Language::Czech,
        f0_hz: (90.0, 130.0),
        dir: "czech/czech_ph",
    },
];

/// The borrowed voice called `name`.
pub fn borrowed_voice(name: &str) -> Option<&'static BorrowedVoice> {
    BORROWED_VOICES.iter().find(|v| v.name == name)
}

/// How one English phone is said: the voice's phones, and the labels the audio gets
/// (one label spanning all phones, one label per phone, or none when the phone is
/// dropped).
type Render = (&'static [&'static str], &'static [&'static str]);

/// Renders a CMU phone (or `SIL`) in `lang`; `None` for an unknown phone.
pub fn render(lang: Language, cmu: &str) -> Option<Render> {
    use Language::*;
    let r: Render = match (cmu, lang) {
        ("SIL", _) => (&["#"], &["SIL"]),
        // Vowels: the nearest vowel stands in and keeps the English label.
        ("AA", _) => (&["a"], &["AA"]),
        ("AE", Italian) => (&["E"], &["AE"]),
        ("AE", Finnish) => (&["@"], &["AE"]), // Finnish ä is [æ]
        ("AE", Czech) => (&["e"], &["AE"]),
        ("AH", _) => (&["a"], &["AH"]),
        ("AO", Italian) => (&["O"], &["AO"]),
        ("AO", _) => (&["o"], &["AO"]),
        ("AW", Italian | Czech) => (&["a", "u"], &["AW"]),
        ("AW", Finnish) => (&["a", "u"], &["AW"]),
        ("AY", Finnish) => (&["a", "i"], &["AY"]),
        ("AY", _) => (&["a", "j"], &["AY"]),
        ("EH", Italian) => (&["E"], &["EH"]),
        ("EH", _) => (&["e"], &["EH"]),
        ("ER", Italian) => (&["E", "r"], &["ER"]),
        ("ER", _) => (&["e", "r"], &["ER"]),
        ("EY", Finnish) => (&["e", "i"], &["EY"]),
        ("EY", _) => (&["e", "j"], &["EY"]),
        ("IH", _) => (&["i"], &["IH"]),
        ("IY", _) => (&["i"], &["IY"]),
        ("OW", _) => (&["o", "u"], &["OW"]),
        ("OY", Italian) => (&["O", "j"], &["OY"]),
        ("OY", Finnish) => (&["o", "i"], &["OY"]),
        ("OY", Czech) => (&["o", "j"], &["OY"]),
        ("UH", _) => (&["u"], &["UH"]),
        ("UW", _) => (&["u"], &["UW"]),
        // Consonants.
        ("B", _) => (&["b"], &["B"]),
        ("CH", Italian) => (&["tS"], &["CH"]),
        ("CH", Finnish) => (&["t", "s"], &["T", "S"]),
        ("CH", Czech) => (&["c~"], &["CH"]),
        ("D", _) => (&["d"], &["D"]),
        ("DH", _) => (&["d"], &["D"]),
        ("F", _) => (&["f"], &["F"]),
        ("G", _) => (&["g"], &["G"]),
        ("HH", Italian) => (&[], &[]),
        ("HH", _) => (&["h"], &["HH"]),
        ("JH", Italian) => (&["dZ"], &["JH"]),
        ("JH", Finnish) => (&["d", "j"], &["D", "Y"]),
        ("JH", Czech) => (&["dz~"], &["JH"]),
        ("K", _) => (&["k"], &["K"]),
        ("L", _) => (&["l"], &["L"]),
        ("M", _) => (&["m"], &["M"]),
        ("N", _) => (&["n"], &["N"]),
        ("NG", _) => (&["n", "g"], &["N", "G"]),
        ("P", _) => (&["p"], &["P"]),
        ("R", _) => (&["r"], &["R"]),
        ("S", _) => (&["s"], &["S"]),
        ("SH", Italian) => (&["S"], &["SH"]),
        ("SH", Finnish) => (&["s"], &["S"]),
        ("SH", Czech) => (&["s~"], &["SH"]),
        ("T", _) => (&["t"], &["T"]),
        ("TH", _) => (&["t"], &["T"]),
        ("V", _) => (&["v"], &["V"]),
        ("W", Italian) => (&["w"], &["W"]),
        ("W", Finnish) => (&["v"], &["V"]),
        ("W", Czech) => (&["u"], &["W"]),
        ("Y", _) => (&["j"], &["Y"]),
        ("Z", Finnish) => (&["s"], &["S"]),
        ("Z", _) => (&["z"], &["Z"]),
        ("ZH", Italian) => (&["Z"], &["ZH"]),
        ("ZH", Finnish) => (&["s"], &["S"]),
        ("ZH", Czech) => (&["z~"], &["ZH"]),
        _ => return None,
    };
    Some(r)
}

/// A phone to say instead of `p` when the voice lacks a diphone with it, and the
/// label of a segment that had its own: final devoicing (`d` → `t`), glides as
/// vowels at a pause (`j` → `i`), `h` as the velar fricative.
fn stand_in(p: &str) -> Option<(&'static str, &'static str)> {
    Some(match p {
        "d" => ("t", "T"),
        "b" => ("p", "P"),
        "g" => ("k", "K"),
        "z" => ("s", "S"),
        "v" => ("f", "F"),
        "dZ" => ("tS", "CH"),
        "tS" => ("S", "SH"),
        "dz~" => ("c~", "CH"),
        "z~" => ("s~", "SH"),
        "j" => ("i", "IY"),
        "w" => ("u", "UW"),
        "h" => ("ch", "HH"),
        _ => return None,
    })
}

/// Whether a phone of any of the three sets is a vowel (F0 targets go on vowels).
fn is_vowel(p: &str) -> bool {
    matches!(
        p.trim_end_matches([':', '1']),
        "a" | "e" | "i" | "o" | "u" | "y" | "E" | "O" | "@" | "7" | "&"
    )
}

/// The diphones a voice has, from the index at the top of its `group/*.group` file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    /// First phone → the phones that can follow it.
    pairs: HashMap<String, HashSet<String>>,
}

impl Inventory {
    /// Reads the inventory of `voice` under festival's voice folder `root`
    /// (`/usr/share/festival/voices` on Debian).
    pub fn load(root: &Path, voice: &BorrowedVoice) -> Result<Self> {
        let dir = root.join(voice.dir).join("group");
        let group = std::fs::read_dir(&dir)
            .map_err(|e| {
                Error::io(
                    &dir,
                    "listing (is the voice installed? scripts/install-tts.sh)",
                    e,
                )
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "group"))
            .ok_or_else(|| Error::Invalid(format!("{}: no .group file", dir.display())))?;
        let bytes = std::fs::read(&group).map_err(|e| Error::io(&group, "reading", e))?;
        let inv = Self::parse(&bytes);
        if inv.pairs.is_empty() {
            return Err(Error::Invalid(format!(
                "{}: no diphone index found",
                group.display()
            )));
        }
        Ok(inv)
    }

    /// Parses the ASCII index of a group file: after `EST_Header_End`, lines
    /// `a-b start mid end` until the binary data begins.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut inv = Inventory::default();
        let mut in_index = false;
        for line in bytes.split(|&b| b == b'\n') {
            let Ok(line) = std::str::from_utf8(line) else {
                if in_index {
                    break;
                }
                continue;
            };
            if line.starts_with("EST_Header_End") {
                in_index = true;
                continue;
            }
            if !in_index {
                continue;
            }
            let Some(name) = line.split_whitespace().next() else {
                break;
            };
            // Phone names never contain '-' except as the separator ("#-#", "a:-b").
            match name.split_once('-') {
                Some((a, b))
                    if !a.is_empty() && !b.is_empty() && line.split_whitespace().count() == 4 =>
                {
                    inv.insert(a, b);
                }
                _ => break,
            }
        }
        inv
    }

    fn insert(&mut self, a: &str, b: &str) {
        self.pairs
            .entry(a.to_string())
            .or_default()
            .insert(b.to_string());
    }

    /// Whether the diphone `a-b` exists.
    pub fn has(&self, a: &str, b: &str) -> bool {
        self.pairs.get(a).is_some_and(|next| next.contains(b))
    }
}

/// An F0 target: offset within its segment (s) and frequency (Hz).
pub type F0Target = (f64, f64);

/// A segment list for festival and the labels of the audio it will make.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `(voice phone, duration s, F0 target)`.
    pub segments: Vec<(String, f64, Option<F0Target>)>,
    /// English labels with times, contiguous from 0.
    pub labels: Vec<AlignedPhone>,
}

/// Pause put between two phones whose diphone the voice lacks.
pub const GAP_SECS: f64 = 0.03;

impl Plan {
    /// Renders an English alignment (CMU phones + `SIL`, contiguous) in `lang`.
    /// `base_f0` is the utterance's starting F0; F0 declines by a quarter over the
    /// utterance and a third of the vowels get an accent of up to +25 %.
    pub fn new(
        english: &[AlignedPhone],
        lang: Language,
        inventory: Option<&Inventory>,
        base_f0: f64,
        rng: &mut Rng,
    ) -> Result<Self> {
        // (voice phone, start, end, index of a label of its own) and labels.
        let mut segs: Vec<(&'static str, f64, f64, Option<usize>)> = Vec::new();
        let mut labels: Vec<AlignedPhone> = Vec::new();
        let mut t = 0.0;
        for AlignedPhone(p, s, e) in english {
            let d = e - s;
            if d <= 0.0 {
                continue;
            }
            let (phones, labs) = render(lang, p).ok_or_else(|| {
                Error::Invalid(format!("borrowed voice: no rendering of phone {p:?}"))
            })?;
            if phones.is_empty() {
                continue;
            }
            let step = d / phones.len() as f64;
            let own = labs.len() == phones.len();
            for (k, ph) in phones.iter().enumerate() {
                let (a, b) = (t + step * k as f64, t + step * (k + 1) as f64);
                if own {
                    labels.push(AlignedPhone(labs[k].to_string(), a, b));
                }
                segs.push((ph, a, b, own.then(|| labels.len() - 1)));
            }
            if !own {
                labels.push(AlignedPhone(labs[0].to_string(), t, t + d));
            }
            t += d;
        }
        if segs.is_empty() {
            return Err(Error::Invalid("borrowed voice: nothing to say".into()));
        }
        // Missing diphones: a stand-in phone (final devoicing and the like) on
        // either side where that helps, else a pause between the two phones.
        let mut pause_before = vec![false; segs.len()];
        if let Some(inv) = inventory {
            // The chain of stand-ins of `p` (at most three), first one accepted by `ok`.
            let stand_in_for = |p: &'static str, ok: &dyn Fn(&str) -> bool| {
                let mut cur = p;
                for _ in 0..3 {
                    let (alt, lab) = stand_in(cur)?;
                    cur = alt;
                    if ok(cur) {
                        return Some((cur, lab));
                    }
                }
                None
            };
            // A stand-in can break the pair before it (`z d #` → `z t #` lacks `z-t`);
            // the next pass fixes that one in turn (→ `s t #`).
            let mut unresolved = None;
            for _pass in 0..4 {
                unresolved = None;
                for i in 1..segs.len() {
                    let (prev, cur) = (segs[i - 1].0, segs[i].0);
                    if inv.has(prev, cur) || pause_before[i] {
                        continue;
                    }
                    let before = (i >= 2).then(|| segs[i - 2].0);
                    let after = segs.get(i + 1).map(|x| x.0);
                    let prev_clean =
                        |p: &str| inv.has(p, cur) && before.is_none_or(|b| inv.has(b, p));
                    let cur_clean =
                        |p: &str| inv.has(prev, p) && after.is_none_or(|a| inv.has(p, a));
                    let prev_any = |p: &str| inv.has(p, cur);
                    let choice = stand_in_for(prev, &prev_clean)
                        .map(|c| (i - 1, c))
                        .or_else(|| stand_in_for(cur, &cur_clean).map(|c| (i, c)))
                        .or_else(|| stand_in_for(prev, &prev_any).map(|c| (i - 1, c)));
                    if let Some((k, (alt, lab))) = choice {
                        segs[k].0 = alt;
                        if let Some(l) = segs[k].3 {
                            labels[l].0 = lab.to_string();
                        }
                        continue;
                    }
                    if prev != "#" && cur != "#" && inv.has(prev, "#") && inv.has("#", cur) {
                        pause_before[i] = true;
                        continue;
                    }
                    unresolved = Some(format!("{prev}-{cur}"));
                }
                if unresolved.is_none() {
                    break;
                }
            }
            if let Some(pair) = unresolved {
                return Err(Error::Invalid(format!(
                    "borrowed voice: no diphone {pair}, no stand-in, no pause"
                )));
            }
        }
        let mut out: Vec<(String, f64, f64)> = Vec::new();
        let mut shift = 0.0;
        let mut gaps: Vec<(f64, f64)> = Vec::new(); // (original time, gap) for labels
        for (i, &(ph, s, e, _)) in segs.iter().enumerate() {
            if pause_before[i] {
                out.push(("#".into(), s + shift, s + shift + GAP_SECS));
                gaps.push((s, GAP_SECS));
                shift += GAP_SECS;
            }
            out.push((ph.to_string(), s + shift, e + shift));
        }
        let labels = insert_gaps(labels, &gaps);
        // F0 on vowels.
        let total = out.last().map_or(0.0, |x| x.2);
        let segments = out
            .into_iter()
            .map(|(ph, s, e)| {
                let d = e - s;
                let f0 = is_vowel(&ph).then(|| {
                    let decl = 1.0 - 0.25 * (s + d / 2.0) / total.max(1e-9);
                    let accent = if rng.uniform() < 1.0 / 3.0 {
                        1.0 + 0.25 * rng.uniform()
                    } else {
                        1.0
                    };
                    (d / 2.0, base_f0 * decl * accent)
                });
                (ph, d, f0)
            })
            .collect();
        Ok(Plan { segments, labels })
    }

    /// festival expression making the utterance `var` from the segment list.
    pub fn scheme(&self, var: &str) -> String {
        let mut s = format!("(set! {var} (Utterance Segments (");
        for (ph, d, f0) in &self.segments {
            match f0 {
                Some((pos, hz)) => s.push_str(&format!("({ph} {d:.4} ({pos:.4} {hz:.1})) ")),
                None => s.push_str(&format!("({ph} {d:.4}) ")),
            }
        }
        s.push_str(")))\n");
        s
    }

    /// Total duration in seconds.
    pub fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.1).sum()
    }
}

fn push_label(labels: &mut Vec<AlignedPhone>, l: &str, s: f64, e: f64) {
    crate::corpus::phonemap::push_merged(labels, AlignedPhone(l.to_string(), s, e));
}

/// Stretches `labels` by pauses `(at, len)` (times before any pause): a pause at a
/// label boundary becomes `SIL`; one inside a label (between the two phones of a
/// diphthong) lengthens it.
fn insert_gaps(labels: Vec<AlignedPhone>, gaps: &[(f64, f64)]) -> Vec<AlignedPhone> {
    let shifted = |t: f64| -> f64 {
        t + gaps
            .iter()
            .filter(|(at, _)| *at < t - 1e-9)
            .map(|g| g.1)
            .sum::<f64>()
    };
    let mut out = Vec::new();
    for AlignedPhone(p, s, e) in labels {
        // Pauses exactly at this label's start come before it, as SIL.
        let before: f64 = gaps
            .iter()
            .filter(|(at, _)| (at - s).abs() < 1e-9)
            .map(|g| g.1)
            .sum();
        let start = shifted(s);
        if before > 0.0 {
            push_label(&mut out, "SIL", start, start + before);
        }
        push_label(&mut out, &p, start + before, shifted(e));
    }
    out
}

/// festival's voice folder on Debian.
pub fn default_voice_root() -> PathBuf {
    PathBuf::from("/usr/share/festival/voices")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ali(v: &[(&str, f64, f64)]) -> Vec<AlignedPhone> {
        v.iter()
            .map(|(p, s, e)| AlignedPhone(p.to_string(), *s, *e))
            .collect()
    }

    #[test]
    fn every_cmu_phone_renders_in_every_language_into_the_phone_set() {
        let cmu = crate::phones::CMU_PHONES;
        for lang in [Language::Italian, Language::Finnish, Language::Czech] {
            for p in cmu.iter().chain(&["SIL"]) {
                let (phones, labels) = render(lang, p).unwrap_or_else(|| panic!("{p}"));
                assert!(
                    labels.len() == phones.len() || labels.len() == 1,
                    "{lang:?} {p}"
                );
                for l in labels {
                    assert!(
                        *l == "SIL" || cmu.contains(l),
                        "{lang:?} {p}: label {l} not a hark phone"
                    );
                }
            }
        }
        assert!(render(Language::Czech, "XX").is_none());
    }

    #[test]
    fn group_index_parses_until_the_binary_data() {
        let mut bytes = b"EST_File index\nDataType ascii\nNumEntries 3\nEST_Header_End\n#-# 0 785 1\na:-b 1 2 3\nk-a 4 5 6\n".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n', b'x', b'-', b'y']);
        let inv = Inventory::parse(&bytes);
        assert!(inv.has("#", "#") && inv.has("a:", "b") && inv.has("k", "a"));
        assert!(!inv.has("x", "y") && !inv.has("a", "k"));
    }

    #[test]
    fn plan_splits_diphthongs_drops_hh_and_pauses_at_missing_diphones() {
        // "hi yo": SIL HH AY Y OW SIL, Italian drops HH and says AY as a j.
        let eng = ali(&[
            ("SIL", 0.0, 0.1),
            ("HH", 0.1, 0.15),
            ("AY", 0.15, 0.35),
            ("Y", 0.35, 0.4),
            ("OW", 0.4, 0.6),
            ("SIL", 0.6, 0.7),
        ]);
        let mut inv = Inventory::default();
        for (a, b) in [
            ("#", "a"),
            ("a", "j"),
            ("j", "j"),
            ("o", "u"),
            ("u", "#"),
            ("j", "#"),
            ("#", "o"),
        ] {
            inv.insert(a, b);
        }
        // j-o is missing: a pause goes between Y and OW.
        let plan = Plan::new(&eng, Language::Italian, Some(&inv), 200.0, &mut Rng::new(1)).unwrap();
        let names: Vec<&str> = plan.segments.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(names, ["#", "a", "j", "j", "#", "o", "u", "#"]);
        assert!((plan.duration() - (0.65 + GAP_SECS)).abs() < 1e-9);
        let labels: Vec<(&str, f64, f64)> = plan
            .labels
            .iter()
            .map(|a| (a.0.as_str(), a.1, a.2))
            .collect();
        let want = [
            ("SIL", 0.0, 0.1),
            ("AY", 0.1, 0.3),
            ("Y", 0.3, 0.35),
            ("SIL", 0.35, 0.38),
            ("OW", 0.38, 0.58),
            ("SIL", 0.58, 0.68),
        ];
        assert_eq!(labels.len(), want.len(), "{labels:?}");
        for (g, w) in labels.iter().zip(want) {
            assert_eq!(g.0, w.0);
            assert!(
                (g.1 - w.1).abs() < 1e-9 && (g.2 - w.2).abs() < 1e-9,
                "{labels:?}"
            );
        }
        // F0 targets on vowels only, in the middle, within the accent range.
        for (ph, d, f0) in &plan.segments {
            match f0 {
                Some((pos, hz)) => {
                    assert!(is_vowel(ph));
                    assert!((pos - d / 2.0).abs() < 1e-12);
                    assert!(*hz >= 200.0 * 0.75 - 1e-9 && *hz <= 200.0 * 1.25 + 1e-9);
                }
                None => assert!(!is_vowel(ph)),
            }
        }
        // Neither the missing pair nor a pause around it: an error, not silence.
        let mut bare = Inventory::default();
        bare.insert("#", "a");
        assert!(
            Plan::new(
                &eng,
                Language::Italian,
                Some(&bare),
                200.0,
                &mut Rng::new(1)
            )
            .is_err()
        );
        let s = plan.scheme("u");
        assert!(
            s.starts_with("(set! u (Utterance Segments ((# 0.1000) (a 0.1000 (0.0500"),
            "{s}"
        );
    }
}
