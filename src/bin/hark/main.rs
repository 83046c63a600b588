//! The `hark` command-line tool: a thin layer that parses arguments, calls the
//! library and prints results. Only this binary uses `anyhow`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod adapt;
mod align;
mod bench;
mod convert;
mod corpus;
mod decode;
mod eval_search;
mod features;
mod index;
mod lexicon;
mod lm;
mod model_dir;
mod plot;
mod qbe_set;
mod search;
mod segment;
mod train;
mod train_encoder;
mod transcribe;
mod util;

/// hark: offline speech recognition and spoken-term search.
#[derive(Debug, Parser)]
#[command(name = "hark", version, about, long_about = None)]
struct Cli {
    /// Hide progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a token table (tokens.txt) for the built-in phone set.
    ///
    /// Example: `hark tokens --kind ctc > tokens.txt`
    Tokens(TokensArgs),
    /// Transcribe WAV/FLAC files, directories or manifests into words with times.
    ///
    /// Example: `hark transcribe audio/yes.wav`
    Transcribe(transcribe::TranscribeArgs),
    /// Write the acoustic model's log-posteriors of one file as .npy.
    ///
    /// Example: `hark posteriors audio/yes.wav --out yes.npy`
    Posteriors(transcribe::PosteriorsArgs),
    /// Force-align a known transcript: word and phone times (JSON, CTM, TextGrid).
    ///
    /// Example: `hark align --text "go forward ten meters" audio/go_forward_ten_meters.wav`
    Align(align::AlignArgs),
    /// Adapt a bundle's network to one speaker's recordings, without transcripts.
    ///
    /// Example: `hark adapt --out runs/adapted recordings/`
    Adapt(adapt::AdaptArgs),
    /// Run every decoder on a test manifest: PER/WER, real-time factor per stage, memory.
    ///
    /// Example: `hark bench --model models/mine data/corpus/test.jsonl`
    Bench(bench::BenchArgs),
    /// Decode log-posterior matrices (.npy) into words.
    ///
    /// Example: `hark decode --posteriors utt1.npy --model models/default --decoder beam`
    Decode(decode::DecodeArgs),
    /// Language-model tools.
    ///
    /// Example: `hark lm build corpus.txt --order 3 --out lm.arpa`
    Lm(lm::LmArgs),
    /// Store a safetensors file's tensors in another precision (f32, f16).
    ///
    /// Example: `hark convert --dtype f16 model.safetensors --out model-f16.safetensors`
    Convert(convert::ConvertArgs),
    /// Lexicon tools: learn pronunciation variants from a labelled corpus.
    ///
    /// Example: `hark lexicon learn --lexicon lexicon.txt --out learned.txt train.jsonl`
    Lexicon(lexicon::LexiconArgs),
    /// Compute Kaldi-compatible fbank or MFCC features of one WAV/FLAC file.
    ///
    /// Example: `hark features --kind fbank --bins 80 audio/yes.wav --out yes.npy`
    Features(features::FeaturesArgs),
    /// Train an acoustic model (LSTM/GRU, CTC or frame cross-entropy) from manifests.
    ///
    /// Example: `hark train --train train.jsonl --dev dev.jsonl --out models/mine --bidirectional`
    Train(Box<train::TrainArgs>),
    /// Build corpora: prepare text, synthesise speech with TTS engines, import real corpora.
    ///
    /// Example: `hark corpus synth --text data/text/sentences.txt --lexicon
    /// data/lexicon/cmudict.dict --hours 20 --out data/corpus`
    Corpus(corpus::CorpusArgs),
    /// Cut long recordings at pauses into the pieces `transcribe` recognises (WAVs + manifest).
    ///
    /// Example: `hark segment long_talk.wav --out talk_pieces/`
    Segment(segment::SegmentArgs),
    /// Build or extend a query-by-example search index from recordings.
    ///
    /// Example: `hark index --model models/default recordings/ --out recordings.idx`
    Index(index::IndexArgs),
    /// Find a spoken query (WAV) in a search index.
    ///
    /// Example: `hark search --index recordings.idx --top 5 query.wav`
    Search(search::SearchArgs),
    /// Score query-by-example search (MAP, P@10, latency) against DTW baselines.
    ///
    /// Example: `hark eval-search --methods ae,dtw-mfcc,dtw-post data/qbe/qbe.jsonl`
    EvalSearch(eval_search::EvalSearchArgs),
    /// Train the query-by-example auto-encoder on word segments of a manifest.
    ///
    /// Example: `hark train-encoder --train train.jsonl --lexicon cmudict.dict --out encoder.safetensors`
    TrainEncoder(Box<train_encoder::TrainEncoderArgs>),
}

/// Arguments of `hark tokens`.
#[derive(Debug, clap::Args)]
struct TokensArgs {
    /// `ctc` (blank, SIL, 39 phones) or `hybrid` (SIL, 39 phones).
    #[arg(long, default_value = "ctc", value_parser = ["ctc", "hybrid"])]
    kind: String,
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Features(a) => features::run(a, quiet),
        Command::Segment(a) => segment::run(a, quiet),
        Command::Train(a) => train::run(*a, quiet),
        Command::Corpus(a) => corpus::run(a, quiet),
        Command::Tokens(a) => {
            let table = if a.kind == "ctc" {
                hark::phones::TokenTable::ctc_default()
            } else {
                hark::phones::TokenTable::hybrid_default()
            };
            use std::io::Write;
            std::io::stdout().write_all(table.to_text().as_bytes())?;
            Ok(())
        }
        Command::Decode(a) => decode::run(a, quiet),
        Command::Adapt(a) => adapt::run(a, quiet),
        Command::Transcribe(a) => transcribe::run(a, quiet),
        Command::Posteriors(a) => transcribe::run_posteriors(a),
        Command::Align(a) => align::run(a),
        Command::Bench(a) => bench::run(a, quiet),
        Command::Lm(a) => lm::run(a, quiet),
        Command::Lexicon(a) => lexicon::run(a, quiet),
        Command::Convert(a) => convert::run(a, quiet),
        Command::Index(a) => index::run(a, quiet),
        Command::Search(a) => search::run(a),
        Command::EvalSearch(a) => eval_search::run(a, quiet),
        Command::TrainEncoder(a) => train_encoder::run(*a, quiet),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if util::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("hark: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
