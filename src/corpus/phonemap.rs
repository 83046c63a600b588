//! Mapping the phones that TTS engines and corpora use onto hark's 39 CMU phones
//! plus `SIL` (see [`crate::phones`]).
//!
//! - festival and flite speak the CMU/radio phone set in lower case, plus `pau`,
//!   `ax` (schwa), `axr`, `dx` (flap) and syllabic consonants.
//! - eSpeak NG reports its own phoneme mnemonics (`aI`, `3:`, `t#`, ...); how its
//!   r-coloured vowels map depends on whether the accent is rhotic.
//! - TIMIT uses 61 phones; closures merge into the following release.
//!
//! One source phone may map to zero phones (`;`, TIMIT `q`), one, or two (`O@` →
//! `AO R`); a phone's time span is split evenly between its targets.

use crate::manifest::AlignedPhone;

/// Maps a festival / flite phone (CMU or radio set, any case) to hark phones.
/// `None` for a phone this table does not know.
pub fn map_festival(phone: &str) -> Option<&'static [&'static str]> {
    let p = phone.to_ascii_lowercase();
    Some(match p.as_str() {
        "pau" | "h#" | "sil" | "#" | "brth" => &["SIL"],
        "ax" | "ah" => &["AH"],
        "axr" | "er" => &["ER"],
        "dx" => &["T"],
        "nx" => &["N"],
        "hv" => &["HH"],
        "el" => &["AH", "L"],
        "em" => &["AH", "M"],
        "en" => &["AH", "N"],
        _ => return cmu_upper(&p),
    })
}

/// The 39 phones, so that a lower-case CMU phone maps to a `'static` slice.
const CMU_SLICES: [[&str; 1]; 39] = [
    ["AA"],
    ["AE"],
    ["AH"],
    ["AO"],
    ["AW"],
    ["AY"],
    ["B"],
    ["CH"],
    ["D"],
    ["DH"],
    ["EH"],
    ["ER"],
    ["EY"],
    ["F"],
    ["G"],
    ["HH"],
    ["IH"],
    ["IY"],
    ["JH"],
    ["K"],
    ["L"],
    ["M"],
    ["N"],
    ["NG"],
    ["OW"],
    ["OY"],
    ["P"],
    ["R"],
    ["S"],
    ["SH"],
    ["T"],
    ["TH"],
    ["UH"],
    ["UW"],
    ["V"],
    ["W"],
    ["Y"],
    ["Z"],
    ["ZH"],
];

fn cmu_upper(p: &str) -> Option<&'static [&'static str]> {
    let up = p.to_ascii_uppercase();
    CMU_SLICES.iter().find(|s| s[0] == up).map(|s| s.as_slice())
}

