//! Errors of the message layer: parsing, stream framing, and building or editing messages.

use std::borrow::Cow;

use super::name::HeaderName;

/// What a message that failed to parse looked like, which decides whether it may be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// It had a request line: answer with [`ParseError::reply_status`] if the transport can
    /// (RFC 3261 §8.2.1 ff., §16.3).
    Request,
    /// It was a response: drop it silently (RFC 3261 §18.1.2).
    Response,
    /// Not recognisable as SIP at all: drop it.
    Unknown,
}

/// A message that is not valid SIP (RFC 3261 §7, §8.2, §20), with a reason phrase that can go
/// straight into a `400 Bad Request` (or `505 Version Not Supported`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    reason: Cow<'static, str>,
    origin: Origin,
    status: u16,
}

impl ParseError {
    pub(crate) fn new(origin: Origin, reason: impl Into<Cow<'static, str>>) -> ParseError {
        ParseError {
            reason: reason.into(),
            origin,
            status: 400,
        }
    }

    pub(crate) fn with_status(mut self, status: u16) -> ParseError {
        self.status = status;
        self
    }

    /// Short reason phrase, e.g. `Missing Call-ID`, `Content-Length mismatch`.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Whether the message was a request, a response, or neither.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// True when the message was a request, so an error response may be sent.
    pub fn is_request(&self) -> bool {
        self.origin == Origin::Request
    }

    /// The status to answer with (400, or 505 for an unsupported SIP version), or `None`
    /// when the message must be dropped silently (responses and unrecognisable input).
    pub fn reply_status(&self) -> Option<u16> {
        self.is_request().then_some(self.status)
    }
}

/// A byte stream (TCP, TLS) that cannot be split into messages. The connection should be
/// closed after reporting it: framing cannot resynchronise (RFC 3261 §18.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// Stream messages must carry Content-Length (RFC 3261 §18.3, §20.14).
    #[error("Missing Content-Length")]
    MissingContentLength,
    /// Content-Length is not a number, or two differ.
    #[error("Malformed Content-Length")]
    InvalidContentLength,
    /// No end of headers within the configured limit.
    #[error("Headers too large (limit {limit} bytes)")]
    HeadersTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The announced body exceeds the configured limit.
    #[error("Body too large ({length} bytes, limit {limit})")]
    BodyTooLarge {
        /// The announced Content-Length.
        length: usize,
        /// The configured limit.
        limit: usize,
    },
}

impl FramingError {
    /// A reason phrase for a final `400`/`413`/`513` before closing; no status is implied.
    pub fn reason(&self) -> &'static str {
        match self {
            FramingError::MissingContentLength => "Missing Content-Length",
            FramingError::InvalidContentLength => "Malformed Content-Length",
            FramingError::HeadersTooLarge { .. } => "Message Too Large",
            FramingError::BodyTooLarge { .. } => "Message Too Large",
        }
    }
}

/// Building or editing a message would make it invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// Not a header name (must be a token).
    #[error("invalid header name {0:?}")]
    InvalidName(String),
    /// The value does not parse as this header, or holds CR/LF.
    #[error("invalid {0} value")]
    InvalidValue(HeaderName),
    /// Via, From, To, Call-ID and CSeq cannot be removed.
    #[error("{0} is required")]
    Required(HeaderName),
    /// The header may appear only once.
    #[error("{0} may appear only once")]
    Duplicate(HeaderName),
    /// Content-Length always follows the body; use `set_body`.
    #[error("Content-Length follows the body")]
    ContentLength,
    /// Anything else: the reason, as for a [`ParseError`].
    #[error("{0}")]
    Invalid(Cow<'static, str>),
}
