//! The line parser and validator (RFC 8866 §5 and §9), shared by full SDP and sdpfrag.
//!
//! Strict about content (required lines, numbers, typed attributes), lenient about runs of
//! whitespace between fields, which some SIP phones emit; the writer normalises them.

use super::attributes::{is_token, num, Attribute};
use super::error::{SdpError, SdpErrorKind};
use super::{
    Bandwidth, Connection, Media, MediaKind, Origin, SessionDescription, Timing, TypedAttribute,
    TypedView,
};

/// One `<type>=<value>` line.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line<'a> {
    /// 1-based.
    pub no: usize,
    pub text: &'a str,
    pub kind: char,
    pub value: &'a str,
}

impl Line<'_> {
    pub fn err(&self, kind: SdpErrorKind) -> SdpError {
        SdpError {
            line: self.no,
            text: self.text.to_string(),
            kind,
        }
    }
}

/// Error for something missing after the last line (or at `next`).
fn missing(next: Option<&Line<'_>>, total: usize, kind: SdpErrorKind) -> SdpError {
    match next {
        Some(l) => l.err(kind),
        None => SdpError {
            line: total + 1,
            text: String::new(),
            kind,
        },
    }
}

/// Split into lines (LF or CRLF), skipping blank ones, and check each is `<letter>=...`.
pub(super) fn lines(input: &str) -> Result<(Vec<Line<'_>>, usize), SdpError> {
    let mut out = Vec::new();
    let mut total = 0;
    for (i, raw) in input.split('\n').enumerate() {
        let text = raw.strip_suffix('\r').unwrap_or(raw);
        total = i + 1;
        if text.is_empty() {
            continue;
        }
        let b = text.as_bytes();
        // b[1] == '=' implies b[0] is a one-byte char, so slicing at 2 is on a boundary.
        if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
            return Err(SdpError {
                line: i + 1,
                text: text.to_string(),
                kind: SdpErrorKind::MalformedLine,
            });
        }
        // RFC 8866 byte-string excludes NUL and CR; XML 1.0 cannot carry the other C0
        // controls (except TAB), so SDP holding them could never reach a Jingle peer.
        if b.iter().any(|&c| c < 0x20 && c != b'\t') {
            return Err(SdpError {
                line: i + 1,
                text: text.escape_debug().to_string(),
                kind: SdpErrorKind::ForbiddenByte,
            });
        }
        out.push(Line {
            no: i + 1,
            text,
            kind: b[0] as char,
            value: &text[2..],
        });
    }
    if input.ends_with('\n') {
        total -= 1;
    }
    Ok((out, total))
}

pub(super) fn parse_session(input: &str) -> Result<(SessionDescription, TypedView), SdpError> {
    let (lines, total) = lines(input)?;
    let mut it = lines.iter().peekable();
    let v = it.next().ok_or(SdpError {
        line: 1,
        text: String::new(),
        kind: SdpErrorKind::Empty,
    })?;
    if v.kind != 'v' {
        return Err(v.err(SdpErrorKind::MissingVersion));
    }
    if v.value != "0" {
        return Err(v.err(SdpErrorKind::UnsupportedVersion(v.value.to_string())));
    }
    let o = it.next().filter(|l| l.kind == 'o');
    let o = o.ok_or_else(|| missing(lines.get(1), total, SdpErrorKind::MissingOrigin))?;
    let origin = parse_origin(o)?;
    let s = it.next().filter(|l| l.kind == 's');
    let s = s.ok_or_else(|| missing(lines.get(2), total, SdpErrorKind::MissingSessionName))?;

    let mut sd = SessionDescription::new(origin, s.value);
    let mut typed = TypedView::default();
    sd.timing.clear();
    while let Some(l) = it.next_if(|l| l.kind != 'm') {
        match l.kind {
            'i' => set_once(&mut sd.information, l)?,
            'u' => set_once(&mut sd.uri, l)?,
            'e' => sd.emails.push(l.value.to_string()),
            'p' => sd.phones.push(l.value.to_string()),
            'c' => {
                if sd.connection.is_some() {
                    return Err(l.err(SdpErrorKind::Duplicate('c')));
                }
                sd.connection = Some(parse_connection(l)?);
            }
            'b' => sd.bandwidths.push(parse_bandwidth(l)?),
            't' => sd.timing.push(parse_timing(l)?),
            'r' => match sd.timing.last_mut() {
                Some(t) => t.repeats.push(parse_repeat(l)?),
                None => return Err(l.err(SdpErrorKind::Unexpected('r'))),
            },
            'z' => set_once(&mut sd.time_zones, l)?,
            'k' => set_once(&mut sd.key, l)?,
            'a' => {
                let (a, t) = parse_attribute(l)?;
                sd.attributes.push(a);
                typed.session.extend(t);
            }
            other => return Err(l.err(SdpErrorKind::Unexpected(other))),
        }
    }
    if sd.timing.is_empty() {
        return Err(missing(
            it.peek().copied(),
            total,
            SdpErrorKind::MissingTiming,
        ));
    }
    (sd.media, typed.media) = parse_media_sections(&mut it)?;
    Ok((sd, typed))
}

