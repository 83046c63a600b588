//! `hark eval-search`: MAP, P@10, P@N and query latency of the embedding search and
//! of the subsequence-DTW baselines on a query-by-example manifest. Latencies are
//! CPU time of the searching thread (wall time when `--threads` > 1 parallelises
//! the DTW scan), so they hold on a busy machine and mean one core.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use hark::eval::map::{average_precision, precision_at_k};
use hark::qbe::dtw::FrameDistance;
use hark::qbe::eval::{QbeManifest, judge};
use hark::qbe::frontend::{FrameKind, Frontend, FrontendConfig};
use hark::qbe::index::{FastSearch, Hit, Index};
use hark::qbe::search::{DEFAULT_MAX_OVERLAP, dtw_search};
use ndarray::Array2;
use serde::Serialize;

use crate::index::{load_embedder, recording_name};
use crate::model_dir;
use crate::util::CpuClock;

/// Arguments of `hark eval-search`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  hark eval-search --model models/default --methods ae,dtw-mfcc,dtw-post data/qbe/qbe.jsonl\n\n\
Methods: ae (auto-encoder embeddings + index), dtw-mfcc (subsequence DTW on MFCC,\n\
cosine distance), dtw-post (subsequence DTW on posteriorgrams, -ln(q.r)).\n\
Every method searches the same recordings: the index's (--index) or else the union\n\
of the manifest's corpora; hits outside a query's own corpus are dropped before\n\
scoring. Latency is per query, single-threaded unless --threads: front end of the\n\
query plus the search, over all searched recordings."
)]
pub struct EvalSearchArgs {
    /// QbE manifest (JSONL: query, relevant, corpus).
    manifest: PathBuf,
    /// Model bundle (encoder.safetensors, acoustic model for posteriors).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Encoder to use instead of the bundle's encoder.safetensors.
    #[arg(long)]
    encoder: Option<PathBuf>,
    /// Prebuilt index (`hark index`) to search; its recordings are the searched set.
    #[arg(long)]
    index: Option<PathBuf>,
    /// Comma-separated methods: ae, dtw-mfcc, dtw-post.
    #[arg(long, default_value = "ae")]
    methods: String,
    /// Ranked hits scored per query (MAP is computed over this depth).
    #[arg(long, default_value_t = 100)]
    top: usize,
    /// Largest overlap between two hits of one recording (embedding search).
    #[arg(long, default_value_t = DEFAULT_MAX_OVERLAP)]
    max_overlap: f32,
    /// Coarse lists of the embedding index scan (spherical k-means; a query scans
    /// only the --probes nearest). Default: about 2·√(vectors), none under 20 000
    /// vectors; 0 = scan every vector.
    #[arg(long)]
    lists: Option<usize>,
    /// Lists scanned per query (default: a thirty-second of --lists).
    #[arg(long)]
    probes: Option<usize>,
    /// DTW matches kept per recording.
    #[arg(long, default_value_t = 2)]
    dtw_matches: usize,
    /// Posteriorgram temperature for dtw-post.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Keep the CTC blank in the dtw-post posteriorgram.
    #[arg(long)]
    keep_blank: bool,
    /// Evaluate only the first N queries.
    #[arg(long)]
    max_queries: Option<usize>,
    /// Threads for the DTW scan over recordings (1 = single-threaded latency).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Output format.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
    /// Also write per-query results (JSON Lines) here.
    #[arg(long)]
    per_query: Option<PathBuf>,
}

/// Scores of one method.
#[derive(Debug, Serialize)]
struct MethodReport {
    method: String,
    queries: usize,
    map: f64,
    p_at_10: f64,
    p_at_n: f64,
    latency_ms_mean: f64,
    latency_ms_median: f64,
    frontend_ms_mean: f64,
    search_ms_mean: f64,
    /// Of the search stage, the query encoder's share (the auto-encoder only).
    encoder_ms_mean: Option<f64>,
    searched_recordings: usize,
    searched_secs: f64,
    prepare_secs: f64,
}

#[derive(Debug, Serialize)]
struct QueryResult {
    method: String,
    query: String,
    term: Option<String>,
    num_relevant: usize,
    ap: f64,
    p_at_10: f64,
    latency_ms: f64,
    /// The first hits: [file, start, end, score, relevant].
    top_hits: Vec<(String, f32, f32, f32, bool)>,
}

/// The index scan for `n` vectors: `--lists`/`--probes`, or [`FastSearch::auto`].
fn fast_search(args: &EvalSearchArgs, n: usize) -> FastSearch {
    let auto = FastSearch::auto(n);
    let lists = args.lists.unwrap_or(auto.lists);
    FastSearch {
        lists,
        probes: args
            .probes
            .unwrap_or_else(|| FastSearch::default_probes(lists)),
    }
}

