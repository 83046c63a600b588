//! Query-by-example spoken term search.
//!
//! A recording is cut into candidate segments ([`segment`]); each segment becomes a
//! fixed-size vector, and the vectors go into an [`index::Index`]. A spoken query is
//! embedded the same way and matched by cosine similarity. The classic baseline,
//! subsequence DTW over frames or posteriorgrams, lives in [`dtw`].

pub mod autoencoder;
pub mod coarse;
pub mod dtw;
pub mod eval;
pub mod frontend;
pub mod index;
pub mod search;
pub mod segment;
pub mod train;
pub mod words;
