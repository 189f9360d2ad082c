//! Minimal XMPP stream reader on top of rxml: turns a byte stream into
//! stream-start / top-level-stanza / stream-end frames, each stanza as a small tree.

use std::collections::VecDeque;

use anyhow::{anyhow, bail, Result};
use rxml::{error::EndOrError, Event, Parse, Parser};
use tokio::io::{AsyncRead, AsyncReadExt};

pub const NS_CLIENT: &str = "jabber:client";
pub const NS_STREAM: &str = "http://etherx.jabber.org/streams";
pub const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
pub const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
pub const NS_PING: &str = "urn:xmpp:ping";

#[derive(Debug, Default, Clone)]
pub struct Element {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.name == name && self.ns == ns
    }
    pub fn child(&self, name: &str, ns: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(name, ns))
    }
    /// Name of the first child element (used for error conditions).
    pub fn first_child_name(&self) -> &str {
        self.children.first().map(|c| c.name.as_str()).unwrap_or("")
    }
}

#[derive(Debug)]
pub enum Frame {
    StreamStart(#[allow(dead_code)] Element),
    Stanza(Element),
    StreamEnd,
}

/// Incremental parser for one XML stream (one per stream restart).
pub struct FrameReader {
    parser: Parser,
    stack: Vec<Element>,
    depth: usize,
    leftover: Vec<u8>,
    queue: VecDeque<Frame>,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameReader {
    pub fn new() -> Self {
        FrameReader {
            parser: Parser::new(),
            stack: Vec::new(),
            depth: 0,
            leftover: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    /// Start a new XML document (after STARTTLS or SASL success). Nothing may be pending.
    pub fn restart(&mut self) {
        self.parser = Parser::new();
        self.stack.clear();
        self.depth = 0;
        self.leftover.clear();
        self.queue.clear();
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::XmlDeclaration(..) => {}
            Event::StartElement(_, (ns, name), attrs) => {
                let el = Element {
                    ns: ns.as_str().to_owned(),
                    name: name.as_str().to_owned(),
                    attrs: attrs
                        .into_iter()
                        .map(|((_, k), v)| (k.as_str().to_owned(), v))
                        .collect(),
                    children: Vec::new(),
                    text: String::new(),
                };
                if self.depth == 0 {
                    self.queue.push_back(Frame::StreamStart(el));
                } else {
                    self.stack.push(el);
                }
                self.depth += 1;
            }
            Event::EndElement(_) => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    self.queue.push_back(Frame::StreamEnd);
                } else if let Some(el) = self.stack.pop() {
                    match self.stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => self.queue.push_back(Frame::Stanza(el)),
                    }
                }
            }
            Event::Text(_, text) => {
                if let Some(top) = self.stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
        }
    }

    /// Feed raw bytes; complete frames are queued.
    pub fn feed(&mut self, data: &[u8]) -> Result<()> {
        let owned;
        let mut buf: &[u8] = if self.leftover.is_empty() {
            data
        } else {
            let mut v = std::mem::take(&mut self.leftover);
            v.extend_from_slice(data);
            owned = v;
            &owned
        };
        loop {
            let before = buf.len();
            match self.parser.parse(&mut buf, false) {
                Ok(Some(ev)) => self.handle(ev),
                Ok(None) => break,
                Err(EndOrError::NeedMoreData) => {
                    if buf.is_empty() || buf.len() == before {
                        break;
                    }
                }
                Err(EndOrError::Error(e)) => bail!("XML error from server: {e}"),
            }
        }
        if !buf.is_empty() {
            self.leftover = buf.to_vec();
        }
        Ok(())
    }

    #[cfg(test)]
    pub fn pop(&mut self) -> Option<Frame> {
        self.queue.pop_front()
    }

    /// Next frame, reading from `r` as needed. Cancel-safe: state lives in `self`.
    pub async fn next<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> Result<Frame> {
        loop {
            if let Some(f) = self.queue.pop_front() {
                return Ok(f);
            }
            let mut buf = [0u8; 8192];
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return Err(anyhow!("connection closed by server"));
            }
            self.feed(&buf[..n])?;
        }
    }

    /// Next top-level stanza; stream end and stream errors become errors.
    pub async fn next_stanza<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> Result<Element> {
        match self.next(r).await? {
            Frame::Stanza(el) if el.is("error", NS_STREAM) => {
                bail!("stream error: {}", el.first_child_name())
            }
            Frame::Stanza(el) => Ok(el),
            Frame::StreamEnd => bail!("server closed the stream"),
            Frame::StreamStart(_) => bail!("unexpected stream header"),
        }
    }
}

/// Escape text for use in XML attribute values and character data.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere() {
        let doc = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
            xmlns:stream='http://etherx.jabber.org/streams' id='abc' version='1.0'>\
            <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
            <mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms>\
            </stream:features><message to='a@b' type='chat'><body>12 x&amp;y</body></message>\
            </stream:stream>";
        for split in 1..doc.len() {
            let mut r = FrameReader::new();
            r.feed(&doc[..split]).unwrap();
            r.feed(&doc[split..]).unwrap();
            let mut frames = Vec::new();
            while let Some(f) = r.pop() {
                frames.push(f);
            }
            assert_eq!(frames.len(), 4, "split at {split}: {frames:?}");
            match &frames[0] {
                Frame::StreamStart(s) => assert_eq!(s.attr("id"), Some("abc")),
                f => panic!("{f:?}"),
            }
            match &frames[1] {
                Frame::Stanza(f) => {
                    assert!(f.is("features", NS_STREAM));
                    let m = f.child("mechanisms", NS_SASL).unwrap();
                    let names: Vec<_> = m.children.iter().map(|c| c.text.as_str()).collect();
                    assert_eq!(names, ["PLAIN", "SCRAM-SHA-1"]);
                }
                f => panic!("{f:?}"),
            }
            match &frames[2] {
                Frame::Stanza(m) => {
                    assert!(m.is("message", NS_CLIENT));
                    assert_eq!(m.attr("type"), Some("chat"));
                    assert_eq!(m.child("body", NS_CLIENT).unwrap().text, "12 x&y");
                }
                f => panic!("{f:?}"),
            }
            assert!(matches!(frames[3], Frame::StreamEnd));
        }
    }
}
