//! Text preparation for the synthetic corpus: sentence splitting, normalisation
//! (numbers to words, punctuation, case), lexicon and profanity filtering, and the
//! generators of the other speaking styles (isolated words, spelled letters, digit
//! strings, numbers, short commands).
//!
//! Normalised text is lower-case ASCII words (`[a-z']+`) separated by single spaces:
//! exactly what the engines are given and what the transcript holds.

use std::collections::HashSet;

use crate::corpus::cmudict::CmuDict;
use crate::rng::Rng;

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES: [(u64, &str); 4] = [
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
];

/// Cardinal number in words: `1905` → `one thousand nine hundred five`.
pub fn number_to_words(n: u64) -> String {
    let mut out = Vec::new();
    push_number(n, &mut out);
    out.join(" ")
}

fn push_below_thousand(n: u64, out: &mut Vec<String>) {
    debug_assert!(n < 1000);
    if n >= 100 {
        out.push(ONES[(n / 100) as usize].to_string());
        out.push("hundred".to_string());
    }
    let r = n % 100;
    if r == 0 {
        return;
    }
    if r < 20 {
        out.push(ONES[r as usize].to_string());
    } else {
        out.push(TENS[(r / 10) as usize].to_string());
        if r % 10 != 0 {
            out.push(ONES[(r % 10) as usize].to_string());
        }
    }
}

fn push_number(n: u64, out: &mut Vec<String>) {
    if n == 0 {
        out.push("zero".to_string());
        return;
    }
    let mut rest = n;
    for (scale, name) in SCALES {
        if rest >= scale {
            push_number_nonzero(rest / scale, out);
            out.push(name.to_string());
            rest %= scale;
        }
    }
    if rest > 0 {
        push_below_thousand(rest, out);
    }
}

fn push_number_nonzero(n: u64, out: &mut Vec<String>) {
    if n >= 1000 {
        push_number(n, out);
    } else {
        push_below_thousand(n, out);
    }
}

/// A year as people say it: `1984` → `nineteen eighty four`, `1905` → `nineteen oh
/// five`, `2000` → `two thousand`, `2012` → `twenty twelve`.
pub fn year_to_words(y: u64) -> String {
    if !(1100..=2099).contains(&y) || (2000..=2009).contains(&y) || y % 1000 < 10 {
        return number_to_words(y);
    }
    let (hi, lo) = (y / 100, y % 100);
    let lo = match lo {
        0 => "hundred".to_string(),
        1..=9 => format!("oh {}", ONES[lo as usize]),
        _ => number_to_words(lo),
    };
    format!("{} {lo}", number_to_words(hi))
}

/// Ordinal in words: `21` → `twenty first`.
pub fn ordinal_to_words(n: u64) -> String {
    let card = number_to_words(n);
    let (head, last) = match card.rsplit_once(' ') {
        Some((h, l)) => (format!("{h} "), l.to_string()),
        None => (String::new(), card.clone()),
    };
    let last = match last.as_str() {
        "one" => "first".to_string(),
        "two" => "second".to_string(),
        "three" => "third".to_string(),
        "five" => "fifth".to_string(),
        "eight" => "eighth".to_string(),
        "nine" => "ninth".to_string(),
        "twelve" => "twelfth".to_string(),
        l if l.ends_with('y') => format!("{}ieth", &l[..l.len() - 1]),
        l => format!("{l}th"),
    };
    format!("{head}{last}")
}

/// Abbreviations after which a period does not end a sentence.
const ABBREVIATIONS: [&str; 16] = [
    "mr", "mrs", "ms", "dr", "st", "gen", "gov", "sen", "rep", "hon", "jr", "sr", "vs", "no", "co",
    "u.s",
];

/// Splits running text into sentences at `.`, `!`, `?` followed by white space and
/// an upper-case letter (or the end), not after common abbreviations or initials.
pub fn split_sentences(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '.' | '!' | '?') {
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j], '"' | '\'' | ')' | '”' | '’') {
                j += 1;
            }
            let at_break = j >= chars.len()
                || (chars[j].is_whitespace() && {
                    let mut k = j;
                    while k < chars.len() && chars[k].is_whitespace() {
                        k += 1;
                    }
                    k >= chars.len() || chars[k].is_uppercase() || matches!(chars[k], '"' | '“')
                });
            let word: String = chars[start..i]
                .iter()
                .rev()
                .take_while(|c| !c.is_whitespace())
                .collect::<String>()
                .chars()
                .rev()
                .collect::<String>()
                .to_lowercase();
            let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
            let is_abbrev = c == '.'
                && (ABBREVIATIONS.contains(&word)
                    || (word.chars().count() == 1 && word.chars().all(char::is_alphabetic)));
            if at_break && !is_abbrev {
                let s: String = chars[start..j].iter().collect();
                let s = s.trim();
                if !s.is_empty() {
                    out.push(s.to_string());
                }
                start = j;
            }
            i = j;
            continue;
        }
        i += 1;
    }
    let s: String = chars[start..].iter().collect();
    let s = s.trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
    out
}

