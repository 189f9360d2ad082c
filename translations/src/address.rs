//! JID <-> SIP URI (RFC 7247 §4): percent-decoding and XEP-0106 escaping on the way to
//! XMPP, the reverse on the way to SIP, and the GRUU `gr` parameter <-> resource.

use std::fmt::Write as _;

/// Why an address cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("not a sip:, sips:, im: or pres: URI: {0:?}")]
    Scheme(String),
    #[error("no user part in {0:?}")]
    NoUser(String),
    #[error("bad percent-encoding in {0:?}")]
    Encoding(String),
    #[error("{0:?} is not a valid JID")]
    Jid(String),
}

/// XEP-0106 §5: the characters a JID localpart cannot carry, with their escapes.
const ESCAPES: [(char, &str); 10] = [
    (' ', "\\20"),
    ('"', "\\22"),
    ('&', "\\26"),
    ('\'', "\\27"),
    ('/', "\\2f"),
    (':', "\\3a"),
    ('<', "\\3c"),
    ('>', "\\3e"),
    ('@', "\\40"),
    ('\\', "\\5c"),
];

/// `sip:o'malley@sip.example` -> `o\27malley@sip.example`;
/// `sip:foo@sip.example;gr=bar` -> `foo@sip.example/bar` (RFC 7247 §4.1).
pub fn sip_to_jid(uri: &str) -> Result<String, AddressError> {
    let uri = uri.trim().trim_start_matches('<').trim_end_matches('>');
    let rest = ["sip:", "sips:", "im:", "pres:"]
        .iter()
        .find_map(|s| {
            uri.get(..s.len())
                .filter(|p| p.eq_ignore_ascii_case(s))
                .map(|_| &uri[s.len()..])
        })
        .ok_or_else(|| AddressError::Scheme(uri.to_string()))?;
    // URI headers (`?...`) never belong to the address.
    let rest = rest.split('?').next().unwrap_or(rest);
    let (userinfo, hostpart) = rest
        .rsplit_once('@')
        .ok_or_else(|| AddressError::NoUser(uri.to_string()))?;
    // A password (`user:secret@`) is not part of the identity.
    let user = userinfo.split(':').next().unwrap_or(userinfo);
    if user.is_empty() {
        return Err(AddressError::NoUser(uri.to_string()));
    }
    let mut params = hostpart.split(';');
    let host = params.next().unwrap_or("");
    // The port is transport detail, not identity.
    let domain = strip_port(host).to_ascii_lowercase();
    let resource = params.find_map(|p| p.strip_prefix("gr=").or_else(|| p.strip_prefix("GR=")));
    let decoded = percent_decode(user).ok_or_else(|| AddressError::Encoding(uri.to_string()))?;
    let mut jid = String::with_capacity(decoded.len() + domain.len() + 8);
    for c in decoded.chars() {
        match ESCAPES.iter().find(|(raw, _)| *raw == c) {
            Some((_, escaped)) => jid.push_str(escaped),
            None => jid.push(c),
        }
    }
    jid.push('@');
    jid.push_str(&domain);
    if let Some(resource) = resource {
        let resource =
            percent_decode(resource).ok_or_else(|| AddressError::Encoding(uri.to_string()))?;
        jid.push('/');
        jid.push_str(&resource);
    }
    // Nodeprep/resourceprep and length rules (RFC 7247 §4.1 step 4).
    let normalized = jid::Jid::new(&jid).map_err(|_| AddressError::Jid(jid.clone()))?;
    Ok(normalized.to_string())
}

/// `m\26m@xmpp.example` -> `sip:m&m@xmpp.example`;
/// `baz@xmpp.example/qux` -> `sip:baz@xmpp.example;gr=qux` (RFC 7247 §4.2).
pub fn jid_to_sip(jid_text: &str) -> Result<String, AddressError> {
    let jid = jid::Jid::new(jid_text).map_err(|_| AddressError::Jid(jid_text.to_string()))?;
    let node = jid
        .node()
        .ok_or_else(|| AddressError::NoUser(jid_text.to_string()))?;
    let user = unescape(node.as_str());
    let mut uri = String::from("sip:");
    for c in user.chars() {
        push_encoded(&mut uri, c, is_user_char);
    }
    uri.push('@');
    uri.push_str(jid.domain().as_str());
    if let Some(resource) = jid.resource() {
        uri.push_str(";gr=");
        for c in resource.as_str().chars() {
            push_encoded(&mut uri, c, is_param_char);
        }
    }
    Ok(uri)
}

