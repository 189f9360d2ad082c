//! `name-addr / addr-spec` values with parameters: From, To, Contact, Route, Record-Route
//! (RFC 3261 §20.10, §20.20, §20.39, §25.1).

use std::borrow::Cow;

use super::syntax::{
    is_token_byte, is_ws, parse_digits, scan_params, scan_quoted, skip_ws, trim_ws, unquote, Params,
};
use super::uri::Uri;

/// An address with optional display name and header parameters, borrowing its text.
///
/// In the `addr-spec` form (no angle brackets) everything after the first `;` is a header
/// parameter, not a URI parameter (RFC 3261 §20.10; RFC 4475 cparam01 vs cparam02).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    raw: &'a str,
    display_name: Option<&'a str>,
    uri: Uri<'a>,
    bracketed: bool,
    params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// Parses one address. `None` if the display name is neither a quoted string nor a
    /// sequence of tokens, the URI is invalid (including whitespace inside `<...>`), an
    /// `addr-spec` holds `?` (it would have to be bracketed), or a parameter is malformed.
    pub fn parse(s: &'a str) -> Option<NameAddr<'a>> {
        let s = trim_ws(s);
        let b = s.as_bytes();
        if b.is_empty() {
            return None;
        }
        // Display name: a quoted string, or tokens separated by whitespace, then '<'.
        let mut i = 0;
        let mut display_end = None;
        if b[0] == b'"' {
            let end = scan_quoted(b, 0)?;
            display_end = Some(end);
            i = skip_ws(b, end);
            if i >= b.len() || b[i] != b'<' {
                return None;
            }
        } else {
            while i < b.len() && (is_token_byte(b[i]) || is_ws(b[i])) {
                i += 1;
            }
            if i < b.len() && b[i] == b'<' {
                if b[..i].iter().any(|&c| !is_ws(c)) {
                    display_end = Some(i);
                }
            } else {
                i = 0;
            }
        }
        let display_name = display_end.map(|e| trim_ws(&s[..e]));
        let (uri, bracketed, after) = if i < b.len() && b[i] == b'<' {
            let gt = i + memchr::memchr(b'>', &b[i..])?;
            (Uri::parse(&s[i + 1..gt])?, true, gt + 1)
        } else {
            let end = memchr::memchr3(b';', b' ', b'\t', b).unwrap_or(b.len());
            let text = &s[..end];
            // RFC 3261 §20: a URI with ',', '?' or ';' must be inside angle brackets.
            if memchr::memchr2(b'?', b',', text.as_bytes()).is_some() {
                return None;
            }
            (Uri::parse(text)?, false, end)
        };
        let end = scan_params(b, after)?;
        if skip_ws(b, end) != b.len() {
            return None;
        }
        Some(NameAddr {
            raw: s,
            display_name,
            uri,
            bracketed,
            params: Params::new(&s[after..]),
        })
    }

    /// The whole value as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The display name with quotes and escapes resolved (`"J Rosenberg \\\""` gives
    /// `J Rosenberg \"`); unquoted token display names are returned as written.
    pub fn display_name(&self) -> Option<Cow<'a, str>> {
        self.display_name.map(unquote)
    }

    /// The address URI.
    pub fn uri(&self) -> Uri<'a> {
        self.uri
    }

    /// True if the URI was written inside `<...>`.
    pub fn is_bracketed(&self) -> bool {
        self.bracketed
    }

    /// Header parameters (after the URI, outside any brackets).
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&'a str> {
        self.params.get("tag").and_then(|p| p.raw_value)
    }

    /// The `expires` parameter of a Contact, in seconds; `None` when absent or not a number
    /// (RFC 3261 §10.3 leaves the fallback to the registrar). Values above `u32::MAX` saturate.
    pub fn expires(&self) -> Option<u32> {
        let v = self.params.get("expires")?.raw_value?;
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(parse_digits(v).map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }
}

/// One Contact value (RFC 3261 §20.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *`, only meaningful in a REGISTER with `Expires: 0` (§10.2.2).
    Wildcard,
    /// An address with its parameters (`expires`, `q`, `+sip.instance`, ...).
    Address(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parses one comma-free Contact element.
    pub fn parse(s: &'a str) -> Option<Contact<'a>> {
        if trim_ws(s) == "*" {
            Some(Contact::Wildcard)
        } else {
            NameAddr::parse(s).map(Contact::Address)
        }
    }

    /// The address, unless this is the wildcard.
    pub fn address(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Wildcard => None,
            Contact::Address(a) => Some(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let a = NameAddr::parse(r#""Quoted string \"\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33"#).unwrap();
        assert_eq!(a.display_name().as_deref(), Some(r#"Quoted string """#));
        assert_eq!(a.uri().host(), "example.com");
        assert_eq!(a.params().value("newparam").as_deref(), Some("newvalue"));
        assert!(a.params().contains("secondparam"));
        assert_eq!(a.params().value("q").as_deref(), Some("0.33"));

        let a = NameAddr::parse(
            "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=_token~1'+`*%!-.",
        )
        .unwrap();
        assert_eq!(
            a.display_name().as_deref(),
            Some("token1~` token2'+_ token3*%!.-")
        );
        assert_eq!(a.tag(), Some("_token~1'+`*%!-."));

        let a = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display_name().as_deref(), Some("caller"));

        let a = NameAddr::parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(!a.is_bracketed());
        assert!(a.params().contains("unknownparam"));
        assert!(a.uri().params().is_empty());
        let a = NameAddr::parse("<sip:+19725552222@gw1.example.net;unknownparam>").unwrap();
        assert!(a.params().is_empty());
        assert!(a.uri().params().contains("unknownparam"));
    }

    #[test]
    fn quoted_contact_params() {
        let c = Contact::parse(r#"<sip:alice@192.0.2.1:5060;transport=tcp>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1;q=0.7"#).unwrap();
        let a = c.address().unwrap();
        assert_eq!(a.expires(), Some(3600));
        assert_eq!(
            a.params().value("+sip.instance").as_deref(),
            Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>")
        );
        assert_eq!(a.params().value("reg-id").as_deref(), Some("1"));
        assert_eq!(Contact::parse(" * "), Some(Contact::Wildcard));
        let c = Contact::parse("<sip:a@b>;expires=280297596632815").unwrap();
        assert_eq!(c.address().unwrap().expires(), Some(u32::MAX));
    }

    #[test]
    fn rejects() {
        for bad in [
            r#""Mr. J. User <sip:j.user@example.com>"#,
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            r#""Watson, Thomas" < sip:t.watson@example.org >"#,
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            r#""Joe" <sip:joe@example.org>;;;;"#,
            "<sip:a@b",
            "<sip:a@b> junk",
            "",
        ] {
            assert!(NameAddr::parse(bad).is_none(), "{bad}");
        }
        // In brackets, escaped headers are fine (regescrt).
        let a = NameAddr::parse("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>").unwrap();
        assert_eq!(a.uri().headers(), Some("Route=%3Csip:sip.example.com%3E"));
    }
}