/// Maps an eSpeak NG English phoneme mnemonic to hark phones. `rhotic` is true for
/// accents that pronounce post-vocalic r (en-us, en-gb-scotland): their `A@`, `O@`,
/// `e@`, `i@`, `U@` and unstressed `3` carry an R. `None` for an unknown mnemonic.
pub fn map_espeak(name: &str, rhotic: bool) -> Option<&'static [&'static str]> {
    if name.starts_with('_') || name == "#" || name == "||" {
        return Some(&["SIL"]);
    }
    Some(match name {
        // Zero-length markers (hiatus/linking, glottal stop between vowels).
        ";" | "?" | "'" | "," | "%" | "=" => &[],
        "a" | "aa" | "a2" => &["AE"],
        "a#" | "@" | "@2" | "@5" | "V" | "@-" | "@#" => &["AH"],
        "A:" | "A" | "0" | "0#" | "A#" => &["AA"],
        "aI" | "aI2" | "aI#" => &["AY"],
        "aU" => &["AW"],
        "e" | "E" | "E2" | "E#" => &["EH"],
        "eI" => &["EY"],
        "i" | "i:" | "i#" => &["IY"],
        "I" | "I#" | "I2" | "I2#" => &["IH"],
        "O:" | "O" | "O2" => &["AO"],
        "OI" => &["OY"],
        "oU" | "o" | "oU#" | "O#" => &["OW"],
        "u:" | "u" | "u#" | "U#" => &["UW"],
        "U" => &["UH"],
        "3:" | "3:r" => &["ER"],
        "@L" | "@l" => &["AH", "L"],
        "VR" => &["AH", "R"],
        "3" | "@r" => {
            if rhotic {
                &["ER"]
            } else {
                &["AH"]
            }
        }
        "A@" | "A@r" => {
            if rhotic {
                &["AA", "R"]
            } else {
                &["AA"]
            }
        }
        "O@" | "o@" | "o@r" => {
            if rhotic {
                &["AO", "R"]
            } else {
                &["AO"]
            }
        }
        "e@" | "e@r" => {
            if rhotic {
                &["EH", "R"]
            } else {
                &["EH", "AH"]
            }
        }
        "i@" | "i@3" | "i@r" => {
            if rhotic {
                &["IH", "R"]
            } else {
                &["IH", "AH"]
            }
        }
        "U@" | "U@r" => {
            if rhotic {
                &["UH", "R"]
            } else {
                &["UH", "AH"]
            }
        }
        "aI@" | "aI3" => {
            if rhotic {
                &["AY", "ER"]
            } else {
                &["AY", "AH"]
            }
        }
        "aU@" => {
            if rhotic {
                &["AW", "ER"]
            } else {
                &["AW", "AH"]
            }
        }
        "p" => &["P"],
        "b" => &["B"],
        "t" | "t#" | "t2" | "t[" | "t/" => &["T"],
        "d" | "d#" | "d[" => &["D"],
        "k" | "k#" => &["K"],
        "g" | "g#" => &["G"],
        "f" => &["F"],
        "v" | "v#" => &["V"],
        "T" => &["TH"],
        "D" => &["DH"],
        "s" | "s2" | "s#" => &["S"],
        "z" | "z/" | "z#" => &["Z"],
        "S" | "S;" => &["SH"],
        "Z" | "Z;" => &["ZH"],
        "h" | "h#" => &["HH"],
        "x" => &["K"],
        "m" | "m-" => &["M"],
        "n" | "n-" => &["N"],
        "N" => &["NG"],
        "l" | "l/" | "l#" | "L" => &["L"],
        "r" | "r-" | "r/" | "*" => &["R"],
        "w" | "w#" | "W" => &["W"],
        "j" => &["Y"],
        "tS" => &["CH"],
        "dZ" => &["JH"],
        _ => return None,
    })
}

/// Whether an eSpeak NG voice name (`en-us+m3`) is a rhotic accent.
pub fn espeak_is_rhotic(voice: &str) -> bool {
    let lang = voice.split('+').next().unwrap_or_default();
    matches!(lang, "en-us" | "en-gb-scotland")
}

/// Turns engine segments `(phone, start_s, end_s)` into an alignment in the 39+SIL
/// set with `map`: multi-phone targets split their span evenly, zero-phone targets
/// give their span to the previous phone, adjacent `SIL`s merge, and spans are
/// clipped to `[0, duration_s]` (empty ones dropped). Returns the alignment and
/// the source phones that had no mapping.
pub fn map_segments(
    segments: &[(String, f64, f64)],
    duration_s: f64,
    map: impl Fn(&str) -> Option<&'static [&'static str]>,
) -> (Vec<AlignedPhone>, Vec<&str>) {
    let mut out: Vec<AlignedPhone> = Vec::new();
    let mut unknown = Vec::new();
    for (ph, start, end) in segments {
        let (start, end) = (start.clamp(0.0, duration_s), end.clamp(0.0, duration_s));
        let Some(targets) = map(ph) else {
            unknown.push(ph.as_str());
            extend_last(&mut out, end);
            continue;
        };
        if targets.is_empty() {
            extend_last(&mut out, end);
            continue;
        }
        if end <= start {
            continue;
        }
        let step = (end - start) / targets.len() as f64;
        for (k, t) in targets.iter().enumerate() {
            let s = start + step * k as f64;
            let e = if k + 1 == targets.len() {
                end
            } else {
                s + step
            };
            push_merged(&mut out, AlignedPhone(t.to_string(), s, e));
        }
    }
    (out, unknown)
}

fn extend_last(out: &mut [AlignedPhone], end: f64) {
    if let Some(last) = out.last_mut() {
        if end > last.2 {
            last.2 = end;
        }
    }
}

