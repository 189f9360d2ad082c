//! Answers to requests the parser refused: RFC 3261 §8.2 still wants a 400 when enough of the
//! message is readable to address one, so the headers a response copies (§8.2.6) are taken
//! textually from the raw bytes.

/// A minimal error response for a raw request, or `None` when it lacks what a response needs
/// (then it is dropped, §18.1.2).
pub fn error_for_raw(raw: &[u8], status: u16, reason: &str, to_tag: &str) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = unfold(head);
    let request_line = lines.first()?.clone();
    // A response is never answered, nor is an ACK (§17).
    if request_line.starts_with("SIP/")
        || request_line
            .split_whitespace()
            .next()
            .is_some_and(|m| m.eq_ignore_ascii_case("ACK"))
    {
        return None;
    }
    lines.remove(0);
    let mut vias = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    for line in &lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "via" | "v" => vias.push(value.to_string()),
            "from" | "f" if from.is_none() => from = Some(value.to_string()),
            "to" | "t" if to.is_none() => to = Some(value.to_string()),
            "call-id" | "i" if call_id.is_none() => call_id = Some(value.to_string()),
            "cseq" if cseq.is_none() => cseq = Some(value.to_string()),
            _ => {}
        }
    }
    // Via and CSeq are what the client matches a response with (§17.1.3); with them a 400
    // can still reach it, even when From, To or Call-ID are missing (RFC 4475 §3.3.1:
    // "ideally, it will respond with a 400").
    if vias.is_empty() {
        return None;
    }
    let cseq = cseq?;
    let to = to.map(|to| {
        if to.to_ascii_lowercase().contains(";tag=") {
            to
        } else {
            format!("{to};tag={to_tag}")
        }
    });
    // The reason goes into a header line: no CR or LF from the input may reach it.
    let reason: String = reason.chars().filter(|c| !c.is_control()).collect();
    let mut out = format!("SIP/2.0 {status} {reason}\r\n");
    for via in vias {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    for (name, value) in [("From", from), ("To", to), ("Call-ID", call_id)] {
        if let Some(value) = value {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!("CSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"));
    Some(out.into_bytes())
}

/// Header lines with RFC 3261 §7.3.1 folding (continuation lines start with space or tab)
/// joined back.
fn unfold(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
                continue;
            }
        }
        lines.push(line.to_string());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_what_a_response_needs_and_drops_what_it_cannot_answer() {
        let raw =
            b"INVITE sip:bob@example.test SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
            f: <sip:a@x>;tag=1\r\nt: <sip:bob@example.test>\r\ni: abc\r\nCSeq: 1 INVITE\r\n\
            Content-Length: 999\r\n\r\nv=0";
        let reply = String::from_utf8(error_for_raw(raw, 400, "Bad Content-Length", "t1").unwrap())
            .unwrap();
        assert!(reply.starts_with("SIP/2.0 400 Bad Content-Length\r\n"));
        assert!(reply.contains("Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"));
        assert!(reply.contains("To: <sip:bob@example.test>;tag=t1\r\n"));
        assert!(reply.contains("Call-ID: abc\r\n"));
        assert!(error_for_raw(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", 400, "x", "t").is_none());
        let ack = String::from_utf8_lossy(raw).replacen("INVITE sip", "ACK sip", 1);
        assert!(
            error_for_raw(ack.as_bytes(), 400, "x", "t").is_none(),
            "an ACK is never answered"
        );
        assert!(
            error_for_raw(b"INVITE sip:x SIP/2.0\r\nVia: x\r\n\r\n", 400, "x", "t").is_none(),
            "no CSeq: unanswerable"
        );
        let partial = error_for_raw(
            b"INVITE sip:x SIP/2.0\r\nVia: x\r\nCSeq: 1 INVITE\r\n\r\n",
            400,
            "Missing Call-ID",
            "t",
        )
        .unwrap();
        assert!(String::from_utf8(partial)
            .unwrap()
            .contains("CSeq: 1 INVITE\r\n"));
        let evil = String::from_utf8(error_for_raw(raw, 400, "bad\r\nX-Injected: 1", "t").unwrap())
            .unwrap();
        assert!(!evil.contains("\r\nX-Injected"));
    }
}
