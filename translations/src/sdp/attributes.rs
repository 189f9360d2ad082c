//! `a=` lines: the raw [`Attribute`] (source of truth) and typed views of the attributes the
//! SDP<->Jingle mapping needs (design/sdp-jingle-mapping.md §1).

use std::fmt;

use super::candidate::Candidate;
use super::error::AttributeError;

/// One `a=<name>[:<value>]` line, verbatim (the value keeps any leading space, e.g.
/// `a=msid-semantic: WMS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

impl Attribute {
    /// A flag attribute such as `rtcp-mux`.
    pub fn flag(name: impl Into<String>) -> Self {
        Attribute {
            name: name.into(),
            value: None,
        }
    }

    /// An attribute with a value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Attribute {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// Split the text after `a=`.
    pub fn from_line_value(text: &str) -> Self {
        match text.split_once(':') {
            Some((n, v)) => Attribute::new(n, v),
            None => Attribute::flag(text),
        }
    }

    /// Whether this attribute has a typed view (and is therefore validated at parse time).
    pub fn is_known(&self) -> bool {
        KNOWN.contains(&self.name.as_str())
    }

    /// The typed view; `Ok(None)` for attributes the mapping does not type.
    pub fn typed(&self) -> Result<Option<TypedAttribute>, AttributeError> {
        let v = || {
            self.value
                .as_deref()
                .map(str::trim)
                .ok_or(AttributeError::MissingValue)
        };
        Ok(Some(match self.name.as_str() {
            "rtpmap" => TypedAttribute::Rtpmap(Rtpmap::parse(v()?)?),
            "fmtp" => TypedAttribute::Fmtp(Fmtp::parse(v()?)?),
            "ptime" => TypedAttribute::Ptime(millis(v()?, "ptime")?),
            "maxptime" => TypedAttribute::Maxptime(millis(v()?, "maxptime")?),
            "rtcp-fb" => TypedAttribute::RtcpFb(RtcpFb::parse(v()?)?),
            "extmap" => TypedAttribute::Extmap(Extmap::parse(v()?)?),
            "extmap-allow-mixed" => TypedAttribute::ExtmapAllowMixed,
            // RFC 5888 identification-tag = token.
            "mid" => TypedAttribute::Mid(
                Some(v()?)
                    .filter(|m| is_token(m))
                    .ok_or(AttributeError::BadValue("mid"))?
                    .to_string(),
            ),
            "group" => TypedAttribute::Group(Group::parse(v()?)?),
            "ssrc" => TypedAttribute::Ssrc(Ssrc::parse(v()?)?),
            "ssrc-group" => TypedAttribute::SsrcGroup(SsrcGroup::parse(v()?)?),
            "msid" => TypedAttribute::Msid(Msid::parse(v()?)?),
            "rtcp-mux" => TypedAttribute::RtcpMux,
            "rtcp-rsize" => TypedAttribute::RtcpRsize,
            "rtcp" => TypedAttribute::Rtcp(Rtcp::parse(v()?)?),
            "sendrecv" => TypedAttribute::Direction(Direction::SendRecv),
            "sendonly" => TypedAttribute::Direction(Direction::SendOnly),
            "recvonly" => TypedAttribute::Direction(Direction::RecvOnly),
            "inactive" => TypedAttribute::Direction(Direction::Inactive),
            "ice-ufrag" => TypedAttribute::IceUfrag(ice_chars(v()?, "ice-ufrag")?.to_string()),
            "ice-pwd" => TypedAttribute::IcePwd(ice_chars(v()?, "ice-pwd")?.to_string()),
            "ice-options" => TypedAttribute::IceOptions(
                v()?.split_ascii_whitespace().map(str::to_string).collect(),
            ),
            "ice-lite" => TypedAttribute::IceLite,
            "candidate" => TypedAttribute::Candidate(Candidate::parse(v()?)?),
            "end-of-candidates" => TypedAttribute::EndOfCandidates,
            "remote-candidates" => {
                TypedAttribute::RemoteCandidates(RemoteCandidate::parse_list(v()?)?)
            }
            "fingerprint" => TypedAttribute::Fingerprint(Fingerprint::parse(v()?)?),
            "setup" => TypedAttribute::Setup(Setup::parse(v()?)?),
            "crypto" => TypedAttribute::Crypto(Crypto::parse(v()?)?),
            "zrtp-hash" => TypedAttribute::ZrtpHash(ZrtpHash::parse(v()?)?),
            "sctp-port" => TypedAttribute::SctpPort(num(v()?, "sctp-port")?),
            "sctpmap" => TypedAttribute::Sctpmap(Sctpmap::parse(v()?)?),
            "max-message-size" => TypedAttribute::MaxMessageSize(num(v()?, "max-message-size")?),
            _ => return Ok(None),
        }))
    }
}

