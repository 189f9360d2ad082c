//! Lexical pieces of RFC 3261 §25 shared by every header parser: tokens, quoted strings,
//! whitespace, comma lists and `;name=value` parameters.
//!
//! Header values reach these functions already unfolded (CRLF + whitespace became one SP), so
//! "LWS" here is just a run of SP / HTAB. All delimiters are ASCII, so every index these
//! functions return is a char boundary of the `&str` they scan.

use std::borrow::Cow;

/// `token` characters (RFC 3261 §25.1): alphanumerics and `-.!%*_+`'~`.
#[inline]
pub(crate) fn is_token_byte(b: u8) -> bool {
    TOKEN[b as usize]
}

static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// True if `s` is a non-empty `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

pub(crate) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Index of the first non-whitespace byte at or after `i`.
pub(crate) fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_ws(s[i]) {
        i += 1;
    }
    i
}

/// End of the token starting at `i` (equal to `i` when there is none).
pub(crate) fn scan_token(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_token_byte(s[i]) {
        i += 1;
    }
    i
}

/// `s[i]` must be `"`; returns the index just past the closing quote, or `None` when the
/// string never closes. `\` escapes the next byte (quoted-pair).
pub(crate) fn scan_quoted(s: &[u8], i: usize) -> Option<usize> {
    debug_assert_eq!(s.get(i), Some(&b'"'));
    let mut j = i + 1;
    while j < s.len() {
        match s[j] {
            b'"' => return Some(j + 1),
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
    None
}

/// The content of a quoted string (quotes stripped, quoted-pairs resolved); `s` is returned
/// unchanged when it is not quoted.
pub fn unquote(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b'"' || b[b.len() - 1] != b'"' {
        return Cow::Borrowed(s);
    }
    let inner = &s[1..s.len() - 1];
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Splits a comma-separated header value into its elements (RFC 3261 §7.3.1), trimmed.
///
/// Commas inside a quoted string or inside `<...>` do not separate. Empty elements are
/// yielded as `""` so that validators can reject them; [`Headers::values`](super::Headers)
/// skips them.
pub fn split_list(value: &str) -> SplitList<'_> {
    SplitList { rest: Some(value) }
}

/// Iterator returned by [`split_list`].
#[derive(Debug, Clone)]
pub struct SplitList<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for SplitList<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let b = s.as_bytes();
        // Fast path: up to the first comma, quote or '<'.
        let mut i = 0;
        while i < b.len() && !LIST_SPECIAL[b[i] as usize] {
            i += 1;
        }
        if i < b.len() && b[i] == b',' {
            self.rest = Some(&s[i + 1..]);
            return Some(trim_ws(&s[..i]));
        }
        let mut angle = false;
        while i < b.len() {
            if !LIST_SLOW[b[i] as usize] {
                i += 1;
                continue;
            }
            match b[i] {
                b'"' => match scan_quoted(b, i) {
                    Some(end) => {
                        i = end;
                        continue;
                    }
                    None => i = b.len(),
                },
                b'<' => angle = true,
                b'>' => angle = false,
                b',' if !angle => {
                    self.rest = Some(&s[i + 1..]);
                    return Some(trim_ws(&s[..i]));
                }
                _ => {}
            }
            i += 1;
        }
        self.rest = None;
        Some(trim_ws(s))
    }
}

/// Bytes that end the fast path of [`SplitList`].
static LIST_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b',' as usize] = true;
    t[b'"' as usize] = true;
    t[b'<' as usize] = true;
    t
};

/// Bytes the slow path of [`SplitList`] looks at.
static LIST_SLOW: [bool; 256] = {
    let mut t = LIST_SPECIAL;
    t[b'>' as usize] = true;
    t
};

/// `s` without leading and trailing SP / HTAB.
#[inline]
pub(crate) fn trim_ws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut start = 0;
    let mut end = b.len();
    while start < end && is_ws(b[start]) {
        start += 1;
    }
    while end > start && is_ws(b[end - 1]) {
        end -= 1;
    }
    &s[start..end]
}

/// Bytes allowed in an unquoted generic-param value: token characters plus what hosts
/// (IPv6 references, `received=` IPv6 addresses) and common extensions use.
#[inline]
fn is_param_value_byte(b: u8) -> bool {
    PARAM_VALUE[b as usize]
}

static PARAM_VALUE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = TOKEN[i]
            || matches!(
                b,
                b':' | b'['
                    | b']'
                    | b'/'
                    | b'@'
                    | b'?'
                    | b'&'
                    | b'$'
                    | b'#'
                    | b'^'
                    | b'{'
                    | b'}'
                    | b'|'
            );
        i += 1;
    }
    t
};

/// Scans `*( SEMI generic-param )` from `i` (RFC 3261 §25.1: `SEMI = SWS ";" SWS`,
/// `generic-param = token [ EQUAL gen-value ]`). Returns the index where the parameters
/// stop (the caller decides what may follow), or `None` on a malformed parameter.
pub(crate) fn scan_params(s: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let j = skip_ws(s, i);
        if j >= s.len() || s[j] != b';' {
            return Some(i);
        }
        let (_, _, end) = scan_one_param(s, j + 1)?;
        i = end;
    }
}

