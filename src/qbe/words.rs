//! Word times from phone alignments, and the query-by-example evaluation set built
//! from them.
//!
//! A manifest line carries the text and a phone alignment but no word times. The
//! words are recovered by cutting the (non-silence) aligned phones into as many
//! consecutive chunks as there are words, choosing the cut that minimises the total
//! edit distance between each chunk and the word's closest lexicon pronunciation
//! (dynamic programming over `[words, phones]`). Edit distance rather than exact
//! matching matters: engine phone labels differ from CMUdict in places (eSpeak says
//! `F AH G AA T` for "forgot", CMUdict `F ER G AA T`).
//!
//! The QbE set splits the voices of a manifest into *query voices* and *recording
//! voices*. Queries are words cut from utterances of query voices; the searched
//! corpus is every utterance of the recording voices, so no query is ever searched
//! for in its own voice. A query's relevant spans are all occurrences of its word in
//! the corpus.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::eval::edit_distance::edit_distance;
use crate::lexicon::{Lexicon, fallback_pronunciation, phone_id};
use crate::manifest::{Manifest, Utterance};
use crate::qbe::eval::{QbeManifest, QbeQuery, RelevantSpan};
use crate::rng::Rng;

/// Reads a CMUdict-format lexicon, dropping `# comments` at line ends (as in the
/// upstream `cmudict.dict`).
pub fn read_lexicon(path: &Path) -> Result<Lexicon> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
    let stripped: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    Lexicon::parse(&stripped, path)
}

/// A word located in an utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct WordSpan {
    /// The word (lower case).
    pub word: String,
    /// Start, seconds (start of its first aligned phone).
    pub start: f64,
    /// End, seconds (end of its last aligned phone).
    pub end: f64,
    /// Number of aligned phones in the span.
    pub num_phones: usize,
    /// Edit distance between the span's phones and the closest pronunciation,
    /// divided by that pronunciation's length (0 = exact).
    pub mismatch: f64,
}

/// Locates every word of `u.text` in `u.alignment` (see the module docs). Returns
/// `None` when the utterance has no alignment, no words, or fewer phones than words.
/// Words missing from the lexicon use the letter-to-sound fallback.
pub fn word_spans(u: &Utterance, lexicon: &Lexicon) -> Option<Vec<WordSpan>> {
    let align = u.alignment.as_ref()?;
    let aligned: Vec<(u16, f64, f64)> = align
        .iter()
        .filter(|p| p.0 != "SIL")
        .filter_map(|p| phone_id(&p.0).map(|id| (id, p.1, p.2)))
        .collect();
    let words: Vec<String> = u.text.split_whitespace().map(str::to_lowercase).collect();
    let (nw, np) = (words.len(), aligned.len());
    if nw == 0 || np < nw {
        return None;
    }
    let prons: Vec<Vec<Vec<u16>>> = words
        .iter()
        .map(|w| match lexicon.word_id(w) {
            Some(id) => lexicon
                .prons_of(id)
                .iter()
                .map(|&p| lexicon.prons[p as usize].phones.to_vec())
                .collect(),
            None => vec![fallback_pronunciation(w)],
        })
        .collect();
    let phones: Vec<u16> = aligned.iter().map(|a| a.0).collect();
    // cost(k, i, j): best edit distance of word k against phones[i..j].
    let cost = |k: usize, i: usize, j: usize| -> usize {
        prons[k]
            .iter()
            .map(|p| edit_distance(p, &phones[i..j]))
            .min()
            .unwrap_or(usize::MAX / 4)
    };
    // Longest chunk worth trying for word k (longer chunks only add deletions).
    let max_chunk: Vec<usize> = prons
        .iter()
        .map(|ps| ps.iter().map(Vec::len).max().unwrap_or(1) * 2 + 2)
        .collect();
    const INF: usize = usize::MAX / 2;
    // best[k][j]: words 0..k cover phones 0..j; back[k][j]: start of word k-1.
    let mut best = vec![vec![INF; np + 1]; nw + 1];
    let mut back = vec![vec![0usize; np + 1]; nw + 1];
    best[0][0] = 0;
    for k in 1..=nw {
        // Each remaining word needs at least one phone.
        for j in k..=np - (nw - k) {
            let lo = j.saturating_sub(max_chunk[k - 1]).max(k - 1);
            let lo = if k == nw { k - 1 } else { lo }; // the last word takes the rest
            for i in lo..j {
                if best[k - 1][i] >= INF {
                    continue;
                }
                let c = best[k - 1][i] + cost(k - 1, i, j);
                if c < best[k][j] {
                    best[k][j] = c;
                    back[k][j] = i;
                }
            }
        }
    }
    if best[nw][np] >= INF {
        return None;
    }
    let mut spans = Vec::with_capacity(nw);
    let mut j = np;
    for k in (1..=nw).rev() {
        let i = back[k][j];
        let shortest = prons[k - 1].iter().map(Vec::len).min().unwrap_or(1).max(1);
        spans.push(WordSpan {
            word: words[k - 1].clone(),
            start: aligned[i].1,
            end: aligned[j - 1].2,
            num_phones: j - i,
            mismatch: cost(k - 1, i, j) as f64 / shortest as f64,
        });
        j = i;
    }
    spans.reverse();
    Some(spans)
}

