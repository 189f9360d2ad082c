//! Typed Jingle model (XEP-0166 and the RTP/ICE/Raw-UDP/DTLS/SSMA/grouping/JMI
//! extensions listed in `shared/design/sdp-jingle-mapping.md` §1), parsed from XML (with
//! quick-xml behind a fast path) and written back by a streaming writer.
//!
//! Lossless by design: attributes and child elements the model does not know are
//! kept (attributes as ordered `(name, value)` pairs, elements as raw XML with
//! their namespace spelled out) and written back. Whitespace-only text between
//! elements is not kept, and text inside typed container elements is dropped.
//!
//! Entry points: [`parse`] (a `<jingle>`, an `<iq>` around one, a JMI element or a
//! `<message>` around one), [`Jingle::from_xml`] / [`Jingle::to_xml`],
//! [`JingleMessage::from_xml`] / [`JingleMessage::to_xml`], and for fragments
//! [`Content::from_xml`] and [`RtpDescription::from_xml`].

mod action;
mod content;
mod dtls;
mod group;
mod ice;
mod info;
mod jmi;
mod raw_udp;
mod reason;
mod rtp;
mod session;
mod ssma;
mod xml;

#[cfg(test)]
mod tests;

pub use action::{Action, Creator, Senders};
pub use content::SdpAttribute;
pub use content::{Content, Description, Transport};
pub use dtls::{Fingerprint, SctpMap, Setup};
pub use group::Group;
pub use ice::{CandidateType, IceCandidate, IceUdpTransport, RemoteCandidate};
pub use info::{SessionInfo, SessionInfoKind};
pub use jmi::{JingleMessage, JmiKind};
pub use raw_udp::{RawUdpCandidate, RawUdpTransport};
pub use reason::{Reason, ReasonCondition};
pub use rtp::{
    Bandwidth, Crypto, Encryption, MsidStream, Parameter, PayloadType, RtcpFb, RtpDescription,
    RtpHdrext, ZrtpHash,
};
pub use session::Jingle;
pub use ssma::{Source, SourceParameter, SsrcGroup};

/// Namespaces (abbreviations as in the mapping doc §1).
pub mod ns {
    /// XEP-0166 Jingle.
    pub const JINGLE: &str = "urn:xmpp:jingle:1";
    /// XEP-0167 RTP description.
    pub const RTP: &str = "urn:xmpp:jingle:apps:rtp:1";
    /// XEP-0167 session-info payloads.
    pub const RTP_INFO: &str = "urn:xmpp:jingle:apps:rtp:info:1";
    /// XEP-0176 ICE-UDP transport.
    pub const ICE_UDP: &str = "urn:xmpp:jingle:transports:ice-udp:1";
    /// XEP-0177 Raw UDP transport.
    pub const RAW_UDP: &str = "urn:xmpp:jingle:transports:raw-udp:1";
    /// XEP-0293 RTCP feedback.
    pub const RTCP_FB: &str = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0";
    /// XEP-0294 RTP header extensions.
    pub const RTP_HDREXT: &str = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0";
    /// XEP-0320 DTLS fingerprints.
    pub const DTLS: &str = "urn:xmpp:jingle:apps:dtls:0";
    /// XEP-0338 grouping.
    pub const GROUPING: &str = "urn:xmpp:jingle:apps:grouping:0";
    /// XEP-0339 source-specific media attributes.
    pub const SSMA: &str = "urn:xmpp:jingle:apps:rtp:ssma:0";
    /// XEP-0262 ZRTP.
    pub const ZRTP: &str = "urn:xmpp:jingle:apps:rtp:zrtp:1";
    /// XEP-0343 DTLS/SCTP.
    pub const SCTP: &str = "urn:xmpp:jingle:transports:dtls-sctp:1";
    /// XEP-0353 Jingle Message Initiation.
    pub const JMI: &str = "urn:xmpp:jingle-message:0";
    /// StanzaJS's media-stream identification (`<stream id track/>`, SDP `a=msid`); no XEP
    /// covers an msid without sources, and this is the encoding a deployed client reads.
    pub const RTP_MSID: &str = "urn:xmpp:jingle:apps:rtp:msid:0";
    /// Tandem's carrier for SDP attributes that no XEP maps (`a=ice-lite`, `a=ice-options`,
    /// `a=rid`, unknown `a=x-…`): kept so that nothing an SDP peer said is lost. Jingle
    /// clients ignore it (XEP-0166 contents take any foreign-namespace child).
    pub const TANDEM_SDP: &str = "urn:x-tandem:sdp:0";
    /// XEP-0167 RTP errors (app-specific reason children).
    pub const RTP_ERRORS: &str = "urn:xmpp:jingle:apps:rtp:errors:1";
    /// RFC 6120 client namespace (for `<iq>` / `<message>` wrappers).
    pub const CLIENT: &str = "jabber:client";
}

