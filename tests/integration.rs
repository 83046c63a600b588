//! hark's integration tests: one binary (fast to link on a 2-core CI).

mod am;
mod cli;
mod decode;
mod nn;
mod features;
mod util;
