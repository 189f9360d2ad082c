//! Serialisation of what a server writes on a c2s stream outside of stanzas.

use crate::element::escape_into;
use crate::stream::error::{StreamErrorCondition, STREAM_ERROR_NS};

/// Content namespace of client streams.
pub const CLIENT_NS: &str = "jabber:client";

/// The server's stream header (RFC 6120 §4.7): `from` is our domain, `to` echoes the client.
pub fn stream_header(from: &str, to: Option<&str>, id: &str, lang: &str) -> String {
    let mut out = String::with_capacity(200);
    out.push_str("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='");
    escape_into(&mut out, from);
    if let Some(to) = to {
        out.push_str("' to='");
        escape_into(&mut out, to);
    }
    out.push_str("' id='");
    escape_into(&mut out, id);
    out.push_str("' xml:lang='");
    escape_into(&mut out, lang);
    out.push_str("'>");
    out
}

/// A stream error followed by the closing tag (RFC 6120 §4.9.1.1); text is for humans.
pub fn stream_error(condition: StreamErrorCondition, text: Option<&str>) -> String {
    let mut out = String::with_capacity(160);
    out.push_str("<stream:error><");
    out.push_str(condition.as_str());
    out.push_str(" xmlns='");
    out.push_str(STREAM_ERROR_NS);
    out.push_str("'/>");
    if let Some(text) = text {
        out.push_str("<text xmlns='");
        out.push_str(STREAM_ERROR_NS);
        out.push_str("'>");
        escape_into(&mut out, text);
        out.push_str("</text>");
    }
    out.push_str("</stream:error></stream:stream>");
    out
}

/// The closing tag of our stream.
pub const STREAM_CLOSE: &str = "</stream:stream>";