impl fmt::Display for Attribute {
    /// The line without `a=` and without a line ending.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}:{}", self.name, v),
            None => f.write_str(&self.name),
        }
    }
}

const KNOWN: &[&str] = &[
    "rtpmap",
    "fmtp",
    "ptime",
    "maxptime",
    "rtcp-fb",
    "extmap",
    "extmap-allow-mixed",
    "mid",
    "group",
    "ssrc",
    "ssrc-group",
    "msid",
    "rtcp-mux",
    "rtcp-rsize",
    "rtcp",
    "sendrecv",
    "sendonly",
    "recvonly",
    "inactive",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
    "candidate",
    "end-of-candidates",
    "remote-candidates",
    "fingerprint",
    "setup",
    "crypto",
    "zrtp-hash",
    "sctp-port",
    "sctpmap",
    "max-message-size",
];

/// Typed view of an attribute the mapping needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypedAttribute {
    Rtpmap(Rtpmap),
    Fmtp(Fmtp),
    /// Whole milliseconds.
    Ptime(u32),
    /// Whole milliseconds.
    Maxptime(u32),
    RtcpFb(RtcpFb),
    Extmap(Extmap),
    ExtmapAllowMixed,
    Mid(String),
    Group(Group),
    Ssrc(Ssrc),
    SsrcGroup(SsrcGroup),
    Msid(Msid),
    RtcpMux,
    RtcpRsize,
    Rtcp(Rtcp),
    Direction(Direction),
    IceUfrag(String),
    IcePwd(String),
    IceOptions(Vec<String>),
    IceLite,
    Candidate(Candidate),
    EndOfCandidates,
    RemoteCandidates(Vec<RemoteCandidate>),
    Fingerprint(Fingerprint),
    Setup(Setup),
    Crypto(Crypto),
    ZrtpHash(ZrtpHash),
    SctpPort(u16),
    Sctpmap(Sctpmap),
    MaxMessageSize(u64),
}

impl TypedAttribute {
    /// The attribute name this typed value is written under.
    pub fn name(&self) -> &'static str {
        match self {
            TypedAttribute::Rtpmap(_) => "rtpmap",
            TypedAttribute::Fmtp(_) => "fmtp",
            TypedAttribute::Ptime(_) => "ptime",
            TypedAttribute::Maxptime(_) => "maxptime",
            TypedAttribute::RtcpFb(_) => "rtcp-fb",
            TypedAttribute::Extmap(_) => "extmap",
            TypedAttribute::ExtmapAllowMixed => "extmap-allow-mixed",
            TypedAttribute::Mid(_) => "mid",
            TypedAttribute::Group(_) => "group",
            TypedAttribute::Ssrc(_) => "ssrc",
            TypedAttribute::SsrcGroup(_) => "ssrc-group",
            TypedAttribute::Msid(_) => "msid",
            TypedAttribute::RtcpMux => "rtcp-mux",
            TypedAttribute::RtcpRsize => "rtcp-rsize",
            TypedAttribute::Rtcp(_) => "rtcp",
            TypedAttribute::Direction(d) => d.as_str(),
            TypedAttribute::IceUfrag(_) => "ice-ufrag",
            TypedAttribute::IcePwd(_) => "ice-pwd",
            TypedAttribute::IceOptions(_) => "ice-options",
            TypedAttribute::IceLite => "ice-lite",
            TypedAttribute::Candidate(_) => "candidate",
            TypedAttribute::EndOfCandidates => "end-of-candidates",
            TypedAttribute::RemoteCandidates(_) => "remote-candidates",
            TypedAttribute::Fingerprint(_) => "fingerprint",
            TypedAttribute::Setup(_) => "setup",
            TypedAttribute::Crypto(_) => "crypto",
            TypedAttribute::ZrtpHash(_) => "zrtp-hash",
            TypedAttribute::SctpPort(_) => "sctp-port",
            TypedAttribute::Sctpmap(_) => "sctpmap",
            TypedAttribute::MaxMessageSize(_) => "max-message-size",
        }
    }

    /// The raw attribute to put in an SDP (for building SDP from Jingle).
    pub fn to_attribute(&self) -> Attribute {
        let value = match self {
            TypedAttribute::Rtpmap(x) => x.to_string(),
            TypedAttribute::Fmtp(x) => x.to_string(),
            TypedAttribute::Ptime(x) | TypedAttribute::Maxptime(x) => x.to_string(),
            TypedAttribute::RtcpFb(x) => x.to_string(),
            TypedAttribute::Extmap(x) => x.to_string(),
            TypedAttribute::Mid(x) | TypedAttribute::IceUfrag(x) | TypedAttribute::IcePwd(x) => {
                x.clone()
            }
            TypedAttribute::Group(x) => x.to_string(),
            TypedAttribute::Ssrc(x) => x.to_string(),
            TypedAttribute::SsrcGroup(x) => x.to_string(),
            TypedAttribute::Msid(x) => x.to_string(),
            TypedAttribute::Rtcp(x) => x.to_string(),
            TypedAttribute::IceOptions(x) => x.join(" "),
            TypedAttribute::Candidate(x) => x.to_string(),
            TypedAttribute::RemoteCandidates(x) => x
                .iter()
                .map(|r| format!("{} {} {}", r.component, r.address, r.port))
                .collect::<Vec<_>>()
                .join(" "),
            TypedAttribute::Fingerprint(x) => x.to_string(),
            TypedAttribute::Setup(x) => x.as_str().to_string(),
            TypedAttribute::Crypto(x) => x.to_string(),
            TypedAttribute::ZrtpHash(x) => format!("{} {}", x.version, x.hash),
            TypedAttribute::SctpPort(x) => x.to_string(),
            TypedAttribute::Sctpmap(x) => x.to_string(),
            TypedAttribute::MaxMessageSize(x) => x.to_string(),
            TypedAttribute::ExtmapAllowMixed
            | TypedAttribute::RtcpMux
            | TypedAttribute::RtcpRsize
            | TypedAttribute::Direction(_)
            | TypedAttribute::IceLite
            | TypedAttribute::EndOfCandidates => return Attribute::flag(self.name()),
        };
        Attribute::new(self.name(), value)
    }
}

