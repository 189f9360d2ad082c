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
        let colon = s.find(':')?;
        let scheme_text = &s[..colon];
        let sb = scheme_text.as_bytes();
        if sb.is_empty()
            || !sb[0].is_ascii_alphabetic()
            || !sb
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return None;
        }
        let rest = &s[colon + 1..];
        if rest.is_empty()
            || rest
                .bytes()
                .any(|b| b <= b' ' || matches!(b, b'<' | b'>' | b'"' | 0x7f))
        {
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
            if !rest.is_ascii() {
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
        let (user, password, hostpart) = match rest.rfind('@') {
            Some(at) => {
                let userinfo = &rest[..at];
                let (user, password) = match userinfo.find(':') {
                    Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
                    None => (userinfo, None),
                };
                if user.is_empty() || !valid_chars(user, is_user_byte) {
                    return None;
                }
                if let Some(p) = password {
                    if !valid_chars(p, is_password_byte) {
                        return None;
                    }
                }
                (Some(user), password, &rest[at + 1..])
            }
            None => (None, None, rest),
        };
        let hp_end = hostpart.find([';', '?']).unwrap_or(hostpart.len());
        let (host, port) = parse_hostport(&hostpart[..hp_end])?;
        let after = &hostpart[hp_end..];
        let (params, headers) = match after.find('?') {
            Some(q) => (&after[..q], Some(&after[q + 1..])),
            None => (after, None),
        };
        if !params.is_empty() {
            for p in params[1..].split(';') {
                let (name, value) = match p.find('=') {
                    Some(e) => (&p[..e], Some(&p[e + 1..])),
                    None => (p, None),
                };
                if name.is_empty() || !valid_chars(name, is_param_byte) {
                    return None;
                }
                if let Some(v) = value {
                    if v.is_empty() || !valid_chars(v, is_param_byte) {
                        return None;
                    }
                }
            }
        }
        if let Some(h) = headers {
            for pair in h.split('&') {
                let (name, value) = pair.split_once('=')?;
                if name.is_empty()
                    || !valid_chars(name, is_header_byte)
                    || !valid_chars(value, is_header_byte)
                {
                    return None;
                }
            }
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

/// `host [ ":" port ]` of a SIP URI (no whitespace allowed here).
fn parse_hostport(s: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']')?;
        let inner = &s[1..close];
        if inner.is_empty()
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        let tail = &s[close + 1..];
        match tail.strip_prefix(':') {
            Some(p) => (&s[..=close], Some(p)),
            None if tail.is_empty() => (&s[..=close], None),
            None => return None,
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if !host.starts_with('[')
        && (host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')))
    {
        return None;
    }
    let port = match port {
        Some(p) => Some(parse_port(p)?),
        None => None,
    };
    Some((host, port))
}

/// `1*DIGIT` no larger than 65535.
pub(crate) fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

fn valid_chars(s: &str, ok: fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                return false;
            }
            i += 3;
        } else if ok(b[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// RFC 3986-style `unreserved` of RFC 3261: alphanum and `mark`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

fn is_user_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

fn is_password_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

fn is_param_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

fn is_header_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
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
