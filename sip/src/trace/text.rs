//! The plain-text trace format: what people write by hand, and what `tandem replay
//! --export-text` writes from a capture.
//!
//! ```text
//! # Lines starting with '#' before a block are comments.
//! --- #1 0.000 udp 192.0.2.10:5060 > 192.0.2.20:5060
//! INVITE sip:alice@example.test SIP/2.0
//! Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds
//! ...
//! Content-Type: application/sdp
//! Content-Length: 129
//!
//! v=0
//! ...
//!
//! --- #2 0.012 udp 192.0.2.20:5060 > 192.0.2.10:5060
//! SIP/2.0 100 Trying
//! ...
//! ```
//!
//! A block starts with `---`, then an optional `#N` (the packet number it came from; the
//! block's position otherwise), the time in seconds (decimal; since the epoch in exports,
//! from any origin by hand: only differences matter to a replay), `udp` or `tcp`, and
//! `source > destination`. The message follows, up to the next `---` line; lines may end
//! in LF or CRLF and are sent with CRLF. Empty lines at the end of a block are dropped, and
//! `Content-Length` is set to the body as written (added when a body has none), so a
//! hand-edited SDP needs no counting. A body line cannot start with `--- `.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use super::{TraceEvent, TraceMessage, TraceProblem, TraceTransport};

/// Writes one message as a block of the text format.
pub fn write_block(out: &mut String, message: &TraceMessage) {
    let _ = writeln!(
        out,
        "--- #{} {}.{:06} {} {} > {}",
        message.packet,
        message.time.as_secs(),
        message.time.subsec_micros(),
        message.transport.as_str(),
        message.source,
        message.destination
    );
    let text = String::from_utf8_lossy(&message.bytes);
    for line in text.split_inclusive('\n') {
        out.push_str(line.trim_end_matches(['\r', '\n']));
        out.push('\n');
    }
    out.push('\n');
}

/// Reads the text format as it arrives, line by line.
#[derive(Debug, Default)]
pub struct TextDecoder {
    partial: String,
    block: Option<Block>,
    blocks: u64,
    /// The current block's header was bad: its lines are skipped.
    skipping: bool,
    out: VecDeque<TraceEvent>,
}

#[derive(Debug)]
struct Block {
    packet: u64,
    time: Duration,
    transport: TraceTransport,
    source: SocketAddr,
    destination: SocketAddr,
    lines: Vec<String>,
}

impl TextDecoder {
    pub fn new() -> TextDecoder {
        TextDecoder::default()
    }

    pub fn poll(&mut self) -> Option<TraceEvent> {
        self.out.pop_front()
    }

    /// More of the text.
    pub fn push(&mut self, text: &str) {
        self.partial.push_str(text);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            self.line(line.trim_end_matches(['\r', '\n']));
        }
    }

    /// The end of the text.
    pub fn finish(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(line.trim_end_matches('\r'));
        }
        self.close_block();
    }

    fn line(&mut self, line: &str) {
        if let Some(header) = line.strip_prefix("--- ") {
            self.close_block();
            self.blocks += 1;
            match parse_header(header, self.blocks) {
                Ok(block) => {
                    self.block = Some(block);
                    self.skipping = false;
                }
                Err(what) => {
                    self.out.push_back(TraceEvent::Problem(TraceProblem {
                        packet: self.blocks,
                        what: format!("block header {line:?}: {what}; block skipped"),
                    }));
                    self.skipping = true;
                }
            }
            return;
        }
        match &mut self.block {
            Some(block) => block.lines.push(line.to_owned()),
            None if self.skipping || line.trim().is_empty() || line.starts_with('#') => {}
            None => {
                self.out.push_back(TraceEvent::Problem(TraceProblem {
                    packet: self.blocks,
                    what: format!("text outside any block: {line:?}"),
                }));
                self.skipping = true;
            }
        }
    }

    fn close_block(&mut self) {
        let Some(mut block) = self.block.take() else {
            return;
        };
        while block.lines.last().is_some_and(|l| l.is_empty()) {
            block.lines.pop();
        }
        if block.lines.is_empty() {
            self.out.push_back(TraceEvent::Problem(TraceProblem {
                packet: block.packet,
                what: "an empty block".into(),
            }));
            return;
        }
        self.out.push_back(TraceEvent::Message(TraceMessage {
            packet: block.packet,
            time: block.time,
            transport: block.transport,
            source: block.source,
            destination: block.destination,
            bytes: assemble(&block.lines).into_bytes(),
        }));
    }
}

fn parse_header(header: &str, position: u64) -> Result<Block, String> {
    let mut words = header.split_whitespace().peekable();
    let packet = match words.peek() {
        Some(w) if w.starts_with('#') => {
            let n = words.next().expect("peeked");
            n[1..]
                .parse()
                .map_err(|_| format!("{n:?} is not a packet number"))?
        }
        _ => position,
    };
    let time = words.next().ok_or("no time")?;
    let time = parse_seconds(time).ok_or_else(|| format!("{time:?} is not a time in seconds"))?;
    let transport = words.next().ok_or("no transport")?;
    let transport =
        TraceTransport::parse(transport).ok_or_else(|| format!("{transport:?}: udp or tcp"))?;
    let source = words.next().ok_or("no source address")?;
    let source: SocketAddr = source
        .parse()
        .map_err(|_| format!("{source:?} is not an address:port"))?;
    if words.next() != Some(">") {
        return Err("expected `source > destination`".into());
    }
    let destination = words.next().ok_or("no destination address")?;
    let destination: SocketAddr = destination
        .parse()
        .map_err(|_| format!("{destination:?} is not an address:port"))?;
    if let Some(extra) = words.next() {
        return Err(format!("unexpected {extra:?} after the destination"));
    }
    Ok(Block {
        packet,
        time,
        transport,
        source,
        destination,
        lines: Vec::new(),
    })
}