/// Normalises one sentence to lower-case words: numbers (cardinals, years,
/// ordinals, decimals, money, percentages) to words, `&` to `and`, hyphens and
/// slashes to spaces, other punctuation dropped. Returns `None` when the sentence
/// holds characters that cannot be spoken reliably (digits mixed with letters,
/// non-ASCII letters, brackets of citations...).
pub fn normalize(sentence: &str) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    let cleaned: String = sentence
        .chars()
        .map(|c| match c {
            '’' | '‘' => '\'',
            '—' | '–' | '-' | '/' => ' ',
            _ => c,
        })
        .collect();
    for raw in cleaned.split_whitespace() {
        let mut tok = raw.trim_matches(|c: char| {
            matches!(
                c,
                '"' | '“' | '”' | '(' | ')' | ',' | ';' | ':' | '.' | '!' | '?' | '\''
            )
        });
        if tok.is_empty() {
            continue;
        }
        if tok == "&" {
            words.push("and".into());
            continue;
        }
        let mut suffix: Option<&str> = None;
        let mut prefix: Option<&str> = None;
        if let Some(t) = tok.strip_prefix('$') {
            tok = t;
            suffix = Some("dollars");
        }
        if let Some(t) = tok.strip_suffix('%') {
            tok = t;
            suffix = Some("percent");
        }
        if let Some(t) = tok.strip_prefix('#') {
            tok = t;
            prefix = Some("number");
        }
        if tok.chars().any(|c| c.is_ascii_digit()) {
            if let Some(p) = prefix {
                words.push(p.into());
            }
            words.extend(number_token(tok)?.split(' ').map(str::to_string));
            if let Some(s) = suffix {
                words.push(s.into());
            }
            continue;
        }
        if prefix.is_some() || suffix.is_some() {
            return None;
        }
        let lower = tok.to_lowercase();
        if !lower.chars().all(|c| c.is_ascii_lowercase() || c == '\'') {
            return None;
        }
        let lower = lower.trim_matches('\'');
        if lower.is_empty() {
            continue;
        }
        words.push(lower.to_string());
    }
    if words.is_empty() {
        return None;
    }
    Some(words.join(" "))
}

/// Turns a token holding digits into words, or `None` when it is not a number we
/// know how to read (`3.5`, `1,000`, `1984`, `21st`, `1990s`).
fn number_token(tok: &str) -> Option<String> {
    let lower = tok.to_lowercase();
    for suf in ["st", "nd", "rd", "th"] {
        if let Some(d) = lower.strip_suffix(suf) {
            if !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()) {
                return Some(ordinal_to_words(d.parse().ok()?));
            }
        }
    }
    if let Some(d) = lower.strip_suffix("'s").or_else(|| lower.strip_suffix('s')) {
        // Decades: 1990s -> nineteen nineties.
        if d.len() == 4 && d.ends_with('0') && d.chars().all(|c| c.is_ascii_digit()) {
            let y: u64 = d.parse().ok()?;
            let w = year_to_words(y);
            let (head, last) = w.rsplit_once(' ').unwrap_or(("", &w));
            let plural = match last.strip_suffix('y') {
                Some(stem) => format!("{stem}ies"),
                None => format!("{last}s"),
            };
            return Some(if head.is_empty() {
                plural
            } else {
                format!("{head} {plural}")
            });
        }
        return None;
    }
    if lower.contains(',') {
        let groups: Vec<&str> = lower.split(',').collect();
        let ok = groups[0].len() <= 3
            && !groups[0].is_empty()
            && groups[1..].iter().all(|g| g.len() == 3)
            && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return None;
        }
        return Some(number_to_words(groups.concat().parse().ok()?));
    }
    if let Some((a, b)) = lower.split_once('.') {
        if a.is_empty()
            || b.is_empty()
            || !a.chars().all(|c| c.is_ascii_digit())
            || !b.chars().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let digits: Vec<&str> = b
            .chars()
            .map(|c| ONES[c.to_digit(10).unwrap_or(0) as usize])
            .collect();
        return Some(format!(
            "{} point {}",
            number_to_words(a.parse().ok()?),
            digits.join(" ")
        ));
    }
    if !lower.chars().all(|c| c.is_ascii_digit()) || lower.len() > 12 {
        return None;
    }
    let n: u64 = lower.parse().ok()?;
    if lower.len() == 4 && (1100..=2099).contains(&n) {
        return Some(year_to_words(n));
    }
    Some(number_to_words(n))
}

