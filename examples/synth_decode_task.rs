//! Writes a synthetic decoding task: lexicon, LM training text and peaky CTC
//! posteriors, for `hark lm build` / `hark decode` benchmarks and memory measurements.
//!
//! ```text
//! cargo run --release --example synth_decode_task -- OUT_DIR NUM_WORDS NUM_SENTENCES NUM_UTTS
//! ```
//! writes OUT_DIR/lexicon.txt, corpus.txt (sentences), tokens.txt (CTC table),
//! utt{i}.npy (log-posteriors of held-out sentences) and utt{i}.txt (their words).

use std::path::PathBuf;

use hark::decode::synth;
use hark::lexicon::phone_symbol;
use hark::phones::TokenTable;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        return Err("usage: synth_decode_task OUT_DIR NUM_WORDS NUM_SENTENCES NUM_UTTS".into());
    }
    let dir = PathBuf::from(&args[1]);
    let num_words: usize = args[2].parse()?;
    let num_sentences: usize = args[3].parse()?;
    let num_utts: usize = args[4].parse()?;
    std::fs::create_dir_all(&dir)?;
    let lex = synth::lexicon(num_words, 1);
    hark::fsio::write_atomic(&dir.join("lexicon.txt"), lex.to_text().as_bytes())?;
    let text = synth::sentences(&lex, num_sentences + num_utts, 2);
    hark::fsio::write_atomic(
        &dir.join("corpus.txt"),
        text[..num_sentences].join("\n").as_bytes(),
    )?;
    let tokens = TokenTable::ctc_default();
    hark::fsio::write_atomic(&dir.join("tokens.txt"), tokens.to_text().as_bytes())?;
    for (i, s) in text[num_sentences..].iter().enumerate() {
        let mut toks = Vec::new();
        for w in s.split_whitespace() {
            let id = lex
                .word_id(w)
                .ok_or("invariant: sentence words come from the lexicon")?;
            let pron = &lex.prons[lex.prons_of(id)[0] as usize];
            toks.extend(
                pron.phones
                    .iter()
                    .map(|&p| tokens.index(phone_symbol(p)).unwrap_or(0)),
            );
        }
        let m = synth::peaky_ctc_posteriors(&toks, tokens.len(), 4, 100 + i as u64);
        hark::fsio::write_npy(&dir.join(format!("utt{i}.npy")), &m)?;
        hark::fsio::write_atomic(&dir.join(format!("utt{i}.txt")), s.as_bytes())?;
    }
    eprintln!(
        "wrote {} words, {num_sentences} sentences, {num_utts} utterances to {}",
        lex.num_words(),
        dir.display()
    );
    Ok(())
}
