//! The values in SIP messages and stanzas that change from run to run (tags, branches,
//! Call-IDs, iq and Jingle ids, SDP session ids): found by their context, so the rest of a
//! message is never touched. Used to normalise tandem's output and to carry tandem's live
//! identifiers into the trace's messages.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// How many values a map remembers: enough for every call in flight, so a long trace
/// runs in bounded memory (a value met again after this many others gets a new name).
pub const REMEMBERED: usize = 8_192;

/// A map that forgets its oldest entries beyond [`REMEMBERED`].
#[derive(Debug)]
pub struct BoundedMap<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K, V> Default for BoundedMap<K, V> {
    fn default() -> Self {
        BoundedMap {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    pub fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            if self.order.len() > REMEMBERED {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

/// A kind of volatile value and where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Tag,
    Branch,
    CallId,
    Id,
    Sid,
    SdpSession,
    /// Digest `cnonce` and the `response` computed with it.
    Cnonce,
    DigestResponse,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Tag => "tag",
            Kind::Branch => "branch",
            Kind::CallId => "call-id",
            Kind::Id => "id",
            Kind::Sid => "sid",
            Kind::SdpSession => "sdp-session",
            Kind::Cnonce => "cnonce",
            Kind::DigestResponse => "digest-response",
        }
    }
}

/// Where values of each kind start, and what ends them.
const MARKERS: &[(&str, Kind, &[u8])] = &[
    (";tag=", Kind::Tag, b";>,\r\n \t"),
    (";branch=", Kind::Branch, b";>,\r\n \t"),
    ("\nCall-ID: ", Kind::CallId, b"\r\n"),
    ("\nCall-Id: ", Kind::CallId, b"\r\n"),
    ("\ni: ", Kind::CallId, b"\r\n"),
    (" id='", Kind::Id, b"'"),
    (" id=\"", Kind::Id, b"\""),
    (" sid='", Kind::Sid, b"'"),
    (" sid=\"", Kind::Sid, b"\""),
    ("\no=- ", Kind::SdpSession, b" \r\n"),
    ("cnonce=\"", Kind::Cnonce, b"\""),
    (" response=\"", Kind::DigestResponse, b"\""),
    (",response=\"", Kind::DigestResponse, b"\""),
];

/// Every volatile value in `text`: its kind and byte range.
pub fn find(text: &str) -> Vec<(Kind, std::ops::Range<usize>)> {
    let mut found = Vec::new();
    for (marker, kind, ends) in MARKERS {
        let mut from = 0;
        while let Some(at) = text[from..].find(marker) {
            let start = from + at + marker.len();
            let len = text.as_bytes()[start..]
                .iter()
                .position(|b| ends.contains(b))
                .unwrap_or(text.len() - start);
            if len > 0 {
                found.push((*kind, start..start + len));
            }
            from = start;
        }
    }
    // Only a stanza's own id varies; payload-type and candidate ids are content.
    let first_tag_end = text.find('>').unwrap_or(text.len());
    found.retain(|(kind, r)| *kind != Kind::Id || r.end <= first_tag_end);
    found.sort_by_key(|(_, r)| r.start);
    found
}

/// Rewrites the values `find` locates with `replace`, which may keep them (`None`).
pub fn rewrite(text: &str, mut replace: impl FnMut(Kind, &str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (kind, range) in find(text) {
        if range.start < last {
            continue;
        }
        if let Some(new) = replace(kind, &text[range.clone()]) {
            out.push_str(&text[last..range.start]);
            out.push_str(&new);
            last = range.end;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// Stable names for volatile values, in order of first appearance: `<tag-1>`, ...
#[derive(Debug, Default)]
pub struct Normaliser {
    names: BoundedMap<(Kind, String), String>,
    counts: HashMap<Kind, usize>,
    /// `@<gateway domain>/`: the resource after it is the call's sid.
    gateway: Option<String>,
}

impl Normaliser {
    /// SIP parties appear as `number@gateway/<sid>`: their resource is named as a sid.
    pub fn with_gateway(domain: &str) -> Normaliser {
        Normaliser {
            gateway: Some(format!("@{domain}/")),
            ..Normaliser::default()
        }
    }

    pub fn normalise(&mut self, text: &str) -> String {
        let mut out = rewrite(text, |kind, value| Some(self.name(kind, value)));
        if let Some(marker) = self.gateway.clone() {
            let mut rest = out.as_str();
            let mut named = String::with_capacity(out.len());
            while let Some(at) = rest.find(&marker) {
                let start = at + marker.len();
                named.push_str(&rest[..start]);
                let len = rest[start..]
                    .find(['\'', '"', '<', '>', ' '])
                    .unwrap_or(rest.len() - start);
                let value = &rest[start..start + len];
                if value.starts_with('<') || value.is_empty() {
                    named.push_str(value);
                } else {
                    named.push_str(&self.name(Kind::Sid, value));
                }
                rest = &rest[start + len..];
            }
            named.push_str(rest);
            out = named;
        }
        out
    }

    fn name(&mut self, kind: Kind, value: &str) -> String {
        if let Some(name) = self.names.get(&(kind, value.to_owned())) {
            return name.clone();
        }
        let n = self.counts.entry(kind).or_insert(0);
        *n += 1;
        let name = format!("<{}-{n}>", kind.name());
        self.names.insert((kind, value.to_owned()), name.clone());
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str =
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc;rport=5060\r\n\
        From: <sip:a@x>;tag=111\r\nTo: <sip:b@y>;tag=9f8e7d6c5b4a\r\nCall-ID: 42@host\r\n\
        CSeq: 1 INVITE\r\n\r\nv=0\r\no=- 123456789 2 IN IP4 0.0.0.0\r\n";

    #[test]
    fn values_are_found_by_context_only() {
        let found: Vec<(Kind, &str)> = find(RESPONSE)
            .into_iter()
            .map(|(k, r)| (k, &RESPONSE[r]))
            .collect();
        assert_eq!(
            found,
            [
                (Kind::Branch, "z9hG4bKabc"),
                (Kind::Tag, "111"),
                (Kind::Tag, "9f8e7d6c5b4a"),
                (Kind::CallId, "42@host"),
                (Kind::SdpSession, "123456789"),
            ]
        );
    }

    #[test]
    fn names_are_stable_across_messages_and_runs() {
        let mut n = Normaliser::default();
        let first = n.normalise(RESPONSE);
        assert!(!first.contains(";branch=z9hG4bK") && first.contains(";branch=<branch-1>;rport"));
        assert!(first.contains("From: <sip:a@x>;tag=<tag-1>\r\nTo: <sip:b@y>;tag=<tag-2>"));
        assert!(first.contains("Call-ID: <call-id-1>\r\n"));
        assert!(first.contains("o=- <sdp-session-1> 2 IN IP4"));
        let again = n.normalise(&RESPONSE.replace("tag=111", "tag=222"));
        assert!(
            again.contains("tag=<tag-3>") && again.contains("tag=<tag-2>"),
            "{again}"
        );
        let xml = "<iq from='+1@sip/abcdef012345' id='x1' to='a@b/c'><jingle sid='abcdef012345' \
                   initiator='+1@sip/abcdef012345'><payload-type id='0'/></jingle></iq>";
        let mut n2 = Normaliser::with_gateway("sip");
        assert_eq!(
            n2.normalise(xml),
            "<iq from='+1@sip/<sid-1>' id='<id-1>' to='a@b/c'><jingle sid='<sid-1>' \
             initiator='+1@sip/<sid-1>'><payload-type id='0'/></jingle></iq>"
        );
    }

    #[test]
    fn rewriting_keeps_what_it_is_told_to_keep() {
        let out = rewrite(RESPONSE, |kind, v| {
            (kind == Kind::Tag && v == "111").then(|| "t".into())
        });
        assert_eq!(out, RESPONSE.replace("tag=111", "tag=t"));
    }
}