/// Parse `m=` sections until the input ends, with each section's typed attributes. The
/// iterator must be at an `m=` line or the end.
pub(super) fn parse_media_sections<'a, 'b: 'a, I>(
    it: &mut std::iter::Peekable<I>,
) -> Result<(Vec<Media>, Vec<Vec<TypedAttribute>>), SdpError>
where
    I: Iterator<Item = &'a Line<'b>>,
{
    let mut media = Vec::new();
    let mut typed = Vec::new();
    while let Some(m) = it.next() {
        if m.kind != 'm' {
            return Err(m.err(SdpErrorKind::Unexpected(m.kind)));
        }
        let mut md = parse_media_line(m)?;
        let mut here = Vec::new();
        while let Some(l) = it.next_if(|l| l.kind != 'm') {
            match l.kind {
                'i' => set_once(&mut md.information, l)?,
                // RFC 8866 §5.7: several media-level c= lines (layered multicast) are fine.
                'c' => {
                    let c = parse_connection(l)?;
                    match md.connection {
                        None => md.connection = Some(c),
                        Some(_) => md.extra_connections.push(c),
                    }
                }
                'b' => md.bandwidths.push(parse_bandwidth(l)?),
                'k' => set_once(&mut md.key, l)?,
                'a' => {
                    let (a, t) = parse_attribute(l)?;
                    md.attributes.push(a);
                    here.extend(t);
                }
                other => return Err(l.err(SdpErrorKind::Unexpected(other))),
            }
        }
        media.push(md);
        typed.push(here);
    }
    Ok((media, typed))
}

fn set_once(slot: &mut Option<String>, l: &Line<'_>) -> Result<(), SdpError> {
    if slot.is_some() {
        return Err(l.err(SdpErrorKind::Duplicate(l.kind)));
    }
    *slot = Some(l.value.to_string());
    Ok(())
}

fn number<T: std::str::FromStr>(l: &Line<'_>, s: &str, field: &'static str) -> Result<T, SdpError> {
    num(s, field).map_err(|_| l.err(SdpErrorKind::BadNumber(field)))
}

fn parse_origin(l: &Line<'_>) -> Result<Origin, SdpError> {
    let f: Vec<&str> = l.value.split_ascii_whitespace().collect();
    let [username, id, version, nettype, addrtype, address] = f.as_slice() else {
        return Err(l.err(SdpErrorKind::BadOrigin("expected 6 space-separated fields")));
    };
    check_net_and_addr_types(nettype, addrtype)
        .map_err(|what| l.err(SdpErrorKind::BadOrigin(what)))?;
    Ok(Origin {
        username: username.to_string(),
        session_id: number(l, id, "o= sess-id")?,
        session_version: number(l, version, "o= sess-version")?,
        nettype: nettype.to_string(),
        addrtype: addrtype.to_string(),
        address: address.to_string(),
    })
}

fn parse_connection(l: &Line<'_>) -> Result<Connection, SdpError> {
    match l
        .value
        .split_ascii_whitespace()
        .collect::<Vec<_>>()
        .as_slice()
    {
        [n, a, addr] => {
            check_net_and_addr_types(n, a)
                .map_err(|what| l.err(SdpErrorKind::BadConnection(what)))?;
            Ok(Connection {
                nettype: n.to_string(),
                addrtype: a.to_string(),
                address: addr.to_string(),
            })
        }
        _ => Err(l.err(SdpErrorKind::BadConnection(
            "expected `<nettype> <addrtype> <address>`",
        ))),
    }
}

/// RFC 8866 §9: `nettype = token`, `addrtype = token` (in o= and c=). Unknown but
/// well-formed values (not `IN`/`IP4`/`IP6`) are kept: the grammar allows extensions.
fn check_net_and_addr_types(nettype: &str, addrtype: &str) -> Result<(), &'static str> {
    if !is_token(nettype) {
        return Err("nettype is not a token");
    }
    if !is_token(addrtype) {
        return Err("addrtype is not a token");
    }
    Ok(())
}

