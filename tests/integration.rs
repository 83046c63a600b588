//! hark's integration tests: one binary (fast to link on a 2-core CI).

mod am;
mod cli;
mod corpus;
mod decode;
mod features;
mod nn;
mod pipeline;
mod qbe;
mod reliability;
mod util;
