//! Requests: typed access, building, editing, serialising.

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::edit;
use super::error::BuildError;
use super::headers::Headers;
use super::method::Method;
use super::name::HeaderName;
use super::parse::validate;
use super::response::Response;
use super::syntax::{offset_in, split_list};
use super::uri::{Scheme, Uri};
use super::via::{Rport, Via};
use super::{header_accessors, syntax};

/// A SIP request. Always valid: see [`Headers`] for what that guarantees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub(crate) method: Method,
    uri: String,
    pub(crate) headers: Headers,
    body: Vec<u8>,
}

impl Request {
    pub(crate) fn assemble(
        method: Method,
        uri: String,
        headers: Headers,
        body: Vec<u8>,
    ) -> Request {
        Request {
            method,
            uri,
            headers,
            body,
        }
    }

    pub(crate) fn sync_content_length(&mut self) {
        edit::sync_content_length(&mut self.headers, self.body.len());
    }

    /// Starts a request; Via, From, To, Call-ID and CSeq must be added before
    /// [`RequestBuilder::build`].
    pub fn builder(method: Method, uri: &str) -> RequestBuilder {
        RequestBuilder {
            method,
            uri: uri.to_owned(),
            headers: Headers::default(),
            body: Vec::new(),
            error: None,
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The Request-URI.
    pub fn uri(&self) -> Uri<'_> {
        Uri::parse(&self.uri).unwrap_or_else(|| {
            debug_assert!(false, "invalid Request-URI stored");
            Uri::parse("sip:invalid.invalid").unwrap_or_else(|| unreachable!())
        })
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    header_accessors!();

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(64 + self.uri.len() + self.headers.len() * 48 + self.body.len());
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.uri.as_bytes());
        out.extend_from_slice(b" SIP/2.0\r\n");
        self.headers.write_to(&mut out);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Replaces the Request-URI (a proxy or B2BUA retargeting).
    pub fn set_uri(&mut self, uri: &str) -> Result<(), BuildError> {
        let parsed = Uri::parse(uri).ok_or(BuildError::Invalid("Invalid Request-URI".into()))?;
        if matches!(parsed.scheme(), Scheme::Sip | Scheme::Sips) && parsed.headers().is_some() {
            return Err(BuildError::Invalid("Invalid Request-URI".into()));
        }
        self.uri = uri.to_owned();
        Ok(())
    }

    /// Puts `via` above the other Vias: what a proxy does before forwarding (§16.6 item 8).
    pub fn push_via(&mut self, via: &str) -> Result<(), BuildError> {
        let name = edit::name("Via")?;
        let value = edit::value(&name, via)?;
        self.headers.insert_first(name, &value);
        Ok(())
    }

    /// Appends a header line (for list headers, after the existing ones).
    pub fn push_header(&mut self, name: &str, value: &str) -> Result<(), BuildError> {
        edit::push(&mut self.headers, name, value)
    }

    /// Replaces every line of header `name` with one line holding `value`.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), BuildError> {
        let mut headers = self.headers.clone();
        edit::set(&mut headers, name, value)?;
        validate(&headers, Some(&self.method)).map_err(BuildError::Invalid)?;
        self.headers = headers;
        Ok(())
    }

    /// Removes every line of header `name`; returns how many there were. Via, From, To,
    /// Call-ID and CSeq cannot be removed.
    pub fn remove_header(&mut self, name: &str) -> Result<usize, BuildError> {
        edit::remove(&mut self.headers, name)
    }

    /// Replaces the body; `content_type` sets Content-Type (with `None`, an empty body also
    /// drops Content-Type). Content-Length follows.
    pub fn set_body(
        &mut self,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<(), BuildError> {
        edit::set_body(&mut self.headers, &mut self.body, body, content_type)
    }

    /// Records where the request came from in its top Via, as a server transport must
    /// (RFC 3261 §18.2.1, RFC 3581 §4): `received` when the sent-by host differs from the
    /// source address or `rport` was requested, and `rport=<source port>` when it was.
    /// Returns true if the Via changed.
    pub fn stamp_received(&mut self, source: SocketAddr) -> bool {
        let ip = source.ip().to_string();
        let Some(field) = self
            .headers
            .iter()
            .find(|f| *f.name() == HeaderName::Via)
            .map(|f| f.value())
        else {
            return false;
        };
        let Some(first) = split_list(field).next() else {
            return false;
        };
        let Some(via) = Via::parse(first) else {
            return false;
        };
        let host = via.host().trim_start_matches('[').trim_end_matches(']');
        let rport = via.rport();
        let host_matches = host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|h| h == source.ip());
        if host_matches && rport.is_none() {
            return false;
        }
        // Rebuild the parameter list: keep every other parameter as written.
        let params_at = offset_in(first, via.params().as_str());
        let mut new = first[..params_at].trim_end().to_owned();
        let mut wrote_received = false;
        for p in via.params() {
            if p.name.eq_ignore_ascii_case("received") {
                if host_matches {
                    continue;
                }
                let _ = write!(new, ";received={ip}");
                wrote_received = true;
            } else if p.name.eq_ignore_ascii_case("rport") {
                let _ = write!(new, ";rport={}", source.port());
            } else {
                new.push(';');
                new.push_str(p.name);
                if let Some(v) = p.raw_value {
                    new.push('=');
                    new.push_str(v);
                }
            }
        }
        if !host_matches && !wrote_received {
            let _ = write!(new, ";received={ip}");
        }
        debug_assert!(matches!(
            Via::parse(&new).and_then(|v| v.rport()),
            Some(Rport::Value(_)) | None
        ));
        let start = offset_in(field, first);
        let mut value = field.to_owned();
        value.replace_range(start..start + first.len(), &new);
        self.headers.replace_first(&HeaderName::Via, &value);
        true
    }