/// Words never put in a prompt (a small English profanity and slur list).
pub const PROFANITY: [&str; 30] = [
    "fuck", "fucking", "fucked", "shit", "shitty", "bitch", "bastard", "cunt", "dick", "cock",
    "pussy", "asshole", "ass", "whore", "slut", "nigger", "nigga", "faggot", "fag", "retard",
    "damn", "goddamn", "piss", "pissed", "crap", "wank", "twat", "bollocks", "dyke", "spic",
];

/// Whether `word` (lower-case) is on the profanity list.
pub fn is_profane(word: &str) -> bool {
    PROFANITY.contains(&word)
}

/// Sentence filter: length bounds in words, lexicon coverage, profanity.
#[derive(Debug, Clone)]
pub struct SentenceFilter {
    /// Fewest words kept (inclusive).
    pub min_words: usize,
    /// Most words kept (inclusive).
    pub max_words: usize,
}

impl Default for SentenceFilter {
    fn default() -> Self {
        SentenceFilter {
            min_words: 4,
            max_words: 18,
        }
    }
}

impl SentenceFilter {
    /// Whether a normalised sentence is kept.
    pub fn keep(&self, normalized: &str, dict: &CmuDict) -> bool {
        let n = normalized.split(' ').count();
        n >= self.min_words
            && n <= self.max_words
            && normalized
                .split(' ')
                .all(|w| !is_profane(w) && dict.contains(w))
    }
}

