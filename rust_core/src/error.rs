//! The crate's one error type. The Python layer converts it to a typed exception in one place
//! (`python/errors.rs`); everything else just returns `Result<T>`.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a message, argument or query was refused. Every variant that concerns a message names the
/// field and the byte offset in that message, so a user can find the bad byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes are not well-formed JSON.
    #[error("malformed JSON at byte {offset}: expected {expected}")]
    MalformedJson { offset: usize, expected: &'static str },

    /// A field the message kind requires is absent.
    #[error("missing field '{field}' in the object ending at byte {offset}")]
    MissingField { field: &'static str, offset: usize },

    /// A field is present but its value is unusable (not a number, negative, too precise, ...).
    #[error("invalid value for '{field}' at byte {offset}: {reason}")]
    InvalidValue { field: String, offset: usize, reason: String },

    /// The message is for another instrument than the book or aggregator it was given to.
    #[error("wrong symbol at byte {offset}: expected '{expected}', got '{found}'")]
    WrongSymbol { expected: String, found: String, offset: usize },

    /// The message comes from another venue (or another market of the same exchange).
    #[error("message of another venue at byte {offset}: this book is {venue}, but {detail}")]
    WrongVenue { venue: &'static str, detail: String, offset: usize },

    /// A top-of-book query on a book that is not synced; `reason` says why it is not.
    #[error("book is not synced: {reason}")]
    NotSynced { reason: String },

    /// A trade older than a bar that has already closed, under the `error` late-trade policy.
    #[error("late trade at {ts_ms} ms: the {timeframe} bar it belongs to closed at {closed_until_ms} ms")]
    LateTrade { ts_ms: i64, timeframe: String, closed_until_ms: i64 },

    /// A candle that cannot be scored: NaN or infinite, negative, or high/low not enclosing
    /// open and close. `index` is the bar's position in the series.
    #[error("invalid bar {index}: {reason}")]
    InvalidBar { index: u64, reason: String },

    /// A bad argument from the caller (unknown venue, bad timeframe, mismatched array lengths, ...).
    #[error("invalid argument '{name}': {reason}")]
    InvalidArgument { name: &'static str, reason: String },
}

impl Error {
    pub(crate) fn invalid(field: impl fmt::Display, offset: usize, reason: impl Into<String>) -> Self {
        Self::InvalidValue { field: field.to_string(), offset, reason: reason.into() }
    }

    pub(crate) fn argument(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument { name, reason: reason.into() }
    }

    /// The message field the error concerns, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::MissingField { field, .. } => Some(field),
            Self::InvalidValue { field, .. } => Some(field),
            Self::WrongSymbol { .. } => Some("symbol"),
            _ => None,
        }
    }

    /// The byte offset in the message the error concerns, if any.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Self::MalformedJson { offset, .. }
            | Self::MissingField { offset, .. }
            | Self::InvalidValue { offset, .. }
            | Self::WrongSymbol { offset, .. }
            | Self::WrongVenue { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}
