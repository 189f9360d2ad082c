//! XEP-0166 `<content>`: one application (description) over one transport.

use super::action::{Creator, Senders};
use super::ice::IceUdpTransport;
use super::raw_udp::RawUdpTransport;
use super::rtp::RtpDescription;
use super::xml::{self, Attrs, Element, XmlWriter};
use super::{ns, JingleError};

/// A content's application description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Description {
    /// XEP-0167 RTP (boxed: far larger than the raw variant).
    Rtp(Box<RtpDescription>),
    /// Any other application (file transfer, …), raw XML.
    Other(String),
}

/// A content's transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// XEP-0176 ICE-UDP.
    IceUdp(IceUdpTransport),
    /// XEP-0177 Raw UDP.
    RawUdp(RawUdpTransport),
    /// Any other transport (including old namespace versions), raw XML.
    Other(String),
}

impl Description {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        if el.is(ns::RTP, "description") {
            RtpDescription::from_element(el).map(|d| Description::Rtp(Box::new(d)))
        } else {
            Ok(Description::Other(xml::raw(el)))
        }
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        match self {
            Description::Rtp(d) => d.write(w),
            Description::Other(r) => w.raw(r),
        }
    }
}

/// `<attribute xmlns='urn:x-tandem:sdp:0' name value level>`: an SDP attribute that no
/// XEP maps, carried so that it can be written back (see [`super::ns::TANDEM_SDP`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpAttribute {
    /// The attribute name (`ice-lite`, `rid`, …).
    pub name: String,
    /// The value after the `:`, if any.
    pub value: Option<String>,
    /// Written at session level in the SDP (`level='session'`), else in this m-line.
    pub session_level: bool,
}

impl SdpAttribute {
    /// Only a form this model writes back byte-equal; anything else stays raw.
    fn is_exact(el: &Element<'_>) -> bool {
        el.ns == ns::TANDEM_SDP
            && xml::only(el, &["name", "value", "level"])
            && el.attrs.iter().any(|(k, _)| k == "name")
            && el.attrs.iter().all(|(k, v)| k != "level" || v == "session")
    }

    fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        let mut a = Attrs::new(el);
        Ok(SdpAttribute {
            name: a.req("attribute", "name")?,
            value: a.opt("value"),
            session_level: a.opt("level").as_deref() == Some("session"),
        })
    }

    fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::TANDEM_SDP, "attribute");
        w.attr("name", &self.name);
        w.attr_opt("value", &self.value);
        if self.session_level {
            w.attr("level", "session");
        }
        w.end();
    }
}

/// One `<content>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// @creator (required).
    pub creator: Creator,
    /// @name (required; the SDP mid).
    pub name: String,
    /// @senders (absent means both).
    pub senders: Option<Senders>,
    /// @disposition (absent means session).
    pub disposition: Option<String>,
    /// The first `<description>`.
    pub description: Option<Description>,
    /// The first `<transport>`.
    pub transport: Option<Transport>,
    /// SDP attributes without a XEP mapping, in order.
    pub sdp_attributes: Vec<SdpAttribute>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children (including `<security>`, further descriptions/transports), raw XML.
    pub unknown: Vec<String>,
}

impl Content {
    /// A content with only creator and name.
    pub fn new(creator: Creator, name: impl Into<String>) -> Self {
        Content {
            creator,
            name: name.into(),
            senders: None,
            disposition: None,
            description: None,
            transport: None,
            sdp_attributes: Vec::new(),
            unknown_attrs: Vec::new(),
            unknown: Vec::new(),
        }
    }

    /// Parse a bare `<content xmlns='urn:xmpp:jingle:1'>` fragment.
    pub fn from_xml(xml: &str) -> Result<Self, JingleError> {
        Self::from_element(&xml::parse(xml)?)
    }

    /// Write as a standalone `<content>` fragment.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::with_capacity(self.size_hint());
        self.write(&mut w);
        w.finish()
    }

    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        xml::expect(el, ns::JINGLE, "content")?;
        let mut a = Attrs::new(el);
        let mut c = Content::new(
            a.req_parse("content", "creator")?,
            a.req("content", "name")?,
        );
        c.senders = a.opt_parse("content", "senders")?;
        c.disposition = a.opt("disposition");
        c.unknown_attrs = a.rest();
        for child in el.elements() {
            match &*child.name {
                "description" if c.description.is_none() => {
                    c.description = Some(Description::from_element(child)?)
                }
                "transport" if c.transport.is_none() => {
                    c.transport = Some(if child.ns == ns::ICE_UDP {
                        Transport::IceUdp(IceUdpTransport::from_element(child)?)
                    } else if child.ns == ns::RAW_UDP {
                        Transport::RawUdp(RawUdpTransport::from_element(child)?)
                    } else {
                        Transport::Other(xml::raw(child))
                    })
                }
                "attribute" if SdpAttribute::is_exact(child) => {
                    c.sdp_attributes.push(SdpAttribute::from_element(child)?)
                }
                _ => c.unknown.push(xml::raw(child)),
            }
        }
        Ok(c)
    }

    /// A rough guess at the written size, to size the output once.
    pub(crate) fn size_hint(&self) -> usize {
        let description = match &self.description {
            Some(Description::Rtp(d)) => {
                256 + 160 * d.payload_types.len()
                    + 128 * (d.hdrexts.len() + d.sources.len() + d.ssrc_groups.len())
            }
            Some(Description::Other(r)) => r.len(),
            None => 0,
        };
        let transport = match &self.transport {
            Some(Transport::IceUdp(t)) => 256 + 256 * t.candidates.len(),
            Some(Transport::RawUdp(t)) => 64 + 128 * t.candidates.len(),
            Some(Transport::Other(r)) => r.len(),
            None => 0,
        };
        128 + description + transport + 96 * self.sdp_attributes.len()
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::JINGLE, "content");
        w.attr("creator", self.creator.as_str());
        w.attr_opt("disposition", &self.disposition);
        w.attr("name", &self.name);
        w.attr_opt("senders", &self.senders);
        w.attrs(&self.unknown_attrs);
        if let Some(d) = &self.description {
            d.write(w);
        }
        match &self.transport {
            Some(Transport::IceUdp(t)) => t.write(w),
            Some(Transport::RawUdp(t)) => t.write(w),
            Some(Transport::Other(r)) => w.raw(r),
            None => {}
        }
        for a in &self.sdp_attributes {
            a.write(w);
        }
        w.raws(&self.unknown);
        w.end();
    }
}
