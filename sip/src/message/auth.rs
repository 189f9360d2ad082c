//! Authorization, Proxy-Authorization, WWW-Authenticate and Proxy-Authenticate values
//! (RFC 3261 §20.7, §20.27, §20.28, §20.44; RFC 8760 algorithms). Parameters are exposed as a
//! raw, quoted-string-aware map; computing digests is `crate::digest`'s job.

use std::borrow::Cow;
use std::fmt;

use super::syntax::{is_ws, scan_quoted, scan_token, skip_ws, split_list, trim_ws, unquote};

/// `scheme param=value, param="quoted, value", ...` borrowing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthHeader<'a> {
    scheme: &'a str,
    params: &'a str,
}

impl<'a> AuthHeader<'a> {
    /// Parses a credentials or challenge value. `None` unless it is a token scheme followed by
    /// comma-separated `token = token / quoted-string` parameters.
    pub fn parse(s: &'a str) -> Option<AuthHeader<'a>> {
        let s = trim_ws(s);
        let b = s.as_bytes();
        let end = scan_token(b, 0);
        if end == 0 || (end < b.len() && !is_ws(b[end])) {
            return None;
        }
        let h = AuthHeader {
            scheme: &s[..end],
            params: &s[end..],
        };
        for item in split_list(h.params) {
            if !item.is_empty() {
                parse_param(item)?;
            }
        }
        Some(h)
    }

    /// The scheme as written (`Digest`; compare case-insensitively).
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// True for the `Digest` scheme.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// All parameters in order: name as written and raw value (quotes included).
    pub fn params(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        split_list(self.params)
            .filter(|i| !i.is_empty())
            .filter_map(parse_param)
    }

    /// The unquoted value of parameter `name` (case-insensitive name).
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| unquote(v))
    }

    /// The `algorithm` parameter; RFC 3261 §20.27 defaults a missing one to MD5, which this
    /// does *not* do so callers can tell the difference.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.param("algorithm").map(|a| Algorithm::parse(&a))
    }
}

fn parse_param(item: &str) -> Option<(&str, &str)> {
    let b = item.as_bytes();
    let ne = scan_token(b, 0);
    let eq = skip_ws(b, ne);
    if ne == 0 || b.get(eq) != Some(&b'=') {
        return None;
    }
    let vs = skip_ws(b, eq + 1);
    let ve = if b.get(vs) == Some(&b'"') {
        scan_quoted(b, vs)?
    } else {
        let mut e = vs;
        while e < b.len() && !is_ws(b[e]) && b[e] != b'"' {
            e += 1;
        }
        e
    };
    if ve == vs || skip_ws(b, ve) != b.len() {
        return None;
    }
    Some((&item[..ne], &item[vs..ve]))
}

/// Digest algorithms (RFC 3261 §20.27, RFC 8760 §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`
    Md5,
    /// `MD5-sess`
    Md5Sess,
    /// `SHA-256` (RFC 8760)
    Sha256,
    /// `SHA-256-sess` (RFC 8760)
    Sha256Sess,
    /// `SHA-512-256` (RFC 8760)
    Sha512_256,
    /// `SHA-512-256-sess` (RFC 8760)
    Sha512_256Sess,
    /// Anything else, as written.
    Other(String),
}

impl Algorithm {
    /// Parses an algorithm name, case-insensitively.
    pub fn parse(s: &str) -> Algorithm {
        const KNOWN: [(&str, Algorithm); 6] = [
            ("MD5", Algorithm::Md5),
            ("MD5-sess", Algorithm::Md5Sess),
            ("SHA-256", Algorithm::Sha256),
            ("SHA-256-sess", Algorithm::Sha256Sess),
            ("SHA-512-256", Algorithm::Sha512_256),
            ("SHA-512-256-sess", Algorithm::Sha512_256Sess),
        ];
        for (name, a) in KNOWN {
            if s.eq_ignore_ascii_case(name) {
                return a;
            }
        }
        Algorithm::Other(s.to_owned())
    }

    /// The RFC spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
            Algorithm::Other(s) => s,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_digest() {
        let h = AuthHeader::parse(
            r#"Digest username="bob, the builder", realm="example.test", nonce="a,b=c", uri="sip:example.test", response="0123", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="x\"y""#,
        )
        .unwrap();
        assert!(h.is_digest());
        assert_eq!(h.algorithm(), Some(Algorithm::Sha256));
        assert_eq!(h.param("USERNAME").as_deref(), Some("bob, the builder"));
        assert_eq!(h.param("nonce").as_deref(), Some("a,b=c"));
        assert_eq!(h.param("nc").as_deref(), Some("00000001"));
        assert_eq!(h.param("cnonce").as_deref(), Some("x\"y"));
        assert_eq!(h.params().count(), 9);
        let h = AuthHeader::parse(r#"Digest realm="r", algorithm="sha-256-sess""#).unwrap();
        assert_eq!(h.algorithm(), Some(Algorithm::Sha256Sess));
        assert_eq!(
            AuthHeader::parse("Digest realm=x").unwrap().algorithm(),
            None
        );
    }

    #[test]
    fn unknown_scheme_and_errors() {
        let h = AuthHeader::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!h.is_digest());
        assert_eq!(h.param("opaque-data").as_deref(), Some("here"));
        assert!(AuthHeader::parse(r#"Digest realm="unterminated"#).is_none());
        assert!(AuthHeader::parse("Digest realm").is_none());
        assert!(AuthHeader::parse("Digest realm=a b").is_none());
        assert!(AuthHeader::parse("").is_none());
    }
}
