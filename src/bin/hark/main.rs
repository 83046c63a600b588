//! The `hark` command-line tool: a thin layer that parses arguments, calls the
//! library and prints results. Only this binary uses `anyhow`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod corpus;
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
    /// Build corpora: prepare text, synthesise speech with TTS engines, import real corpora.
    ///
    /// Example: `hark corpus synth --text data/text/sentences.txt --lexicon
    /// data/lexicon/cmudict.dict --hours 20 --out data/corpus`
    Corpus(corpus::CorpusArgs),
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
