//! The header fields of a message, in order, with typed views over the ones the stack uses.

use std::borrow::Cow;

use super::addr::{Contact, NameAddr};
use super::auth::AuthHeader;
use super::method::Method;
use super::name::{HeaderName, Shape};
use super::syntax::{
    is_token, parse_digits, scan_params, scan_token, skip_ws, split_list, trim_ws, Params,
};
use super::via::Via;

/// One header line: its name and its value (trimmed, folding replaced by a space).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    name: &'a HeaderName,
    value: &'a str,
}

impl<'a> Field<'a> {
    /// The header name.
    pub fn name(&self) -> &'a HeaderName {
        self.name
    }

    /// The whole value of this line (a list header's line may hold several values).
    pub fn value(&self) -> &'a str {
        self.value
    }
}

/// Where one line's value sits in [`Headers`]' text buffer.
#[derive(Debug, Clone)]
struct Slot {
    name: HeaderName,
    start: u32,
    end: u32,
}

/// The header fields of a request or response.
///
/// Messages produced by [`parse`](super::parse) and the builders in this module always hold
/// exactly one valid Call-ID, CSeq, From and To and at least one valid Via, so the accessors
/// for those return values rather than options. `Content-Length` always equals the body
/// length.
///
/// All values live in one text buffer (two allocations per message instead of one per line).
#[derive(Clone, Default)]
pub struct Headers {
    text: String,
    slots: Vec<Slot>,
}

impl PartialEq for Headers {
    /// Same lines, names and values in the same order.
    fn eq(&self, other: &Headers) -> bool {
        self.slots.len() == other.slots.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|h| (h.name.as_str(), h.value)))
            .finish()
    }
}

/// `CSeq` (RFC 3261 §20.16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number (at most 2^32 - 1).
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(s: &str) -> Option<CSeq> {
        let s = trim_ws(s);
        let digits_end = s.find([' ', '\t'])?;
        let seq = u32::try_from(parse_digits(&s[..digits_end])?).ok()?;
        let method = Method::parse(s[digits_end..].trim_start_matches([' ', '\t']))?;
        Some(CSeq { seq, method })
    }
}

/// A media type with parameters (`application/sdp`, `multipart/mixed;boundary=x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    raw: &'a str,
    kind: &'a str,
    subtype: &'a str,
    params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// Parses `type "/" subtype *( SEMI m-parameter )` (RFC 3261 §20.15).
    pub fn parse(s: &'a str) -> Option<MediaType<'a>> {
        let s = trim_ws(s);
        let b = s.as_bytes();
        let t1 = scan_token(b, 0);
        let slash = skip_ws(b, t1);
        if t1 == 0 || b.get(slash) != Some(&b'/') {
            return None;
        }
        let s0 = skip_ws(b, slash + 1);
        let s1 = scan_token(b, s0);
        if s1 == s0 {
            return None;
        }
        let end = scan_params(b, s1)?;
        if skip_ws(b, end) != b.len() {
            return None;
        }
        Some(MediaType {
            raw: s,
            kind: &s[..t1],
            subtype: &s[s0..s1],
            params: Params::new(&s[s1..]),
        })
    }

    /// The value as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// `application` in `application/sdp`.
    pub fn kind(&self) -> &'a str {
        self.kind
    }

    /// `sdp` in `application/sdp`.
    pub fn subtype(&self) -> &'a str {
        self.subtype
    }

    /// Parameters (`boundary`, `charset`, ...).
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// Case-insensitive comparison of type and subtype (`is("application", "sdp")`).
    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

/// Iterator over the values of one header, see [`Headers::values`].
#[derive(Debug, Clone)]
pub struct Values<'a> {
    text: &'a str,
    fields: std::slice::Iter<'a, Slot>,
    name: HeaderName,
    list: bool,
    current: Option<super::syntax::SplitList<'a>>,
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            if let Some(split) = &mut self.current {
                match split.next() {
                    Some("") => continue,
                    Some(v) => return Some(v),
                    None => self.current = None,
                }
            }
            let slot = self.fields.by_ref().find(|f| f.name == self.name)?;
            let value = &self.text[slot.start as usize..slot.end as usize];
            if self.list {
                self.current = Some(split_list(value));
            } else {
                return Some(value);
            }
        }
    }
}

/// Fallback for the required-header accessors; unreachable for messages built by this module.
fn placeholder_addr() -> NameAddr<'static> {
    debug_assert!(false, "required header missing or invalid");
    NameAddr::parse("<sip:invalid.invalid>").unwrap_or_else(|| unreachable!())
}