/// `12`, `12.5`, `0.000250`: non-negative seconds, at most nanosecond digits.
fn parse_seconds(s: &str) -> Option<Duration> {
    let (whole, fraction) = match s.split_once('.') {
        Some((_, "")) => return None,
        Some(parts) => parts,
        None => (s, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = whole.parse().ok()?;
    let nanos: u32 = format!("{fraction:0<9}").parse().ok()?;
    Some(Duration::new(secs, nanos))
}

/// The lines of a block as a SIP message: CRLF line ends, and a Content-Length that
/// matches the body as written.
fn assemble(lines: &[String]) -> String {
    let split = lines.iter().position(|l| l.is_empty());
    let (head, body) = match split {
        Some(at) => (&lines[..at], &lines[at + 1..]),
        None => (lines, &lines[..0]),
    };
    let body: String = body.iter().map(|l| format!("{l}\r\n")).collect();
    let mut message = String::new();
    let mut length_written = false;
    for line in head {
        let name = line.split(':').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
            if !length_written {
                let _ = write!(message, "{name}: {}\r\n", body.len());
                length_written = true;
            }
            continue;
        }
        message.push_str(line);
        message.push_str("\r\n");
    }
    if !length_written && !body.is_empty() {
        let _ = write!(message, "Content-Length: {}\r\n", body.len());
    }
    message.push_str("\r\n");
    message.push_str(&body);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<TraceEvent> {
        let mut d = TextDecoder::new();
        // Fed in awkward pieces: the decoder must not care where reads end.
        for chunk in text.as_bytes().chunks(7) {
            d.push(std::str::from_utf8(chunk).unwrap());
        }
        d.finish();
        std::iter::from_fn(|| d.poll()).collect()
    }

    const TRACE: &str = "# a hand-written trace\n\
        --- 0.5 udp 192.0.2.10:5060 > 192.0.2.20:5060\n\
        INVITE sip:alice@example.test SIP/2.0\n\
        Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\n\
        Content-Length: 999\n\
        \n\
        v=0\n\
        o=- 1 1 IN IP4 192.0.2.10\n\
        \n\
        --- #7 0.512 tcp [2001:db8::1]:5060 > [2001:db8::2]:5080\r\n\
        SIP/2.0 100 Trying\r\n\
        Via: SIP/2.0/TCP x;branch=z9hG4bK1\r\n";

    #[test]
    fn blocks_become_messages_with_crlf_and_a_true_content_length() {
        let events = read(TRACE);
        let [TraceEvent::Message(invite), TraceEvent::Message(trying)] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(invite.packet, 1, "numbered by position");
        assert_eq!(invite.time, Duration::from_millis(500));
        assert_eq!(invite.transport, TraceTransport::Udp);
        let text = std::str::from_utf8(&invite.bytes).unwrap();
        let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\n";
        assert!(
            text.ends_with(&format!("Content-Length: {}\r\n\r\n{body}", body.len())),
            "{text:?}"
        );
        assert!(text.starts_with("INVITE sip:alice@example.test SIP/2.0\r\nVia:"));
        assert_eq!(trying.packet, 7);
        assert_eq!(trying.time, Duration::from_millis(512));
        assert_eq!(trying.source, "[2001:db8::1]:5060".parse().unwrap());
        assert_eq!(
            std::str::from_utf8(&trying.bytes).unwrap(),
            "SIP/2.0 100 Trying\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK1\r\n\r\n"
        );
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let events = read(TRACE);
        let mut text = String::new();
        for e in &events {
            let TraceEvent::Message(m) = e else { panic!() };
            write_block(&mut text, m);
        }
        assert!(text.starts_with("--- #1 0.500000 udp 192.0.2.10:5060 > 192.0.2.20:5060\n"));
        assert_eq!(read(&text), events);
    }

    #[test]
    fn bad_blocks_are_reported_by_number_and_skipped() {
        let text = "stray text\n\
            --- 1.0 udp 192.0.2.1:5060 192.0.2.2:5060\nOPTIONS sip:x SIP/2.0\n\
            --- 2.0 sctp 192.0.2.1:5060 > 192.0.2.2:5060\nOPTIONS sip:x SIP/2.0\n\
            --- -1 udp 192.0.2.1:5060 > 192.0.2.2:5060\nOPTIONS sip:x SIP/2.0\n\
            --- 3.0 udp 192.0.2.1:5060 > 192.0.2.2:5060\n\n\n\
            --- 4.0 udp 192.0.2.1:5060 > 192.0.2.2:5060\nOPTIONS sip:x SIP/2.0";
        let events = read(text);
        let problems: Vec<u64> = events
            .iter()
            .filter_map(|e| match e {
                TraceEvent::Problem(p) => Some(p.packet),
                TraceEvent::Message(_) => None,
            })
            .collect();
        assert_eq!(problems, [0, 1, 2, 3, 4]);
        let TraceEvent::Message(last) = events.last().unwrap() else {
            panic!("{events:?}")
        };
        assert_eq!(last.packet, 5);
        assert_eq!(last.bytes, b"OPTIONS sip:x SIP/2.0\r\n\r\n");
    }

    #[test]
    fn seconds_are_decimal_and_bounded() {
        assert_eq!(parse_seconds("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_seconds("0.000250"), Some(Duration::from_micros(250)));
        assert_eq!(
            parse_seconds("1.123456789"),
            Some(Duration::new(1, 123456789))
        );
        for bad in [
            "",
            ".5",
            "1.",
            "1.1234567891",
            "-1",
            "1e3",
            "99999999999999999999",
        ] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
    }
}