pub(super) fn typed_iter(attrs: &[Attribute]) -> impl Iterator<Item = TypedAttribute> + '_ {
    attrs.iter().filter_map(|a| a.typed().ok().flatten())
}

pub(super) fn direction_of(attrs: &[Attribute]) -> Option<Direction> {
    attrs.iter().find_map(|a| Direction::from_name(&a.name))
}

pub(super) fn num<T: std::str::FromStr>(s: &str, field: &'static str) -> Result<T, AttributeError> {
    // `u16::from_str` accepts a leading '+'; SDP numbers are plain digits.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AttributeError::BadNumber(field));
    }
    s.parse().map_err(|_| AttributeError::BadNumber(field))
}

/// ptime/maxptime: RFC 8866 §6.4 allows a real (`20.5`); we keep whole milliseconds (the
/// raw line still carries the fraction).
fn millis(s: &str, field: &'static str) -> Result<u32, AttributeError> {
    match s.split_once('.') {
        Some((int, frac)) => {
            num::<u64>(frac, field)?;
            num(int, field)
        }
        None => num(s, field),
    }
}

/// RFC 8866 §9 `token`: media kinds, protos, formats, attribute names, mids. Non-empty,
/// printable ASCII without separators.
pub fn is_token(s: &str) -> bool {
    let token_char = |b: u8| matches!(b, 0x21 | 0x23..=0x27 | 0x2A..=0x2B | 0x2D..=0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7E);
    !s.is_empty() && s.bytes().all(token_char)
}

/// RFC 8839 §5.4: credentials are `ice-char` (ALPHA / DIGIT / "+" / "/"). Lengths are not
/// enforced: deployed stacks send pwds shorter than the RFC's 22 and still interoperate.
fn ice_chars<'a>(s: &'a str, field: &'static str) -> Result<&'a str, AttributeError> {
    let ice_char = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    if s.bytes().all(ice_char) {
        non_empty(s, field)
    } else {
        Err(AttributeError::BadValue(field))
    }
}

fn non_empty<'a>(s: &'a str, field: &'static str) -> Result<&'a str, AttributeError> {
    if s.is_empty() {
        Err(AttributeError::MissingField(field))
    } else {
        Ok(s)
    }
}