    /// The ACK for a non-2xx final response to this INVITE (RFC 3261 §17.1.1.3): same
    /// Request-URI, Call-ID, From, top Via, Route and CSeq number, To from the response.
    pub fn ack_for(&self, response: &Response) -> Request {
        let mut headers = Headers::default();
        headers.push_raw(HeaderName::Via, self.top_via().as_str());
        headers.push_raw(HeaderName::MaxForwards, "70");
        for f in self.headers.iter() {
            if matches!(
                f.name(),
                HeaderName::From | HeaderName::CallId | HeaderName::Route
            ) {
                headers.push_raw(f.name().clone(), f.value());
            }
        }
        if let Some(to) = response
            .headers()
            .iter()
            .find(|f| *f.name() == HeaderName::To)
        {
            headers.push_raw(HeaderName::To, to.value());
        }
        headers.push_raw(HeaderName::CSeq, &format!("{} ACK", self.cseq().seq));
        let mut ack = Request {
            method: Method::Ack,
            uri: self.uri.clone(),
            headers,
            body: Vec::new(),
        };
        ack.sync_content_length();
        ack
    }
}

/// Builds a [`Request`]; errors are reported by [`build`](Self::build).
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    method: Method,
    uri: String,
    headers: Headers,
    body: Vec<u8>,
    error: Option<BuildError>,
}

