//! Parsing one complete message (a datagram, or a frame cut by the stream framer) and the
//! checks of RFC 3261 §8.2 that every message must pass before any layer sees it.

use std::borrow::Cow;

use super::error::{Origin, ParseError};
use super::headers::{check_value, malformed, rejects_duplicates, CSeq, Headers};
use super::method::Method;
use super::name::HeaderName;
use super::syntax::{is_token, parse_digits};
use super::uri::{Scheme, Uri};
use super::{Message, Request, Response};

/// Parses a complete message: a UDP datagram, or one frame from
/// [`StreamFramer`](super::StreamFramer).
///
/// Leading CRLFs are skipped (RFC 3261 §7.5). Header lines may be folded, use compact names
/// and any case. With a Content-Length, the body is exactly that long and bytes after it are
/// discarded (RFC 3261 §18.3, RFC 4475 dblreq); a Content-Length larger than what is there is
/// an error. Without one, the body is the rest of the datagram.
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    let mut start = 0;
    while bytes[start..].starts_with(b"\r\n") {
        start += 2;
    }
    let bytes = &bytes[start..];
    if bytes.is_empty() {
        return Err(ParseError::new(Origin::Unknown, "Empty message"));
    }
    // The first empty line ends the head; a continuation line is never empty.
    let (head, body_start) = match find(bytes, b"\r\n\r\n") {
        Some(i) => (&bytes[..i], i + 4),
        // Lenient: a datagram that ends without the empty line has no body.
        None => (bytes.strip_suffix(b"\r\n").unwrap_or(bytes), bytes.len()),
    };
    let line_end = find(head, b"\r\n").unwrap_or(head.len());
    let (start_line, rest) = (&head[..line_end], &head[(line_end + 2).min(head.len())..]);
    let is_response = start_line.starts_with(b"SIP/");
    let origin = if is_response {
        Origin::Response
    } else if looks_like_request(start_line) {
        Origin::Request
    } else {
        return Err(ParseError::new(Origin::Unknown, "Not a SIP message"));
    };
    let err = |reason: Cow<'static, str>| ParseError::new(origin, reason);
    let start_line = std::str::from_utf8(start_line).map_err(|_| err("Invalid UTF-8".into()))?;
    let headers_text =
        std::str::from_utf8(rest).map_err(|_| err("Invalid UTF-8 in header".into()))?;

    // Start line, then headers, then message-level rules, then the body: the first problem
    // found in that order is the one reported.
    let start = if is_response {
        let (status, reason) = parse_status_line(start_line)?;
        StartLine::Response(status, reason)
    } else {
        let (method, uri) = parse_request_line(start_line)?;
        StartLine::Request(method, uri)
    };
    let (mut headers, content_length) = parse_headers(headers_text).map_err(err)?;
    let method = match &start {
        StartLine::Request(method, _) => Some(method),
        StartLine::Response(..) => None,
    };
    validate(&mut headers, method).map_err(err)?;
    let available = &bytes[body_start.min(bytes.len())..];
    let body = match content_length {
        Some(n) if n > available.len() => return Err(err("Content-Length mismatch".into())),
        Some(n) => available[..n].to_vec(),
        None => available.to_vec(),
    };
    Ok(match start {
        StartLine::Request(method, uri) => {
            let mut request = Request::assemble(method, uri.to_owned(), headers, body);
            request.sync_content_length();
            Message::Request(request)
        }
        StartLine::Response(status, reason) => {
            let mut response = Response::assemble(status, reason.to_owned(), headers, body);
            response.sync_content_length();
            Message::Response(response)
        }
    })
}

enum StartLine<'a> {
    Request(Method, &'a str),
    Response(u16, &'a str),
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1]
            .iter()
            .position(|&b| b == first)
        {
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
            None => return None,
        }
    }
    None
}

/// A token followed by a space: enough to treat the message as a request for the purpose of
/// answering it.
fn looks_like_request(line: &[u8]) -> bool {
    let end = line.iter().position(|&b| b == b' ').unwrap_or(0);
    end > 0 && line[..end].iter().all(|&b| super::syntax::is_token_byte(b))
}

fn is_version(v: &str) -> bool {
    v.eq_ignore_ascii_case("SIP/2.0")
}

