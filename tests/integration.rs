//! hark's integration tests: one binary (fast to link on a 2-core CI).

mod cli;
mod corpus;
mod util;
