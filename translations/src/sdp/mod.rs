//! SDP (RFC 8866) and trickle-ICE sdpfrag (RFC 8840): a typed, validated model that parses and
//! writes losslessly.
//!
//! The raw attribute lists (`a=` lines, in order, per level) are the source of truth, so unknown
//! attributes and their placement survive a parse/write round trip; typed views
//! ([`TypedAttribute`], [`Candidate`], ...) are parsed from them on demand. The attributes the
//! SDP<->Jingle mapping needs are also validated at parse time, so an accessor never meets a
//! malformed one.
//!
//! We keep our own line parser instead of `sdp-types` (0.3.1; the evidence is pinned in
//! `tests/sdp_types_evidence.rs`): it fills in a missing `o=` (placeholder
//! `o=- 0 0 IN IP4 0.0.0.0`), `s=` (empty) or `t=` (written back as `t=0 0`), silently drops
//! unknown and misplaced lines, accepts malformed `a=` lines and checks typed attributes only
//! on access; all of these must be errors here. We also need the offending line's text in
//! errors, and the same machinery for sdpfrag bodies (no `v=`/`o=`/`s=`/`t=`), which it lacks.
//! Where it was stricter than us we now check the RFC grammar too: an `m=` needs a format,
//! nettype/addrtype are tokens, `a=fingerprint` is hex pairs, `r=` fields are typed times.
//!
//! Input may use LF or CRLF; output always uses CRLF.

/// `fn $name(&self) -> Option<$ty>`: the first typed attribute of that variant.
macro_rules! typed_first {
    ($($(#[$doc:meta])* $name:ident : $variant:ident -> $ty:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Option<$ty> {
            self.typed_attributes().find_map(|t| match t {
                TypedAttribute::$variant(x) => Some(x),
                _ => None,
            })
        }
    )*};
}

/// `fn $name(&self) -> Vec<$ty>`: every typed attribute of that variant, in order.
macro_rules! typed_all {
    ($($(#[$doc:meta])* $name:ident : $variant:ident -> $ty:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Vec<$ty> {
            self.typed_attributes()
                .filter_map(|t| match t {
                    TypedAttribute::$variant(x) => Some(x),
                    _ => None,
                })
                .collect()
        }
    )*};
}

mod attributes;
mod candidate;
mod error;
mod fragment;
mod parse;
mod write;

#[cfg(test)]
mod tests;

pub use attributes::{
    is_token, Attribute, Crypto, Direction, Extmap, Fingerprint, Fmtp, FmtpParam, Group, Msid,
    RemoteCandidate, Rtcp, RtcpFb, RtcpFbPt, Rtpmap, Sctpmap, Setup, Ssrc, SsrcGroup,
    TypedAttribute, ZrtpHash,
};
pub use candidate::Candidate;
pub use error::{AttributeError, SdpError, SdpErrorKind};
pub use fragment::SdpFragment;

/// A whole SDP body (RFC 8866 §5). Field order follows the SDP line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`
    pub origin: Origin,
    /// `s=` (may be a single space, as RFC 4317 examples use).
    pub session_name: String,
    /// `i=`
    pub information: Option<String>,
    /// `u=`
    pub uri: Option<String>,
    /// `e=` lines.
    pub emails: Vec<String>,
    /// `p=` lines.
    pub phones: Vec<String>,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines, each with its `r=` lines; never empty after parsing.
    pub timing: Vec<Timing>,
    /// `z=`
    pub time_zones: Option<String>,
    /// Session-level `k=` (obsolete, kept verbatim).
    pub key: Option<String>,
    /// Session-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// `m=` sections, in order.
    pub media: Vec<Media>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: u64,
    pub session_version: u64,
    pub nettype: String,
    pub addrtype: String,
    pub address: String,
}

/// `c=<nettype> <addrtype> <connection-address>`; the address keeps any `/ttl/count` suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub nettype: String,
    pub addrtype: String,
    pub address: String,
}

/// `b=<bwtype>:<bandwidth>` (AS, CT, TIAS, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    pub bwtype: String,
    pub bandwidth: u64,
}

/// `t=<start> <stop>` and its `r=` lines (kept verbatim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub start: u64,
    pub stop: u64,
    pub repeats: Vec<String>,
}

/// The `<media>` of an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Video,
    Application,
    /// text, message, image, or anything else, verbatim.
    Other(String),
}

impl MediaKind {
    pub fn as_str(&self) -> &str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Application => "application",
            MediaKind::Other(s) => s,
        }
    }

    pub(crate) fn from_token(s: &str) -> Self {
        match s {
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            "application" => MediaKind::Application,
            other => MediaKind::Other(other.to_string()),
        }
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: MediaKind,
    /// 0 means a rejected or removed stream (RFC 3264 §6).
    pub port: u16,
    /// The `/<number of ports>` suffix, if present.
    pub port_count: Option<u16>,
    /// RTP/AVP, RTP/SAVP, RTP/AVPF, UDP/TLS/RTP/SAVPF, UDP/DTLS/SCTP, ...
    pub proto: String,
    /// Formats in preference order (payload types for RTP).
    pub formats: Vec<String>,
    /// `i=`
    pub information: Option<String>,
    /// Media-level `c=`; overrides the session-level one. The first one if there are several.
    pub connection: Option<Connection>,
    /// Further media-level `c=` lines, in order (RFC 8866 §5.7: multicast layered encoding,
    /// one address per layer). Only meaningful when `connection` is set; written after it.
    pub extra_connections: Vec<Connection>,
    pub bandwidths: Vec<Bandwidth>,
    /// Media-level `k=` (obsolete, kept verbatim).
    pub key: Option<String>,
    /// Media-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
}