/// `SIP/x.y` with some other version: answered with 505 (RFC 3261 §8.2.6... §21.5.6).
fn is_other_version(v: &str) -> bool {
    v.as_bytes()
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
        && v[4..]
            .split_once('.')
            .is_some_and(|(a, b)| parse_digits(a).is_some() && parse_digits(b).is_some())
}

/// `Method SP Request-URI SP SIP-Version` with exactly one space each (RFC 3261 §7.1;
/// RFC 4475 lwsruri, lwsstart, trws, ltgtruri, escruri).
fn parse_request_line(line: &str) -> Result<(Method, &str), ParseError> {
    let bad = || ParseError::new(Origin::Request, "Malformed Request-Line");
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let method = Method::parse(method).ok_or_else(bad)?;
    if !is_version(version) {
        if is_other_version(version) {
            return Err(ParseError::new(Origin::Request, "Version Not Supported").with_status(505));
        }
        return Err(bad());
    }
    let parsed =
        Uri::parse(uri).ok_or_else(|| ParseError::new(Origin::Request, "Invalid Request-URI"))?;
    // RFC 3261 §19.1.1 table: headers are not allowed in a Request-URI.
    if matches!(parsed.scheme(), Scheme::Sip | Scheme::Sips) && parsed.headers().is_some() {
        return Err(ParseError::new(Origin::Request, "Invalid Request-URI"));
    }
    Ok((method, uri))
}

/// `SIP-Version SP Status-Code SP Reason-Phrase` (RFC 3261 §7.2); the status code is three
/// digits (RFC 4475 bigcode), the reason may be empty (noreason).
fn parse_status_line(line: &str) -> Result<(u16, &str), ParseError> {
    let bad = || ParseError::new(Origin::Response, "Malformed Status-Line");
    let (version, rest) = line.split_once(' ').ok_or_else(bad)?;
    if !is_version(version) {
        return Err(ParseError::new(Origin::Response, "Version Not Supported"));
    }
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 {
        return Err(bad());
    }
    let status = parse_digits(code)
        .filter(|c| (100..=699).contains(c))
        .ok_or_else(bad)?;
    if reason.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(bad());
    }
    Ok((status as u16, reason))
}

/// Splits header lines, unfolds continuations (RFC 3261 §7.3.1), checks each value the stack
/// interprets, and returns the declared Content-Length.
fn parse_headers(text: &str) -> Result<(Headers, Option<usize>), Cow<'static, str>> {
    let mut headers = Headers::default();
    let mut current: Option<(HeaderName, String)> = None;
    let mut content_length = None;
    let mut finish =
        |h: &mut Headers, name: HeaderName, value: String| -> Result<(), Cow<'static, str>> {
            if !check_value(&name, &value) {
                return Err(malformed(&name));
            }
            if name == HeaderName::ContentLength {
                content_length = parse_digits(&value).map(|n| n as usize);
            }
            h.push_raw(name, value);
            Ok(())
        };
    if !text.is_empty() {
        for line in text.split("\r\n") {
            if line.bytes().any(|b| b == b'\r' || b == b'\n') {
                return Err("Malformed header".into());
            }
            let trimmed = line.trim_matches([' ', '\t']);
            if line.starts_with([' ', '\t']) {
                let Some((_, value)) = current.as_mut() else {
                    return Err("Malformed header".into());
                };
                if !trimmed.is_empty() {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(trimmed);
                }
                continue;
            }
            if let Some((name, value)) = current.take() {
                finish(&mut headers, name, value)?;
            }
            let (name, value) = line.split_once(':').ok_or("Malformed header")?;
            let name = name.trim_end_matches([' ', '\t']);
            if !is_token(name) {
                return Err("Malformed header".into());
            }
            current = Some((
                HeaderName::parse(name),
                value.trim_matches([' ', '\t']).to_owned(),
            ));
        }
    }
    if let Some((name, value)) = current.take() {
        finish(&mut headers, name, value)?;
    }
    Ok((headers, content_length))
}

