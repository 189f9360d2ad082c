//! XEP-0176 ICE-UDP transport (with XEP-0320 fingerprints and XEP-0343 sctpmap inside).

use super::action::string_enum;
use super::dtls::{Fingerprint, SctpMap};
use super::xml::{self, Attrs, Element, XmlWriter};
use super::{ns, JingleError};

string_enum! {
    /// ICE candidate type (XEP-0176 candidate/@type).
    CandidateType {
        /// host
        Host = "host",
        /// prflx
        Prflx = "prflx",
        /// relay
        Relay = "relay",
        /// srflx
        Srflx = "srflx",
    }
}

/// `<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IceUdpTransport {
    /// @ufrag.
    pub ufrag: Option<String>,
    /// @pwd.
    pub pwd: Option<String>,
    /// `<candidate>` children.
    pub candidates: Vec<IceCandidate>,
    /// `<remote-candidate>` per component (transport-info after nomination; SDP
    /// `a=remote-candidates`).
    pub remote_candidates: Vec<RemoteCandidate>,
    /// `<gathering-complete/>` (SDP `a=end-of-candidates`; XEP-0371's element, also read and
    /// written by StanzaJS under the ICE-UDP namespace).
    pub gathering_complete: bool,
    /// XEP-0320 fingerprints, in order.
    pub fingerprints: Vec<Fingerprint>,
    /// XEP-0343 sctpmaps.
    pub sctpmaps: Vec<SctpMap>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

/// One ICE candidate (XEP-0176 §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// @component (1 = RTP, 2 = RTCP).
    pub component: u8,
    /// @foundation (xs:string in XEP-0176).
    pub foundation: String,
    /// @generation.
    pub generation: u32,
    /// @id.
    pub id: String,
    /// @ip, as written.
    pub ip: String,
    /// @port.
    pub port: u16,
    /// @priority (u64: XEP examples exceed 2^32).
    pub priority: u64,
    /// @protocol (udp, tcp).
    pub protocol: String,
    /// @type.
    pub candidate_type: CandidateType,
    /// @rel-addr.
    pub rel_addr: Option<String>,
    /// @rel-port.
    pub rel_port: Option<u16>,
    /// @network.
    pub network: Option<u32>,
    /// @tcptype (not in the XEP schema, emitted by some clients).
    pub tcptype: Option<String>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

/// `<remote-candidate component ip port/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCandidate {
    /// @component.
    pub component: u8,
    /// @ip.
    pub ip: String,
    /// @port.
    pub port: u16,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

impl IceUdpTransport {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        xml::expect(el, ns::ICE_UDP, "transport")?;
        let mut a = Attrs::new(el);
        let mut t = IceUdpTransport {
            ufrag: a.opt("ufrag"),
            pwd: a.opt("pwd"),
            ..Default::default()
        };
        t.unknown_attrs = a.rest();
        for c in el.elements() {
            match (&*c.ns, &*c.name) {
                (ns::ICE_UDP, "candidate") => t.candidates.push(IceCandidate::from_element(c)?),
                (ns::ICE_UDP, "remote-candidate") => {
                    t.remote_candidates.push(RemoteCandidate::from_element(c)?)
                }
                (ns::ICE_UDP, "gathering-complete")
                    if !t.gathering_complete
                        && c.attrs.is_empty()
                        && c.elements().next().is_none() =>
                {
                    t.gathering_complete = true
                }
                (ns::DTLS, "fingerprint") => t.fingerprints.push(Fingerprint::from_element(c)?),
                (ns::SCTP, "sctpmap") => t.sctpmaps.push(SctpMap::from_element(c)?),
                _ => t.unknown.push(xml::raw(c)),
            }
        }
        Ok(t)
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::ICE_UDP, "transport");
        w.attr_opt("pwd", &self.pwd);
        w.attr_opt("ufrag", &self.ufrag);
        w.attrs(&self.unknown_attrs);
        for s in &self.sctpmaps {
            s.write(w);
        }
        for f in &self.fingerprints {
            f.write(w);
        }
        for c in &self.candidates {
            c.write(w);
        }
        for r in &self.remote_candidates {
            r.write(w);
        }
        if self.gathering_complete {
            w.empty(ns::ICE_UDP, "gathering-complete");
        }
        w.raws(&self.unknown);
        w.end();
    }
}

impl IceCandidate {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        const E: &str = "candidate";
        let mut a = Attrs::new(el);
        Ok(IceCandidate {
            component: a.req_parse(E, "component")?,
            foundation: a.req(E, "foundation")?,
            generation: a.req_parse(E, "generation")?,
            id: a.req(E, "id")?,
            ip: a.req(E, "ip")?,
            port: a.req_parse(E, "port")?,
            priority: a.req_parse(E, "priority")?,
            protocol: a.req(E, "protocol")?,
            candidate_type: a.req_parse(E, "type")?,
            rel_addr: a.opt("rel-addr"),
            rel_port: a.opt_parse(E, "rel-port")?,
            network: a.opt_parse(E, "network")?,
            tcptype: a.opt("tcptype"),
            unknown_attrs: a.rest(),
            unknown: xml::raw_children(el),
        })
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::ICE_UDP, "candidate");
        w.attr_display("component", self.component);
        w.attr("foundation", &self.foundation);
        w.attr_display("generation", self.generation);
        w.attr("id", &self.id);
        w.attr("ip", &self.ip);
        w.attr_opt("network", &self.network);
        w.attr_display("port", self.port);
        w.attr_display("priority", self.priority);
        w.attr("protocol", &self.protocol);
        w.attr_opt("rel-addr", &self.rel_addr);
        w.attr_opt("rel-port", &self.rel_port);
        w.attr_opt("tcptype", &self.tcptype);
        w.attr("type", self.candidate_type.as_str());
        w.attrs(&self.unknown_attrs);
        w.raws(&self.unknown);
        w.end();
    }
}

impl RemoteCandidate {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        const E: &str = "remote-candidate";
        let mut a = Attrs::new(el);
        Ok(RemoteCandidate {
            component: a.req_parse(E, "component")?,
            ip: a.req(E, "ip")?,
            port: a.req_parse(E, "port")?,
            unknown_attrs: a.rest(),
            unknown: xml::raw_children(el),
        })
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::ICE_UDP, "remote-candidate");
        w.attr_display("component", self.component);
        w.attr("ip", &self.ip);
        w.attr_display("port", self.port);
        w.attrs(&self.unknown_attrs);
        w.raws(&self.unknown);
        w.end();
    }
}