/// Settings of the QbE evaluation set.
#[derive(Debug, Clone, PartialEq)]
pub struct QbeSetConfig {
    /// Share of the audio (by duration) whose voices become query voices; the rest
    /// is the searched corpus. Voices are assigned in a seeded random order, each to
    /// the query side while it still fits under this share.
    pub query_fraction: f64,
    /// Shortest query term in aligned phones. Longer → fewer, easier terms.
    pub min_phones: usize,
    /// Shortest query term in seconds.
    pub min_secs: f64,
    /// Largest [`WordSpan::mismatch`] of an occurrence cut as a query (a cleaner
    /// cut → a fairer query).
    pub max_mismatch: f64,
    /// Queries per term (from distinct query voices where possible).
    pub max_queries_per_term: usize,
    /// Total queries.
    pub max_queries: usize,
    /// Audio kept on each side of a query word, seconds.
    pub margin_secs: f64,
    /// Seed of the voice split and query choice.
    pub seed: u64,
}

impl Default for QbeSetConfig {
    fn default() -> Self {
        QbeSetConfig {
            query_fraction: 0.35,
            min_phones: 5,
            min_secs: 0.3,
            max_mismatch: 0.34,
            max_queries_per_term: 3,
            max_queries: 400,
            margin_secs: 0.03,
            seed: 1,
        }
    }
}

impl QbeSetConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if !(self.query_fraction > 0.0 && self.query_fraction < 1.0) {
            return Err(Error::Config(format!(
                "query_fraction must be in (0, 1), got {}",
                self.query_fraction
            )));
        }
        if self.max_queries_per_term == 0 || self.max_queries == 0 || self.margin_secs < 0.0 {
            return Err(Error::Config(
                "max_queries_per_term and max_queries must be > 0 and margin_secs >= 0".into(),
            ));
        }
        Ok(())
    }
}

/// A query to cut: which utterance, which word, which span (margins included).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryCut {
    /// Utterance id.
    pub utt_id: String,
    /// Index of the utterance in the manifest.
    pub utt_index: usize,
    /// The word.
    pub word: String,
    /// Cut start, seconds.
    pub start: f64,
    /// Cut end, seconds.
    pub end: f64,
    /// The query's voice.
    pub speaker: String,
}

