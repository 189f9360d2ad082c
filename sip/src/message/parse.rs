//! Parsing one complete message (a datagram, or a frame cut by the stream framer) and the
//! checks of RFC 3261 §8.2 that every message must pass before any layer sees it.

use std::borrow::Cow;

use super::error::{Origin, ParseError};
use super::headers::{check_value, malformed, rejects_duplicates, CSeq, Headers};
use super::method::Method;
use super::name::HeaderName;
use super::syntax::{parse_digits, scan_token, skip_ws, trim_ws};
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
    // Header offsets are stored as u32; no transport delivers anything near this.
    if bytes.len() > u32::MAX as usize {
        return Err(ParseError::new(Origin::Unknown, "Message Too Large"));
    }
    let (start_line, rest) = match memchr::memchr(b'\n', bytes) {
        Some(i) => (
            bytes[..i].strip_suffix(b"\r").unwrap_or(&bytes[..i]),
            &bytes[i + 1..],
        ),
        None => (bytes, &bytes[bytes.len()..]),
    };
    let is_response = start_line.starts_with(b"SIP/");
    let origin = if is_response {
        Origin::Response
    } else if looks_like_request(start_line) {
        Origin::Request
    } else {
        return Err(ParseError::new(Origin::Unknown, "Not a SIP message"));
    };
    let err = |reason: Cow<'static, str>| ParseError::new(origin, reason);
    if start_line.len() + 1 < bytes.len() && bytes[start_line.len()] != b'\r' {
        return Err(err("Malformed header".into()));
    }
    let start_line = std::str::from_utf8(start_line).map_err(|_| err("Invalid UTF-8".into()))?;

    // Start line, then headers, then message-level rules, then the body: the first problem
    // found in that order is the one reported.
    let start = if is_response {
        let (status, reason) = parse_status_line(start_line)?;
        StartLine::Response(status, reason)
    } else {
        let (method, uri) = parse_request_line(start_line)?;
        StartLine::Request(method, uri)
    };
    let (headers, content_length, body_start) = parse_headers(rest).map_err(err)?;
    let method = match &start {
        StartLine::Request(method, _) => Some(method),
        StartLine::Response(..) => None,
    };
    validate(&headers, method).map_err(err)?;
    let available = &rest[body_start..];
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
fn parse_headers(b: &[u8]) -> Result<(Headers, Option<usize>, usize), Cow<'static, str>> {
    let mut headers = Headers::with_capacity(16, b.len().min(2048));
    let mut content_length = None;
    // Checks the line pushed last, once no continuation line can follow.
    let check_last =
        |h: &Headers, content_length: &mut Option<usize>| -> Result<(), Cow<'static, str>> {
            if let Some(f) = h.last() {
                if !check_value(f.name(), f.value()) {
                    return Err(malformed(f.name()));
                }
                if *f.name() == HeaderName::ContentLength {
                    *content_length = parse_digits(f.value()).map(|n| n as usize);
                }
            }
            Ok(())
        };
    let bad = || Cow::Borrowed("Malformed header");
    let mut start = 0;
    let mut lines = 0;
    let mut newlines = memchr::memchr_iter(b'\n', b);
    // Lenient: a datagram whose head ends without the empty line has no body.
    let mut head_end = b.len();
    let mut body_start = b.len();
    let mut found_empty = false;
    while start < b.len() {
        let end = match newlines.next() {
            Some(nl) => {
                // Lines end in CRLF; a bare LF is an error.
                if nl == start || b[nl - 1] != b'\r' {
                    return Err(bad());
                }
                lines += 1;
                nl - 1
            }
            None => b.len(),
        };
        let raw = &b[start..end];
        let line_start = start;
        start = (end + 2).min(b.len());
        if raw.is_empty() {
            head_end = line_start;
            body_start = start;
            found_empty = true;
            break;
        }
        let line =
            std::str::from_utf8(raw).map_err(|_| Cow::Borrowed("Invalid UTF-8 in header"))?;
        if raw[0] == b' ' || raw[0] == b'\t' {
            // Folding (RFC 3261 §7.3.1): the line continues the previous header.
            if headers.is_empty() {
                return Err(bad());
            }
            let more = trim_ws(line);
            if !more.is_empty() {
                headers.extend_last(more);
            }
            continue;
        }
        check_last(&headers, &mut content_length)?;
        let name_end = scan_token(raw, 0);
        let colon = skip_ws(raw, name_end);
        if name_end == 0 || raw.get(colon) != Some(&b':') {
            return Err(bad());
        }
        headers.push_raw(
            HeaderName::parse(&line[..name_end]),
            trim_ws(&line[colon + 1..]),
        );
    }
    check_last(&headers, &mut content_length)?;
    // A CR anywhere but before a LF would let a value smuggle a line into whatever copies it.
    let expected = if found_empty { lines - 1 } else { lines };
    if memchr::memchr_iter(b'\r', &b[..head_end]).count() != expected {
        return Err(bad());
    }
    Ok((headers, content_length, body_start))
}

