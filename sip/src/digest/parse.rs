//! `Authorization` / `Proxy-Authorization` header values (RFC 3261 §25.1 `credentials`,
//! RFC 7616 §3.4): `Digest` then comma-separated `name=value` pairs, values being tokens
//! or quoted strings (with `\` escapes). Names are case-insensitive, empty list elements
//! are skipped, unknown parameters ignored, duplicates refused.

use std::str::FromStr;

use super::Algorithm;

/// Why an `Authorization` value could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A scheme other than `Digest` (e.g. `NewAuth` in RFC 4475 regaut01).
    #[error("unsupported authentication scheme {0:?}")]
    UnsupportedScheme(String),
    /// Not well-formed; the text says where.
    #[error("malformed credentials: {0}")]
    Malformed(&'static str),
    /// A required parameter is absent.
    #[error("missing parameter {0}")]
    MissingParam(&'static str),
    /// A parameter appears twice.
    #[error("duplicate parameter {0:?}")]
    DuplicateParam(String),
    /// `algorithm` other than `MD5` / `SHA-256` (including `MD5-sess`, `SHA-256-sess`).
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// `qop` other than `auth` (including `auth-int`).
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
}

/// Parsed digest credentials. Build with [`Credentials::parse`] (or `str::parse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    algorithm: Algorithm,
    /// `(qop as sent, nc as sent, nc value, cnonce)` when `qop=auth`.
    qop: Option<(String, String, u32, String)>,
    opaque: Option<String>,
}

/// Most parameters accepted (there are 11 defined; this keeps parsing linear).
const MAX_PARAMS: usize = 32;

/// Longest scheme name echoed back in [`ParseError::UnsupportedScheme`].
const MAX_SCHEME_ECHO: usize = 32;

impl Credentials {
    /// Parses a header value such as `Digest username="alice", realm="example.com", ...`.
    ///
    /// Requires `username`, `realm`, `nonce`, `uri` and `response`; `algorithm` defaults
    /// to MD5; `qop=auth` requires `nc` (8 hex digits) and `cnonce`, which must be absent
    /// without `qop`.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let value = value.trim_matches(is_lws);
        let scheme_end = value.find(is_lws).unwrap_or(value.len());
        let (scheme, rest) = value.split_at(scheme_end);
        if scheme.is_empty() {
            return Err(ParseError::Malformed("empty value"));
        }
        if !scheme.bytes().all(is_token_byte) {
            return Err(ParseError::Malformed(
                "authentication scheme is not a token",
            ));
        }
        if !scheme.eq_ignore_ascii_case("Digest") {
            let mut echo = scheme.to_owned();
            echo.truncate(MAX_SCHEME_ECHO); // ASCII (token), so any index is a boundary
            return Err(ParseError::UnsupportedScheme(echo));
        }
        let params = parse_params(rest)?;
        Self::from_params(params)
    }

    fn from_params(params: Vec<(String, String)>) -> Result<Self, ParseError> {
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut algorithm = None;
        let mut qop = None;
        let mut nc = None;
        let mut cnonce = None;
        let mut opaque = None;
        for (name, value) in params {
            let slot = match name.as_str() {
                "username" => &mut username,
                "realm" => &mut realm,
                "nonce" => &mut nonce,
                "uri" => &mut uri,
                "response" => &mut response,
                "algorithm" => &mut algorithm,
                "qop" => &mut qop,
                "nc" => &mut nc,
                "cnonce" => &mut cnonce,
                "opaque" => &mut opaque,
                "userhash" if !value.eq_ignore_ascii_case("false") => {
                    return Err(ParseError::Malformed("userhash is not supported"));
                }
                _ => continue,
            };
            *slot = Some(value);
        }

        let algorithm = match algorithm {
            None => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("MD5") => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Algorithm::Sha256,
            Some(a) => return Err(ParseError::UnsupportedAlgorithm(clip(a))),
        };
        let qop = match (qop, nc, cnonce) {
            (None, None, None) => None,
            (None, _, _) => return Err(ParseError::Malformed("nc or cnonce without qop")),
            (Some(q), nc, cnonce) => {
                if !q.eq_ignore_ascii_case("auth") {
                    return Err(ParseError::UnsupportedQop(clip(q)));
                }
                let nc_raw = nc.ok_or(ParseError::MissingParam("nc"))?;
                let cnonce = cnonce.ok_or(ParseError::MissingParam("cnonce"))?;
                if nc_raw.len() != 8 || !nc_raw.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(ParseError::Malformed("nc is not 8 hex digits"));
                }
                let nc = u32::from_str_radix(&nc_raw, 16)
                    .map_err(|_| ParseError::Malformed("nc is not 8 hex digits"))?;
                Some((q, nc_raw, nc, cnonce))
            }
        };
        let response = response.ok_or(ParseError::MissingParam("response"))?;
        if response.len() != algorithm.hex_len() || !response.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(ParseError::Malformed(
                "response is not a hex digest of the algorithm",
            ));
        }
        Ok(Credentials {
            username: username.ok_or(ParseError::MissingParam("username"))?,
            realm: realm.ok_or(ParseError::MissingParam("realm"))?,
            nonce: nonce.ok_or(ParseError::MissingParam("nonce"))?,
            uri: uri.ok_or(ParseError::MissingParam("uri"))?,
            response,
            algorithm,
            qop,
            opaque,
        })
    }

    /// `username` (unescaped).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// `realm` (unescaped).
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// `nonce` as sent.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// `uri` (the digest-uri, unescaped): the caller must check it against the
    /// Request-URI (RFC 3261 §22.4, RFC 7616 §3.4.6).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// `algorithm` (MD5 when absent).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// `nc` when `qop=auth` was used, `None` for an RFC 2069 style response.
    pub fn nc(&self) -> Option<u32> {
        self.qop.as_ref().map(|q| q.2)
    }

    /// `cnonce` when `qop=auth` was used.
    pub fn cnonce(&self) -> Option<&str> {
        self.qop.as_ref().map(|q| q.3.as_str())
    }

    /// `opaque`, if the client sent one (we never require it).
    pub fn opaque(&self) -> Option<&str> {
        self.opaque.as_deref()
    }

    pub(super) fn response(&self) -> &str {
        &self.response
    }

    /// `(qop, nc, cnonce)` exactly as sent, for the response computation.
    pub(super) fn qop_parts(&self) -> Option<(&str, &str, &str)> {
        self.qop
            .as_ref()
            .map(|(q, nc, _, cnonce)| (q.as_str(), nc.as_str(), cnonce.as_str()))
    }
}

