//! XEP-0320 DTLS fingerprint and XEP-0343 sctpmap (both live inside the transport).

use super::action::string_enum;
use super::xml::{self, Attrs, Element, XmlWriter};
use super::{ns, JingleError};

string_enum! {
    /// DTLS role (fingerprint/@setup, RFC 4145 a=setup).
    Setup {
        /// actpass
        Actpass = "actpass",
        /// active
        Active = "active",
        /// passive
        Passive = "passive",
        /// holdconn (no Jingle mapping, accepted for completeness)
        Holdconn = "holdconn",
    }
}

/// `<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash setup>HEX</fingerprint>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// @hash (sha-256, …).
    pub hash: String,
    /// @setup (required in the XEP-0320 schema).
    pub setup: Setup,
    /// The fingerprint text, trimmed.
    pub value: String,
    /// Unknown attributes (e.g. lib-jitsi-meet's cryptex).
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

impl Fingerprint {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        xml::expect(el, ns::DTLS, "fingerprint")?;
        let mut a = Attrs::new(el);
        Ok(Fingerprint {
            hash: a.req("fingerprint", "hash")?,
            setup: a.req_parse("fingerprint", "setup")?,
            value: el.text().trim().to_owned(),
            unknown_attrs: a.rest(),
            unknown: xml::raw_children(el),
        })
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::DTLS, "fingerprint");
        w.attr("hash", &self.hash);
        w.attr("setup", self.setup.as_str());
        w.attrs(&self.unknown_attrs);
        if !self.value.is_empty() {
            w.text(&self.value);
        }
        w.raws(&self.unknown);
        w.end();
    }
}

/// `<sctpmap xmlns='urn:xmpp:jingle:transports:dtls-sctp:1' number protocol streams/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SctpMap {
    /// @number (the SCTP port).
    pub number: u16,
    /// @protocol (webrtc-datachannel).
    pub protocol: String,
    /// @streams.
    pub streams: Option<u32>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

impl SctpMap {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        let mut a = Attrs::new(el);
        Ok(SctpMap {
            number: a.req_parse("sctpmap", "number")?,
            protocol: a.req("sctpmap", "protocol")?,
            streams: a.opt_parse("sctpmap", "streams")?,
            unknown_attrs: a.rest(),
            unknown: xml::raw_children(el),
        })
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::SCTP, "sctpmap");
        w.attr_display("number", self.number);
        w.attr("protocol", &self.protocol);
        w.attr_opt("streams", &self.streams);
        w.attrs(&self.unknown_attrs);
        w.raws(&self.unknown);
        w.end();
    }
}