/// XEP-0106 unescaping: only the ten defined sequences; anything else stays as written.
fn unescape(node: &str) -> String {
    let mut out = String::with_capacity(node.len());
    let mut rest = node;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let candidate = &rest[pos..];
        match ESCAPES
            .iter()
            .find(|(_, e)| candidate.len() >= 3 && candidate[..3].eq_ignore_ascii_case(e))
        {
            Some((raw, _)) => {
                out.push(*raw);
                rest = &candidate[3..];
            }
            None => {
                out.push('\\');
                rest = &candidate[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// RFC 3261 §25.1 `user`: unreserved / escaped / user-unreserved.
fn is_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c)
}

/// RFC 3261 §25.1 `paramchar`: param-unreserved / unreserved / escaped.
fn is_param_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()[]/:&+$".contains(c)
}

fn push_encoded(out: &mut String, c: char, allowed: fn(char) -> bool) {
    if allowed(c) {
        out.push(c);
    } else {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn strip_port(host: &str) -> &str {
    if let Some(end) = host.strip_prefix('[').and_then(|h| h.find(']')) {
        return &host[..end + 2];
    }
    host.rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7247_examples() {
        assert_eq!(
            sip_to_jid("sip:o'malley@sip.example").unwrap(),
            "o\\27malley@sip.example"
        );
        assert_eq!(
            sip_to_jid("sip:foo@sip.example;gr=bar").unwrap(),
            "foo@sip.example/bar"
        );
        assert_eq!(
            jid_to_sip("m\\26m@xmpp.example").unwrap(),
            "sip:m&m@xmpp.example"
        );
        assert_eq!(
            jid_to_sip("baz@xmpp.example/qux").unwrap(),
            "sip:baz@xmpp.example;gr=qux"
        );
    }

    #[test]
    fn percent_decoding_escaping_ports_and_case() {
        assert_eq!(
            sip_to_jid("<SIP:John%20Doe@Example.COM:5060;transport=tcp>").unwrap(),
            "john\\20doe@example.com"
        );
        assert_eq!(
            sip_to_jid("sips:a%40b@x.example").unwrap(),
            "a\\40b@x.example"
        );
        assert_eq!(
            sip_to_jid("sip:+15551234567@gw.example").unwrap(),
            "+15551234567@gw.example"
        );
        assert_eq!(
            jid_to_sip("john\\20doe@example.com").unwrap(),
            "sip:john%20doe@example.com"
        );
        assert_eq!(
            jid_to_sip("zoë@example.com").unwrap(),
            "sip:zo%C3%AB@example.com"
        );
        assert_eq!(
            jid_to_sip("a@example.com/phone 1").unwrap(),
            "sip:a@example.com;gr=phone%201"
        );
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            sip_to_jid("tel:+15551234567"),
            Err(AddressError::Scheme(_))
        ));
        assert!(matches!(
            sip_to_jid("sip:example.com"),
            Err(AddressError::NoUser(_))
        ));
        assert!(matches!(
            sip_to_jid("sip:%zz@example.com"),
            Err(AddressError::Encoding(_))
        ));
        assert!(matches!(
            sip_to_jid("sip:%ff@example.com"),
            Err(AddressError::Encoding(_))
        ));
        assert!(matches!(
            jid_to_sip("example.com"),
            Err(AddressError::NoUser(_))
        ));
    }

    #[test]
    fn round_trips() {
        for jid in [
            "alice@example.com",
            "o\\27malley@sip.example",
            "d\\26r\\20j@x.example/desk",
            "+4930123@gw.example",
        ] {
            assert_eq!(sip_to_jid(&jid_to_sip(jid).unwrap()).unwrap(), jid, "{jid}");
        }
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any SIP user part (printable ASCII and some non-ASCII, percent-encoded where
        /// needed) that maps to a JID maps back to the same user, and never panics.
        #[test]
        fn sip_user_survives_the_round_trip(user in "[a-zA-Z0-9 &'/:<>@\"\\\\+._~!$,;=?é-]{1,24}") {
            let mut uri = String::from("sip:");
            for c in user.chars() {
                push_encoded(&mut uri, c, is_user_char);
            }
            uri.push_str("@example.com");
            if let Ok(jid) = sip_to_jid(&uri) {
                let back = jid_to_sip(&jid).unwrap();
                prop_assert_eq!(sip_to_jid(&back).unwrap(), jid);
            }
        }

        #[test]
        fn arbitrary_input_never_panics(input in ".{0,64}") {
            let _ = sip_to_jid(&input);
            let _ = jid_to_sip(&input);
        }
    }
}