/// What [`plan_qbe_set`] chose.
#[derive(Debug, Clone)]
pub struct QbePlan {
    /// Queries with their relevant spans (audio = corpus path as in [`Self::corpus`]).
    pub queries: Vec<(QueryCut, Vec<RelevantSpan>)>,
    /// Manifest indices of the searched utterances.
    pub corpus: Vec<usize>,
    /// The query voices.
    pub query_speakers: Vec<String>,
    /// Seconds of searched audio.
    pub corpus_secs: f64,
}

fn speaker_of(u: &Utterance) -> String {
    u.speaker.clone().unwrap_or_else(|| u.id.clone())
}

/// Chooses query voices, terms, queries and relevant spans. `corpus_path(i)` names
/// utterance `i` in the relevant spans (e.g. its absolute audio path).
pub fn plan_qbe_set(
    manifest: &Manifest,
    lexicon: &Lexicon,
    config: &QbeSetConfig,
    corpus_path: impl Fn(usize) -> String,
) -> Result<QbePlan> {
    config.validate()?;
    let utts = &manifest.utterances;
    // Voice split.
    let mut secs: BTreeMap<String, f64> = BTreeMap::new();
    for u in utts {
        *secs.entry(speaker_of(u)).or_default() += u.duration;
    }
    let total: f64 = secs.values().sum();
    let mut order: Vec<String> = secs.keys().cloned().collect();
    let mut rng = Rng::new(config.seed);
    rng.shuffle(&mut order);
    let mut query_speakers = BTreeSet::new();
    let mut query_secs = 0.0;
    for s in &order {
        if query_secs + secs[s] <= config.query_fraction * total {
            query_secs += secs[s];
            query_speakers.insert(s.clone());
        }
    }
    if query_speakers.is_empty() || query_speakers.len() == secs.len() {
        return Err(Error::Invalid(format!(
            "cannot split {} voice(s) into query and recording voices with query_fraction {}",
            secs.len(),
            config.query_fraction
        )));
    }
    // Word occurrences on each side.
    let mut relevant: BTreeMap<String, Vec<RelevantSpan>> = BTreeMap::new();
    let mut candidates: BTreeMap<String, Vec<QueryCut>> = BTreeMap::new();
    let mut corpus = Vec::new();
    let mut corpus_secs = 0.0;
    for (i, u) in utts.iter().enumerate() {
        let spk = speaker_of(u);
        let is_query = query_speakers.contains(&spk);
        if !is_query {
            corpus.push(i);
            corpus_secs += u.duration;
        }
        let Some(spans) = word_spans(u, lexicon) else {
            continue;
        };
        for w in spans {
            if is_query {
                if w.num_phones >= config.min_phones
                    && w.end - w.start >= config.min_secs
                    && w.mismatch <= config.max_mismatch
                {
                    let dur = if u.duration > 0.0 { u.duration } else { w.end };
                    candidates
                        .entry(w.word.clone())
                        .or_default()
                        .push(QueryCut {
                            utt_id: u.id.clone(),
                            utt_index: i,
                            word: w.word,
                            start: (w.start - config.margin_secs).max(0.0),
                            end: (w.end + config.margin_secs).min(dur.max(w.end)),
                            speaker: spk.clone(),
                        });
                }
            } else {
                relevant
                    .entry(w.word.clone())
                    .or_default()
                    .push(RelevantSpan {
                        audio: corpus_path(i),
                        start: w.start,
                        end: w.end,
                    });
            }
        }
    }
    // Queries: terms present on both sides, up to N per term from distinct voices.
    let mut queries = Vec::new();
    for (word, mut cuts) in candidates {
        let Some(rel) = relevant.get(&word) else {
            continue;
        };
        rng.shuffle(&mut cuts);
        // Distinct voices first, then repeats: rank = how many earlier cuts share
        // the voice.
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut ranked: Vec<(usize, QueryCut)> = cuts
            .into_iter()
            .map(|c| {
                let n = seen.entry(c.speaker.clone()).or_default();
                *n += 1;
                (*n, c)
            })
            .collect();
        ranked.sort_by_key(|(rank, _)| *rank);
        for (_, c) in ranked.into_iter().take(config.max_queries_per_term) {
            queries.push((c, rel.clone()));
        }
    }
    rng.shuffle(&mut queries);
    queries.truncate(config.max_queries);
    queries.sort_by(|a, b| {
        a.0.word
            .cmp(&b.0.word)
            .then(a.0.utt_index.cmp(&b.0.utt_index))
    });
    Ok(QbePlan {
        queries,
        corpus,
        query_speakers: query_speakers.into_iter().collect(),
        corpus_secs,
    })
}

