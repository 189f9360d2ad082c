//! URIs (RFC 3261 §19.1, §25.1): SIP and SIPS parsed into parts, any other scheme kept opaque.

use std::borrow::Cow;
use std::fmt;

use super::syntax::{is_hex, percent_decode, Params};

/// The scheme of a [`Uri`]. Compared case-insensitively (RFC 3261 §19.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme<'a> {
    /// `sip:`
    Sip,
    /// `sips:`
    Sips,
    /// `tel:` (RFC 3966), kept opaque.
    Tel,
    /// Any other absolute URI scheme (`im:`, `http:`, `soap.beep:`, ...), as written.
    Other(&'a str),
}

/// A parsed URI borrowing its text. SIP/SIPS URIs are split into user, host, port,
/// parameters and headers; other schemes only expose [`Uri::opaque`].
///
/// Escapes are kept as written (`user()` of `sip:%75ser@h` is `%75ser`); use
/// [`Uri::user_decoded`] for the decoded form, as RFC 3261 §19.1.4 compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    raw: &'a str,
    scheme: Scheme<'a>,
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: &'a str,
    port: Option<u16>,
    params: &'a str,
    headers: Option<&'a str>,
}

impl<'a> Uri<'a> {
    /// Parses `s` (no surrounding whitespace or angle brackets). `None` if it is not a valid
    /// URI: a SIP/SIPS URI must have a host, escapes must be `%HH`, and no URI may contain
    /// whitespace, `<`, `>` or `"`.
    pub fn parse(s: &'a str) -> Option<Uri<'a>> {
        let colon = memchr::memchr(b':', s.as_bytes())?;
        let scheme_text = &s[..colon];
        let sb = scheme_text.as_bytes();
        if sb.is_empty() || !sb[0].is_ascii_alphabetic() || !sb.iter().all(|&b| class(b, SCHEME)) {
            return None;
        }
        let rest = &s[colon + 1..];
        let b = rest.as_bytes();
        if b.is_empty() {
            return None;
        }
        let scheme = if scheme_text.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme_text.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if scheme_text.eq_ignore_ascii_case("tel") {
            Scheme::Tel
        } else {
            Scheme::Other(scheme_text)
        };
        if !matches!(scheme, Scheme::Sip | Scheme::Sips) {
            // absoluteURI: opaque, printable ASCII only.
            if !b.iter().all(|&c| class(c, OPAQUE)) {
                return None;
            }
            return Some(Uri {
                raw: s,
                scheme,
                user: None,
                password: None,
                host: "",
                port: None,
                params: "",
                headers: None,
            });
        }
        // The host part cannot contain '@', so the last one ends the userinfo (the user part
        // itself may hold ';', '?', '/' and ',', RFC 3261 §25.1 user-unreserved).
        let mut i = 0;
        let (mut user, mut password) = (None, None);
        if let Some(at) = memchr::memrchr(b'@', b) {
            let ue = scan_class(b, 0, USER)?;
            if ue == 0 {
                return None;
            }
            user = Some(&rest[..ue]);
            let mut end = ue;
            if b.get(ue) == Some(&b':') {
                end = scan_class(b, ue + 1, PASSWORD)?;
                password = Some(&rest[ue + 1..end]);
            }
            if end != at {
                return None;
            }
            i = at + 1;
        }
        // host [ ":" port ]
        let hs = i;
        if b.get(i) == Some(&b'[') {
            let close = i + memchr::memchr(b']', &b[i..])?;
            let inner = &b[i + 1..close];
            if inner.is_empty()
                || !inner
                    .iter()
                    .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
            {
                return None;
            }
            i = close + 1;
        } else {
            while i < b.len() && class(b[i], HOST) {
                i += 1;
            }
            if i == hs {
                return None;
            }
        }
        let host = &rest[hs..i];
        let mut port = None;
        if b.get(i) == Some(&b':') {
            let ps = i + 1;
            i = ps;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            port = Some(parse_port(&rest[ps..i])?);
        }
        // *( ";" pname [ "=" pvalue ] )
        let params_start = i;
        while b.get(i) == Some(&b';') {
            let ne = scan_class(b, i + 1, PARAM)?;
            if ne == i + 1 {
                return None;
            }
            i = ne;
            if b.get(i) == Some(&b'=') {
                let ve = scan_class(b, i + 1, PARAM)?;
                if ve == i + 1 {
                    return None;
                }
                i = ve;
            }
        }
        let params = &rest[params_start..i];
        // [ "?" hname "=" hvalue *( "&" hname "=" hvalue ) ]
        let mut headers = None;
        if b.get(i) == Some(&b'?') {
            let hs = i + 1;
            loop {
                let ne = scan_class(b, i + 1, HEADER)?;
                if ne == i + 1 || b.get(ne) != Some(&b'=') {
                    return None;
                }
                i = scan_class(b, ne + 1, HEADER)?;
                if b.get(i) != Some(&b'&') {
                    break;
                }
            }
            headers = Some(&rest[hs..i]);
        }
        if i != b.len() {
            return None;
        }
        Some(Uri {
            raw: s,
            scheme,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme<'a> {
        self.scheme
    }

    /// True for `sip:` and `sips:` URIs.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// Everything after `scheme:`.
    pub fn opaque(&self) -> &'a str {
        &self.raw[self.raw.find(':').map_or(0, |c| c + 1)..]
    }

    /// The user part as written (escapes kept); `None` for non-SIP URIs.
    pub fn user(&self) -> Option<&'a str> {
        self.user
    }

    /// The user part with `%HH` escapes decoded.
    pub fn user_decoded(&self) -> Option<Cow<'a, str>> {
        self.user.map(percent_decode)
    }