/// Splits raw text into sentences, normalises them, filters them and removes
/// duplicates, keeping first-seen order.
pub fn prepare_sentences(
    raw: &str,
    dict: &CmuDict,
    filter: &SentenceFilter,
    seen: &mut HashSet<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    // Blank lines separate paragraphs; line breaks inside a paragraph do not end
    // a sentence.
    for para in raw.split("\n\n") {
        let para = strip_brackets(&para.split_whitespace().collect::<Vec<_>>().join(" "));
        for s in split_sentences(&para) {
            // A sentence too long (or unusable) as a whole may still give clauses
            // separated by `;` or `:`.
            let whole = normalize(&s);
            let long = whole
                .as_ref()
                .is_some_and(|n| n.split(' ').count() > filter.max_words);
            let parts: Vec<String> = if whole.is_none() || long {
                s.split([';', ':']).filter_map(normalize).collect()
            } else {
                whole.into_iter().collect()
            };
            for n in parts {
                if filter.keep(&n, dict) && seen.insert(n.clone()) {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// Removes bracketed asides such as `[Laughter]` or `[Applause]`.
pub fn strip_brackets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The speaking styles mixed into the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptKind {
    /// A read sentence of 4–18 words.
    Sentence,
    /// One to four isolated words with pauses between them.
    Words,
    /// Spelled letters with short pauses.
    Letters,
    /// A string of digits, spoken one by one.
    Digits,
    /// A cardinal number or year.
    Number,
    /// A short command or phrase.
    Command,
    /// A sentence broken by long pauses.
    Paused,
}

/// What one utterance says: chunks spoken separately and joined with silences.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// Speaking style.
    pub kind: PromptKind,
    /// Text given to the engine, chunk by chunk.
    pub chunks: Vec<String>,
    /// Silence inserted after each chunk but the last, in seconds
    /// (`gaps_secs.len() + 1 == chunks.len()`).
    pub gaps_secs: Vec<f64>,
    /// The transcript (lower-case words).
    pub text: String,
}

const LETTERS: [&str; 26] = [
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s",
    "t", "u", "v", "w", "x", "y", "z",
];

/// Short spoken commands and phrases: `(template, slot lists)`; `{}` slots are
/// filled in order.
const COMMANDS: &[(&str, &[&[&str]])] = &[
    (
        "go {} {} {}",
        &[
            &[
                "forward", "back", "backward", "left", "right", "up", "down", "north", "south",
                "east", "west",
            ],
            &[
                "one",
                "two",
                "three",
                "four",
                "five",
                "six",
                "seven",
                "eight",
                "nine",
                "ten",
                "twenty",
                "fifty",
                "a hundred",
            ],
            &["meters", "feet", "steps", "miles", "yards"],
        ],
    ),
    (
        "turn {} {} degrees",
        &[
            &["left", "right"],
            &[
                "ten",
                "fifteen",
                "thirty",
                "forty five",
                "ninety",
                "one hundred eighty",
            ],
        ],
    ),
    (
        "turn {} the {}",
        &[
            &["on", "off"],
            &[
                "lights",
                "light",
                "radio",
                "heater",
                "fan",
                "music",
                "television",
                "alarm",
                "engine",
            ],
        ],
    ),
    (
        "{} the {}",
        &[
            &["open", "close", "lock", "unlock", "check", "clean"],
            &[
                "door",
                "window",
                "gate",
                "file",
                "box",
                "garage",
                "kitchen door",
                "front door",
            ],
        ],
    ),
    (
        "{} the {} {}",
        &[
            &["pick up", "put down", "bring me", "find", "move", "show me"],
            &[
                "red", "blue", "green", "yellow", "black", "white", "small", "big", "old", "new",
            ],
            &[
                "box", "cup", "ball", "book", "chair", "key", "bag", "phone", "bottle", "card",
            ],
        ],
    ),
    (
        "set a timer for {} {}",
        &[
            &["one", "two", "five", "ten", "fifteen", "twenty", "thirty"],
            &["minutes", "seconds", "hours"],
        ],
    ),
    (
        "call {} {}",
        &[
            &[
                "john", "mary", "david", "susan", "peter", "linda", "michael", "sarah", "james",
                "anna",
            ],
            &["now", "at home", "at work", "later", "back", "tomorrow"],
        ],
    ),
    (
        "{} the {} {}",
        &[
            &["play", "skip", "stop", "repeat"],
            &["next", "last", "first", "previous"],
            &["song", "track", "video", "message", "chapter"],
        ],
    ),
    (
        "what is the {} {}",
        &[
            &["weather", "time", "temperature", "news", "date"],
            &[
                "today",
                "tomorrow",
                "now",
                "in boston",
                "outside",
                "this morning",
            ],
        ],
    ),
    (
        "{}",
        &[&[
            "yes",
            "no",
            "stop",
            "go",
            "wait",
            "cancel",
            "okay",
            "help",
            "repeat that",
            "thank you",
            "good morning",
            "good night",
            "hello",
            "goodbye",
            "never mind",
            "say that again",
            "what time is it",
            "how are you",
            "i don't know",
            "that's right",
            "not now",
            "please stop",
            "start again",
            "louder please",
            "come here",
            "go home",
            "all done",
            "next one",
            "excuse me",
        ]],
    ),
    (
        "{} {} {}",
        &[
            &["move", "walk", "drive", "run"],
            &["slowly", "quickly", "carefully", "straight"],
            &[
                "ahead",
                "home",
                "forward",
                "back",
                "to the door",
                "to the car",
            ],
        ],
    ),
];

/// Fills a random command template.
pub fn command(rng: &mut Rng) -> String {
    let (tmpl, slots) = COMMANDS[rng.below(COMMANDS.len())];
    let mut out = String::new();
    let mut parts = tmpl.split("{}");
    out.push_str(parts.next().unwrap_or_default());
    for (slot, rest) in slots.iter().zip(parts) {
        out.push_str(slot[rng.below(slot.len())]);
        out.push_str(rest);
    }
    out
}

/// Every word the command grammar, the letters and the number generators can say.
pub fn generator_vocabulary() -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for (tmpl, slots) in COMMANDS {
        v.extend(
            tmpl.split_whitespace()
                .filter(|w| *w != "{}")
                .map(str::to_string),
        );
        for s in slots.iter() {
            for phrase in s.iter() {
                v.extend(phrase.split_whitespace().map(str::to_string));
            }
        }
    }
    v.extend(LETTERS.iter().map(|s| s.to_string()));
    v.extend(ONES.iter().map(|s| s.to_string()));
    v.extend(TENS.iter().filter(|s| !s.is_empty()).map(|s| s.to_string()));
    v.extend(
        [
            "hundred", "thousand", "million", "billion", "trillion", "oh", "point",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    v.sort();
    v.dedup();
    v
}

/// Draws prompts of every style from a pool of normalised sentences and a word
/// list (both already filtered by the lexicon).
#[derive(Debug, Clone)]
pub struct PromptSource<'a> {
    /// Sentences this split may use.
    pub sentences: &'a [String],
    /// Words for the isolated-word style.
    pub words: &'a [String],
}

/// Relative weights (per utterance) of the styles, in [`PromptKind`] order:
/// sentence, words, letters, digits, number, command, paused.
pub const STYLE_WEIGHTS: [f64; 7] = [0.50, 0.12, 0.07, 0.06, 0.05, 0.12, 0.08];

impl PromptSource<'_> {
    /// Draws one prompt. `index` picks the sentence (so consecutive utterances walk
    /// through the pool), `rng` everything else.
    pub fn draw(&self, index: usize, rng: &mut Rng) -> Prompt {
        let r = rng.uniform();
        let mut acc = 0.0;
        let mut k = 0;
        for (i, w) in STYLE_WEIGHTS.iter().enumerate() {
            acc += w;
            if r < acc {
                k = i;
                break;
            }
            k = i;
        }
        let sentence = |i: usize| -> String {
            if self.sentences.is_empty() {
                "go forward ten meters".to_string()
            } else {
                self.sentences[i % self.sentences.len()].clone()
            }
        };
        let single = |kind, text: String| Prompt {
            kind,
            chunks: vec![text.clone()],
            gaps_secs: vec![],
            text,
        };
        match k {
            0 => single(PromptKind::Sentence, sentence(index)),
            1 if !self.words.is_empty() => {
                let n = 1 + rng.below(4);
                let words: Vec<String> = (0..n)
                    .map(|_| self.words[rng.below(self.words.len())].clone())
                    .collect();
                let gaps = (1..n).map(|_| rng.uniform_range(0.3, 1.2)).collect();
                Prompt {
                    kind: PromptKind::Words,
                    text: words.join(" "),
                    chunks: words,
                    gaps_secs: gaps,
                }
            }
            2 => {
                let n = 2 + rng.below(6);
                let letters: Vec<&str> = (0..n).map(|_| LETTERS[rng.below(26)]).collect();
                // Letters are given to the engines in upper case one at a time, so
                // that `a` is read as the letter, not the article.
                let chunks = letters.iter().map(|l| l.to_uppercase()).collect();
                let gaps = (1..n).map(|_| rng.uniform_range(0.05, 0.4)).collect();
                Prompt {
                    kind: PromptKind::Letters,
                    text: letters.join(" "),
                    chunks,
                    gaps_secs: gaps,
                }
            }
            3 => {
                let n = 3 + rng.below(8);
                let digits: Vec<&str> = (0..n)
                    .map(|_| {
                        let d = rng.below(11);
                        if d == 10 { "oh" } else { ONES[d] }
                    })
                    .collect();
                single(PromptKind::Digits, digits.join(" "))
            }
            4 => {
                let text = match rng.below(3) {
                    0 => number_to_words(rng.below(100) as u64),
                    1 => number_to_words(rng.below(1_000_000) as u64),
                    _ => year_to_words(1800 + rng.below(230) as u64),
                };
                single(PromptKind::Number, text)
            }
            5 => single(PromptKind::Command, command(rng)),
            6 => {
                // A sentence cut into 2–3 pieces at word boundaries, long pauses.
                let s = sentence(index);
                let words: Vec<&str> = s.split(' ').collect();
                let pieces = (2 + rng.below(2)).min(words.len());
                let mut cuts: Vec<usize> = (0..pieces - 1)
                    .map(|_| 1 + rng.below(words.len().saturating_sub(1).max(1)))
                    .collect();
                cuts.sort_unstable();
                cuts.dedup();
                let mut chunks = Vec::new();
                let mut start = 0;
                for c in cuts.into_iter().chain([words.len()]) {
                    if c > start {
                        chunks.push(words[start..c].join(" "));
                        start = c;
                    }
                }
                let gaps = (1..chunks.len())
                    .map(|_| rng.uniform_range(0.6, 2.0))
                    .collect();
                Prompt {
                    kind: PromptKind::Paused,
                    text: s,
                    chunks,
                    gaps_secs: gaps,
                }
            }
            _ => single(PromptKind::Command, command(rng)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn numbers_read_as_words() {
        assert_eq!(number_to_words(0), "zero");
        assert_eq!(number_to_words(15), "fifteen");
        assert_eq!(number_to_words(40), "forty");
        assert_eq!(number_to_words(101), "one hundred one");
        assert_eq!(
            number_to_words(1_234_567),
            "one million two hundred thirty four thousand five hundred sixty seven"
        );
        assert_eq!(number_to_words(2_000_000_000), "two billion");
        assert_eq!(year_to_words(1984), "nineteen eighty four");
        assert_eq!(year_to_words(1905), "nineteen oh five");
        assert_eq!(year_to_words(1900), "nineteen hundred");
        assert_eq!(year_to_words(2000), "two thousand");
        assert_eq!(year_to_words(2012), "twenty twelve");
        assert_eq!(ordinal_to_words(21), "twenty first");
        assert_eq!(ordinal_to_words(12), "twelfth");
        assert_eq!(ordinal_to_words(40), "fortieth");
        assert_eq!(ordinal_to_words(100), "one hundredth");
    }

    #[test]
    fn normalize_handles_numbers_money_and_punctuation() {
        assert_eq!(
            normalize("In 1984, we spent $3,500 — 12% more!").as_deref(),
            Some(
                "in nineteen eighty four we spent three thousand five hundred dollars twelve percent more"
            )
        );
        assert_eq!(
            normalize("The 21st century's \"great\" task.").as_deref(),
            Some("the twenty first century's great task")
        );
        assert_eq!(
            normalize("It rose 2.5 points in the 1990s.").as_deref(),
            Some("it rose two point five points in the nineteen nineties")
        );
        assert_eq!(normalize("Call 3M now"), None);
        assert_eq!(normalize("Café society"), None);
        assert_eq!(normalize("   ...  "), None);
    }

    #[test]
    fn sentences_split_but_not_after_abbreviations() {
        let s = split_sentences(
            "Mr. Smith went to Washington. He said \"No!\" Then he left? Yes. J. Doe stayed.",
        );
        assert_eq!(
            s,
            [
                "Mr. Smith went to Washington.",
                "He said \"No!\"",
                "Then he left?",
                "Yes.",
                "J. Doe stayed."
            ]
        );
    }

    #[test]
    fn filter_needs_lexicon_length_and_no_profanity() {
        let dict = CmuDict::parse(
            "the DH AH\ncat K AE T\nsat S AE T\ndown D AW N\ndamn D AE M\n",
            Path::new("d"),
        )
        .unwrap();
        let f = SentenceFilter::default();
        assert!(f.keep("the cat sat down", &dict));
        assert!(!f.keep("the cat sat", &dict), "too short");
        assert!(!f.keep("the cat sat damn", &dict), "profane");
        assert!(!f.keep("the dog sat down", &dict), "not in lexicon");
        let mut seen = HashSet::new();
        let raw = "The cat sat down. The cat sat down.\nThe dog sat down.\n\nThe cat sat   down!";
        assert_eq!(
            prepare_sentences(raw, &dict, &f, &mut seen),
            ["the cat sat down"]
        );
        // Bracketed asides go; an over-long sentence yields its clauses.
        let f2 = SentenceFilter {
            min_words: 2,
            max_words: 4,
        };
        let mut seen = HashSet::new();
        assert_eq!(
            prepare_sentences(
                "The cat [Laughter] sat down; the cat sat.",
                &dict,
                &f2,
                &mut seen
            ),
            ["the cat sat down", "the cat sat"]
        );
    }

    #[test]
    fn prompts_are_consistent_and_seeded() {
        let sentences = vec!["one two three four five six".to_string()];
        let words = vec!["alpha".to_string(), "beta".to_string()];
        let src = PromptSource {
            sentences: &sentences,
            words: &words,
        };
        let mut kinds = HashSet::new();
        for i in 0..500 {
            let p = src.draw(i, &mut Rng::fork(7, i as u64));
            assert_eq!(p.gaps_secs.len() + 1, p.chunks.len(), "{p:?}");
            let joined = p.chunks.join(" ").to_lowercase();
            assert_eq!(joined, p.text, "{p:?}");
            assert!(p.text.split(' ').all(|w| !w.is_empty()));
            assert_eq!(p, src.draw(i, &mut Rng::fork(7, i as u64)));
            kinds.insert(format!("{:?}", p.kind));
        }
        assert_eq!(kinds.len(), 7, "{kinds:?}");
    }

    #[test]
    fn command_vocabulary_covers_commands() {
        let vocab: HashSet<String> = generator_vocabulary().into_iter().collect();
        let mut rng = Rng::new(3);
        for _ in 0..200 {
            let c = command(&mut rng);
            for w in c.split(' ') {
                assert!(vocab.contains(w), "{w} in {c}");
            }
        }
    }
}