impl RequestBuilder {
    /// Appends a header line.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if self.error.is_none() {
            if let Err(e) = edit::push(&mut self.headers, name, value) {
                self.error = Some(e);
            }
        }
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        if self.error.is_none() {
            if let Err(e) = edit::set_body(
                &mut self.headers,
                &mut self.body,
                body.into(),
                Some(content_type),
            ) {
                self.error = Some(e);
            }
        }
        self
    }

    /// Checks the request as [`parse`](super::parse) would; adds `Max-Forwards: 70` when
    /// absent (RFC 3261 §8.1.1.6) and Content-Length.
    pub fn build(self) -> Result<Request, BuildError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if !syntax::is_token(self.method.as_str()) {
            return Err(BuildError::Invalid("Malformed Request-Line".into()));
        }
        let mut request = Request {
            method: self.method,
            uri: String::new(),
            headers: self.headers,
            body: self.body,
        };
        request.set_uri(&self.uri)?;
        if request.headers.count(&HeaderName::MaxForwards) == 0 {
            request.headers.push_raw(HeaderName::MaxForwards, "70");
        }
        validate(&request.headers, Some(&request.method)).map_err(BuildError::Invalid)?;
        // Content-Length goes last, where readers of traces look for it.
        request.headers.remove_raw(&HeaderName::ContentLength);
        request.sync_content_length();
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Message};
    use super::*;

    fn invite() -> Request {
        Request::builder(Method::Invite, "sip:bob@example.test")
            .header("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;rport")
            .header("f", "\"Alice\" <sip:alice@example.test>;tag=88")
            .header("t", "<sip:bob@example.test>")
            .header("i", "call-1")
            .header("CSeq", "1 INVITE")
            .header(
                "Route",
                "<sip:p1.example.test;lr>, <sip:p2.example.test;lr>",
            )
            .body("application/sdp", b"v=0\r\n".to_vec())
            .build()
            .unwrap()
    }

    #[test]
    fn builder_and_round_trip() {
        let r = invite();
        assert_eq!(r.max_forwards(), Some(70));
        assert_eq!(r.content_length(), 5);
        assert_eq!(r.header("Content-Length").next(), Some("5"));
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert!(
            text.starts_with("INVITE sip:bob@example.test SIP/2.0\r\nVia: "),
            "{text}"
        );
        assert!(text.contains("\r\nFrom: \"Alice\""), "{text}");
        assert!(text.ends_with("Content-Length: 5\r\n\r\nv=0\r\n"), "{text}");
        assert_eq!(parse(text.as_bytes()).unwrap(), Message::Request(r));
    }

    #[test]
    fn builder_rejects() {
        let b = || {
            Request::builder(Method::Options, "sip:x@y")
                .header("Via", "SIP/2.0/UDP h")
                .header("From", "<sip:a@b>;tag=1")
                .header("To", "<sip:a@b>")
                .header("Call-ID", "c")
        };
        assert_eq!(
            b().build().unwrap_err(),
            BuildError::Invalid("Missing CSeq".into())
        );
        assert_eq!(
            b().header("CSeq", "1 INVITE").build().unwrap_err(),
            BuildError::Invalid("CSeq method mismatch".into())
        );
        assert_eq!(
            b().header("Call-ID", "d").build().unwrap_err(),
            BuildError::Duplicate(HeaderName::CallId)
        );
        assert_eq!(
            b().header("X-Evil", "a\r\nVia: x").build().unwrap_err(),
            BuildError::InvalidValue(HeaderName::parse("X-Evil"))
        );
        assert_eq!(
            b().header("Content-Length", "5").build().unwrap_err(),
            BuildError::ContentLength
        );
        assert_eq!(
            b().header("Bad Name", "5").build().unwrap_err(),
            BuildError::InvalidName("Bad Name".into())
        );
        assert!(Request::builder(Method::Options, "sip:x@y?Route=z")
            .header("CSeq", "1 OPTIONS")
            .build()
            .is_err());
    }

    #[test]
    fn editing() {
        let mut r = invite();
        r.push_header("Supported", "100rel, timer").unwrap();
        r.push_header("k", "replaces").unwrap();
        assert_eq!(
            r.supported().collect::<Vec<_>>(),
            vec!["100rel", "timer", "replaces"]
        );
        r.set_header("Supported", "path").unwrap();
        assert_eq!(r.supported().collect::<Vec<_>>(), vec!["path"]);
        assert_eq!(r.remove_header("Supported"), Ok(1));
        assert_eq!(
            r.remove_header("i"),
            Err(BuildError::Required(HeaderName::CallId))
        );
        assert!(r.set_header("CSeq", "2 BYE").is_err());
        r.set_header("CSeq", "2 INVITE").unwrap();
        assert_eq!(r.cseq().seq, 2);
        r.set_body(Vec::new(), None).unwrap();
        assert_eq!(r.content_type(), None);
        assert_eq!(r.header("l").next(), Some("0"));
        assert!(r.set_body(b"x".to_vec(), Some("bad type")).is_err());
    }

    #[test]
    fn stamp_received_rfc3581() {
        let mut r = invite();
        assert!(r.stamp_received("198.51.100.7:40000".parse().unwrap()));
        let via = r.top_via();
        assert_eq!(via.received(), Some("198.51.100.7"));
        assert_eq!(via.rport(), Some(Rport::Value(40000)));
        assert_eq!(via.branch(), Some("z9hG4bKabc"));
        // Same host and no rport: untouched.
        let mut r = Request::builder(Method::Options, "sip:x@y")
            .header(
                "Via",
                "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.1",
            )
            .header("From", "<sip:a@b>;tag=1")
            .header("To", "<sip:a@b>")
            .header("Call-ID", "c")
            .header("CSeq", "1 OPTIONS")
            .build()
            .unwrap();
        assert!(!r.stamp_received("192.0.2.1:5060".parse().unwrap()));
        assert!(r.stamp_received("[2001:db8::1]:5060".parse().unwrap()));
        assert_eq!(r.top_via().received(), Some("2001:db8::1"));
        assert_eq!(r.top_via().rport(), None);
        assert_eq!(r.vias().count(), 2);
        assert_eq!(r.vias().nth(1).unwrap().host(), "10.0.0.1");
    }

    #[test]
    fn ack_for_error_response() {
        let inv = invite();
        let resp = Response::from_request(&inv, 486, "Busy Here", Some("t1")).unwrap();
        let ack = inv.ack_for(&resp);
        assert_eq!(ack.method(), &Method::Ack);
        assert_eq!(ack.cseq().seq, 1);
        assert_eq!(ack.cseq().method, Method::Ack);
        assert_eq!(ack.to().tag(), Some("t1"));
        assert_eq!(ack.routes().count(), 2);
        assert_eq!(ack.top_via().branch(), Some("z9hG4bKabc"));
        assert!(parse(&ack.to_bytes()).is_ok());
    }
}