/// Split off the first whitespace-separated token.
fn token<'a>(s: &'a str, field: &'static str) -> Result<(&'a str, &'a str), AttributeError> {
    let s = s.trim_start();
    let (t, rest) = s
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((s, ""));
    if t.is_empty() {
        return Err(AttributeError::MissingField(field));
    }
    Ok((t, rest.trim_start()))
}

/// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtpmap {
    pub pt: u8,
    /// As written; compare case-insensitively (MIME subtype).
    pub encoding: String,
    pub clock_rate: u32,
    /// Absent means 1 for audio.
    pub channels: Option<u16>,
}

impl Rtpmap {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (pt, rest) = token(v, "payload type")?;
        let pt = num(pt, "payload type")?;
        let mut parts = rest.trim().split('/');
        let encoding = non_empty(parts.next().unwrap_or(""), "encoding")?.to_string();
        let clock_rate = num(
            parts
                .next()
                .ok_or(AttributeError::MissingField("clock rate"))?,
            "clock rate",
        )?;
        let channels = parts.next().map(|c| num(c, "channels")).transpose()?;
        if parts.next().is_some() {
            return Err(AttributeError::BadValue("encoding"));
        }
        Ok(Rtpmap {
            pt,
            encoding,
            clock_rate,
            channels,
        })
    }
}

impl fmt::Display for Rtpmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.pt, self.encoding, self.clock_rate)?;
        if let Some(c) = self.channels {
            write!(f, "/{c}")?;
        }
        Ok(())
    }
}

/// `a=fmtp:<pt> <params>`; `params` is kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    pub pt: u8,
    pub params: String,
}

/// One `;`-separated fmtp parameter. `name` is `None` for non-k=v values such as
/// telephone-event `0-15` or red `0/103` (stox-media §fmtp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FmtpParam {
    pub name: Option<String>,
    pub value: String,
}

impl Fmtp {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (pt, rest) = token(v, "payload type")?;
        Ok(Fmtp {
            pt: num(pt, "payload type")?,
            params: rest.trim().to_string(),
        })
    }

    /// Split `params` on `;`, trimming spaces; empty pieces are dropped.
    pub fn split_params(&self) -> Vec<FmtpParam> {
        self.params
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => FmtpParam {
                    name: Some(k.trim().to_string()),
                    value: v.trim().to_string(),
                },
                _ => FmtpParam {
                    name: None,
                    value: p.to_string(),
                },
            })
            .collect()
    }
}

impl Fmtp {
    /// Build from parameters (e.g. Jingle `<parameter>`s), joined with `; `
    /// (design/sdp-jingle-mapping.md §1, fmtp row); nameless ones are written bare.
    pub fn from_params(pt: u8, params: &[FmtpParam]) -> Self {
        let params = params
            .iter()
            .map(|p| match &p.name {
                Some(n) => format!("{n}={}", p.value),
                None => p.value.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        Fmtp { pt, params }
    }
}

impl fmt::Display for Fmtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.pt, self.params)
    }
}

/// The payload type of an `a=rtcp-fb` line: one PT or `*` (all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpFbPt {
    All,
    Pt(u8),
}

/// `a=rtcp-fb:<pt|*> <type> [<subtype/params>]` (RFC 4585 §4.2). For `trr-int`, `param` holds
/// the interval, validated as a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpFb {
    pub pt: RtcpFbPt,
    pub fb_type: String,
    pub param: Option<String>,
}

impl RtcpFb {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (pt, rest) = token(v, "payload type")?;
        let pt = if pt == "*" {
            RtcpFbPt::All
        } else {
            RtcpFbPt::Pt(num(pt, "payload type")?)
        };
        let (fb_type, rest) = token(rest, "type")?;
        let param = Some(rest.trim())
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        let fb = RtcpFb {
            pt,
            fb_type: fb_type.to_string(),
            param,
        };
        if fb.fb_type == "trr-int" {
            num::<u32>(fb.param.as_deref().unwrap_or(""), "trr-int")?;
        }
        Ok(fb)
    }

    /// The `trr-int` value in milliseconds, if this is a trr-int line.
    pub fn trr_int(&self) -> Option<u32> {
        if self.fb_type == "trr-int" {
            self.param.as_deref().and_then(|p| p.parse().ok())
        } else {
            None
        }
    }
}

