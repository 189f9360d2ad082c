//! XEP-0167 RTP `<description>` with payload types, bandwidth, rtcp-mux, encryption
//! (SDES crypto, XEP-0262 zrtp-hash), XEP-0293 rtcp-fb, XEP-0294 rtp-hdrext and
//! XEP-0339 sources.

use super::action::Senders;
use super::ssma::{Source, SourceParameter, SsrcGroup};
use super::xml::{self, Attrs, Element};
use super::{ns, JingleError};

/// `<description xmlns='urn:xmpp:jingle:apps:rtp:1' media>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpDescription {
    /// @media (audio, video, …; required).
    pub media: String,
    /// @ssrc (legacy single-SSRC attribute).
    pub ssrc: Option<u32>,
    /// `<payload-type>` children, in preference order.
    pub payload_types: Vec<PayloadType>,
    /// `<bandwidth type>`.
    pub bandwidth: Option<Bandwidth>,
    /// `<rtcp-mux/>` present.
    pub rtcp_mux: bool,
    /// `<rtcp-reduced-size/>` present (RFC 5506 `a=rtcp-rsize`; no XEP, StanzaJS's element).
    pub rtcp_reduced_size: bool,
    /// Media-level `a=msid` lines as `<stream xmlns='urn:xmpp:jingle:apps:rtp:msid:0'>`.
    pub streams: Vec<MsidStream>,
    /// `<encryption>`.
    pub encryption: Option<Encryption>,
    /// Description-level rtcp-fb (SDP `a=rtcp-fb:*`).
    pub rtcp_fbs: Vec<RtcpFb>,
    /// Description-level rtcp-fb-trr-int.
    pub rtcp_fb_trr_int: Option<u32>,
    /// XEP-0294 header extensions.
    pub hdrexts: Vec<RtpHdrext>,
    /// XEP-0294 `<extmap-allow-mixed/>` present.
    pub extmap_allow_mixed: bool,
    /// XEP-0339 sources.
    pub sources: Vec<Source>,
    /// XEP-0339 ssrc-groups.
    pub ssrc_groups: Vec<SsrcGroup>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

/// `<stream xmlns='urn:xmpp:jingle:apps:rtp:msid:0' id track>` (SDP `a=msid:id [track]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsidStream {
    /// @id (the MediaStream id).
    pub id: String,
    /// @track (the track id, optional in RFC 8830).
    pub track: Option<String>,
}

/// `<payload-type id name clockrate channels ptime maxptime>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PayloadType {
    /// @id (RTP payload type number).
    pub id: u8,
    /// @name (optional for static payload types).
    pub name: Option<String>,
    /// @clockrate.
    pub clockrate: Option<u32>,
    /// @channels (absent means 1).
    pub channels: Option<u8>,
    /// @ptime.
    pub ptime: Option<u32>,
    /// @maxptime.
    pub maxptime: Option<u32>,
    /// `<parameter name value>` children (fmtp).
    pub parameters: Vec<Parameter>,
    /// XEP-0293 rtcp-fb children.
    pub rtcp_fbs: Vec<RtcpFb>,
    /// XEP-0293 rtcp-fb-trr-int.
    pub rtcp_fb_trr_int: Option<u32>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

/// A payload-type `<parameter>`: both name and value are required (XEP-0167 schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// @name.
    pub name: String,
    /// @value.
    pub value: String,
}

/// `<bandwidth type='AS'>128</bandwidth>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// @type (AS, TIAS, CT).
    pub bw_type: String,
    /// The value (kbit/s for AS, bit/s for TIAS).
    pub value: u64,
}

/// `<encryption required>` with SDES crypto lines and/or ZRTP hashes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Encryption {
    /// @required ('true'/'1' or 'false'/'0').
    pub required: Option<bool>,
    /// `<crypto>` children.
    pub cryptos: Vec<Crypto>,
    /// XEP-0262 `<zrtp-hash>` children.
    pub zrtp_hashes: Vec<ZrtpHash>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

/// SDES `<crypto tag crypto-suite key-params session-params>` (RFC 4568 a=crypto).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// @tag.
    pub tag: u32,
    /// @crypto-suite.
    pub crypto_suite: String,
    /// @key-params.
    pub key_params: String,
    /// @session-params.
    pub session_params: Option<String>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

/// XEP-0262 `<zrtp-hash version>HEX</zrtp-hash>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZrtpHash {
    /// @version.
    pub version: String,
    /// The hash text, trimmed.
    pub value: String,
}