    /// The password part (deprecated by RFC 3261 §19.1.1 but still parsed).
    pub fn password(&self) -> Option<&'a str> {
        self.password
    }

    /// Host name, IPv4 address or bracketed IPv6 reference; empty for non-SIP URIs.
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The explicit port, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// URI parameters (`;transport=tcp;lr`).
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// The headers component after `?`, as written (`Route=%3Csip:x%3E&Subject=hi`).
    pub fn headers(&self) -> Option<&'a str> {
        self.headers
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// `1*DIGIT` no larger than 65535.
pub(crate) fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

const SCHEME: u8 = 1;
const USER: u8 = 2;
const PASSWORD: u8 = 4;
const PARAM: u8 = 8;
const HEADER: u8 = 16;
const HOST: u8 = 32;
const OPAQUE: u8 = 64;

#[inline]
fn class(b: u8, c: u8) -> bool {
    CLASSES[b as usize] & c != 0
}

/// Character classes of RFC 3261 §25.1, one bit each.
static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let alnum = b.is_ascii_alphanumeric();
        let unreserved = alnum
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        let mut c = 0;
        if alnum || matches!(b, b'+' | b'-' | b'.') {
            c |= SCHEME;
        }
        if unreserved || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            c |= USER;
        }
        if unreserved || matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            c |= PASSWORD;
        }
        if unreserved || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            c |= PARAM;
        }
        if unreserved || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            c |= HEADER;
        }
        if alnum || matches!(b, b'-' | b'.' | b'_') {
            c |= HOST;
        }
        if b > b' ' && b < 0x7f && !matches!(b, b'<' | b'>' | b'"') {
            c |= OPAQUE;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// End of a run of class `c` characters and `%HH` escapes from `i`; `None` on a bad escape.
fn scan_class(b: &[u8], mut i: usize, c: u8) -> Option<usize> {
    while i < b.len() {
        let x = b[i];
        if class(x, c) {
            i += 1;
        } else if x == b'%' {
            if i + 2 >= b.len() || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                return None;
            }
            i += 3;
        } else {
            break;
        }
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_parts() {
        let u = Uri::parse(
            "sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi&Priority=urgent",
        )
        .unwrap();
        assert_eq!(u.scheme(), Scheme::Sips);
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.password(), Some("pw"));
        assert_eq!(u.host(), "[2001:db8::1]");
        assert_eq!(u.port(), Some(5061));
        assert_eq!(u.params().value("transport").as_deref(), Some("tcp"));
        assert!(u.params().contains("lr"));
        assert_eq!(u.headers(), Some("Subject=hi&Priority=urgent"));
    }

    #[test]
    fn odd_but_valid() {
        // RFC 4475 intmeth and semiuri: the user part holds ';', '?', ',', '/' and ':'.
        let u = Uri::parse("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").unwrap();
        assert_eq!(u.host(), "example.com");
        assert_eq!(
            u.user(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        let u = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user(), Some("user;par=u%40example.net"));
        assert_eq!(u.user_decoded().as_deref(), Some("user;par=u@example.net"));
        assert!(u.params().is_empty());
        let u = Uri::parse("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.scheme(), Scheme::Other("soap.beep"));
        assert_eq!(u.opaque(), "//192.0.2.103:3002");
    }

    #[test]
    fn invalid() {
        for bad in [
            "sip:",
            "sip:@host",
            "sip:user@",
            "sip:user@host:99999",
            "sip:user@host:",
            "sip:us er@host",
            "sip:user@host;",
            "sip:user@host;=x",
            "sip:%zzuser@host",
            "sip:a@b?noequals",
            "<sip:a@b>",
            "1sip:a@b",
            "nocolon",
            "sip:a@[zz]",
        ] {
            assert!(Uri::parse(bad).is_none(), "{bad}");
        }
    }
}