impl FromStr for Credentials {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        Credentials::parse(s)
    }
}

/// A bounded copy of client text for an error message.
fn clip(mut s: String) -> String {
    if s.len() > MAX_SCHEME_ECHO {
        let mut end = MAX_SCHEME_ECHO;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn is_lws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// Parses `name = value *("," name = value)` with lowercased names.
fn parse_params(input: &str) -> Result<Vec<(String, String)>, ParseError> {
    let bytes = input.as_bytes();
    let mut i = 0;
    let mut params: Vec<(String, String)> = Vec::new();
    let skip_lws = |i: &mut usize| {
        while *i < bytes.len() && is_lws(char::from(bytes[*i])) {
            *i += 1;
        }
    };
    loop {
        skip_lws(&mut i);
        if i == bytes.len() {
            break;
        }
        if bytes[i] == b',' {
            i += 1; // empty list element
            continue;
        }
        let start = i;
        while i < bytes.len() && is_token_byte(bytes[i]) {
            i += 1;
        }
        if i == start {
            return Err(ParseError::Malformed("expected a parameter name"));
        }
        let name = input[start..i].to_ascii_lowercase();
        skip_lws(&mut i);
        if i == bytes.len() || bytes[i] != b'=' {
            return Err(ParseError::Malformed("expected '=' after a parameter name"));
        }
        i += 1;
        skip_lws(&mut i);
        let value = if i < bytes.len() && bytes[i] == b'"' {
            let (value, end) = quoted_string(input, i + 1)?;
            i = end;
            value
        } else {
            let start = i;
            while i < bytes.len() && is_token_byte(bytes[i]) {
                i += 1;
            }
            if i == start {
                return Err(ParseError::Malformed(
                    "expected a token or quoted string value",
                ));
            }
            input[start..i].to_owned()
        };
        if params.len() == MAX_PARAMS {
            return Err(ParseError::Malformed("too many parameters"));
        }
        if params.iter().any(|(n, _)| *n == name) {
            return Err(ParseError::DuplicateParam(clip(name)));
        }
        params.push((name, value));
        skip_lws(&mut i);
        if i == bytes.len() {
            break;
        }
        if bytes[i] != b',' {
            return Err(ParseError::Malformed("expected ',' between parameters"));
        }
        i += 1;
    }
    if params.is_empty() {
        return Err(ParseError::Malformed("no parameters"));
    }
    Ok(params)
}

/// Reads a quoted string whose opening quote ends just before byte `start`; returns the
/// unescaped content and the index just past the closing quote.
fn quoted_string(input: &str, start: usize) -> Result<(String, usize), ParseError> {
    let mut out = String::new();
    let mut chars = input[start..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + off + 1)),
            '\\' => match chars.next() {
                Some((_, '\r' | '\n')) => {
                    return Err(ParseError::Malformed(
                        "line break escaped in a quoted string",
                    ))
                }
                Some((_, escaped)) => out.push(escaped),
                None => break,
            },
            _ => out.push(c),
        }
    }
    Err(ParseError::Malformed("unterminated quoted string"))
}
