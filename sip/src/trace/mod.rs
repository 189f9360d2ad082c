//! SIP traces, for `tandem replay`: the SIP messages of a capture (pcap or pcapng, SIP over
//! UDP or over TCP with stream reassembly, on any port, SIP found by content) or of a plain
//! text trace that people write by hand ([`text`]), in capture order with their time, the
//! addresses they went between and the number of the packet (or text block) they came from.
//!
//! Sans-IO like the rest of the crate: decoders take bytes as they are read and hand out
//! [`TraceEvent`]s, so a trace of any length is read in bounded memory. What cannot be read
//! is a [`TraceProblem`] naming its packet, and reading goes on after it when it can.

mod capture;
mod link;
mod tcp;
pub mod text;

use std::net::SocketAddr;
use std::time::Duration;

pub use capture::{CaptureDecoder, CaptureFormat};

/// The transport a traced message went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceTransport {
    Udp,
    Tcp,
}

impl TraceTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceTransport::Udp => "udp",
            TraceTransport::Tcp => "tcp",
        }
    }

    pub fn parse(s: &str) -> Option<TraceTransport> {
        match s.to_ascii_lowercase().as_str() {
            "udp" => Some(TraceTransport::Udp),
            "tcp" => Some(TraceTransport::Tcp),
            _ => None,
        }
    }
}

/// One SIP message of a trace, as it went over the wire (not yet parsed: a malformed
/// message is part of what a trace can hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceMessage {
    /// The packet (1-based, as Wireshark counts) or text block that completed it.
    pub packet: u64,
    /// Capture time: since the Unix epoch for captures, as written for text traces.
    pub time: Duration,
    pub transport: TraceTransport,
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub bytes: Vec<u8>,
}

/// Something in a trace that could not be read, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("packet {packet}: {what}")]
pub struct TraceProblem {
    pub packet: u64,
    pub what: String,
}

/// What a decoder hands out, in trace order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEvent {
    Message(TraceMessage),
    Problem(TraceProblem),
}

/// The start of a SIP message: a status line (`SIP/2.0 200 ...`) or a request line
/// ending in `SIP/2.0` (RFC 3261 §7.1). How SIP is found by content, on any port.
pub fn looks_like_sip(payload: &[u8]) -> bool {
    let line_end = payload
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(payload.len().min(1024));
    let line = &payload[..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.starts_with(b"SIP/2.0 ") {
        return true;
    }
    let method_end = line.iter().position(|&b| b == b' ').unwrap_or(0);
    method_end > 0
        && line[..method_end].iter().all(|b| b.is_ascii_alphabetic())
        && line.len() > method_end + 9
        && line.ends_with(b" SIP/2.0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_is_found_by_its_first_line() {
        assert!(looks_like_sip(b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n"));
        assert!(looks_like_sip(b"SIP/2.0 180 Ringing\r\n"));
        assert!(looks_like_sip(b"OPTIONS sip:b SIP/2.0\n"));
        assert!(!looks_like_sip(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_sip(b"\r\n\r\n"));
        assert!(!looks_like_sip(b"\x80\x00rtp"));
        assert!(!looks_like_sip(b""));
        assert!(!looks_like_sip(b" SIP/2.0\r\n"));
    }
}
