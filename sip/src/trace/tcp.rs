//! TCP stream reassembly for traces: segments in sequence order (retransmissions dropped,
//! overlaps trimmed, a bounded number of early segments held), cut into SIP messages by
//! the same framer the transport uses (RFC 3261 §18.3). Memory is bounded per connection
//! and in the number of connections.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use super::{looks_like_sip, TraceEvent, TraceMessage, TraceProblem, TraceTransport};
use crate::message::{FramerConfig, StreamFramer};

/// Connections followed at once; more are reported and skipped.
const MAX_FLOWS: usize = 4096;
/// Bytes of early (out-of-order) segments held per connection before giving up on a gap.
const MAX_AHEAD_BYTES: usize = 256 * 1024;

#[derive(Debug, Default)]
struct Flow {
    /// The sequence number of the next byte expected.
    next: Option<u32>,
    framer: StreamFramer,
    /// Whether the stream is SIP: unknown until its first line.
    sip: Option<bool>,
    /// The stream's first bytes while its first line is incomplete.
    probe: Vec<u8>,
    ahead: BTreeMap<u32, Vec<u8>>,
    ahead_bytes: usize,
}

/// Where the segment being read came from.
pub(crate) struct Segment<'a> {
    pub packet: u64,
    pub time: Duration,
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub sequence: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
}

#[derive(Debug, Default)]
pub(crate) struct Reassembler {
    flows: HashMap<(SocketAddr, SocketAddr), Flow>,
}

impl Reassembler {
    pub(crate) fn segment(&mut self, s: Segment<'_>, out: &mut VecDeque<TraceEvent>) {
        let key = (s.source, s.destination);
        if s.rst {
            self.flows.remove(&key);
            return;
        }
        if !self.flows.contains_key(&key) {
            if self.flows.len() >= MAX_FLOWS {
                out.push_back(problem(
                    &s,
                    "too many TCP connections followed at once; skipped",
                ));
                return;
            }
            self.flows.insert(key, Flow::default());
        }
        let flow = self.flows.get_mut(&key).expect("inserted above");
        if s.syn {
            *flow = Flow {
                next: Some(s.sequence.wrapping_add(1)),
                ..Flow::default()
            };
        }
        if !s.payload.is_empty() {
            // The SYN takes one sequence number; data on it (TCP Fast Open) follows it.
            let sequence = if s.syn {
                s.sequence.wrapping_add(1)
            } else {
                s.sequence
            };
            let s = Segment { sequence, ..s };
            let next = *flow.next.get_or_insert(s.sequence);
            let offset = s.sequence.wrapping_sub(next) as i32;
            if offset > 0 {
                if flow.ahead_bytes + s.payload.len() > MAX_AHEAD_BYTES {
                    out.push_back(problem(
                        &s,
                        "bytes missing from the TCP stream (not captured?); reading resumes here",
                    ));
                    *flow = Flow {
                        next: Some(s.sequence),
                        ..Flow::default()
                    };
                    flow.deliver(&s, s.payload, out);
                } else {
                    flow.ahead_bytes += s.payload.len();
                    // A retransmitted early segment replaces the one held.
                    if let Some(old) = flow.ahead.insert(s.sequence, s.payload.to_vec()) {
                        flow.ahead_bytes -= old.len();
                    }
                }
            } else {
                let skip = offset.unsigned_abs() as usize;
                if skip < s.payload.len() {
                    flow.deliver(&s, &s.payload[skip..], out);
                }
                flow.drain_ahead(&s, out);
            }
        }
        if s.fin {
            self.flows.remove(&key);
        }
    }
}

impl Flow {
    /// Bytes at `next`: into the framer, whole messages out.
    fn deliver(&mut self, s: &Segment<'_>, bytes: &[u8], out: &mut VecDeque<TraceEvent>) {
        self.next = Some(
            self.next
                .unwrap_or(s.sequence)
                .wrapping_add(bytes.len() as u32),
        );
        let probed;
        let bytes = if self.sip.is_none() {
            // Whether the stream is SIP shows in its first line, which may come in pieces.
            self.probe.extend_from_slice(bytes);
            let start = self
                .probe
                .iter()
                .position(|b| !matches!(b, b'\r' | b'\n'))
                .unwrap_or(self.probe.len());
            let first_line_done = self.probe[start..].contains(&b'\n');
            // A start line is printable ASCII: a binary stream (TLS, RTP over TCP) shows
            // itself in its first byte.
            let binary = self.probe[start..]
                .iter()
                .any(|&b| (b < 0x20 && !matches!(b, b'\r' | b'\n' | b'\t')) || b >= 0x7f);
            if !first_line_done && !binary && self.probe.len() - start < 1024 {
                return;
            }
            let sip = looks_like_sip(&self.probe[start..]);
            self.sip = Some(sip);
            if !sip {
                out.push_back(problem(s, "a TCP stream that is not SIP; skipped"));
                self.probe = Vec::new();
                return;
            }
            probed = std::mem::take(&mut self.probe);
            &probed[..]
        } else {
            bytes
        };
        if self.sip != Some(true) {
            return;
        }
        self.framer.push(bytes);
        while self.framer.poll_keepalive().is_some() {}
        while let Some(frame) = self.framer.next_message() {
            match frame {
                Ok(bytes) => out.push_back(TraceEvent::Message(TraceMessage {
                    packet: s.packet,
                    time: s.time,
                    transport: TraceTransport::Tcp,
                    source: s.source,
                    destination: s.destination,
                    bytes,
                })),
                Err(e) => {
                    // A stream whose framing is lost cannot be resynchronised (§18.3).
                    out.push_back(problem(
                        s,
                        &format!(
                            "the TCP stream lost its SIP framing ({e}); the rest of it is skipped"
                        ),
                    ));
                    self.sip = Some(false);
                    self.framer = StreamFramer::new(FramerConfig::default());
                    return;
                }
            }
        }
        while self.framer.poll_keepalive().is_some() {}
    }

    /// Early segments that now follow on.
    fn drain_ahead(&mut self, s: &Segment<'_>, out: &mut VecDeque<TraceEvent>) {
        while let Some(next) = self.next {
            // The held segment nearest in sequence order (numbers wrap at 2^32).
            let Some(sequence) = self
                .ahead
                .keys()
                .copied()
                .min_by_key(|seq| seq.wrapping_sub(next) as i32)
            else {
                return;
            };
            let offset = sequence.wrapping_sub(next) as i32;
            if offset > 0 {
                return;
            }
            let bytes = self.ahead.remove(&sequence).expect("seen above");
            self.ahead_bytes -= bytes.len();
            let skip = offset.unsigned_abs() as usize;
            if skip < bytes.len() {
                self.deliver(s, &bytes[skip..], out);
            }
        }
    }
}

fn problem(s: &Segment<'_>, what: &str) -> TraceEvent {
    TraceEvent::Problem(TraceProblem {
        packet: s.packet,
        what: format!("{} -> {}: {what}", s.source, s.destination),
    })
}
