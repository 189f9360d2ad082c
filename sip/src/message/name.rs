//! Header names: the long forms RFC 3261 and its extensions define, their compact forms
//! (RFC 3261 §7.3.3 and the IANA registry), and how each one may repeat.

use std::fmt;

/// How a header may appear in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A comma-separated list (`#element`): lines may repeat and values split on commas.
    List,
    /// At most one value (RFC 3261 §7.3.1): a second line makes the message malformed.
    Single,
    /// Neither: may repeat, but commas are part of the value (Date, Authorization, ...).
    Plain,
}

macro_rules! header_names {
    ($( $variant:ident, $canonical:literal, $lower:literal, $compact:expr, $shape:ident; )*) => {
        /// A header name. Known names parse from their long or compact form, in any case,
        /// and print in their canonical long form; others keep their spelling.
        #[derive(Debug, Clone, Eq)]
        #[non_exhaustive]
        pub enum HeaderName {
            $(
                #[doc = concat!("`", $canonical, "`")]
                $variant,
            )*
            /// An extension header, as written.
            Other(Box<str>),
        }

        impl HeaderName {
            /// The header named `name` (long or compact form, case-insensitive).
            pub fn parse(name: &str) -> HeaderName {
                let b = name.as_bytes();
                if b.len() == 1 {
                    if let Some(h) = Self::from_compact(b[0].to_ascii_lowercase()) {
                        return h;
                    }
                }
                let mut buf = [0u8; 24];
                if b.len() <= buf.len() {
                    let lower = &mut buf[..b.len()];
                    for (d, s) in lower.iter_mut().zip(b) {
                        *d = s.to_ascii_lowercase();
                    }
                    match &*lower {
                        $( $lower => return HeaderName::$variant, )*
                        _ => {}
                    }
                }
                HeaderName::Other(name.into())
            }

            /// The canonical long form (`Call-ID`), or the extension name as written.
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$variant => $canonical, )*
                    HeaderName::Other(s) => s,
                }
            }

            /// The compact form, if the header has one (`i` for Call-ID).
            pub fn compact(&self) -> Option<char> {
                match self {
                    $( HeaderName::$variant => $compact, )*
                    HeaderName::Other(_) => None,
                }
            }

            pub(crate) fn shape(&self) -> Shape {
                match self {
                    $( HeaderName::$variant => Shape::$shape, )*
                    HeaderName::Other(_) => Shape::Plain,
                }
            }

            fn from_compact(c: u8) -> Option<HeaderName> {
                $(
                    if $compact == Some(c as char) {
                        return Some(HeaderName::$variant);
                    }
                )*
                None
            }
        }
    };
}

