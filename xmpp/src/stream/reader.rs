//! Sans-IO XML stream reader (RFC 6120 §4, §11).
//!
//! Bytes are pushed in whatever pieces the network delivers; complete top-level elements come
//! out. The reader keeps no reference to the caller's buffer, so the I/O loop can be cancelled
//! between reads without losing anything (the mini-redis framing rule). Restricted XML (no
//! DOCTYPE, processing instructions, comments or custom entities) is enforced by `rxml`; the
//! stanza size and nesting depth limits are enforced here.

use std::collections::VecDeque;

use rxml::{Event, Parse, WithOptions};

use crate::element::{Element, XML_NS};
use crate::stream::error::StreamErrorCondition;

/// Namespace of the stream wrapper element.
pub const STREAM_NS: &str = "http://etherx.jabber.org/streams";

/// Limits a reader enforces.
#[derive(Debug, Clone, Copy)]
pub struct ReaderLimits {
    /// Largest stanza in bytes, counted on the wire.
    pub max_stanza_size: usize,
    /// Deepest element nesting inside a stanza (the stanza itself is depth 1).
    pub max_depth: usize,
}

impl Default for ReaderLimits {
    fn default() -> Self {
        ReaderLimits {
            max_stanza_size: 262_144,
            max_depth: 64,
        }
    }
}

/// What the reader produced.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The `<stream:stream>` opening tag with its unqualified attributes and `xml:lang`.
    Header(StreamHeader),
    /// A complete top-level element.
    Element(Element),
    /// The peer closed its stream with `</stream:stream>`.
    Close,
}

/// Attributes of a stream header.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamHeader {
    pub to: Option<String>,
    pub from: Option<String>,
    pub id: Option<String>,
    pub version: Option<String>,
    pub lang: Option<String>,
}

/// A fatal stream-level problem, to be reported as a stream error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{condition}: {detail}")]
pub struct ReadError {
    pub condition: StreamErrorCondition,
    /// For logs: what exactly was wrong.
    pub detail: String,
}

impl ReadError {
    fn new(condition: StreamErrorCondition, detail: impl Into<String>) -> Self {
        ReadError {
            condition,
            detail: detail.into(),
        }
    }
}

/// Incremental reader of one XML stream.
pub struct StreamReader {
    parser: rxml::Parser,
    limits: ReaderLimits,
    /// Elements under construction, outermost first; empty between stanzas.
    stack: Vec<Element>,
    /// Wire bytes of the stanza being built so far.
    stanza_bytes: usize,
    header_seen: bool,
    closed: bool,
    failed: Option<ReadError>,
    events: VecDeque<StreamEvent>,
}

impl StreamReader {
    pub fn new(limits: ReaderLimits) -> Self {
        StreamReader {
            parser: new_parser(limits),
            limits,
            stack: Vec::new(),
            stanza_bytes: 0,
            header_seen: false,
            closed: false,
            failed: None,
            events: VecDeque::new(),
        }
    }

    /// Forgets everything for a stream restart (after STARTTLS or SASL success, RFC 6120 §4.3.3).
    pub fn reset(&mut self) {
        *self = StreamReader::new(self.limits);
    }

    /// Consumes all of `data`. Events become available through [`StreamReader::poll_event`];
    /// after an error every further call returns the same error.
    pub fn push(&mut self, mut data: &[u8]) -> Result<(), ReadError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        // Loop until the parser asks for more data, not until `data` is empty: one byte can
        // yield several events (`/>` is a start and an end).
        while !self.closed {
            match self.parser.parse(&mut data, false) {
                Ok(Some(event)) => {
                    if let Err(err) = self.handle_event(event) {
                        self.failed = Some(err.clone());
                        return Err(err);
                    }
                }
                Ok(None) => break,
                Err(rxml::error::EndOrError::NeedMoreData) => {
                    // Between stanzas (the idle case) the parser's token buffers are not
                    // needed; give their memory back.
                    if self.stack.is_empty() {
                        self.parser.release_temporaries();
                    }
                    break;
                }
                Err(rxml::error::EndOrError::Error(e)) => {
                    let err = map_parse_error(&e);
                    self.failed = Some(err.clone());
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        let event = self.events.pop_front();
        if event.is_none() && self.events.capacity() > 0 {
            // Drained: an idle connection should not keep the queue's memory.
            self.events = VecDeque::new();
        }
        event
    }

    /// True once the peer's `</stream:stream>` was read.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn handle_event(&mut self, event: Event) -> Result<(), ReadError> {
        match event {
            Event::XmlDeclaration(..) => Ok(()),
            Event::StartElement(metrics, (ns, name), attrs) => {
                if !self.header_seen {
                    return self.handle_header(ns.as_str(), name.as_str(), attrs);
                }
                if self.stack.len() >= self.limits.max_depth {
                    return Err(ReadError::new(
                        StreamErrorCondition::PolicyViolation,
                        format!("element nesting deeper than {}", self.limits.max_depth),
                    ));
                }
                self.count_bytes(metrics.len())?;
                let mut element = Element::new(name.as_str(), ns.as_str());
                for ((attr_ns, attr_name), value) in attrs {
                    if attr_ns.is_none() {
                        element.set_attr(attr_name.as_str(), value);
                    } else {
                        element.set_attr_ns(attr_ns.as_str(), attr_name.as_str(), value);
                    }
                }
                self.stack.push(element);
                Ok(())
            }
            Event::EndElement(metrics) => {
                let Some(element) = self.stack.pop() else {
                    // The root element closed.
                    self.closed = true;
                    self.events.push_back(StreamEvent::Close);
                    return Ok(());
                };
                self.count_bytes(metrics.len())?;
                match self.stack.last_mut() {
                    Some(parent) => parent.push_child(element),
                    None => {
                        self.stanza_bytes = 0;
                        self.events.push_back(StreamEvent::Element(element));
                    }
                }
                Ok(())
            }
            Event::Text(metrics, text) => match self.stack.last_mut() {
                Some(parent) => {
                    parent.push_text(text);
                    self.count_bytes(metrics.len())
                }
                // Between stanzas only whitespace (keep-alives) is allowed.
                None if text.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) => Ok(()),
                None => Err(ReadError::new(
                    StreamErrorCondition::BadFormat,
                    "text outside any stanza",
                )),
            },
        }
    }