/// Why a Jingle document could not be read. Names the element/attribute at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JingleError {
    /// The XML itself is not well formed.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// The input held no element.
    #[error("no element in input")]
    Empty,
    /// Nesting deeper than the parser accepts.
    #[error("XML nested deeper than {0} levels")]
    TooDeep(usize),
    /// A different element (or namespace) than expected.
    #[error("expected <{expected}>, found <{found}> in namespace '{ns}'")]
    UnexpectedElement {
        /// Local name expected.
        expected: &'static str,
        /// Local name found.
        found: String,
        /// Namespace found.
        ns: String,
    },
    /// A required attribute is absent.
    #[error("<{element}> lacks required attribute '{attribute}'")]
    MissingAttribute {
        /// Element local name.
        element: &'static str,
        /// Attribute name.
        attribute: &'static str,
    },
    /// An attribute value does not parse (bad number, unknown enum value).
    #[error("<{element}> attribute '{attribute}' has invalid value '{value}'")]
    InvalidAttribute {
        /// Element local name.
        element: &'static str,
        /// Attribute name.
        attribute: &'static str,
        /// The offending value.
        value: String,
    },
    /// A required child element is absent.
    #[error("<{element}> lacks required child <{child}>")]
    MissingChild {
        /// Element local name.
        element: &'static str,
        /// Child local name.
        child: &'static str,
    },
    /// Element text does not parse.
    #[error("<{element}> has invalid text '{value}'")]
    InvalidText {
        /// Element local name.
        element: &'static str,
        /// The offending text.
        value: String,
    },
}

/// What [`parse`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JinglePayload {
    /// A `<jingle>` element (bare or from inside an `<iq>`).
    Jingle(Jingle),
    /// A XEP-0353 element (bare or from inside a `<message>`).
    Message(JingleMessage),
}

impl JinglePayload {
    /// Write the payload element (the `<iq>`/`<message>` wrapper is not kept).
    pub fn to_xml(&self) -> String {
        match self {
            JinglePayload::Jingle(j) => j.to_xml(),
            JinglePayload::Message(m) => m.to_xml(),
        }
    }
}

/// Parse a `<jingle>`, an `<iq>` wrapping one, a JMI element, or a `<message>` wrapping one.
pub fn parse(xml: &str) -> Result<JinglePayload, JingleError> {
    let root = xml::parse(xml)?;
    from_element(&root)
}

fn from_element(el: &xml::Element<'_>) -> Result<JinglePayload, JingleError> {
    if el.is(ns::JINGLE, "jingle") {
        return Jingle::from_element(el).map(JinglePayload::Jingle);
    }
    if el.ns == ns::JMI {
        return JingleMessage::from_element(el).map(JinglePayload::Message);
    }
    if el.name == "iq" || el.name == "message" {
        // Wrapper: the first Jingle or JMI child is the payload.
        for c in el.elements() {
            if c.is(ns::JINGLE, "jingle") || c.ns == ns::JMI {
                return from_element(c);
            }
        }
        return Err(JingleError::MissingChild {
            element: if el.name == "iq" { "iq" } else { "message" },
            child: "jingle",
        });
    }
    Err(JingleError::UnexpectedElement {
        expected: "jingle",
        found: el.name.to_string(),
        ns: el.ns.to_string(),
    })
}

/// For the `jingle_fast_reader` fuzz target: whenever the fast reader accepts `input`, the
/// full reader must accept it too and build the same tree (`Err` describes a difference).
#[doc(hidden)]
pub fn fast_reader_agrees_with_full_reader(input: &str) -> Result<(), String> {
    let Some(fast) = xml::parse_fast(input) else {
        return Ok(());
    };
    match xml::parse_full(input) {
        Ok(full) if full == fast => Ok(()),
        other => Err(format!("fast {fast:?} vs full {other:?}")),
    }
}