/// One `token [ EQUAL value ]` at `i` (after the `;`): returns the name range, the raw value
/// range (quotes included) and the end index.
#[allow(clippy::type_complexity)]
pub(crate) fn scan_one_param(
    s: &[u8],
    i: usize,
) -> Option<((usize, usize), Option<(usize, usize)>, usize)> {
    let ns = skip_ws(s, i);
    let ne = scan_token(s, ns);
    if ne == ns {
        return None;
    }
    let k = skip_ws(s, ne);
    if k < s.len() && s[k] == b'=' {
        let vs = skip_ws(s, k + 1);
        let ve = if vs < s.len() && s[vs] == b'"' {
            scan_quoted(s, vs)?
        } else {
            let mut e = vs;
            while e < s.len() && is_param_value_byte(s[e]) {
                e += 1;
            }
            e
        };
        if ve == vs {
            return None;
        }
        Some(((ns, ne), Some((vs, ve)), ve))
    } else {
        Some(((ns, ne), None, ne))
    }
}

/// Header parameters (`;name=value` pairs after a URI, Via sent-by, media type, ...).
///
/// A cheap view over the validated text: every call scans it again, nothing is allocated.
/// Names compare case-insensitively (RFC 3261 §7.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    /// Text starting at the first `;` (or at whitespace before it); empty when none.
    raw: &'a str,
}

/// One parameter of a [`Params`] list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name as written.
    pub name: &'a str,
    /// The value as written, quotes included; `None` for a flag such as `;lr` or `;rport`.
    pub raw_value: Option<&'a str>,
}

impl<'a> Param<'a> {
    /// The value with quotes and escapes resolved.
    pub fn value(&self) -> Option<Cow<'a, str>> {
        self.raw_value.map(unquote)
    }
}

impl<'a> Params<'a> {
    pub(crate) fn new(raw: &'a str) -> Self {
        Params { raw }
    }

    /// The parameters exactly as written, including the leading `;`.
    pub fn as_str(&self) -> &'a str {
        self.raw.trim_start_matches([' ', '\t'])
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// All parameters in order.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter { s: self.raw, i: 0 }
    }

    /// The first parameter called `name`.
    pub fn get(&self, name: &str) -> Option<Param<'a>> {
        self.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// True if a parameter called `name` is present (with or without a value).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The unquoted value of the first parameter called `name`, if it has one.
    pub fn value(&self, name: &str) -> Option<Cow<'a, str>> {
        self.get(name).and_then(|p| p.value())
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Params`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let b = self.s.as_bytes();
        let j = skip_ws(b, self.i);
        if j >= b.len() || b[j] != b';' {
            return None;
        }
        let ((ns, ne), value, end) = scan_one_param(b, j + 1)?;
        self.i = end;
        Some(Param {
            name: &self.s[ns..ne],
            raw_value: value.map(|(vs, ve)| &self.s[vs..ve]),
        })
    }
}

/// Byte offset of `part` inside `whole`; `part` must be a sub-slice of `whole`.
pub(crate) fn offset_in(whole: &str, part: &str) -> usize {
    let off = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    debug_assert!(off <= whole.len());
    off.min(whole.len())
}

/// Parses `1*DIGIT` into a `u64`, `None` on anything else or on overflow.
pub(crate) fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Decodes `%XX` escapes (RFC 3261 §19.1.2), lossily turning non-UTF-8 results into U+FFFD.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn is_hex(b: u8) -> bool {
    hex(b).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_and_angles() {
        let v = r#""Doe, John" <sip:a@b;x=1,2>;q=0.5, <sip:c@d>, "a\"," <sip:e@f>"#;
        let parts: Vec<_> = split_list(v).collect();
        assert_eq!(
            parts,
            vec![
                r#""Doe, John" <sip:a@b;x=1,2>;q=0.5"#,
                "<sip:c@d>",
                r#""a\"," <sip:e@f>"#
            ]
        );
        assert_eq!(split_list("a,,b").collect::<Vec<_>>(), vec!["a", "", "b"]);
        assert_eq!(split_list(" x ").collect::<Vec<_>>(), vec!["x"]);
    }

    #[test]
    fn params_with_whitespace_and_quotes() {
        let p =
            Params::new(r#" ;  tag    = 1918181833n ; lr;+sip.instance="<urn:uuid:1;2>";q = 0.33"#);
        assert_eq!(p.value("TAG").as_deref(), Some("1918181833n"));
        assert!(p.contains("lr") && p.get("lr").unwrap().raw_value.is_none());
        assert_eq!(p.value("+sip.instance").as_deref(), Some("<urn:uuid:1;2>"));
        assert_eq!(p.value("q").as_deref(), Some("0.33"));
        assert_eq!(p.iter().count(), 4);
        assert_eq!(scan_params(b";;", 0), None);
        assert_eq!(scan_params(b";a=", 0), None);
        assert_eq!(scan_params(b";a=\"x", 0), None);
        assert_eq!(scan_params(b";a=b ;c x", 0), Some(7));
    }

    #[test]
    fn unquote_and_decode() {
        assert_eq!(unquote(r#""J Rosenberg \\\"""#), r#"J Rosenberg \""#);
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(percent_decode("%75se%72"), "user");
        assert_eq!(percent_decode("null-%00-null"), "null-\0-null");
        assert_eq!(percent_decode("bad%zz%4"), "bad%zz%4");
        assert_eq!(parse_digits("0068"), Some(68));
        assert_eq!(parse_digits("-1"), None);
        assert_eq!(parse_digits("99999999999999999999999"), None);
    }
}
