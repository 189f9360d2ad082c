//! XEP-0177 Raw UDP transport.

use super::xml::{self, Attrs, Element, XmlWriter};
use super::{ns, JingleError};

/// `<transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawUdpTransport {
    /// `<candidate>` children.
    pub candidates: Vec<RawUdpCandidate>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

/// One Raw UDP candidate. `component` is optional because XEP-0176 §fallback's
/// examples omit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawUdpCandidate {
    /// @component.
    pub component: Option<u8>,
    /// @generation.
    pub generation: u32,
    /// @id.
    pub id: String,
    /// @ip.
    pub ip: String,
    /// @port.
    pub port: u16,
    /// @type.
    pub candidate_type: Option<String>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

impl RawUdpTransport {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        xml::expect(el, ns::RAW_UDP, "transport")?;
        let mut t = RawUdpTransport {
            unknown_attrs: Attrs::new(el).rest(),
            ..Default::default()
        };
        for c in el.elements() {
            if c.is(ns::RAW_UDP, "candidate") {
                t.candidates.push(RawUdpCandidate::from_element(c)?);
            } else {
                t.unknown.push(xml::raw(c));
            }
        }
        Ok(t)
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::RAW_UDP, "transport");
        w.attrs(&self.unknown_attrs);
        for c in &self.candidates {
            c.write(w);
        }
        w.raws(&self.unknown);
        w.end();
    }
}

impl RawUdpCandidate {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        const E: &str = "candidate";
        let mut a = Attrs::new(el);
        Ok(RawUdpCandidate {
            component: a.opt_parse(E, "component")?,
            generation: a.req_parse(E, "generation")?,
            id: a.req(E, "id")?,
            ip: a.req(E, "ip")?,
            port: a.req_parse(E, "port")?,
            candidate_type: a.opt("type"),
            unknown_attrs: a.rest(),
            unknown: xml::raw_children(el),
        })
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::RAW_UDP, "candidate");
        w.attr_opt("component", &self.component);
        w.attr_display("generation", self.generation);
        w.attr("id", &self.id);
        w.attr("ip", &self.ip);
        w.attr_display("port", self.port);
        w.attr_opt("type", &self.candidate_type);
        w.attrs(&self.unknown_attrs);
        w.raws(&self.unknown);
        w.end();
    }
}