/// XEP-0293 `<rtcp-fb type subtype>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpFb {
    /// @type (nack, ccm, goog-remb, transport-cc, …).
    pub fb_type: String,
    /// @subtype (pli, fir, …).
    pub subtype: Option<String>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Children (parameters), raw XML.
    pub unknown: Vec<String>,
}

/// XEP-0294 `<rtp-hdrext id uri senders>` (SDP a=extmap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpHdrext {
    /// @id (the XEP's example uses 4907, so wider than u8).
    pub id: u16,
    /// @uri.
    pub uri: String,
    /// @senders (absent means both).
    pub senders: Option<Senders>,
    /// `<parameter>` children.
    pub parameters: Vec<SourceParameter>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

impl RtpDescription {
    /// Parse a bare RTP `<description>` fragment.
    pub fn from_xml(xml: &str) -> Result<Self, JingleError> {
        Self::from_element(&xml::parse(xml)?)
    }

    /// Write as a standalone `<description>` fragment.
    pub fn to_xml(&self) -> String {
        self.to_element().to_xml()
    }

    pub(crate) fn from_element(el: &Element) -> Result<Self, JingleError> {
        xml::expect(el, ns::RTP, "description")?;
        let mut a = Attrs::new(el);
        let mut d = RtpDescription {
            media: a.req("description", "media")?,
            ssrc: a.opt_parse("description", "ssrc")?,
            ..Default::default()
        };
        d.unknown_attrs = a.rest();
        for c in el.elements() {
            match (c.ns.as_str(), c.name.as_str()) {
                (ns::RTP, "payload-type") => d.payload_types.push(PayloadType::from_element(c)?),
                (ns::RTP, "bandwidth") if d.bandwidth.is_none() && xml::only(c, &["type"]) => {
                    d.bandwidth = Some(Bandwidth::from_element(c)?)
                }
                (ns::RTP, "rtcp-mux") if !d.rtcp_mux && is_bare(c) => d.rtcp_mux = true,
                (ns::RTP, "rtcp-reduced-size") if !d.rtcp_reduced_size && is_bare(c) => {
                    d.rtcp_reduced_size = true
                }
                (ns::RTP_MSID, "stream") if xml::only(c, &["id", "track"]) => {
                    let mut a = Attrs::new(c);
                    d.streams.push(MsidStream {
                        id: a.req("stream", "id")?,
                        track: a.opt("track"),
                    })
                }
                (ns::RTP, "encryption") if d.encryption.is_none() => {
                    d.encryption = Some(Encryption::from_element(c)?)
                }
                (ns::RTCP_FB, "rtcp-fb") => d.rtcp_fbs.push(RtcpFb::from_element(c)?),
                (ns::RTCP_FB, "rtcp-fb-trr-int")
                    if d.rtcp_fb_trr_int.is_none() && c.attrs.len() == 1 =>
                {
                    d.rtcp_fb_trr_int = Some(trr_int(c)?)
                }
                (ns::RTP_HDREXT, "rtp-hdrext") => d.hdrexts.push(RtpHdrext::from_element(c)?),
                (ns::RTP_HDREXT, "extmap-allow-mixed") if !d.extmap_allow_mixed && is_bare(c) => {
                    d.extmap_allow_mixed = true
                }
                (ns::SSMA, "source") => d.sources.push(Source::from_element(c)?),
                (ns::SSMA, "ssrc-group") => d.ssrc_groups.push(SsrcGroup::from_element(c)?),
                _ => d.unknown.push(xml::raw(c)),
            }
        }
        Ok(d)
    }