/// Appends `p`, merging it into the previous entry when both are `SIL`.
pub fn push_merged(out: &mut Vec<AlignedPhone>, p: AlignedPhone) {
    if let Some(last) = out.last_mut() {
        if last.0 == "SIL" && p.0 == "SIL" {
            last.2 = last.2.max(p.2);
            return;
        }
    }
    out.push(p);
}

/// The stop released after a TIMIT closure (`bcl` → `b`).
fn timit_closure_release(p: &str) -> Option<&'static str> {
    Some(match p {
        "bcl" => "b",
        "dcl" => "d",
        "gcl" => "g",
        "pcl" => "p",
        "tcl" => "t",
        "kcl" => "k",
        _ => return None,
    })
}

/// Maps one TIMIT phone (61-phone set, lower case) to hark phones; closures map to
/// their stop (use [`fold_timit`] to merge them with the release).
pub fn map_timit(p: &str) -> Option<&'static [&'static str]> {
    let p = p.to_ascii_lowercase();
    if let Some(r) = timit_closure_release(&p) {
        return cmu_upper(r);
    }
    Some(match p.as_str() {
        "h#" | "pau" | "epi" => &["SIL"],
        "q" => &[],
        "ax" | "ax-h" => &["AH"],
        "axr" => &["ER"],
        "ix" => &["IH"],
        "ux" => &["UW"],
        "el" => &["L"],
        "em" => &["M"],
        "en" => &["N"],
        "eng" => &["NG"],
        "nx" => &["N"],
        "dx" => &["T"],
        "hv" => &["HH"],
        _ => return cmu_upper(&p),
    })
}

/// Folds TIMIT segments (61 phones, times in seconds) to an alignment in the
/// 39+SIL set: a closure followed by its own release (or `dcl jh`, `tcl ch`)
/// becomes one segment of the stop or affricate spanning both; other phones go through [`map_timit`]. Returns the
/// alignment and the phones that had no mapping.
pub fn fold_timit(segments: &[(String, f64, f64)]) -> (Vec<AlignedPhone>, Vec<String>) {
    let mut merged: Vec<(String, f64, f64)> = Vec::new();
    let mut i = 0;
    while i < segments.len() {
        let (p, s, e) = &segments[i];
        let lower = p.to_ascii_lowercase();
        if let Some(rel) = timit_closure_release(&lower) {
            if let Some((next, _, ne)) = segments.get(i + 1) {
                let next = next.to_ascii_lowercase();
                // The affricates are released from d and t closures.
                let affricate =
                    (lower == "dcl" && next == "jh") || (lower == "tcl" && next == "ch");
                if next == rel || affricate {
                    merged.push((next, *s, *ne));
                    i += 2;
                    continue;
                }
            }
        }
        merged.push((lower, *s, *e));
        i += 1;
    }
    let end = merged.last().map(|m| m.2).unwrap_or(0.0);
    let (ali, unknown) = map_segments(&merged, end, map_timit);
    (ali, unknown.into_iter().map(str::to_string).collect())
}

