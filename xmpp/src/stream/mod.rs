//! The XML stream: reading (Sans-IO), writing, and stream errors (RFC 6120 §4).

pub mod error;
pub mod reader;
pub mod writer;

pub use error::StreamErrorCondition;
pub use reader::{
    parse_stanza, ReadError, ReaderLimits, StreamEvent, StreamHeader, StreamReader, STREAM_NS,
};