header_names! {
    Accept, "Accept", b"accept", None, List;
    AcceptContact, "Accept-Contact", b"accept-contact", Some('a'), List;
    AcceptEncoding, "Accept-Encoding", b"accept-encoding", None, List;
    AcceptLanguage, "Accept-Language", b"accept-language", None, List;
    AlertInfo, "Alert-Info", b"alert-info", None, List;
    Allow, "Allow", b"allow", None, List;
    AllowEvents, "Allow-Events", b"allow-events", Some('u'), List;
    AuthenticationInfo, "Authentication-Info", b"authentication-info", None, Plain;
    Authorization, "Authorization", b"authorization", None, Plain;
    CallId, "Call-ID", b"call-id", Some('i'), Single;
    CallInfo, "Call-Info", b"call-info", None, List;
    Contact, "Contact", b"contact", Some('m'), List;
    ContentDisposition, "Content-Disposition", b"content-disposition", None, Single;
    ContentEncoding, "Content-Encoding", b"content-encoding", Some('e'), List;
    ContentLanguage, "Content-Language", b"content-language", None, List;
    ContentLength, "Content-Length", b"content-length", Some('l'), Single;
    ContentType, "Content-Type", b"content-type", Some('c'), Single;
    CSeq, "CSeq", b"cseq", None, Single;
    Date, "Date", b"date", None, Single;
    ErrorInfo, "Error-Info", b"error-info", None, List;
    Event, "Event", b"event", Some('o'), Single;
    Expires, "Expires", b"expires", None, Single;
    From, "From", b"from", Some('f'), Single;
    Identity, "Identity", b"identity", Some('y'), Plain;
    InReplyTo, "In-Reply-To", b"in-reply-to", None, List;
    MaxForwards, "Max-Forwards", b"max-forwards", None, Single;
    MimeVersion, "MIME-Version", b"mime-version", None, Single;
    MinExpires, "Min-Expires", b"min-expires", None, Single;
    MinSe, "Min-SE", b"min-se", None, Single;
    Organization, "Organization", b"organization", None, Single;
    Path, "Path", b"path", None, List;
    Priority, "Priority", b"priority", None, Single;
    ProxyAuthenticate, "Proxy-Authenticate", b"proxy-authenticate", None, Plain;
    ProxyAuthorization, "Proxy-Authorization", b"proxy-authorization", None, Plain;
    ProxyRequire, "Proxy-Require", b"proxy-require", None, List;
    RAck, "RAck", b"rack", None, Single;
    Reason, "Reason", b"reason", None, List;
    RecordRoute, "Record-Route", b"record-route", None, List;
    ReferTo, "Refer-To", b"refer-to", Some('r'), Single;
    ReferredBy, "Referred-By", b"referred-by", Some('b'), Single;
    RejectContact, "Reject-Contact", b"reject-contact", Some('j'), List;
    ReplyTo, "Reply-To", b"reply-to", None, Single;
    RequestDisposition, "Request-Disposition", b"request-disposition", Some('d'), List;
    Require, "Require", b"require", None, List;
    RetryAfter, "Retry-After", b"retry-after", None, Single;
    Route, "Route", b"route", None, List;
    RSeq, "RSeq", b"rseq", None, Single;
    Server, "Server", b"server", None, Single;
    ServiceRoute, "Service-Route", b"service-route", None, List;
    SessionExpires, "Session-Expires", b"session-expires", Some('x'), Single;
    Subject, "Subject", b"subject", Some('s'), Single;
    SubscriptionState, "Subscription-State", b"subscription-state", None, Single;
    Supported, "Supported", b"supported", Some('k'), List;
    Timestamp, "Timestamp", b"timestamp", None, Single;
    To, "To", b"to", Some('t'), Single;
    Unsupported, "Unsupported", b"unsupported", None, List;
    UserAgent, "User-Agent", b"user-agent", None, Single;
    Via, "Via", b"via", Some('v'), List;
    Warning, "Warning", b"warning", None, List;
    WwwAuthenticate, "WWW-Authenticate", b"www-authenticate", None, Plain;
}

impl PartialEq for HeaderName {
    /// Extension names compare case-insensitively (RFC 3261 §7.3.1).
    fn eq(&self, other: &HeaderName) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (HeaderName::Other(_), _) | (_, HeaderName::Other(_)) => false,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for HeaderName {
    fn from(s: &str) -> HeaderName {
        HeaderName::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_long_forms() {
        let pairs = [
            ("i", "Call-ID"),
            ("v", "Via"),
            ("m", "Contact"),
            ("f", "From"),
            ("t", "To"),
            ("l", "Content-Length"),
            ("c", "Content-Type"),
            ("k", "Supported"),
            ("s", "Subject"),
            ("e", "Content-Encoding"),
            ("o", "Event"),
            ("r", "Refer-To"),
            ("u", "Allow-Events"),
            ("x", "Session-Expires"),
            ("y", "Identity"),
            ("j", "Reject-Contact"),
            ("d", "Request-Disposition"),
            ("b", "Referred-By"),
            ("a", "Accept-Contact"),
        ];
        for (short, long) in pairs {
            let h = HeaderName::parse(short);
            assert_eq!(h.as_str(), long);
            assert_eq!(HeaderName::parse(&short.to_uppercase()), h);
            assert_eq!(HeaderName::parse(&long.to_lowercase()), h);
            assert_eq!(h.compact(), short.chars().next());
        }
        assert_eq!(HeaderName::parse("MaX-fOrWaRdS"), HeaderName::MaxForwards);
        assert_eq!(HeaderName::parse("X-Foo"), HeaderName::parse("x-foo"));
        assert_eq!(HeaderName::parse("X-Foo").as_str(), "X-Foo");
        assert_eq!(HeaderName::parse("q"), HeaderName::Other("q".into()));
        assert_ne!(HeaderName::parse("C%6Fntact"), HeaderName::Contact);
    }
}