fn parse_bandwidth(l: &Line<'_>) -> Result<Bandwidth, SdpError> {
    let (t, bw) = l
        .value
        .split_once(':')
        .ok_or_else(|| l.err(SdpErrorKind::BadBandwidth("expected `<type>:<bw>`")))?;
    if t.is_empty() || t.contains(' ') {
        return Err(l.err(SdpErrorKind::BadBandwidth("bad bwtype")));
    }
    Ok(Bandwidth {
        bwtype: t.to_string(),
        bandwidth: number(l, bw.trim(), "b= bandwidth")?,
    })
}

fn parse_timing(l: &Line<'_>) -> Result<Timing, SdpError> {
    let f: Vec<&str> = l.value.split_ascii_whitespace().collect();
    let [start, stop] = f.as_slice() else {
        return Err(l.err(SdpErrorKind::BadTiming("expected `<start> <stop>`")));
    };
    Ok(Timing {
        start: number(l, start, "t= start")?,
        stop: number(l, stop, "t= stop")?,
        repeats: Vec::new(),
    })
}

/// `r=<repeat interval> <active duration> <offsets from start-time>` (RFC 8866 §5.10), kept
/// verbatim; only the §9 grammar is checked: each field is `1*DIGIT [d|h|m|s]`, the interval
/// starts with a non-zero digit, and there is at least one offset.
fn parse_repeat(l: &Line<'_>) -> Result<String, SdpError> {
    let typed_time = |s: &str| {
        let digits = s.strip_suffix(['d', 'h', 'm', 's']).unwrap_or(s);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let f: Vec<&str> = l.value.split_ascii_whitespace().collect();
    if f.len() < 3 {
        return Err(l.err(SdpErrorKind::BadRepeat(
            "expected `<interval> <duration> <offset>...`",
        )));
    }
    if f[0].starts_with('0') || !f.iter().all(|t| typed_time(t)) {
        return Err(l.err(SdpErrorKind::BadRepeat(
            "fields must be digits with an optional d/h/m/s unit",
        )));
    }
    Ok(l.value.to_string())
}

fn parse_media_line(l: &Line<'_>) -> Result<Media, SdpError> {
    let mut f = l.value.split_ascii_whitespace();
    let kind = f
        .next()
        .ok_or_else(|| l.err(SdpErrorKind::BadMedia("missing media")))?;
    let port = f
        .next()
        .ok_or_else(|| l.err(SdpErrorKind::BadMedia("missing port")))?;
    let proto = f
        .next()
        .ok_or_else(|| l.err(SdpErrorKind::BadMedia("missing proto")))?;
    // RFC 8866 §5.14: `m=<media> <port> <proto> <fmt> ...`, at least one format.
    let formats: Vec<String> = f.map(str::to_string).collect();
    if formats.is_empty() {
        return Err(l.err(SdpErrorKind::BadMedia("missing format")));
    }
    let (port, port_count) = match port.split_once('/') {
        Some((p, n)) => (
            number(l, p, "m= port")?,
            Some(number(l, n, "m= port count")?),
        ),
        None => (number(l, port, "m= port")?, None),
    };
    if !is_token(kind) {
        return Err(l.err(SdpErrorKind::BadMedia("media is not a token")));
    }
    if !proto.split('/').all(is_token) {
        return Err(l.err(SdpErrorKind::BadMedia("proto is not token *(/ token)")));
    }
    if !formats.iter().all(|f| is_token(f)) {
        return Err(l.err(SdpErrorKind::BadMedia("format is not a token")));
    }
    let mut m = Media::new(MediaKind::from_token(kind), port, proto, formats);
    m.port_count = port_count;
    Ok(m)
}

/// The attribute and its typed view (validating it is typing it, so the view is kept).
pub(super) fn parse_attribute(
    l: &Line<'_>,
) -> Result<(Attribute, Option<TypedAttribute>), SdpError> {
    let a = Attribute::from_line_value(l.value);
    if !is_token(&a.name) {
        return Err(l.err(SdpErrorKind::MalformedLine));
    }
    let typed = a.typed().map_err(|reason| {
        l.err(SdpErrorKind::BadAttribute {
            name: a.name.clone(),
            reason,
        })
    })?;
    Ok((a, typed))
}