    fn handle_header(
        &mut self,
        ns: &str,
        name: &str,
        attrs: rxml::AttrMap,
    ) -> Result<(), ReadError> {
        if name != "stream" {
            return Err(ReadError::new(
                StreamErrorCondition::BadFormat,
                format!("root element <{name}> is not a stream"),
            ));
        }
        if ns != STREAM_NS {
            return Err(ReadError::new(
                StreamErrorCondition::InvalidNamespace,
                format!("stream namespace '{ns}'"),
            ));
        }
        let mut header = StreamHeader::default();
        for ((attr_ns, attr_name), value) in attrs {
            let slot = match (attr_ns.as_str(), attr_name.as_str()) {
                ("", "to") => &mut header.to,
                ("", "from") => &mut header.from,
                ("", "id") => &mut header.id,
                ("", "version") => &mut header.version,
                (XML_NS, "lang") => &mut header.lang,
                _ => continue,
            };
            *slot = Some(value);
        }
        self.header_seen = true;
        self.events.push_back(StreamEvent::Header(header));
        Ok(())
    }

    fn count_bytes(&mut self, n: usize) -> Result<(), ReadError> {
        self.stanza_bytes += n;
        if self.stanza_bytes > self.limits.max_stanza_size {
            return Err(ReadError::new(
                StreamErrorCondition::PolicyViolation,
                format!("stanza larger than {} bytes", self.limits.max_stanza_size),
            ));
        }
        Ok(())
    }
}

/// Parses one stanza serialised in the `jabber:client` namespace (as stored offline).
pub fn parse_stanza(xml: &str) -> Result<Element, ReadError> {
    let mut reader = StreamReader::new(ReaderLimits {
        max_stanza_size: xml.len().max(1) + 1,
        max_depth: 256,
    });
    reader.push(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
    )?;
    reader.push(xml.as_bytes())?;
    while let Some(event) = reader.poll_event() {
        if let StreamEvent::Element(element) = event {
            return Ok(element);
        }
    }
    Err(ReadError::new(
        StreamErrorCondition::BadFormat,
        "no complete element",
    ))
}

fn new_parser(limits: ReaderLimits) -> rxml::Parser {
    // One token (attribute value, name, text chunk) may be as large as a whole stanza, no more.
    let options = rxml::Options {
        max_token_length: limits.max_stanza_size.min(16384),
        ..rxml::Options::default()
    };
    rxml::Parser::with_options(options)
}

