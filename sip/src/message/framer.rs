//! Cutting a TCP/TLS byte stream into messages (RFC 3261 §18.3) and spotting RFC 5626
//! keep-alives, Sans-IO: the transport pushes whatever it read and pulls whole messages.
//!
//! The buffer lives in the framer, so a read that is cancelled between `push` and
//! `next_message` loses nothing (the mini-redis `Connection` pattern).

use std::collections::VecDeque;

use super::error::FramingError;
use super::syntax::parse_digits;

/// Limits for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerConfig {
    /// Largest start line + headers, including the empty line.
    pub max_header_bytes: usize,
    /// Largest Content-Length accepted.
    pub max_body_bytes: usize,
}

impl Default for FramerConfig {
    fn default() -> Self {
        FramerConfig {
            max_header_bytes: 64 * 1024,
            max_body_bytes: 64 * 1024,
        }
    }
}

/// A keep-alive seen between messages (RFC 5626 §4.4.1, §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// A double CRLF: a server answers it with a single CRLF.
    Ping,
    /// A single CRLF: the answer to our ping.
    Pong,
}

/// Splits a byte stream into SIP messages by Content-Length.
///
/// After every [`push`](Self::push), call [`next_message`](Self::next_message) until it
/// returns `None`, and [`poll_keepalive`](Self::poll_keepalive) likewise. Every message is
/// handed out as the exact bytes to give to [`parse`](super::parse). After an error the
/// framer stays stopped: close the connection (an error reply may be sent first).
#[derive(Debug, Clone, Default)]
pub struct StreamFramer {
    config: FramerConfig,
    buf: Vec<u8>,
    /// How much of `buf` has been searched for the end of headers without finding it.
    scanned: usize,
    /// Total length of the message at the front of `buf`, once its headers are complete.
    frame_len: Option<usize>,
    /// The two bytes at the front are a CRLF already reported as a pong.
    reported_pong: bool,
    keepalives: VecDeque<KeepAlive>,
    failed: bool,
}

impl StreamFramer {
    /// A framer with the given limits.
    pub fn new(config: FramerConfig) -> Self {
        StreamFramer {
            config,
            ..Default::default()
        }
    }

    /// Appends bytes read from the stream. Ignored after an error.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes buffered but not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next keep-alive seen, in order.
    pub fn poll_keepalive(&mut self) -> Option<KeepAlive> {
        self.keepalives.pop_front()
    }

    /// The next complete message, `None` if more bytes are needed, or an error once.
    pub fn next_message(&mut self) -> Option<Result<Vec<u8>, FramingError>> {
        if self.failed {
            return None;
        }
        if self.frame_len.is_none() {
            if !self.skip_keepalives() {
                return None;
            }
            match self.find_headers_end() {
                Ok(Some(len)) => self.frame_len = Some(len),
                Ok(None) => return None,
                Err(e) => return Some(Err(self.fail(e))),
            }
        }
        let len = self.frame_len?;
        if self.buf.len() < len {
            return None;
        }
        let rest = self.buf.split_off(len);
        let frame = std::mem::replace(&mut self.buf, rest);
        self.frame_len = None;
        self.scanned = 0;
        Some(Ok(frame))
    }

    fn fail(&mut self, e: FramingError) -> FramingError {
        self.failed = true;
        self.buf = Vec::new();
        e
    }

    /// Consumes CRLFs before a start line (RFC 3261 §7.5). Returns false if only (part of) a
    /// keep-alive is buffered.
    fn skip_keepalives(&mut self) -> bool {
        loop {
            let b = &self.buf;
            if b.starts_with(b"\r\n\r\n") {
                self.keepalives.push_back(KeepAlive::Ping);
                self.buf.drain(..4);
                self.reported_pong = false;
            } else if b.len() < 4 && b"\r\n\r\n".starts_with(b) {
                // "", "\r", "\r\n" or "\r\n\r": wait, but report a lone CRLF as a pong now so a
                // client does not wait for bytes that may never come.
                if b.len() >= 2 && !self.reported_pong {
                    self.keepalives.push_back(KeepAlive::Pong);
                    self.reported_pong = true;
                }
                return false;
            } else if b.starts_with(b"\r\n") {
                if !self.reported_pong {
                    self.keepalives.push_back(KeepAlive::Pong);
                }
                self.buf.drain(..2);
                self.reported_pong = false;
            } else {
                self.reported_pong = false;
                return true;
            }
        }
    }

    /// Finds the end of the headers and the Content-Length; returns the frame length.
    fn find_headers_end(&mut self) -> Result<Option<usize>, FramingError> {
        let from = self.scanned.saturating_sub(3);
        let Some(pos) = self.buf[from..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + from)
        else {
            self.scanned = self.buf.len();
            if self.buf.len() > self.config.max_header_bytes {
                return Err(FramingError::HeadersTooLarge {
                    limit: self.config.max_header_bytes,
                });
            }
            return Ok(None);
        };
        let head_len = pos + 4;
        if head_len > self.config.max_header_bytes {
            return Err(FramingError::HeadersTooLarge {
                limit: self.config.max_header_bytes,
            });
        }
        let length = content_length(&self.buf[..pos])?.ok_or(FramingError::MissingContentLength)?;
        if length > self.config.max_body_bytes {
            return Err(FramingError::BodyTooLarge {
                length,
                limit: self.config.max_body_bytes,
            });
        }
        Ok(Some(head_len + length))
    }
}