/// Builds the QbE set in `out_dir`: `queries/qNNNN.wav` (cut from the manifest's
/// audio) and `qbe.jsonl`, whose corpus and relevant paths are the recordings'
/// absolute paths. Returns the plan and the manifest path.
pub fn write_qbe_set(
    manifest: &Manifest,
    lexicon: &Lexicon,
    config: &QbeSetConfig,
    out_dir: &Path,
) -> Result<(QbePlan, PathBuf)> {
    let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let paths: Vec<String> = manifest
        .utterances
        .iter()
        .map(|u| abs(manifest.audio_path(u)).to_string_lossy().into_owned())
        .collect();
    let plan = plan_qbe_set(manifest, lexicon, config, |i| paths[i].clone())?;
    let qdir = out_dir.join("queries");
    std::fs::create_dir_all(&qdir).map_err(|e| Error::io(&qdir, "creating", e))?;
    let corpus: Vec<String> = plan.corpus.iter().map(|&i| paths[i].clone()).collect();
    let mut lines = Vec::with_capacity(plan.queries.len());
    for (n, (cut, rel)) in plan.queries.iter().enumerate() {
        let src = &paths[cut.utt_index];
        let wave = crate::audio::load_16k(Path::new(src))?;
        let sr = wave.sample_rate as f64;
        let a = ((cut.start * sr) as usize).min(wave.samples.len());
        let b = ((cut.end * sr).ceil() as usize).clamp(a, wave.samples.len());
        if b <= a {
            return Err(Error::Invalid(format!(
                "query {} ({} in {}) is empty",
                n, cut.word, cut.utt_id
            )));
        }
        let name = format!("queries/q{n:04}.wav");
        crate::audio::write_wav_16bit(
            &out_dir.join(&name),
            &crate::audio::Waveform::new(wave.samples[a..b].to_vec(), wave.sample_rate),
        )?;
        lines.push(QbeQuery {
            query: name,
            relevant: rel.clone(),
            corpus: corpus.clone(),
            term: Some(cut.word.clone()),
        });
    }
    let path = out_dir.join("qbe.jsonl");
    QbeManifest::write(&path, &lines)?;
    Ok((plan, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::AlignedPhone;

    fn lex() -> Lexicon {
        Lexicon::parse(
            "seven  S EH1 V AH0 N\nten  T EH1 N\nforgot  F ER0 G AA1 T\nthe  DH AH0\nthe(2)  DH IY0\n",
            Path::new("lex.txt"),
        )
        .unwrap()
    }

    fn utt(id: &str, spk: &str, text: &str, phones: &[&str]) -> Utterance {
        // 0.1 s per phone.
        let alignment = phones
            .iter()
            .enumerate()
            .map(|(i, p)| AlignedPhone(p.to_string(), i as f64 * 0.1, (i + 1) as f64 * 0.1))
            .collect();
        Utterance {
            id: id.into(),
            audio: format!("{id}.wav"),
            text: text.into(),
            duration: phones.len() as f64 * 0.1,
            speaker: Some(spk.into()),
            phones: None,
            alignment: Some(alignment),
        }
    }

    #[test]
    fn words_are_found_despite_silences_and_label_differences() {
        // "forgot" is labelled F AH G AA T (one substitution), "the" uses DH AH.
        let u = utt(
            "u1",
            "a",
            "the forgot seven",
            &[
                "SIL", "DH", "AH", "SIL", "F", "AH", "G", "AA", "T", "S", "EH", "V", "AH", "N",
                "SIL",
            ],
        );
        let w = word_spans(&u, &lex()).unwrap();
        let got: Vec<(&str, f64, f64, usize)> = w
            .iter()
            .map(|s| (s.word.as_str(), s.start, s.end, s.num_phones))
            .collect();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].0, got[0].3), ("the", 2));
        assert!(close(got[0].1, 0.1) && close(got[0].2, 0.3));
        assert_eq!((got[1].0, got[1].3), ("forgot", 5));
        assert!(close(got[1].1, 0.4) && close(got[1].2, 0.9));
        assert!(close(w[1].mismatch, 0.2)); // 1 edit / 5 phones
        assert_eq!((got[2].0, got[2].3), ("seven", 5));
        assert!(close(got[2].1, 0.9) && close(got[2].2, 1.4));
        assert_eq!(w[2].mismatch, 0.0);
    }

    #[test]
    fn unalignable_utterances_give_none() {
        let mut u = utt("u", "a", "seven ten", &["S"]);
        assert!(word_spans(&u, &lex()).is_none());
        u.alignment = None;
        assert!(word_spans(&u, &lex()).is_none());
    }

    #[test]
    fn plan_separates_query_and_corpus_voices() {
        let seven = ["SIL", "S", "EH", "V", "AH", "N", "SIL"];
        let seven_ten = ["S", "EH", "V", "AH", "N", "T", "EH", "N"];
        let mut utts = Vec::new();
        for spk in ["a", "b", "c", "d"] {
            utts.push(utt(&format!("{spk}1"), spk, "seven", &seven));
            utts.push(utt(&format!("{spk}2"), spk, "seven ten", &seven_ten));
        }
        let m = Manifest {
            base: PathBuf::from("/data"),
            utterances: utts,
        };
        let cfg = QbeSetConfig {
            query_fraction: 0.5,
            min_phones: 3,
            min_secs: 0.25,
            ..Default::default()
        };
        let plan = plan_qbe_set(&m, &lex(), &cfg, |i| format!("r{i}")).unwrap();
        // Two of the four equal-length voices are query voices.
        assert_eq!(plan.query_speakers.len(), 2);
        assert_eq!(plan.corpus.len(), 4);
        assert!((plan.corpus_secs - 2.0 * (0.7 + 0.8)).abs() < 1e-9);
        // Both words qualify (3 phones, 0.3 s at least); each gets up to 3 queries.
        let words: BTreeSet<&str> = plan.queries.iter().map(|q| q.0.word.as_str()).collect();
        assert_eq!(words, BTreeSet::from(["seven", "ten"]));
        for (cut, rel) in &plan.queries {
            let u = &m.utterances[cut.utt_index];
            assert!(plan.query_speakers.contains(&speaker_of(u)));
            // Every relevant span is in the corpus, never in a query voice.
            for r in rel {
                let i: usize = r.audio[1..].parse().unwrap();
                assert!(plan.corpus.contains(&i));
            }
            let want = if cut.word == "seven" { 4 } else { 2 };
            assert_eq!(rel.len(), want, "{}", cut.word);
        }
        // "seven" occurs in 4 query utterances of 2 voices: 3 queries, both voices.
        let sevens: Vec<_> = plan
            .queries
            .iter()
            .filter(|q| q.0.word == "seven")
            .collect();
        assert_eq!(sevens.len(), 3);
        let voices: BTreeSet<_> = sevens.iter().map(|q| q.0.speaker.clone()).collect();
        assert_eq!(voices.len(), 2);
        // Cut with margins, clipped to the utterance.
        let c = &sevens[0].0;
        assert!(c.start >= 0.0 && c.end <= m.utterances[c.utt_index].duration + 1e-9);
    }
}