fn map_parse_error(e: &rxml::Error) -> ReadError {
    use rxml::Error as E;
    let condition = match e {
        E::RestrictedXml(what) if what.contains("long") || what.contains("length") => {
            StreamErrorCondition::PolicyViolation
        }
        // rxml reports every `<!` that opens neither CDATA nor a comment this way: that is a
        // markup declaration (DOCTYPE, ENTITY, ELEMENT, ATTLIST), forbidden by RFC 6120 §11.1.
        E::RestrictedXml(_)
        | E::UndeclaredEntity
        | E::InvalidSyntax("malformed cdata or comment section start") => {
            StreamErrorCondition::RestrictedXml
        }
        E::InvalidUtf8Byte(_) => StreamErrorCondition::UnsupportedEncoding,
        _ => StreamErrorCondition::NotWellFormed,
    };
    ReadError::new(condition, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='en'>";

    fn read_all(input: &[u8], limits: ReaderLimits) -> (Vec<StreamEvent>, Option<ReadError>) {
        let mut r = StreamReader::new(limits);
        let res = r.push(input);
        let mut out = Vec::new();
        while let Some(e) = r.poll_event() {
            out.push(e);
        }
        (out, res.err())
    }

    #[test]
    fn header_then_stanza_then_close() {
        let input = format!(
            "{HEADER}<message to='a@b'><body>hi &amp; bye</body></message> </stream:stream>"
        );
        let (events, err) = read_all(input.as_bytes(), ReaderLimits::default());
        assert_eq!(err, None);
        assert_eq!(events.len(), 3);
        let StreamEvent::Header(h) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(h.to.as_deref(), Some("localhost"));
        assert_eq!(h.lang.as_deref(), Some("en"));
        let StreamEvent::Element(m) = &events[1] else {
            panic!()
        };
        assert!(m.is("message", "jabber:client"));
        assert_eq!(
            m.get_child("body", "jabber:client").unwrap().text(),
            "hi & bye"
        );
        assert_eq!(events[2], StreamEvent::Close);
    }

    #[test]
    fn byte_by_byte_equals_all_at_once() {
        let input = format!("{HEADER}<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>");
        let (whole, _) = read_all(input.as_bytes(), ReaderLimits::default());
        let mut r = StreamReader::new(ReaderLimits::default());
        let mut pieces = Vec::new();
        for b in input.as_bytes() {
            r.push(std::slice::from_ref(b)).unwrap();
            while let Some(e) = r.poll_event() {
                pieces.push(e);
            }
        }
        assert_eq!(whole, pieces);
        assert_eq!(whole.len(), 2);
    }

    #[test]
    fn doctype_is_restricted_xml() {
        let (_, err) = read_all(
            b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><stream:stream/>",
            ReaderLimits::default(),
        );
        assert_eq!(err.unwrap().condition, StreamErrorCondition::RestrictedXml);
    }

    #[test]
    fn processing_instruction_and_comment_are_restricted_xml() {
        for bad in ["<?foo bar?>", "<!-- hi -->"] {
            let input = format!("{HEADER}{bad}");
            let (_, err) = read_all(input.as_bytes(), ReaderLimits::default());
            assert_eq!(
                err.unwrap().condition,
                StreamErrorCondition::RestrictedXml,
                "{bad}"
            );
        }
    }

    #[test]
    fn undeclared_entity_is_restricted_xml() {
        let input = format!("{HEADER}<message><body>&xxe;</body></message>");
        let (_, err) = read_all(input.as_bytes(), ReaderLimits::default());
        assert_eq!(err.unwrap().condition, StreamErrorCondition::RestrictedXml);
    }

    #[test]
    fn oversized_stanza_is_policy_violation() {
        let limits = ReaderLimits {
            max_stanza_size: 10_000,
            max_depth: 64,
        };
        let input = format!(
            "{HEADER}<message><body>{}</body></message>",
            "x".repeat(20_000)
        );
        let (events, err) = read_all(input.as_bytes(), limits);
        assert_eq!(
            err.unwrap().condition,
            StreamErrorCondition::PolicyViolation
        );
        assert!(!events.iter().any(|e| matches!(e, StreamEvent::Element(_))));
    }

    #[test]
    fn oversized_attribute_is_policy_violation() {
        let limits = ReaderLimits {
            max_stanza_size: 10_000,
            max_depth: 64,
        };
        let input = format!("{HEADER}<message id='{}'/>", "x".repeat(20_000));
        let (_, err) = read_all(input.as_bytes(), limits);
        assert_eq!(
            err.unwrap().condition,
            StreamErrorCondition::PolicyViolation
        );
    }

    #[test]
    fn deep_nesting_is_policy_violation() {
        let limits = ReaderLimits {
            max_stanza_size: 1 << 20,
            max_depth: 8,
        };
        let input = format!("{HEADER}{}", "<a>".repeat(9));
        let (_, err) = read_all(input.as_bytes(), limits);
        assert_eq!(
            err.unwrap().condition,
            StreamErrorCondition::PolicyViolation
        );
    }

    #[test]
    fn malformed_xml_is_not_well_formed() {
        for bad in [
            "<message></iq>",
            "<message a='1' a='2'/>",
            "<x:message/>",
            "<message><</message>",
        ] {
            let input = format!("{HEADER}{bad}");
            let (_, err) = read_all(input.as_bytes(), ReaderLimits::default());
            assert_eq!(
                err.unwrap().condition,
                StreamErrorCondition::NotWellFormed,
                "{bad}"
            );
        }
    }

    #[test]
    fn wrong_stream_namespace_is_invalid_namespace() {
        let (_, err) = read_all(
            b"<stream:stream xmlns:stream='urn:wrong'>",
            ReaderLimits::default(),
        );
        assert_eq!(
            err.unwrap().condition,
            StreamErrorCondition::InvalidNamespace
        );
    }

    #[test]
    fn error_is_sticky() {
        let mut r = StreamReader::new(ReaderLimits::default());
        assert!(r.push(b"<!DOCTYPE x>").is_err());
        assert!(r.push(HEADER.as_bytes()).is_err());
    }

    #[test]
    fn reset_starts_a_new_stream() {
        let mut r = StreamReader::new(ReaderLimits::default());
        r.push(format!("{HEADER}<a xmlns='urn:x'/>").as_bytes())
            .unwrap();
        r.reset();
        r.push(HEADER.as_bytes()).unwrap();
        assert!(matches!(r.poll_event(), Some(StreamEvent::Header(_))));
        assert_eq!(r.poll_event(), None);
    }
}
