//! Responses: typed access, building from a request (RFC 3261 §8.2.6), editing, serialising.

use super::edit;
use super::error::BuildError;
use super::header_accessors;
use super::headers::Headers;
use super::name::HeaderName;
use super::parse::validate;
use super::request::Request;
use super::syntax::is_token;

/// A SIP response. Always valid: see [`Headers`] for what that guarantees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    reason: String,
    pub(crate) headers: Headers,
    body: Vec<u8>,
}

impl Response {
    pub(crate) fn assemble(
        status: u16,
        reason: String,
        headers: Headers,
        body: Vec<u8>,
    ) -> Response {
        Response {
            status,
            reason,
            headers,
            body,
        }
    }

    pub(crate) fn sync_content_length(&mut self) {
        edit::sync_content_length(&mut self.headers, self.body.len());
    }

    /// A response to `request` (RFC 3261 §8.2.6): every Via in order, From, To, Call-ID and
    /// CSeq copied; `to_tag` is added to To unless it already has a tag (pass `None` for a
    /// 100 Trying, or to leave To alone); a 100 also copies Timestamp (§8.2.6.1). An empty
    /// `reason` takes [`default_reason`]. The body is empty (`Content-Length: 0`).
    /// Record-Route is not copied: that is the dialog layer's call (§12.1.1).
    pub fn from_request(
        request: &Request,
        status: u16,
        reason: &str,
        to_tag: Option<&str>,
    ) -> Result<Response, BuildError> {
        if !(100..=699).contains(&status) {
            return Err(BuildError::Invalid("Invalid status code".into()));
        }
        if reason.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(BuildError::Invalid("Invalid reason phrase".into()));
        }
        if let Some(tag) = to_tag {
            if !is_token(tag) {
                return Err(BuildError::InvalidValue(HeaderName::To));
            }
        }
        let reason = if reason.is_empty() {
            default_reason(status)
        } else {
            reason
        };
        let mut headers = Headers::default();
        for f in request.headers().iter() {
            let copy = match f.name() {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => true,
                HeaderName::Timestamp => status == 100,
                HeaderName::To => {
                    let mut value = f.value().to_owned();
                    if let Some(tag) = to_tag {
                        if request.to().tag().is_none() {
                            value.push_str(";tag=");
                            value.push_str(tag);
                        }
                    }
                    headers.push_raw(HeaderName::To, &value);
                    false
                }
                _ => false,
            };
            if copy {
                headers.push_raw(f.name().clone(), f.value());
            }
        }
        let mut response = Response {
            status,
            reason: reason.to_owned(),
            headers,
            body: Vec::new(),
        };
        response.sync_content_length();
        Ok(response)
    }

    /// The status code (100–699).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase (may be empty).
    pub fn reason(&self) -> &str {
        &self.reason
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

    /// Challenges in WWW-Authenticate (RFC 8760: one per algorithm).
    pub fn www_authenticates(&self) -> impl Iterator<Item = super::AuthHeader<'_>> + '_ {
        self.headers.www_authenticates()
    }

    /// Challenges in Proxy-Authenticate.
    pub fn proxy_authenticates(&self) -> impl Iterator<Item = super::AuthHeader<'_>> + '_ {
        self.headers.proxy_authenticates()
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(64 + self.reason.len() + self.headers.len() * 48 + self.body.len());
        out.extend_from_slice(b"SIP/2.0 ");
        out.extend_from_slice(self.status.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.headers.write_to(&mut out);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Removes the topmost Via value, the proxy's own, before the response goes upstream
    /// (§16.7 item 3). False when it is the only Via: the response was meant for us.
    pub fn pop_via(&mut self) -> bool {
        self.headers.remove_first_value(&HeaderName::Via)
    }

    /// Appends a header line (Contact, Allow, Supported, WWW-Authenticate, ...).
    pub fn push_header(&mut self, name: &str, value: &str) -> Result<(), BuildError> {
        edit::push(&mut self.headers, name, value)
    }

    /// Replaces every line of header `name` with one line holding `value`.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), BuildError> {
        let mut headers = self.headers.clone();
        edit::set(&mut headers, name, value)?;
        validate(&headers, None).map_err(BuildError::Invalid)?;
        self.headers = headers;
        Ok(())
    }

    /// Removes every line of header `name`; Via, From, To, Call-ID and CSeq cannot be removed.
    pub fn remove_header(&mut self, name: &str) -> Result<usize, BuildError> {
        edit::remove(&mut self.headers, name)
    }

    /// Replaces the body; see [`Request::set_body`].
    pub fn set_body(
        &mut self,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<(), BuildError> {
        edit::set_body(&mut self.headers, &mut self.body, body, content_type)
    }
}

/// The RFC 3261 §21 reason phrase for `status` (class default for unknown codes).
pub fn default_reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match status / 100 {
            1 => "Trying",
            2 => "OK",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Message, Method};
    use super::*;

    fn request(extra: &str) -> Request {
        let text = format!(
            "INVITE sip:bob@example.test SIP/2.0\r\n\
             Via: SIP/2.0/UDP p1.example.test;branch=z9hG4bKa, SIP/2.0/UDP p2.example.test;branch=z9hG4bKb\r\n\
             v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc;received=192.0.2.9\r\n\
             Max-Forwards: 68\r\n\
             f: Alice <sip:alice@example.test>;tag=9fxced76sl\r\n\
             t: Bob <sip:bob@example.test>\r\n\
             i: 3848276298220188511@atlanta.example.test\r\n\
             CSeq: 1 INVITE\r\n\
             Record-Route: <sip:p1.example.test;lr>\r\n\
             Timestamp: 54\r\n\
             {extra}\
             Content-Type: application/sdp\r\n\
             Content-Length: 4\r\n\r\nv=0\n"
        );
        match parse(text.as_bytes()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    #[test]
    fn a_proxy_adds_its_via_on_top_and_removes_it_from_the_response() {
        let mut req = request("");
        req.push_via("SIP/2.0/UDP tandem.test;branch=z9hG4bKours;rport")
            .unwrap();
        assert_eq!(req.top_via().branch(), Some("z9hG4bKours"));
        assert_eq!(req.headers().vias().count(), 4);
        assert!(req.push_via("not a via\r\nX: 1").is_err());
        let reparsed = match parse(&req.to_bytes()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        };
        assert_eq!(reparsed.top_via().branch(), Some("z9hG4bKours"));

        let mut resp = Response::from_request(&req, 180, "Ringing", Some("t")).unwrap();
        assert!(resp.pop_via());
        let branches: Vec<_> = resp
            .headers()
            .vias()
            .map(|v| v.branch().unwrap_or("").to_owned())
            .collect();
        assert_eq!(branches, ["z9hG4bKa", "z9hG4bKb", "z9hG4bKc"]);
        // A comma-joined line loses its first value only.
        assert!(resp.pop_via());
        assert_eq!(resp.top_via().branch(), Some("z9hG4bKb"));
        assert!(resp.pop_via());
        assert_eq!(resp.top_via().branch(), Some("z9hG4bKc"));
        // The last Via stays: such a response was addressed to whoever holds it.
        assert!(!resp.pop_via());
        assert_eq!(resp.headers().vias().count(), 1);
    }

    #[test]
    fn from_request_copies_rfc3261_8_2_6() {
        let req = request("");
        let resp = Response::from_request(&req, 180, "", Some("314159")).unwrap();
        assert_eq!((resp.status(), resp.reason()), (180, "Ringing"));
        let vias: Vec<_> = resp.vias().map(|v| v.host().to_owned()).collect();
        assert_eq!(
            vias,
            vec!["p1.example.test", "p2.example.test", "192.0.2.1"]
        );
        assert_eq!(resp.top_via().branch(), Some("z9hG4bKa"));
        assert_eq!(resp.from().tag(), Some("9fxced76sl"));
        assert_eq!(resp.to().tag(), Some("314159"));
        assert_eq!(resp.to().display_name().as_deref(), Some("Bob"));
        assert_eq!(resp.call_id(), "3848276298220188511@atlanta.example.test");
        assert_eq!(resp.cseq().method, Method::Invite);
        assert_eq!(resp.content_length(), 0);
        assert!(resp.content_type().is_none());
        assert!(resp.record_routes().next().is_none());
        assert!(!resp.headers().contains("Timestamp") && !resp.headers().contains("Max-Forwards"));
        let bytes = resp.to_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with("SIP/2.0 180 Ringing\r\n"), "{text}");
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"), "{text}");
        assert_eq!(parse(&bytes).unwrap(), Message::Response(resp));
    }

    #[test]
    fn trying_and_existing_tag() {
        let req = request("");
        let trying = Response::from_request(&req, 100, "Trying", None).unwrap();
        assert_eq!(trying.to().tag(), None);
        assert_eq!(trying.header("Timestamp").next(), Some("54"));
        let mut tagged = req.clone();
        tagged
            .set_header("To", "Bob <sip:bob@example.test>;tag=existing")
            .unwrap();
        let ok = Response::from_request(&tagged, 200, "OK", Some("new")).unwrap();
        assert_eq!(ok.to().tag(), Some("existing"));
        assert!(Response::from_request(&req, 99, "x", None).is_err());
        assert!(Response::from_request(&req, 200, "O\r\nK", None).is_err());
        assert!(Response::from_request(&req, 200, "OK", Some("bad tag")).is_err());
    }

    #[test]
    fn editing_response() {
        let req = request("");
        let mut resp = Response::from_request(&req, 401, "Unauthorized", Some("t")).unwrap();
        resp.push_header(
            "WWW-Authenticate",
            r#"Digest realm="example.test", nonce="n1", algorithm=SHA-256, qop="auth""#,
        )
        .unwrap();
        resp.push_header(
            "WWW-Authenticate",
            r#"Digest realm="example.test", nonce="n1", algorithm=MD5, qop="auth""#,
        )
        .unwrap();
        let algs: Vec<_> = resp
            .www_authenticates()
            .map(|c| c.algorithm().unwrap().to_string())
            .collect();
        assert_eq!(algs, vec!["SHA-256", "MD5"]);
        resp.set_body(b"hello".to_vec(), Some("text/plain"))
            .unwrap();
        assert_eq!(resp.content_length(), 5);
        assert_eq!(resp.header("c").next(), Some("text/plain"));
        let again = parse(&resp.to_bytes()).unwrap();
        assert_eq!(again, Message::Response(resp));
    }
}
