//! Writing SDP and sdpfrag with CRLF line endings, in RFC 8866 §5 line order.

use std::fmt::{self, Write};

use super::fragment::SdpFragment;
use super::{Attribute, Bandwidth, Connection, Media, SessionDescription};

fn line(f: &mut impl Write, kind: char, value: impl fmt::Display) -> fmt::Result {
    write!(f, "{kind}={value}\r\n")
}

fn connection(f: &mut impl Write, c: &Connection) -> fmt::Result {
    line(
        f,
        'c',
        format_args!("{} {} {}", c.nettype, c.addrtype, c.address),
    )
}

fn bandwidths(f: &mut impl Write, bs: &[Bandwidth]) -> fmt::Result {
    bs.iter()
        .try_for_each(|b| line(f, 'b', format_args!("{}:{}", b.bwtype, b.bandwidth)))
}

fn attributes(f: &mut impl Write, attrs: &[Attribute]) -> fmt::Result {
    attrs.iter().try_for_each(|a| line(f, 'a', a))
}

pub(super) fn media(f: &mut impl Write, m: &Media) -> fmt::Result {
    write!(f, "m={} {}", m.kind.as_str(), m.port)?;
    if let Some(n) = m.port_count {
        write!(f, "/{n}")?;
    }
    write!(f, " {}", m.proto)?;
    for fmt in &m.formats {
        write!(f, " {fmt}")?;
    }
    f.write_str("\r\n")?;
    if let Some(i) = &m.information {
        line(f, 'i', i)?;
    }
    if let Some(c) = &m.connection {
        connection(f, c)?;
    }
    m.extra_connections
        .iter()
        .try_for_each(|c| connection(f, c))?;
    bandwidths(f, &m.bandwidths)?;
    if let Some(k) = &m.key {
        line(f, 'k', k)?;
    }
    attributes(f, &m.attributes)
}

impl fmt::Display for SessionDescription {
    /// The SDP body, CRLF line endings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        line(f, 'v', 0)?;
        line(
            f,
            'o',
            format_args!(
                "{} {} {} {} {} {}",
                o.username, o.session_id, o.session_version, o.nettype, o.addrtype, o.address
            ),
        )?;
        line(f, 's', &self.session_name)?;
        if let Some(i) = &self.information {
            line(f, 'i', i)?;
        }
        if let Some(u) = &self.uri {
            line(f, 'u', u)?;
        }
        self.emails.iter().try_for_each(|e| line(f, 'e', e))?;
        self.phones.iter().try_for_each(|p| line(f, 'p', p))?;
        if let Some(c) = &self.connection {
            connection(f, c)?;
        }
        bandwidths(f, &self.bandwidths)?;
        for t in &self.timing {
            line(f, 't', format_args!("{} {}", t.start, t.stop))?;
            t.repeats.iter().try_for_each(|r| line(f, 'r', r))?;
        }
        if let Some(z) = &self.time_zones {
            line(f, 'z', z)?;
        }
        if let Some(k) = &self.key {
            line(f, 'k', k)?;
        }
        attributes(f, &self.attributes)?;
        self.media.iter().try_for_each(|m| media(f, m))
    }
}

impl fmt::Display for SdpFragment {
    /// The sdpfrag body, CRLF line endings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        attributes(f, &self.attributes)?;
        self.media.iter().try_for_each(|m| media(f, m))
    }
}