    pub(crate) fn to_element(&self) -> Element {
        let mut el = Element::new(ns::RTP, "description");
        el.set("media", self.media.clone());
        el.set_opt("ssrc", &self.ssrc);
        el.extend_attrs(&self.unknown_attrs);
        for p in &self.payload_types {
            el.push(p.to_element());
        }
        for f in &self.rtcp_fbs {
            el.push(f.to_element());
        }
        if let Some(v) = self.rtcp_fb_trr_int {
            el.push(trr_int_element(v));
        }
        for h in &self.hdrexts {
            el.push(h.to_element());
        }
        if self.extmap_allow_mixed {
            el.push(Element::new(ns::RTP_HDREXT, "extmap-allow-mixed"));
        }
        for g in &self.ssrc_groups {
            el.push(g.to_element());
        }
        for s in &self.sources {
            el.push(s.to_element());
        }
        if let Some(b) = &self.bandwidth {
            let mut be = Element::new(ns::RTP, "bandwidth");
            be.set("type", b.bw_type.clone());
            be.push_text(b.value.to_string());
            el.push(be);
        }
        if self.rtcp_mux {
            el.push(Element::new(ns::RTP, "rtcp-mux"));
        }
        if self.rtcp_reduced_size {
            el.push(Element::new(ns::RTP, "rtcp-reduced-size"));
        }
        for s in &self.streams {
            let mut se = Element::new(ns::RTP_MSID, "stream");
            se.set("id", s.id.clone());
            se.set_opt("track", &s.track);
            el.push(se);
        }
        if let Some(e) = &self.encryption {
            el.push(e.to_element());
        }
        el.push_raw(&self.unknown);
        el
    }
}

/// No attributes and no child elements: safe to reduce to a flag.
fn is_bare(el: &Element) -> bool {
    el.attrs.is_empty() && el.elements().next().is_none()
}

fn trr_int(el: &Element) -> Result<u32, JingleError> {
    Attrs::new(el).req_parse("rtcp-fb-trr-int", "value")
}

fn trr_int_element(v: u32) -> Element {
    let mut el = Element::new(ns::RTCP_FB, "rtcp-fb-trr-int");
    el.set("value", v.to_string());
    el
}

impl PayloadType {
    pub(crate) fn from_element(el: &Element) -> Result<Self, JingleError> {
        const E: &str = "payload-type";
        let mut a = Attrs::new(el);
        let mut p = PayloadType {
            id: a.req_parse(E, "id")?,
            name: a.opt("name"),
            clockrate: a.opt_parse(E, "clockrate")?,
            channels: a.opt_parse(E, "channels")?,
            ptime: a.opt_parse(E, "ptime")?,
            maxptime: a.opt_parse(E, "maxptime")?,
            ..Default::default()
        };
        p.unknown_attrs = a.rest();
        for c in el.elements() {
            match (c.ns.as_str(), c.name.as_str()) {
                (ns::RTP, "parameter") if xml::only(c, &["name", "value"]) => {
                    let mut pa = Attrs::new(c);
                    p.parameters.push(Parameter {
                        name: pa.req("parameter", "name")?,
                        value: pa.req("parameter", "value")?,
                    });
                }
                (ns::RTCP_FB, "rtcp-fb") => p.rtcp_fbs.push(RtcpFb::from_element(c)?),
                (ns::RTCP_FB, "rtcp-fb-trr-int")
                    if p.rtcp_fb_trr_int.is_none() && c.attrs.len() == 1 =>
                {
                    p.rtcp_fb_trr_int = Some(trr_int(c)?)
                }
                _ => p.unknown.push(xml::raw(c)),
            }
        }
        Ok(p)
    }

    pub(crate) fn to_element(&self) -> Element {
        let mut el = Element::new(ns::RTP, "payload-type");
        el.set_opt("channels", &self.channels);
        el.set_opt("clockrate", &self.clockrate);
        el.set("id", self.id.to_string());
        el.set_opt("maxptime", &self.maxptime);
        el.set_opt("name", &self.name);
        el.set_opt("ptime", &self.ptime);
        el.extend_attrs(&self.unknown_attrs);
        for p in &self.parameters {
            let mut pe = Element::new(ns::RTP, "parameter");
            pe.set("name", p.name.clone());
            pe.set("value", p.value.clone());
            el.push(pe);
        }
        for f in &self.rtcp_fbs {
            el.push(f.to_element());
        }
        if let Some(v) = self.rtcp_fb_trr_int {
            el.push(trr_int_element(v));
        }
        el.push_raw(&self.unknown);
        el
    }
}

impl Bandwidth {
    fn from_element(el: &Element) -> Result<Self, JingleError> {
        let mut a = Attrs::new(el);
        let bw_type = a.req("bandwidth", "type")?;
        let text = el.text();
        let value = text.trim().parse().map_err(|_| JingleError::InvalidText {
            element: "bandwidth",
            value: text.clone(),
        })?;
        Ok(Bandwidth { bw_type, value })
    }
}