impl fmt::Display for RtcpFb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pt {
            RtcpFbPt::All => f.write_str("*")?,
            RtcpFbPt::Pt(p) => write!(f, "{p}")?,
        }
        write!(f, " {}", self.fb_type)?;
        if let Some(p) = &self.param {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

/// `a=sendrecv / sendonly / recvonly / inactive`, from the SDP author's viewpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// The attribute line for this direction.
    pub fn to_attribute(self) -> Attribute {
        Attribute::flag(self.as_str())
    }
}

/// `a=extmap:<id>[/<direction>] <uri> [<attributes>]` (RFC 8285 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extmap {
    pub id: u16,
    pub direction: Option<Direction>,
    pub uri: String,
    pub attributes: Option<String>,
}

impl Extmap {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (idd, rest) = token(v, "id")?;
        let (id, direction) = match idd.split_once('/') {
            Some((i, d)) => (
                i,
                Some(Direction::from_name(d).ok_or(AttributeError::BadValue("direction"))?),
            ),
            None => (idd, None),
        };
        let id = num(id, "id")?;
        let (uri, rest) = token(rest, "uri")?;
        let attributes = Some(rest.trim())
            .filter(|a| !a.is_empty())
            .map(str::to_string);
        Ok(Extmap {
            id,
            direction,
            uri: uri.to_string(),
            attributes,
        })
    }
}

impl fmt::Display for Extmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)?;
        if let Some(d) = self.direction {
            write!(f, "/{}", d.as_str())?;
        }
        write!(f, " {}", self.uri)?;
        if let Some(a) = &self.attributes {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// `a=group:<semantics> <tag>...` (RFC 5888).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub semantics: String,
    pub tags: Vec<String>,
}

impl Group {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (semantics, rest) = token(v, "semantics")?;
        Ok(Group {
            semantics: semantics.to_string(),
            tags: rest.split_ascii_whitespace().map(str::to_string).collect(),
        })
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.semantics)?;
        self.tags.iter().try_for_each(|t| write!(f, " {t}"))
    }
}

/// `a=ssrc:<id> <attribute>[:<value>]` (RFC 5576).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssrc {
    pub id: u32,
    pub attribute: String,
    pub value: Option<String>,
}

impl Ssrc {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (id, rest) = token(v, "ssrc-id")?;
        let id = num(id, "ssrc-id")?;
        let rest = non_empty(rest.trim(), "attribute")?;
        let (attribute, value) = match rest.split_once(':') {
            Some((a, v)) => (a.to_string(), Some(v.to_string())),
            None => (rest.to_string(), None),
        };
        Ok(Ssrc {
            id,
            attribute,
            value,
        })
    }
}

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, self.attribute)?;
        if let Some(v) = &self.value {
            write!(f, ":{v}")?;
        }
        Ok(())
    }
}

/// `a=ssrc-group:<semantics> <ssrc-id>...` (RFC 5576).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsrcGroup {
    pub semantics: String,
    pub ssrcs: Vec<u32>,
}

impl SsrcGroup {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (semantics, rest) = token(v, "semantics")?;
        let ssrcs = rest
            .split_ascii_whitespace()
            .map(|s| num(s, "ssrc-id"))
            .collect::<Result<_, _>>()?;
        Ok(SsrcGroup {
            semantics: semantics.to_string(),
            ssrcs,
        })
    }
}

impl fmt::Display for SsrcGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.semantics)?;
        self.ssrcs.iter().try_for_each(|s| write!(f, " {s}"))
    }
}

/// `a=msid:<stream id> [<track id>]` (RFC 8830).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msid {
    pub stream: String,
    pub track: Option<String>,
}

impl Msid {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (stream, rest) = token(v, "stream id")?;
        let track = Some(rest.trim())
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        Ok(Msid {
            stream: stream.to_string(),
            track,
        })
    }
}

impl fmt::Display for Msid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.stream)?;
        if let Some(t) = &self.track {
            write!(f, " {t}")?;
        }
        Ok(())
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    pub port: u16,
    pub connection: Option<super::Connection>,
}

impl Rtcp {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (port, rest) = token(v, "port")?;
        let port = num(port, "port")?;
        let parts: Vec<&str> = rest.split_ascii_whitespace().collect();
        let connection = match parts.as_slice() {
            [] => None,
            [n, a, _] if !is_token(n) || !is_token(a) => {
                return Err(AttributeError::BadValue("connection address"))
            }
            [n, a, addr] => Some(super::Connection {
                nettype: n.to_string(),
                addrtype: a.to_string(),
                address: addr.to_string(),
            }),
            _ => return Err(AttributeError::BadValue("connection address")),
        };
        Ok(Rtcp { port, connection })
    }
}