/// Message-level rules (RFC 3261 §8.1.1, §8.2.2; RFC 4475 §3.1.2 and §3.3).
///
/// Max-Forwards is *not* required: RFC 2543 requests lack it and must still be accepted
/// (RFC 4475 inv2543; a proxy adds it, RFC 3261 §16.6 step 3).
pub(crate) fn validate(
    headers: &mut Headers,
    method: Option<&Method>,
) -> Result<(), Cow<'static, str>> {
    const REQUIRED: [HeaderName; 5] = [
        HeaderName::To,
        HeaderName::From,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::Via,
    ];
    for name in &REQUIRED {
        if headers.count(name) == 0 {
            return Err(Cow::Owned(format!("Missing {name}")));
        }
    }
    // Duplicates of single-valued headers (RFC 4475 multi01, mcl01).
    let mut seen: Vec<&HeaderName> = Vec::new();
    for f in headers.iter() {
        if rejects_duplicates(f.name()) {
            if seen.contains(&f.name()) {
                return Err(Cow::Owned(format!("Duplicate {}", f.name())));
            }
            seen.push(f.name());
        }
    }
    if let Some(method) = method {
        let cseq = headers
            .get("CSeq")
            .and_then(CSeq::parse)
            .ok_or("Malformed CSeq")?;
        // RFC 3261 §8.2.6 ... the CSeq method must match (RFC 4475 mismatch01/02).
        if cseq.method != *method {
            return Err("CSeq method mismatch".into());
        }
    }
    // `Contact: *` stands alone (RFC 3261 §10.2.2).
    let contacts = headers.values_of(HeaderName::Contact).count();
    if contacts > 1 && headers.values_of(HeaderName::Contact).any(|c| c == "*") {
        return Err("Malformed Contact".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(head: &str) -> String {
        format!("{head}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@x>\r\nFrom: <sip:a@x>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    }

    #[test]
    fn request_line_rules() {
        assert!(parse(req("OPTIONS sip:a@x SIP/2.0").as_bytes()).is_ok());
        assert!(parse(req("OPTIONS sip:a@x sip/2.0").as_bytes()).is_ok());
        for bad in [
            "OPTIONS  sip:a@x SIP/2.0",
            "OPTIONS sip:a@x SIP/2.0 ",
            "OPTIONS <sip:a@x> SIP/2.0",
            "OPTIONS sip:a@x",
        ] {
            let e = parse(req(bad).as_bytes()).unwrap_err();
            assert_eq!(e.reply_status(), Some(400), "{bad}: {e}");
        }
        let e = parse(req("OPTIONS sip:a@x SIP/7.0").as_bytes()).unwrap_err();
        assert_eq!(
            (e.reason(), e.reply_status()),
            ("Version Not Supported", Some(505))
        );
    }

    #[test]
    fn leading_crlf_and_garbage() {
        let m = parse(format!("\r\n\r\n{}", req("OPTIONS sip:a@x SIP/2.0")).as_bytes()).unwrap();
        assert!(matches!(m, Message::Request(_)));
        let e = parse(b"\x00\x01garbage").unwrap_err();
        assert_eq!((e.origin(), e.reply_status()), (Origin::Unknown, None));
        assert_eq!(parse(b"").unwrap_err().origin(), Origin::Unknown);
        assert_eq!(parse(b"\r\n\r\n").unwrap_err().origin(), Origin::Unknown);
    }

    #[test]
    fn header_injection_and_bad_names() {
        let base = req("OPTIONS sip:a@x SIP/2.0");
        let e = parse(base.replace("Call-ID: c1", "Call-ID: c1\nX: y").as_bytes()).unwrap_err();
        assert_eq!(e.reason(), "Malformed header");
        let e = parse(base.replace("Call-ID: c1", "Call ID: c1").as_bytes()).unwrap_err();
        assert_eq!(e.reason(), "Malformed header");
        let e = parse(base.replace("Call-ID: c1\r\n", "").as_bytes()).unwrap_err();
        assert_eq!(e.reason(), "Missing Call-ID");
        let e = parse(
            base.replace("Call-ID: c1", "Call-ID: c1\r\nCall-ID: c2")
                .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.reason(), "Duplicate Call-ID");
        let e = parse(
            base.replace("Max-Forwards: 70", "Contact: *\r\nContact: <sip:a@b>")
                .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.reason(), "Malformed Contact");
    }

    #[test]
    fn find_works() {
        assert_eq!(find(b"abc\r\n\r\n", b"\r\n\r\n"), Some(3));
        assert_eq!(find(b"\r\n\r", b"\r\n\r\n"), None);
        assert_eq!(find(b"", b"\r\n"), None);
    }
}