impl Headers {
    pub(crate) fn with_capacity(lines: usize, text: usize) -> Headers {
        Headers {
            text: String::with_capacity(text),
            slots: Vec::with_capacity(lines),
        }
    }

    fn value_of(&self, slot: &Slot) -> &str {
        &self.text[slot.start as usize..slot.end as usize]
    }

    /// All fields in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Field<'_>> + '_ {
        self.slots.iter().map(|s| Field {
            name: &s.name,
            value: self.value_of(s),
        })
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if there are no header lines.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// True if at least one line named `name` (long or compact form) is present.
    pub fn contains(&self, name: &str) -> bool {
        let name = HeaderName::parse(name);
        self.slots.iter().any(|f| f.name == name)
    }

    /// Every value of header `name`, which may be given in long or compact form in any case.
    ///
    /// For list headers (Via, Contact, Route, Supported, Allow, ...) comma-joined values are
    /// split (commas inside quotes or `<...>` do not count) and empty elements skipped; other
    /// headers (Date, Authorization, extension headers, ...) yield each line whole.
    pub fn values(&self, name: &str) -> Values<'_> {
        self.values_of(HeaderName::parse(name))
    }

    /// Like [`values`](Self::values) with a parsed name.
    pub fn values_of(&self, name: HeaderName) -> Values<'_> {
        let list = name.shape() == Shape::List;
        Values {
            text: &self.text,
            fields: self.slots.iter(),
            name,
            list,
            current: None,
        }
    }

    /// The first value of header `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    fn first(&self, name: &HeaderName) -> Option<&str> {
        self.slots
            .iter()
            .find(|f| f.name == *name)
            .map(|s| self.value_of(s))
    }

    /// All Via values, top first.
    pub fn vias(&self) -> impl Iterator<Item = Via<'_>> + '_ {
        self.values_of(HeaderName::Via).filter_map(Via::parse)
    }

    /// The top Via (always present).
    pub fn top_via(&self) -> Via<'_> {
        self.vias().next().unwrap_or_else(|| {
            debug_assert!(false, "Via missing");
            Via::parse("SIP/2.0/UDP invalid.invalid").unwrap_or_else(|| unreachable!())
        })
    }

    /// From (always present).
    pub fn from(&self) -> NameAddr<'_> {
        self.first(&HeaderName::From)
            .and_then(NameAddr::parse)
            .unwrap_or_else(|| placeholder_addr())
    }

    /// To (always present).
    pub fn to(&self) -> NameAddr<'_> {
        self.first(&HeaderName::To)
            .and_then(NameAddr::parse)
            .unwrap_or_else(|| placeholder_addr())
    }

    /// Call-ID (always present).
    pub fn call_id(&self) -> &str {
        self.first(&HeaderName::CallId).unwrap_or_default()
    }

    /// CSeq (always present).
    pub fn cseq(&self) -> CSeq {
        self.first(&HeaderName::CSeq)
            .and_then(CSeq::parse)
            .unwrap_or(CSeq {
                seq: 0,
                method: Method::Other(String::new()),
            })
    }

    /// Max-Forwards; absent in RFC 2543 requests (RFC 3261 §16.6 step 3: treat as 70).
    pub fn max_forwards(&self) -> Option<u8> {
        self.first(&HeaderName::MaxForwards)
            .and_then(|v| u8::try_from(parse_digits(v)?).ok())
    }

    /// All Contact values, `*` included.
    pub fn contacts(&self) -> impl Iterator<Item = Contact<'_>> + '_ {
        self.values_of(HeaderName::Contact)
            .filter_map(Contact::parse)
    }

    /// The Expires header in seconds.
    pub fn expires(&self) -> Option<u32> {
        self.first(&HeaderName::Expires)
            .and_then(|v| u32::try_from(parse_digits(v)?).ok())
    }

    /// Content-Type.
    pub fn content_type(&self) -> Option<MediaType<'_>> {
        self.first(&HeaderName::ContentType)
            .and_then(MediaType::parse)
    }

    /// The first Authorization value.
    pub fn authorization(&self) -> Option<AuthHeader<'_>> {
        self.authorizations().next()
    }

    /// Every Authorization value (one per realm).
    pub fn authorizations(&self) -> impl Iterator<Item = AuthHeader<'_>> + '_ {
        self.values_of(HeaderName::Authorization)
            .filter_map(AuthHeader::parse)
    }

    /// The first Proxy-Authorization value.
    pub fn proxy_authorization(&self) -> Option<AuthHeader<'_>> {
        self.proxy_authorizations().next()
    }

    /// Every Proxy-Authorization value.
    pub fn proxy_authorizations(&self) -> impl Iterator<Item = AuthHeader<'_>> + '_ {
        self.values_of(HeaderName::ProxyAuthorization)
            .filter_map(AuthHeader::parse)
    }

    /// Every WWW-Authenticate challenge (RFC 8760: one per algorithm, preferred first).
    pub fn www_authenticates(&self) -> impl Iterator<Item = AuthHeader<'_>> + '_ {
        self.values_of(HeaderName::WwwAuthenticate)
            .filter_map(AuthHeader::parse)
    }

    /// Every Proxy-Authenticate challenge.
    pub fn proxy_authenticates(&self) -> impl Iterator<Item = AuthHeader<'_>> + '_ {
        self.values_of(HeaderName::ProxyAuthenticate)
            .filter_map(AuthHeader::parse)
    }

    /// Route values, in order.
    pub fn routes(&self) -> impl Iterator<Item = NameAddr<'_>> + '_ {
        self.values_of(HeaderName::Route)
            .filter_map(NameAddr::parse)
    }

    /// Record-Route values, in order.
    pub fn record_routes(&self) -> impl Iterator<Item = NameAddr<'_>> + '_ {
        self.values_of(HeaderName::RecordRoute)
            .filter_map(NameAddr::parse)
    }

    /// Supported option tags.
    pub fn supported(&self) -> Values<'_> {
        self.values_of(HeaderName::Supported)
    }

    /// Require option tags.
    pub fn require(&self) -> Values<'_> {
        self.values_of(HeaderName::Require)
    }

    /// Proxy-Require option tags.
    pub fn proxy_require(&self) -> Values<'_> {
        self.values_of(HeaderName::ProxyRequire)
    }

    /// Unsupported option tags.
    pub fn unsupported(&self) -> Values<'_> {
        self.values_of(HeaderName::Unsupported)
    }

    /// Allowed methods.
    pub fn allow(&self) -> Values<'_> {
        self.values_of(HeaderName::Allow)
    }

    /// Accepted media ranges.
    pub fn accept(&self) -> Values<'_> {
        self.values_of(HeaderName::Accept)
    }

    // ---- mutation (crate-internal; the message types validate before calling) ----

    fn store(&mut self, value: &str) -> (u32, u32) {
        let start = self.text.len();
        self.text.push_str(value);
        (start as u32, self.text.len() as u32)
    }

    pub(crate) fn push_raw(&mut self, name: HeaderName, value: &str) {
        let (start, end) = self.store(value);
        self.slots.push(Slot { name, start, end });
    }

    /// Appends to the value of the last line (unfolding a continuation line while parsing).
    pub(crate) fn extend_last(&mut self, more: &str) {
        let Some(last) = self.slots.last() else {
            return;
        };
        debug_assert_eq!(last.end as usize, self.text.len());
        if last.end > last.start {
            self.text.push(' ');
        }
        self.text.push_str(more);
        let end = self.text.len() as u32;
        if let Some(last) = self.slots.last_mut() {
            last.end = end;
        }
    }

    /// The last line, as pushed.
    pub(crate) fn last(&self) -> Option<Field<'_>> {
        self.slots.last().map(|s| Field {
            name: &s.name,
            value: self.value_of(s),
        })
    }

    /// Replaces every line named `name` by one line at the position of the first.
    pub(crate) fn set_raw(&mut self, name: HeaderName, value: &str) {
        match self.slots.iter().position(|f| f.name == name) {
            Some(i) => {
                self.replace_at(i, value);
                let mut k = 0;
                self.slots.retain(|f| {
                    k += 1;
                    k - 1 <= i || f.name != name
                });
            }
            None => self.push_raw(name, value),
        }
        self.compact();
    }

    /// Replaces the value of the first line named `name`; false if there is none.
    pub(crate) fn replace_first(&mut self, name: &HeaderName, value: &str) -> bool {
        match self.slots.iter().position(|f| f.name == *name) {
            Some(i) => {
                self.replace_at(i, value);
                self.compact();
                true
            }
            None => false,
        }
    }

    fn replace_at(&mut self, i: usize, value: &str) {
        let (start, end) = self.store(value);
        self.slots[i].start = start;
        self.slots[i].end = end;
    }

    /// Inserts a line before the first line named `name` (at the top if there is none):
    /// a proxy's own Via goes above the others (RFC 3261 §16.6 item 8).
    pub(crate) fn insert_first(&mut self, name: HeaderName, value: &str) {
        let at = self.slots.iter().position(|f| f.name == name).unwrap_or(0);
        let (start, end) = self.store(value);
        self.slots.insert(at, Slot { name, start, end });
    }

    /// Removes the first value of the first line named `name` (the line itself when it
    /// holds one value): a proxy removing its own Via from a response (§16.7 item 3).
    /// False when there is no such line or it is the only value left.
    pub(crate) fn remove_first_value(&mut self, name: &HeaderName) -> bool {
        let Some(i) = self.slots.iter().position(|f| f.name == *name) else {
            return false;
        };
        let value = self.value_of(&self.slots[i]).to_owned();
        match first_comma(&value) {
            Some(comma) => {
                let rest = value[comma + 1..].trim_start().to_owned();
                self.replace_at(i, &rest);
                self.compact();
            }
            None if self.count(name) > 1 => {
                self.slots.remove(i);
            }
            None => return false,
        }
        true
    }

    pub(crate) fn remove_raw(&mut self, name: &HeaderName) -> usize {
        let before = self.slots.len();
        self.slots.retain(|f| f.name != *name);
        before - self.slots.len()
    }

    /// Drops replaced values once they outweigh the live ones, so repeated edits stay bounded.
    fn compact(&mut self) {
        let live: usize = self.slots.iter().map(|s| (s.end - s.start) as usize).sum();
        if self.text.len() > 2 * live + 256 {
            let mut text = String::with_capacity(live);
            for slot in &mut self.slots {
                let start = text.len() as u32;
                text.push_str(&self.text[slot.start as usize..slot.end as usize]);
                slot.start = start;
                slot.end = text.len() as u32;
            }
            self.text = text;
        }
    }

    pub(crate) fn count(&self, name: &HeaderName) -> usize {
        self.slots.iter().filter(|f| f.name == *name).count()
    }

    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        for f in self.iter() {
            out.extend_from_slice(f.name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(f.value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Headers whose repetition makes a message malformed here: those the stack reads as one
/// value (RFC 3261 §7.3.1; RFC 4475 multi01 and mcl01).
pub(crate) fn rejects_duplicates(name: &HeaderName) -> bool {
    matches!(
        name,
        HeaderName::CallId
            | HeaderName::CSeq
            | HeaderName::From
            | HeaderName::To
            | HeaderName::MaxForwards
            | HeaderName::ContentLength
            | HeaderName::ContentType
            | HeaderName::Expires
            | HeaderName::MinExpires
            | HeaderName::RSeq
            | HeaderName::RAck
            | HeaderName::Event
            | HeaderName::SessionExpires
    )
}

/// Checks the syntax of one header line's value for the headers the stack interprets.
/// Extension and informational headers are accepted as they are.
pub(crate) fn check_value(name: &HeaderName, value: &str) -> bool {
    let all = |ok: fn(&str) -> bool| split_list(value).all(|v| !v.is_empty() && ok(v));
    let tokens = || split_list(value).all(|v| v.is_empty() || is_token(v));
    match name {
        HeaderName::Via => all(|v| Via::parse(v).is_some()),
        HeaderName::Contact => all(|v| Contact::parse(v).is_some()),
        HeaderName::Route
        | HeaderName::RecordRoute
        | HeaderName::Path
        | HeaderName::ServiceRoute => all(|v| NameAddr::parse(v).is_some_and(|a| a.is_bracketed())),
        HeaderName::From | HeaderName::To => NameAddr::parse(value).is_some(),
        HeaderName::CallId => !value.is_empty() && !value.bytes().any(|b| b == b' ' || b == b'\t'),
        HeaderName::CSeq => CSeq::parse(value).is_some(),
        HeaderName::MaxForwards => parse_digits(value).is_some_and(|n| n <= 255),
        HeaderName::ContentLength => parse_digits(value).is_some_and(|n| n <= u64::from(u32::MAX)),
        HeaderName::Expires | HeaderName::MinExpires => {
            parse_digits(value).is_some_and(|n| n <= u64::from(u32::MAX))
        }
        HeaderName::ContentType => MediaType::parse(value).is_some(),
        // SIP dates are always GMT (RFC 3261 §20.17; RFC 4475 baddate).
        HeaderName::Date => value.ends_with(" GMT"),
        HeaderName::Authorization
        | HeaderName::ProxyAuthorization
        | HeaderName::WwwAuthenticate
        | HeaderName::ProxyAuthenticate => AuthHeader::parse(value).is_some(),
        // Option tags matter to the 420 logic; Allow and Supported are read, never enforced.
        HeaderName::Require | HeaderName::ProxyRequire => tokens(),
        _ => true,
    }
}

/// The reason phrase for a malformed header: `Malformed Via`.
pub(crate) fn malformed(name: &HeaderName) -> Cow<'static, str> {
    match name {
        HeaderName::Other(_) => Cow::Borrowed("Malformed header"),
        n => Cow::Owned(format!("Malformed {}", n.as_str())),
    }
}

/// The first comma separating list values: outside quotes and angle brackets.
fn first_comma(value: &str) -> Option<usize> {
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> Headers {
        let mut h = Headers::default();
        for (n, v) in lines {
            h.push_raw(HeaderName::parse(n), v);
        }
        h
    }

    #[test]
    fn values_split_lists_only() {
        let h = headers(&[
            ("m", r#""A, B" <sip:a,b@x;p=1>;expires=5, <sip:b@y>"#),
            ("Contact", "sip:c@z"),
            ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"),
            ("X-Custom", "a, b"),
            ("k", "100rel,, timer"),
            ("Supported", ""),
        ]);
        let contacts: Vec<_> = h.values("CONTACT").collect();
        assert_eq!(
            contacts,
            vec![
                r#""A, B" <sip:a,b@x;p=1>;expires=5"#,
                "<sip:b@y>",
                "sip:c@z"
            ]
        );
        assert_eq!(h.contacts().count(), 3);
        assert_eq!(h.values("m").count(), 3);
        assert_eq!(
            h.values("date").collect::<Vec<_>>(),
            vec!["Sat, 13 Nov 2010 23:29:00 GMT"]
        );
        assert_eq!(h.values("x-custom").collect::<Vec<_>>(), vec!["a, b"]);
        assert_eq!(h.supported().collect::<Vec<_>>(), vec!["100rel", "timer"]);
        assert_eq!(h.get("Supported"), Some("100rel"));
        assert!(h.contains("k") && !h.contains("Require"));
    }

    #[test]
    fn set_replaces_all_lines() {
        let mut h = headers(&[
            ("Via", "SIP/2.0/UDP a"),
            ("X-A", "1"),
            ("x-a", "2"),
            ("To", "sip:t@x"),
            ("X-A", "3"),
        ]);
        h.set_raw(HeaderName::parse("X-A"), "9");
        let v: Vec<_> = h.iter().map(|f| (f.name().as_str(), f.value())).collect();
        assert_eq!(
            v,
            vec![("Via", "SIP/2.0/UDP a"), ("X-A", "9"), ("To", "sip:t@x")]
        );
        assert_eq!(h.remove_raw(&HeaderName::Via), 1);
    }

    #[test]
    fn typed_checks() {
        assert_eq!(
            CSeq::parse("0009 INVITE"),
            Some(CSeq {
                seq: 9,
                method: Method::Invite
            })
        );
        assert_eq!(CSeq::parse("36893488147419103232 REGISTER"), None);
        assert_eq!(
            CSeq::parse("4294967295 OPTIONS").map(|c| c.seq),
            Some(u32::MAX)
        );
        assert_eq!(CSeq::parse("1"), None);
        assert!(!check_value(&HeaderName::MaxForwards, "300"));
        assert!(check_value(&HeaderName::MaxForwards, "0068"));
        assert!(!check_value(&HeaderName::ContentLength, "-999"));
        assert!(!check_value(
            &HeaderName::Date,
            "Fri, 01 Jan 2010 16:00:00 EST"
        ));
        assert!(!check_value(&HeaderName::Route, "sip:no-brackets@x"));
        assert!(!check_value(&HeaderName::Via, "SIP/2.0/UDP a, "));
        let m = MediaType::parse("multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert!(m.is("MULTIPART", "Mixed"));
        assert_eq!(
            m.params().value("boundary").as_deref(),
            Some("7a9cbec02ceef655")
        );
        assert!(MediaType::parse("application").is_none());
    }
}