/// One method's search: query samples → hits, front-end seconds, search seconds and,
/// for the auto-encoder, the query encoder's part of the search seconds.
type Searcher<'a> = dyn FnMut(&[f32]) -> anyhow::Result<(Vec<Hit>, f64, f64, Option<f64>)> + 'a;

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `hark eval-search`.
pub fn run(args: EvalSearchArgs, quiet: bool) -> anyhow::Result<()> {
    let m = QbeManifest::load(&args.manifest)?;
    let mut queries = m.queries.clone();
    if let Some(n) = args.max_queries {
        queries.truncate(n);
    }
    if queries.is_empty() {
        bail!("{}: no queries", args.manifest.display());
    }
    let name_of = |p: &str| recording_name(&m.resolve(p));
    // The embedding search scans an 8-bit copy of the vectors (built once here,
    // as a search service would at start-up), re-scoring its best candidates exactly.
    let index = match &args.index {
        Some(p) => {
            let mut ix = Index::load(p)?;
            ix.build_fast_search_with(fast_search(&args, ix.len()));
            Some(ix)
        }
        None => None,
    };
    // The searched recordings.
    let searched: Vec<String> = match &index {
        Some(ix) => ix.files().to_vec(),
        None => queries
            .iter()
            .flat_map(|q| q.corpus.iter().map(|c| name_of(c)))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    if searched.is_empty() {
        bail!("nothing to search: the index is empty or the queries list no corpus");
    }
    let corpora: Vec<BTreeSet<String>> = queries
        .iter()
        .map(|q| q.corpus.iter().map(|c| name_of(c)).collect())
        .collect();
    let methods: Vec<&str> = args.methods.split(',').map(str::trim).collect();
    let mut reports = Vec::new();
    let mut per_query = Vec::new();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.max(1))
        .build()?;
    for method in methods {
        let t_prep = Instant::now();
        let mut searched_secs = 0.0;
        // Per method: a search function from query samples to hits.
        let mut searcher: Box<Searcher<'_>> = match method {
            "ae" => {
                let embedder = load_embedder(args.model.as_deref(), args.encoder.as_deref())?;
                let ix = match index.as_ref() {
                    Some(ix) => {
                        searched_secs = ix
                            .entries()
                            .iter()
                            .fold(HashMap::new(), |mut acc: HashMap<u32, f32>, e| {
                                let v = acc.entry(e.file_id).or_default();
                                *v = v.max(e.end_s);
                                acc
                            })
                            .values()
                            .map(|&v| v as f64)
                            .sum();
                        None
                    }
                    None => {
                        let mut ix = Index::new(embedder.dim())?;
                        let bar = crate::util::progress_bar(searched.len() as u64, quiet);
                        for f in &searched {
                            let wave = hark::audio::load_16k(Path::new(f))?;
                            searched_secs += wave.duration_secs();
                            embedder
                                .index_samples(&mut ix, f, &wave.samples)
                                .with_context(|| format!("indexing {f}"))?;
                            bar.inc(1);
                        }
                        bar.finish_and_clear();
                        ix.build_fast_search_with(fast_search(&args, ix.len()));
                        Some(ix)
                    }
                };
                let depth = args.top * 3;
                let max_overlap = args.max_overlap;
                let index_ref = index.as_ref();
                Box::new(move |samples: &[f32]| {
                    let c0 = CpuClock::start();
                    let frames = embedder.frontend().compute(samples)?;
                    let fe = c0.elapsed().0;
                    let c1 = CpuClock::start();
                    let ix = ix.as_ref().or(index_ref).expect("invariant: one index");
                    let q = embedder.query_vector(ix, &frames)?;
                    let enc = c1.elapsed().0;
                    let q = q.as_slice().expect("invariant: fresh array is contiguous");
                    let hits = ix.search(q, depth, max_overlap)?;
                    Ok((hits, fe, c1.elapsed().0, Some(enc)))
                })
            }
            "dtw-mfcc" | "dtw-post" => {
                let (config, distance, bundle) = if method == "dtw-mfcc" {
                    (
                        FrontendConfig {
                            kind: FrameKind::Mfcc,
                            ..Default::default()
                        },
                        FrameDistance::Cosine,
                        None,
                    )
                } else {
                    (
                        FrontendConfig {
                            kind: FrameKind::Posteriors,
                            drop_blank: !args.keep_blank,
                            temperature: args.temperature,
                            ..Default::default()
                        },
                        FrameDistance::LogInnerProduct,
                        Some(model_dir::resolve(args.model.as_deref())?),
                    )
                };
                let frontend = Frontend::new(config, bundle.as_deref())?;
                let bar = crate::util::progress_bar(searched.len() as u64, quiet);
                let mut recs: Vec<(String, Array2<f32>)> = Vec::with_capacity(searched.len());
                for f in &searched {
                    let wave = hark::audio::load_16k(Path::new(f))?;
                    searched_secs += wave.duration_secs();
                    recs.push((f.clone(), frontend.compute(&wave.samples)?));
                    bar.inc(1);
                }
                bar.finish_and_clear();
                let (top, per_file) = (args.top * 3, args.dtw_matches);
                let pool = &pool;
                Box::new(move |samples: &[f32]| {
                    // CPU time on one thread; wall time when the scan is parallel.
                    let pick = |c: &CpuClock| {
                        let (cpu, wall) = c.elapsed();
                        if pool.current_num_threads() > 1 {
                            wall
                        } else {
                            cpu
                        }
                    };
                    let c0 = CpuClock::start();
                    let q = frontend.compute(samples)?;
                    let fe = pick(&c0);
                    let c1 = CpuClock::start();
                    let shift = frontend.frame_shift_secs();
                    let hits = if pool.current_num_threads() > 1 {
                        use rayon::prelude::*;
                        let parts: Vec<hark::Result<Vec<Hit>>> = pool.install(|| {
                            recs.par_chunks(recs.len().div_ceil(pool.current_num_threads()))
                                .map(|c| dtw_search(q.view(), c, shift, distance, per_file, top))
                                .collect()
                        });
                        let mut all = Vec::new();
                        for p in parts {
                            all.extend(p?);
                        }
                        all.sort_by(|a, b| b.score.total_cmp(&a.score));
                        all.truncate(top);
                        all
                    } else {
                        dtw_search(q.view(), &recs, shift, distance, per_file, top)?
                    };
                    Ok((hits, fe, pick(&c1), None))
                })
            }
            other => bail!("unknown method {other:?} (expected ae, dtw-mfcc or dtw-post)"),
        };
        let prepare_secs = t_prep.elapsed().as_secs_f64();
        let bar = crate::util::progress_bar(queries.len() as u64, quiet);
        let mut enc = Vec::new();
        let (mut aps, mut p10s, mut pns, mut lat, mut fe, mut se) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for (qi, q) in queries.iter().enumerate() {
            let qpath = m.resolve(&q.query);
            let wave = hark::audio::load_16k(&qpath)
                .with_context(|| format!("reading query {}", qpath.display()))?;
            let (hits, fe_s, se_s, enc_s) = searcher(&wave.samples)?;
            if let Some(e) = enc_s {
                enc.push(e * 1e3);
            }
            let hits: Vec<Hit> = hits
                .into_iter()
                .filter(|h| corpora[qi].contains(&h.file))
                .take(args.top)
                .collect();
            let relevant: Vec<_> = q
                .relevant
                .iter()
                .map(|r| hark::qbe::eval::RelevantSpan {
                    audio: name_of(&r.audio),
                    ..r.clone()
                })
                .collect();
            let ranking = judge(&hits, &relevant, |a, b| a == b);
            let ap = average_precision(&ranking, relevant.len());
            let p10 = precision_at_k(&ranking, 10);
            aps.push(ap);
            p10s.push(p10);
            pns.push(precision_at_k(&ranking, relevant.len()));
            lat.push((fe_s + se_s) * 1e3);
            fe.push(fe_s * 1e3);
            se.push(se_s * 1e3);
            per_query.push(QueryResult {
                method: method.to_string(),
                query: q.query.clone(),
                term: q.term.clone(),
                num_relevant: relevant.len(),
                ap,
                p_at_10: p10,
                latency_ms: (fe_s + se_s) * 1e3,
                top_hits: hits
                    .iter()
                    .zip(&ranking)
                    .take(5)
                    .map(|(h, &r)| (h.file.clone(), h.start_s, h.end_s, h.score, r))
                    .collect(),
            });
            bar.inc(1);
        }
        bar.finish_and_clear();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        reports.push(MethodReport {
            method: method.to_string(),
            queries: queries.len(),
            map: mean(&aps),
            p_at_10: mean(&p10s),
            p_at_n: mean(&pns),
            latency_ms_mean: mean(&lat),
            latency_ms_median: median(lat.clone()),
            frontend_ms_mean: mean(&fe),
            search_ms_mean: mean(&se),
            encoder_ms_mean: (!enc.is_empty()).then(|| mean(&enc)),
            searched_recordings: searched.len(),
            searched_secs,
            prepare_secs,
        });
    }
    if let Some(p) = &args.per_query {
        let mut s = String::new();
        for r in &per_query {
            s.push_str(&serde_json::to_string(r)?);
            s.push('\n');
        }
        hark::fsio::write_atomic(p, s.as_bytes())?;
    }
    let mut out = std::io::stdout().lock();
    if args.format == "json" {
        writeln!(out, "{}", serde_json::to_string_pretty(&reports)?)?;
    } else {
        writeln!(
            out,
            "{:<10} {:>7} {:>6} {:>6} {:>6} {:>12} {:>12} {:>11} {:>11} {:>10} {:>9}",
            "method",
            "queries",
            "MAP",
            "P@10",
            "P@N",
            "latency_ms",
            "frontend_ms",
            "search_ms",
            "encoder_ms",
            "searched_h",
            "files"
        )?;
        for r in &reports {
            writeln!(
                out,
                "{:<10} {:>7} {:>6.3} {:>6.3} {:>6.3} {:>12.2} {:>12.2} {:>11.2} {:>11} {:>10.2} {:>9}",
                r.method,
                r.queries,
                r.map,
                r.p_at_10,
                r.p_at_n,
                r.latency_ms_mean,
                r.frontend_ms_mean,
                r.search_ms_mean,
                r.encoder_ms_mean
                    .map_or_else(|| "-".to_string(), |e| format!("{e:.2}")),
                r.searched_secs / 3600.0,
                r.searched_recordings
            )?;
        }
    }
    Ok(())
}