impl Encryption {
    pub(crate) fn from_element(el: &Element) -> Result<Self, JingleError> {
        let mut e = Encryption::default();
        let mut a = Attrs::new(el);
        e.required = match a.opt("required").as_deref() {
            None => None,
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(v) => {
                return Err(JingleError::InvalidAttribute {
                    element: "encryption",
                    attribute: "required",
                    value: v.to_owned(),
                })
            }
        };
        e.unknown_attrs = a.rest();
        for c in el.elements() {
            match (c.ns.as_str(), c.name.as_str()) {
                (ns::RTP, "crypto") => {
                    const E: &str = "crypto";
                    let mut a = Attrs::new(c);
                    e.cryptos.push(Crypto {
                        tag: a.req_parse(E, "tag")?,
                        crypto_suite: a.req(E, "crypto-suite")?,
                        key_params: a.req(E, "key-params")?,
                        session_params: a.opt("session-params"),
                        unknown_attrs: a.rest(),
                        unknown: xml::raw_children(c),
                    });
                }
                (ns::ZRTP, "zrtp-hash") if c.attrs.len() == 1 && c.elements().next().is_none() => {
                    e.zrtp_hashes.push(ZrtpHash {
                        version: Attrs::new(c).req("zrtp-hash", "version")?,
                        value: c.text().trim().to_owned(),
                    })
                }
                _ => e.unknown.push(xml::raw(c)),
            }
        }
        Ok(e)
    }

    pub(crate) fn to_element(&self) -> Element {
        let mut el = Element::new(ns::RTP, "encryption");
        if let Some(r) = self.required {
            el.set("required", if r { "true" } else { "false" });
        }
        el.extend_attrs(&self.unknown_attrs);
        for c in &self.cryptos {
            let mut ce = Element::new(ns::RTP, "crypto");
            ce.set("crypto-suite", c.crypto_suite.clone());
            ce.set("key-params", c.key_params.clone());
            ce.set_opt("session-params", &c.session_params);
            ce.set("tag", c.tag.to_string());
            ce.extend_attrs(&c.unknown_attrs);
            ce.push_raw(&c.unknown);
            el.push(ce);
        }
        for z in &self.zrtp_hashes {
            let mut ze = Element::new(ns::ZRTP, "zrtp-hash");
            ze.set("version", z.version.clone());
            ze.push_text(z.value.clone());
            el.push(ze);
        }
        el.push_raw(&self.unknown);
        el
    }
}

impl RtcpFb {
    pub(crate) fn from_element(el: &Element) -> Result<Self, JingleError> {
        let mut a = Attrs::new(el);
        Ok(RtcpFb {
            fb_type: a.req("rtcp-fb", "type")?,
            subtype: a.opt("subtype"),
            unknown_attrs: a.rest(),
            unknown: el.elements().map(xml::raw).collect(),
        })
    }

    pub(crate) fn to_element(&self) -> Element {
        let mut el = Element::new(ns::RTCP_FB, "rtcp-fb");
        el.set("type", self.fb_type.clone());
        el.set_opt("subtype", &self.subtype);
        el.extend_attrs(&self.unknown_attrs);
        el.push_raw(&self.unknown);
        el
    }
}

impl RtpHdrext {
    pub(crate) fn from_element(el: &Element) -> Result<Self, JingleError> {
        let mut a = Attrs::new(el);
        let mut h = RtpHdrext {
            id: a.req_parse("rtp-hdrext", "id")?,
            uri: a.req("rtp-hdrext", "uri")?,
            senders: a.opt_parse("rtp-hdrext", "senders")?,
            parameters: Vec::new(),
            unknown_attrs: Vec::new(),
            unknown: Vec::new(),
        };
        h.unknown_attrs = a.rest();
        for c in el.elements() {
            if c.is(ns::RTP_HDREXT, "parameter") && xml::only(c, &["name", "value"]) {
                h.parameters.push(SourceParameter::from_element(c)?);
            } else {
                h.unknown.push(xml::raw(c));
            }
        }
        Ok(h)
    }

    pub(crate) fn to_element(&self) -> Element {
        let mut el = Element::new(ns::RTP_HDREXT, "rtp-hdrext");
        el.set("id", self.id.to_string());
        el.set_opt("senders", &self.senders);
        el.set("uri", self.uri.clone());
        el.extend_attrs(&self.unknown_attrs);
        for p in &self.parameters {
            el.push(p.to_element(ns::RTP_HDREXT));
        }
        el.push_raw(&self.unknown);
        el
    }
}
