//! XEP-0167 RTP `<description>` with payload types, bandwidth, rtcp-mux, encryption
//! (SDES crypto, XEP-0262 zrtp-hash), XEP-0293 rtcp-fb, XEP-0294 rtp-hdrext and
//! XEP-0339 sources.

use super::action::Senders;
use super::ssma::{Source, SourceParameter, SsrcGroup};
use super::xml::{self, Attrs, Element, XmlWriter};
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
        let mut w = XmlWriter::with_capacity(
            256 + 160 * self.payload_types.len()
                + 128 * (self.hdrexts.len() + self.sources.len() + self.ssrc_groups.len()),
        );
        self.write(&mut w);
        w.finish()
    }

    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        xml::expect(el, ns::RTP, "description")?;
        let mut a = Attrs::new(el);
        let mut d = RtpDescription {
            media: a.req("description", "media")?,
            ssrc: a.opt_parse("description", "ssrc")?,
            ..Default::default()
        };
        d.unknown_attrs = a.rest();
        for c in el.elements() {
            match (&*c.ns, &*c.name) {
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

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::RTP, "description");
        w.attr("media", &self.media);
        w.attr_opt("ssrc", &self.ssrc);
        w.attrs(&self.unknown_attrs);
        for p in &self.payload_types {
            p.write(w);
        }
        for f in &self.rtcp_fbs {
            f.write(w);
        }
        if let Some(v) = self.rtcp_fb_trr_int {
            write_trr_int(w, v);
        }
        for h in &self.hdrexts {
            h.write(w);
        }
        if self.extmap_allow_mixed {
            w.empty(ns::RTP_HDREXT, "extmap-allow-mixed");
        }
        for g in &self.ssrc_groups {
            g.write(w);
        }
        for s in &self.sources {
            s.write(w);
        }
        if let Some(b) = &self.bandwidth {
            w.start(ns::RTP, "bandwidth");
            w.attr("type", &b.bw_type);
            w.text(&b.value.to_string());
            w.end();
        }
        if self.rtcp_mux {
            w.empty(ns::RTP, "rtcp-mux");
        }
        if self.rtcp_reduced_size {
            w.empty(ns::RTP, "rtcp-reduced-size");
        }
        for s in &self.streams {
            w.start(ns::RTP_MSID, "stream");
            w.attr("id", &s.id);
            w.attr_opt("track", &s.track);
            w.end();
        }
        if let Some(e) = &self.encryption {
            e.write(w);
        }
        w.raws(&self.unknown);
        w.end();
    }
}

/// No attributes and no child elements: safe to reduce to a flag.
fn is_bare(el: &Element<'_>) -> bool {
    el.attrs.is_empty() && el.elements().next().is_none()
}

fn trr_int(el: &Element<'_>) -> Result<u32, JingleError> {
    Attrs::new(el).req_parse("rtcp-fb-trr-int", "value")
}

fn write_trr_int(w: &mut XmlWriter<'_>, v: u32) {
    w.start(ns::RTCP_FB, "rtcp-fb-trr-int");
    w.attr_display("value", v);
    w.end();
}

impl PayloadType {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
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
            match (&*c.ns, &*c.name) {
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

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::RTP, "payload-type");
        w.attr_opt("channels", &self.channels);
        w.attr_opt("clockrate", &self.clockrate);
        w.attr_display("id", self.id);
        w.attr_opt("maxptime", &self.maxptime);
        w.attr_opt("name", &self.name);
        w.attr_opt("ptime", &self.ptime);
        w.attrs(&self.unknown_attrs);
        for p in &self.parameters {
            w.start(ns::RTP, "parameter");
            w.attr("name", &p.name);
            w.attr("value", &p.value);
            w.end();
        }
        for f in &self.rtcp_fbs {
            f.write(w);
        }
        if let Some(v) = self.rtcp_fb_trr_int {
            write_trr_int(w, v);
        }
        w.raws(&self.unknown);
        w.end();
    }
}

impl Bandwidth {
    fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
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
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
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
            match (&*c.ns, &*c.name) {
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

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::RTP, "encryption");
        if let Some(r) = self.required {
            w.attr("required", if r { "true" } else { "false" });
        }
        w.attrs(&self.unknown_attrs);
        for c in &self.cryptos {
            w.start(ns::RTP, "crypto");
            w.attr("crypto-suite", &c.crypto_suite);
            w.attr("key-params", &c.key_params);
            w.attr_opt("session-params", &c.session_params);
            w.attr_display("tag", c.tag);
            w.attrs(&c.unknown_attrs);
            w.raws(&c.unknown);
            w.end();
        }
        for z in &self.zrtp_hashes {
            w.start(ns::ZRTP, "zrtp-hash");
            w.attr("version", &z.version);
            w.text(&z.value);
            w.end();
        }
        w.raws(&self.unknown);
        w.end();
    }
}

impl RtcpFb {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        let mut a = Attrs::new(el);
        Ok(RtcpFb {
            fb_type: a.req("rtcp-fb", "type")?,
            subtype: a.opt("subtype"),
            unknown_attrs: a.rest(),
            unknown: el.elements().map(xml::raw).collect(),
        })
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::RTCP_FB, "rtcp-fb");
        w.attr("type", &self.fb_type);
        w.attr_opt("subtype", &self.subtype);
        w.attrs(&self.unknown_attrs);
        w.raws(&self.unknown);
        w.end();
    }
}

impl RtpHdrext {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
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

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::RTP_HDREXT, "rtp-hdrext");
        w.attr_display("id", self.id);
        w.attr_opt("senders", &self.senders);
        w.attr("uri", &self.uri);
        w.attrs(&self.unknown_attrs);
        for p in &self.parameters {
            p.write(w, ns::RTP_HDREXT);
        }
        w.raws(&self.unknown);
        w.end();
    }
}
