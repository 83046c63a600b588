//! The library's one error type.
//!
//! Display messages are short and lowercase; they name the file, the line or the
//! tensor, and say what was expected and what was found. The underlying cause (an
//! I/O error, a parse error of a dependency) is kept in `source()`.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in hark's library code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- generic -----
    /// An I/O error on a named file.
    #[error("{path}: {op}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// What was being done ("reading", "writing", "creating", ...).
        op: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A text file that does not parse, with its location.
    #[error("{path}:{line}: {msg}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// One-based line number (0 when not line-oriented).
        line: usize,
        /// What was wrong.
        msg: String,
    },
    /// Dimensions of two operands disagree.
    #[error("shape mismatch in {op}: expected {expected}, got {got}")]
    Dim {
        /// The operation that checked.
        op: &'static str,
        /// What was expected.
        expected: String,
        /// What was found.
        got: String,
    },
    /// A NaN or infinity where finite numbers are required.
    #[error("non-finite value in {op}")]
    NonFinite {
        /// Where the value was found.
        op: String,
    },
    /// A configuration value out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Invalid argument given to a library function.
    #[error("invalid input: {0}")]
    Invalid(String),

    // ----- audio -----
    /// An audio file that cannot be decoded.
    #[error("{path}: {msg}")]
    Audio {
        /// The file.
        path: PathBuf,
        /// What was wrong, in words.
        msg: String,
    },
    /// Audio at an unexpected sample rate.
    #[error("sample rate mismatch: expected {expected} Hz, got {got} Hz")]
    SampleRate {
        /// Expected rate.
        expected: u32,
        /// Rate found.
        got: u32,
    },

    // ----- models -----
    /// A model bundle written by a newer (or unknown) format version.
    #[error(
        "{path}: model format version {got} is not supported (this hark reads version {expected}); upgrade hark or re-export the model"
    )]
    ModelVersion {
        /// The config file.
        path: PathBuf,
        /// Version this build reads.
        expected: u32,
        /// Version found.
        got: u32,
    },
    /// A model bundle that is incomplete or inconsistent.
    #[error("{path}: {msg}")]
    Model {
        /// The file within the bundle.
        path: PathBuf,
        /// What was wrong (names the tensor when relevant).
        msg: String,
    },

    // ----- decoding -----
    /// The search pruned away every hypothesis.
    #[error("decoding failed: every hypothesis was pruned (try a wider beam)")]
    EmptyBeam,

    // ----- corpus -----
    /// A text-to-speech engine that failed or is missing.
    #[error("{engine}: {msg}")]
    Engine {
        /// The engine (and voice) that failed.
        engine: String,
        /// What went wrong, including the engine's own message where there is one.
        msg: String,
    },

    // ----- search index -----
    /// A search index file that is corrupt or of another version.
    #[error("{path}: {msg}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// What was wrong.
        msg: String,
    },
}

impl Error {
    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            op,
            source,
        }
    }

    /// A parse error at `path:line`.
    pub fn parse(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            line,
            msg: msg.into(),
        }
    }

    /// A dimension mismatch.
    pub fn dim(op: &'static str, expected: impl ToString, got: impl ToString) -> Self {
        Error::Dim {
            op,
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }
}