impl fmt::Display for Rtcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some(c) = &self.connection {
            write!(f, " {} {} {}", c.nettype, c.addrtype, c.address)?;
        }
        Ok(())
    }
}

/// One `<component> <address> <port>` triple of `a=remote-candidates` (RFC 8839 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCandidate {
    pub component: u16,
    pub address: String,
    pub port: u16,
}

impl RemoteCandidate {
    pub fn parse_list(v: &str) -> Result<Vec<Self>, AttributeError> {
        let parts: Vec<&str> = v.split_ascii_whitespace().collect();
        let triples = parts.chunks_exact(3);
        if parts.is_empty() || !triples.remainder().is_empty() {
            return Err(AttributeError::BadValue("remote-candidates"));
        }
        triples
            .map(|c| {
                Ok(RemoteCandidate {
                    component: num(c[0], "component")?,
                    address: c[1].to_string(),
                    port: num(c[2], "port")?,
                })
            })
            .collect()
    }
}

/// `a=fingerprint:<hash> <value>` (RFC 8122); there may be several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub hash: String,
    pub value: String,
}

impl Fingerprint {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (hash, rest) = token(v, "hash")?;
        let (value, extra) = token(rest, "fingerprint")?;
        if !is_token(hash) {
            return Err(AttributeError::BadValue("hash"));
        }
        // RFC 8122 §5: `2UHEX *(":" 2UHEX)` (upper case); lower case is accepted too because
        // deployed stacks send it. The value is kept as sent.
        let hex_pair = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit());
        if !extra.is_empty() || !value.split(':').all(hex_pair) {
            return Err(AttributeError::BadValue("fingerprint"));
        }
        Ok(Fingerprint {
            hash: hash.to_string(),
            value: value.to_string(),
        })
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hash, self.value)
    }
}

/// `a=setup` (RFC 4145).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    Active,
    Passive,
    ActPass,
    HoldConn,
}

impl Setup {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        Ok(match v {
            "active" => Setup::Active,
            "passive" => Setup::Passive,
            "actpass" => Setup::ActPass,
            "holdconn" => Setup::HoldConn,
            _ => return Err(AttributeError::BadValue("setup")),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
            Setup::HoldConn => "holdconn",
        }
    }
}

/// `a=crypto:<tag> <crypto-suite> <key-params> [<session-param>...]` (RFC 4568 §9.1). The
/// suite is kept as written (pjsip sends it lower-case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub suite: String,
    /// `inline:...` key parameters, several joined by `;`, verbatim.
    pub key_params: String,
    pub session_params: Vec<String>,
}

impl Crypto {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (tag, rest) = token(v, "tag")?;
        let tag = num(tag, "tag")?;
        let (suite, rest) = token(rest, "crypto-suite")?;
        let (key_params, rest) = token(rest, "key-params")?;
        if !key_params.contains(':') {
            return Err(AttributeError::BadValue("key-params"));
        }
        Ok(Crypto {
            tag,
            suite: suite.to_string(),
            key_params: key_params.to_string(),
            session_params: rest.split_ascii_whitespace().map(str::to_string).collect(),
        })
    }
}

impl fmt::Display for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.tag, self.suite, self.key_params)?;
        for p in &self.session_params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

/// `a=zrtp-hash:<version> <hash>` (RFC 6189 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZrtpHash {
    pub version: String,
    pub hash: String,
}

impl ZrtpHash {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (version, rest) = token(v, "version")?;
        let (hash, _) = token(rest, "hash")?;
        Ok(ZrtpHash {
            version: version.to_string(),
            hash: hash.to_string(),
        })
    }
}

/// Old-style `a=sctpmap:<port> <protocol> [<streams>]` (draft-ietf-mmusic-sctp-sdp-05).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sctpmap {
    pub port: u16,
    pub protocol: String,
    pub streams: Option<u32>,
}

impl fmt::Display for Sctpmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.port, self.protocol)?;
        if let Some(s) = self.streams {
            write!(f, " {s}")?;
        }
        Ok(())
    }
}

impl Sctpmap {
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let (port, rest) = token(v, "port")?;
        let (protocol, rest) = token(rest, "protocol")?;
        let streams = Some(rest.trim())
            .filter(|s| !s.is_empty())
            .map(|s| num(s, "streams"))
            .transpose()?;
        Ok(Sctpmap {
            port: num(port, "port")?,
            protocol: protocol.to_string(),
            streams,
        })
    }
}