/// The Content-Length (or `l`) of a header block, folding included. Two lines that disagree
/// are an error; two that agree are left to the parser to reject.
fn content_length(head: &[u8]) -> Result<Option<usize>, FramingError> {
    let mut found: Option<usize> = None;
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .skip(1)
        .peekable();
    while let Some(line) = lines.next() {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(&line[..colon]);
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let mut value = trim(&line[colon + 1..]).to_vec();
        while let Some(next) = lines.peek() {
            if !next.starts_with(b" ") && !next.starts_with(b"\t") {
                break;
            }
            value.extend_from_slice(trim(next));
            lines.next();
        }
        let n = std::str::from_utf8(&value)
            .ok()
            .and_then(parse_digits)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(FramingError::InvalidContentLength)?;
        if found.is_some_and(|f| f != n) {
            return Err(FramingError::InvalidContentLength);
        }
        found = Some(n);
    }
    Ok(found)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nTo: <sip:b@x>\r\nFrom: <sip:a@x>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nl: 5\r\n\r\nhello";

    fn drain(f: &mut StreamFramer) -> Vec<Result<Vec<u8>, FramingError>> {
        std::iter::from_fn(|| f.next_message()).collect()
    }

    #[test]
    fn byte_by_byte() {
        let mut f = StreamFramer::default();
        let mut out = Vec::new();
        for b in MSG.iter().chain(MSG) {
            f.push(&[*b]);
            out.extend(drain(&mut f));
        }
        assert_eq!(out, vec![Ok(MSG.to_vec()), Ok(MSG.to_vec())]);
        assert_eq!(f.buffered(), 0);
        assert!(super::super::parse(MSG).is_ok());
    }

    #[test]
    fn pipelined_with_keepalives() {
        let mut f = StreamFramer::default();
        let mut input = b"\r\n\r\n".to_vec();
        input.extend_from_slice(MSG);
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(MSG);
        input.extend_from_slice(&MSG[..10]);
        f.push(&input);
        assert_eq!(drain(&mut f), vec![Ok(MSG.to_vec()), Ok(MSG.to_vec())]);
        assert_eq!(f.poll_keepalive(), Some(KeepAlive::Ping));
        assert_eq!(f.poll_keepalive(), Some(KeepAlive::Pong));
        assert_eq!(f.poll_keepalive(), None);
        f.push(&MSG[10..]);
        assert_eq!(drain(&mut f), vec![Ok(MSG.to_vec())]);
    }

    #[test]
    fn split_ping() {
        let mut f = StreamFramer::default();
        f.push(b"\r\n");
        assert_eq!(f.next_message(), None);
        assert_eq!(f.poll_keepalive(), Some(KeepAlive::Pong));
        assert_eq!(f.next_message(), None);
        assert_eq!(f.poll_keepalive(), None);
        f.push(b"\r\n");
        assert_eq!(f.next_message(), None);
        assert_eq!(f.poll_keepalive(), Some(KeepAlive::Ping));
        f.push(b"\r\n");
        f.push(MSG);
        assert_eq!(drain(&mut f), vec![Ok(MSG.to_vec())]);
        assert_eq!(f.poll_keepalive(), Some(KeepAlive::Pong));
        assert_eq!(f.poll_keepalive(), None);
    }

    #[test]
    fn missing_and_bad_content_length() {
        let no_cl = String::from_utf8(MSG.to_vec())
            .unwrap()
            .replace("l: 5\r\n", "");
        let mut f = StreamFramer::default();
        f.push(no_cl.as_bytes());
        assert_eq!(
            f.next_message(),
            Some(Err(FramingError::MissingContentLength))
        );
        assert_eq!(f.next_message(), None);
        f.push(MSG);
        assert_eq!(f.next_message(), None);

        for (bad, err) in [
            ("l: -5", FramingError::InvalidContentLength),
            (
                "l: 5\r\nContent-Length: 6",
                FramingError::InvalidContentLength,
            ),
        ] {
            let text = String::from_utf8(MSG.to_vec())
                .unwrap()
                .replace("l: 5", bad);
            let mut f = StreamFramer::default();
            f.push(text.as_bytes());
            assert_eq!(f.next_message(), Some(Err(err)));
        }
        // Folded Content-Length still frames.
        let folded = String::from_utf8(MSG.to_vec())
            .unwrap()
            .replace("l: 5", "Content-Length:\r\n 5");
        let mut f = StreamFramer::default();
        f.push(folded.as_bytes());
        assert_eq!(drain(&mut f), vec![Ok(folded.into_bytes())]);
    }

    #[test]
    fn oversize() {
        let cfg = FramerConfig {
            max_header_bytes: 100,
            max_body_bytes: 4,
        };
        let mut f = StreamFramer::new(cfg);
        f.push(MSG);
        assert_eq!(
            f.next_message(),
            Some(Err(FramingError::HeadersTooLarge { limit: 100 }))
        );
        let mut f = StreamFramer::new(FramerConfig {
            max_header_bytes: 1000,
            max_body_bytes: 4,
        });
        f.push(MSG);
        assert_eq!(
            f.next_message(),
            Some(Err(FramingError::BodyTooLarge {
                length: 5,
                limit: 4
            }))
        );
        // Headers that never end are cut off at the limit even when fed slowly.
        let mut f = StreamFramer::new(cfg);
        let mut err = None;
        for _ in 0..200 {
            f.push(b"X");
            if let Some(r) = f.next_message() {
                err = Some(r);
                break;
            }
        }
        assert_eq!(err, Some(Err(FramingError::HeadersTooLarge { limit: 100 })));
        assert_eq!(f.buffered(), 0);
    }
}