impl Media {
    /// A media section with no attributes.
    pub fn new(kind: MediaKind, port: u16, proto: impl Into<String>, formats: Vec<String>) -> Self {
        Media {
            kind,
            port,
            port_count: None,
            proto: proto.into(),
            formats,
            information: None,
            connection: None,
            extra_connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        }
    }

    /// Typed view of every attribute the mapping knows (unknown ones are skipped).
    pub fn typed_attributes(&self) -> impl Iterator<Item = TypedAttribute> + '_ {
        attributes::typed_iter(&self.attributes)
    }

    /// The first attribute named `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Whether a flag attribute (e.g. `rtcp-mux`) is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// This section's own `a=sendrecv/sendonly/recvonly/inactive`, if any.
    pub fn direction(&self) -> Option<Direction> {
        attributes::direction_of(&self.attributes)
    }

    /// The direction in force: media level, else session level, else sendrecv (RFC 3264 §5.1).
    pub fn effective_direction(&self, session: &SessionDescription) -> Direction {
        self.direction()
            .or_else(|| session.direction())
            .unwrap_or(Direction::SendRecv)
    }

    /// The connection in force: media-level `c=`, else the session-level one.
    pub fn effective_connection<'a>(
        &'a self,
        session: &'a SessionDescription,
    ) -> Option<&'a Connection> {
        self.connection.as_ref().or(session.connection.as_ref())
    }

    typed_first! {
        /// `a=mid`
        mid: Mid -> String;
        /// Media-level `a=ice-ufrag` (see also [`SessionDescription::ice_ufrag`]).
        ice_ufrag: IceUfrag -> String;
        /// Media-level `a=ice-pwd`.
        ice_pwd: IcePwd -> String;
        /// `a=setup`
        setup: Setup -> Setup;
        /// `a=ptime`, whole milliseconds.
        ptime: Ptime -> u32;
        /// `a=maxptime`, whole milliseconds.
        maxptime: Maxptime -> u32;
        /// `a=rtcp`
        rtcp: Rtcp -> Rtcp;
        /// `a=sctp-port`
        sctp_port: SctpPort -> u16;
    }

    typed_all! {
        /// `a=rtpmap` lines, in order.
        rtpmaps: Rtpmap -> Rtpmap;
        /// `a=fmtp` lines, in order.
        fmtps: Fmtp -> Fmtp;
        /// `a=rtcp-fb` lines, in order (`*` included).
        rtcp_fbs: RtcpFb -> RtcpFb;
        /// `a=extmap` lines, in order.
        extmaps: Extmap -> Extmap;
        /// `a=candidate` lines, in order.
        candidates: Candidate -> Candidate;
        /// `a=ssrc` lines, in order.
        ssrcs: Ssrc -> Ssrc;
        /// `a=ssrc-group` lines, in order.
        ssrc_groups: SsrcGroup -> SsrcGroup;
        /// `a=msid` lines, in order.
        msids: Msid -> Msid;
        /// `a=crypto` lines, in order.
        cryptos: Crypto -> Crypto;
        /// Media-level `a=fingerprint` lines, in order.
        fingerprints: Fingerprint -> Fingerprint;
    }
}

/// The typed attributes of a parsed description: session level, then one list per m-line
/// (only attributes with a typed view, in order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TypedView {
    pub session: Vec<TypedAttribute>,
    pub media: Vec<Vec<TypedAttribute>>,
}

impl SessionDescription {
    /// A minimal session (`t=0 0`, no c=, no attributes, no media) to build an SDP from Jingle.
    pub fn new(origin: Origin, session_name: impl Into<String>) -> Self {
        SessionDescription {
            origin,
            session_name: session_name.into(),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            timing: vec![Timing {
                start: 0,
                stop: 0,
                repeats: Vec::new(),
            }],
            time_zones: None,
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }

    /// Parse an SDP body (LF or CRLF line endings), validating it.
    pub fn parse(input: &str) -> Result<Self, SdpError> {
        parse::parse_session(input).map(|(sdp, _)| sdp)
    }

    /// [`Self::parse`], also returning the typed attributes validation produced, so a
    /// translation does not type every line a second time.
    pub fn parse_typed(input: &str) -> Result<(Self, TypedView), SdpError> {
        parse::parse_session(input)
    }

    /// Typed view of the session-level attributes the mapping knows.
    pub fn typed_attributes(&self) -> impl Iterator<Item = TypedAttribute> + '_ {
        attributes::typed_iter(&self.attributes)
    }

    /// The first session-level attribute named `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Session-level direction, which applies to every m-line without its own.
    pub fn direction(&self) -> Option<Direction> {
        attributes::direction_of(&self.attributes)
    }

    typed_first! {
        /// Session-level `a=ice-ufrag` (applies to m-lines without their own).
        ice_ufrag: IceUfrag -> String;
        /// Session-level `a=ice-pwd`.
        ice_pwd: IcePwd -> String;
        /// Session-level `a=setup`.
        setup: Setup -> Setup;
    }

    typed_all! {
        /// Session-level `a=group` lines (BUNDLE, LS, FID, ...).
        groups: Group -> Group;
        /// Session-level `a=fingerprint` lines.
        fingerprints: Fingerprint -> Fingerprint;
    }
}

impl std::str::FromStr for SessionDescription {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, SdpError> {
        Self::parse(s)
    }
}
