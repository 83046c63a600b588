//! The library API in a few lines: load a model bundle once, transcribe files on
//! several threads.
//!
//! ```sh
//! cargo run --release --example transcribe -- MODEL_DIR audio/yes.wav audio/stop.wav
//! ```

use std::path::PathBuf;

use hark::decode::DecoderConfig;
use hark::recognizer::Recognizer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let model = PathBuf::from(args.next().ok_or("usage: transcribe MODEL_DIR WAV...")?);
    let files: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let rec = Recognizer::load(&model, DecoderConfig::default())?;
    // `Recognizer` is Sync: share it between threads by reference.
    let rec = &rec;
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .map(|f| scope.spawn(move || (f, rec.transcribe_file(f))))
            .collect();
        for h in handles {
            match h.join() {
                Ok((f, Ok(t))) => {
                    println!("{}\t{}\t(rtf {:.4})", f.display(), t.text, t.rtf());
                    for w in &t.words {
                        println!("  {:6.2} {:6.2}  {}  {:.2}", w.start, w.end, w.word, w.conf);
                    }
                }
                Ok((f, Err(e))) => eprintln!("{}: {e}", f.display()),
                Err(_) => eprintln!("a worker thread panicked"),
            }
        }
    });
    Ok(())
}