/// The phone string of an alignment (space-separated).
pub fn phone_string(ali: &[AlignedPhone]) -> String {
    ali.iter()
        .map(|p| p.0.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phones::is_phone;

    fn seg(v: &[(&str, f64, f64)]) -> Vec<(String, f64, f64)> {
        v.iter().map(|(p, s, e)| (p.to_string(), *s, *e)).collect()
    }

    #[test]
    fn festival_phones_map_into_the_set() {
        for p in [
            "pau", "ax", "axr", "dx", "el", "aa", "zh", "hh", "ng", "oy", "AE",
        ] {
            let t = map_festival(p).unwrap_or_else(|| panic!("{p}"));
            assert!(t.iter().all(|x| is_phone(x)), "{p} -> {t:?}");
        }
        assert_eq!(map_festival("ax"), Some(&["AH"][..]));
        assert_eq!(map_festival("el"), Some(&["AH", "L"][..]));
        assert_eq!(map_festival("xx"), None);
    }

    #[test]
    fn espeak_rhotic_accents_keep_r() {
        assert_eq!(map_espeak("A@", true), Some(&["AA", "R"][..]));
        assert_eq!(map_espeak("A@", false), Some(&["AA"][..]));
        assert_eq!(map_espeak("3", true), Some(&["ER"][..]));
        assert_eq!(map_espeak("3", false), Some(&["AH"][..]));
        assert_eq!(map_espeak("_:", true), Some(&["SIL"][..]));
        assert_eq!(map_espeak(";", true), Some(&[][..]));
        assert!(espeak_is_rhotic("en-us+f3"));
        assert!(!espeak_is_rhotic("en-gb-x-rp+m1"));
        // Every mnemonic seen on this machine's eSpeak NG 1.51 English voices maps.
        for m in [
            "n", "I", "t", "_:", "E", "s", "k", "r", "_", "i:", "d", "D", "l", "j", "V", "N", "T",
            "b", "@", "U@", "z", "v", "aI", "f", "0", "oU", "3", "p", "i@", "eI", "w", "dZ", "@2",
            "A@", "r-", "a", "Z", "tS", "m", "aU", "a#", "S", "O:", "u:", "I2", "g", "@L", "o@",
            "i", "O@", "i@3", "t[", "t#", "A:", "e@", "aa", "h", "3:", "aI@", "aI2", "n-", "?",
            "I#", "w#", "aI3", "VR", "U", ";",
        ] {
            for rhotic in [false, true] {
                let t = map_espeak(m, rhotic).unwrap_or_else(|| panic!("{m}"));
                assert!(t.iter().all(|x| is_phone(x)), "{m} -> {t:?}");
            }
        }
    }

    #[test]
    fn segments_split_merge_and_clip() {
        let s = seg(&[
            ("_", 0.0, 0.1),
            ("_:", 0.1, 0.2),
            ("O@", 0.2, 0.4),
            (";", 0.4, 0.45),
            ("zz", 0.45, 0.5),
            ("t", 0.5, 0.7),
            ("_", 0.7, 0.9),
        ]);
        let (ali, unknown) = map_segments(&s, 0.8, |p| map_espeak(p, true));
        assert_eq!(unknown, ["zz"]);
        let names: Vec<&str> = ali.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(names, ["SIL", "AO", "R", "T", "SIL"]);
        assert!((ali[0].2 - 0.2).abs() < 1e-12);
        assert!((ali[1].2 - 0.3).abs() < 1e-12);
        // The zero-length marker and the unknown phone extend the previous phone.
        assert!((ali[2].2 - 0.5).abs() < 1e-12);
        // Clipped to the audio's duration.
        assert!((ali[4].2 - 0.8).abs() < 1e-12);
        for w in ali.windows(2) {
            assert!((w[0].2 - w[1].1).abs() < 1e-12, "contiguous {ali:?}");
        }
    }

    #[test]
    fn timit_closures_merge_with_release() {
        let s = seg(&[
            ("h#", 0.0, 0.1),
            ("bcl", 0.1, 0.15),
            ("b", 0.15, 0.2),
            ("ix", 0.2, 0.3),
            ("tcl", 0.3, 0.35),
            ("q", 0.35, 0.4),
            ("tcl", 0.4, 0.4),
            ("ch", 0.4, 0.4),
            ("dx", 0.4, 0.45),
            ("axr", 0.45, 0.5),
            ("h#", 0.5, 0.6),
        ]);
        let (ali, unknown) = fold_timit(&s);
        assert!(unknown.is_empty());
        assert_eq!(phone_string(&ali), "SIL B IH T T ER SIL");
        assert!((ali[1].1 - 0.1).abs() < 1e-12 && (ali[1].2 - 0.2).abs() < 1e-12);
        // q has no phone: the unreleased closure before it absorbs its time.
        assert!((ali[3].2 - 0.4).abs() < 1e-12);
    }

    #[test]
    fn all_61_timit_phones_map() {
        let timit = "aa ae ah ao aw ax ax-h axr ay b bcl ch d dcl dh dx eh el em en eng epi er ey f g gcl h# hh hv ih ix iy jh k kcl l m n ng nx ow oy p pau pcl q r s sh t tcl th uh uw ux v w y z zh";
        assert_eq!(timit.split(' ').count(), 61);
        for p in timit.split(' ') {
            let t = map_timit(p).unwrap_or_else(|| panic!("{p}"));
            assert!(t.iter().all(|x| is_phone(x)), "{p}");
        }
    }
}
