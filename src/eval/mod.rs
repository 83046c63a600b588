//! Evaluation: edit-distance alignment, word/phone error rates and retrieval metrics.
//!
//! - [`mod@edit_distance`]: Levenshtein alignment with substitution / deletion /
//!   insertion counts (the alignment is returned, not only the distance).
//! - [`wer`]: [`ErrorStats`] accumulated over utterances and printed the way
//!   Kaldi's `compute-wer` prints it: `%WER 12.34 [ 5 / 40, 1 ins, 2 del, 2 sub ]`.
//! - [`map`]: average precision, mean average precision and precision@k for the
//!   query-by-example search.

pub mod edit_distance;
pub mod map;
pub mod wer;

pub use edit_distance::{EditOp, align, edit_distance};
pub use map::{average_precision, mean_average_precision, precision_at_k};
pub use wer::ErrorStats;