/// Message-level rules (RFC 3261 §8.1.1, §8.2.2; RFC 4475 §3.1.2 and §3.3).
///
/// Max-Forwards is *not* required: RFC 2543 requests lack it and must still be accepted
/// (RFC 4475 inv2543; a proxy adds it, RFC 3261 §16.6 step 3).
pub(crate) fn validate(
    headers: &Headers,
    method: Option<&Method>,
) -> Result<(), Cow<'static, str>> {
    // One pass: which required headers are there, and no single-valued header twice
    // (RFC 4475 multi01, mcl01).
    let mut seen = 0u32;
    let mut cseq = None;
    let mut star = false;
    for f in headers.iter() {
        let name = f.name();
        let bit = tracked_bit(name);
        if bit == 0 {
            continue;
        }
        if seen & bit != 0 && rejects_duplicates(name) {
            return Err(Cow::Owned(format!("Duplicate {name}")));
        }
        seen |= bit;
        match name {
            HeaderName::CSeq => cseq = Some(f.value()),
            HeaderName::Contact => star |= f.value().contains('*'),
            _ => {}
        }
    }
    for name in [
        HeaderName::To,
        HeaderName::From,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::Via,
    ] {
        if seen & tracked_bit(&name) == 0 {
            return Err(Cow::Owned(format!("Missing {name}")));
        }
    }
    if let Some(method) = method {
        let cseq = cseq.and_then(CSeq::parse).ok_or("Malformed CSeq")?;
        // RFC 3261 §8.2.6 ... the CSeq method must match (RFC 4475 mismatch01/02).
        if cseq.method != *method {
            return Err("CSeq method mismatch".into());
        }
    }
    // `Contact: *` stands alone (RFC 3261 §10.2.2).
    if star
        && headers.values_of(HeaderName::Contact).any(|c| c == "*")
        && headers.values_of(HeaderName::Contact).count() > 1
    {
        return Err("Malformed Contact".into());
    }
    Ok(())
}

/// One bit per header `validate` tracks; 0 for the others.
fn tracked_bit(name: &HeaderName) -> u32 {
    1 << match name {
        HeaderName::Via => 0,
        HeaderName::From => 1,
        HeaderName::To => 2,
        HeaderName::CallId => 3,
        HeaderName::CSeq => 4,
        HeaderName::Contact => 5,
        HeaderName::MaxForwards => 6,
        HeaderName::ContentLength => 7,
        HeaderName::ContentType => 8,
        HeaderName::Expires => 9,
        HeaderName::MinExpires => 10,
        HeaderName::RSeq => 11,
        HeaderName::RAck => 12,
        HeaderName::Event => 13,
        HeaderName::SessionExpires => 14,
        _ => return 0,
    }
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
    fn every_compact_form() {
        let text = "MESSAGE sip:b@x SIP/2.0\r\n\
            v: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            t: <sip:b@x>\r\n\
            f: <sip:a@x>;tag=1\r\n\
            i: c1\r\n\
            CSeq: 1 MESSAGE\r\n\
            m: <sip:a@h>\r\n\
            k: 100rel\r\n\
            s: hello\r\n\
            e: gzip\r\n\
            o: presence\r\n\
            r: <sip:c@x>\r\n\
            u: dialog\r\n\
            x: 1800\r\n\
            y: abc\r\n\
            j: *;audio\r\n\
            d: proxy\r\n\
            b: <sip:d@x>\r\n\
            a: *;video\r\n\
            c: text/plain\r\n\
            l: 2\r\n\r\nhi";
        let Message::Request(r) = parse(text.as_bytes()).unwrap() else {
            panic!()
        };
        let expect = [
            ("Via", "SIP/2.0/UDP h;branch=z9hG4bK1"),
            ("To", "<sip:b@x>"),
            ("From", "<sip:a@x>;tag=1"),
            ("Call-ID", "c1"),
            ("Contact", "<sip:a@h>"),
            ("Supported", "100rel"),
            ("Subject", "hello"),
            ("Content-Encoding", "gzip"),
            ("Event", "presence"),
            ("Refer-To", "<sip:c@x>"),
            ("Allow-Events", "dialog"),
            ("Session-Expires", "1800"),
            ("Identity", "abc"),
            ("Reject-Contact", "*;audio"),
            ("Request-Disposition", "proxy"),
            ("Referred-By", "<sip:d@x>"),
            ("Accept-Contact", "*;video"),
            ("Content-Type", "text/plain"),
            ("Content-Length", "2"),
        ];
        for (long, value) in expect {
            assert_eq!(r.header(long).collect::<Vec<_>>(), vec![value], "{long}");
            assert_eq!(r.header(&long.to_uppercase()).count(), 1, "{long}");
        }
        assert_eq!(r.body(), b"hi");
        // Serialised with long names, and the same message again.
        let wire = String::from_utf8(r.to_bytes()).unwrap();
        assert!(
            wire.contains("\r\nReject-Contact: *;audio\r\n") && !wire.contains("\r\nj:"),
            "{wire}"
        );
        assert_eq!(parse(wire.as_bytes()).unwrap(), Message::Request(r));
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
}
