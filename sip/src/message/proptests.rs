//! Property tests: no input panics the parser or the framer, and serialising a parsed
//! message gives back the same message.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

const VALID: &[u8] = b"INVITE sip:bob@example.test SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9;rport, SIP/2.0/TCP p.example.test\r\n\
Max-Forwards: 70\r\n\
f: \"Al\\\"ice\" <sip:alice@example.test>;tag=9fxced76sl\r\n\
t: <sip:bob@example.test>\r\n\
i: 3848276298220188511@example.test\r\n\
CSeq: 2 INVITE\r\n\
m: <sip:alice@192.0.2.1;transport=tcp>;+sip.instance=\"<urn:uuid:1>\";expires=60\r\n\
Authorization: Digest username=\"alice\", realm=\"example.test\", nonce=\"a,b\", uri=\"sip:bob@example.test\", response=\"00\", algorithm=SHA-256\r\n\
Route: <sip:p1.example.test;lr>\r\n\
k: 100rel, timer\r\n\
c: application/sdp\r\n\
l: 4\r\n\r\nv=0\n";

/// Reads every accessor so that a lazily-parsed view cannot hide a panic.
fn touch(m: &Message) {
    let _ = m.call_id();
    let _ = m.cseq();
    let _ = (
        m.from().tag(),
        m.from().display_name(),
        m.from().uri().user_decoded(),
    );
    let _ = (m.to().tag(), m.to().uri().params().iter().count());
    for v in m.vias() {
        let _ = (
            v.branch(),
            v.received(),
            v.rport(),
            v.port(),
            v.transport().as_str(),
            v.has_rfc3261_branch(),
        );
    }
    for c in m.contacts() {
        if let Some(a) = c.address() {
            let _ = (
                a.expires(),
                a.params().value("+sip.instance"),
                a.uri().headers(),
            );
        }
    }
    if let Some(a) = m.authorization() {
        let _ = (a.algorithm(), a.param("nonce"), a.params().count());
    }
    let _ = (
        m.max_forwards(),
        m.expires(),
        m.content_type().map(|c| c.params().iter().count()),
    );
    let _ = (
        m.routes().count(),
        m.record_routes().count(),
        m.supported().count(),
        m.allow().count(),
    );
    for f in m.headers().iter() {
        let _ = m.header(f.name().as_str()).count();
    }
}

fn check_round_trip(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(m) = parse(bytes) {
        touch(&m);
        let again = parse(&m.to_bytes());
        prop_assert_eq!(
            again.as_ref(),
            Ok(&m),
            "re-parse of {:?}",
            String::from_utf8_lossy(&m.to_bytes())
        );
    }
    Ok(())
}

fn name(long: &'static str, compact: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(long.to_owned()),
        Just(long.to_uppercase()),
        Just(compact.to_owned()),
        Just(compact.to_uppercase())
    ]
}

prop_compose! {
    fn simple_request()(
        method in prop_oneof![Just("INVITE".to_owned()), Just("OPTIONS".to_owned()), Just("REGISTER".to_owned()), Just("BYE".to_owned()), "[A-Z][A-Za-z0-9.!%*_+`'~-]{0,8}"],
        user in "[a-z0-9._+-]{1,12}",
        host in "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
        port in proptest::option::of(1u16..),
        display in proptest::option::of("[ -~]{0,16}"),
        tag in "[A-Za-z0-9.!%*_+`'~-]{1,12}",
        call_id in "[!-~]{1,24}",
        seq in any::<u32>(),
        branch in "[A-Za-z0-9.-]{1,12}",
        rport in any::<bool>(),
        body in vec(any::<u8>(), 0..64),
        names in (name("Via", "v"), name("From", "f"), name("To", "t"), name("Call-ID", "i"), name("Content-Length", "l")),
        fold in any::<bool>(),
    ) -> (String, Vec<u8>, String, Option<String>, String, u32) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let quoted = display.as_ref().map(|d| format!("\"{}\" ", d.replace('\\', "\\\\").replace('"', "\\\""))).unwrap_or_default();
        let (via, from, to, cid, cl) = names;
        let sep = if fold { "\r\n   " } else { " " };
        let mut text = format!(
            "{method} sip:{user}@{host}{port} SIP/2.0\r\n\
             {via}:{sep}SIP/2.0/UDP {host}{port};branch=z9hG4bK{branch}{rport}\r\n\
             {from}: {quoted}<sip:{user}@{host}>;tag={tag}\r\n\
             {to}: sip:{user}@{host}\r\n\
             {cid}: {call_id}\r\n\
             CSeq:{sep}{seq} {method}\r\n\
             Max-Forwards: 70\r\n\
             {cl}: {}\r\n\r\n",
            body.len(),
            rport = if rport { ";rport" } else { "" },
        ).into_bytes();
        text.extend_from_slice(&body);
        (method.to_string(), text, tag, display, call_id, seq)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..1024)) {
        check_round_trip(&bytes)?;
    }

    #[test]
    fn mutated_messages_never_panic(edits in vec((0..VALID.len(), any::<u8>(), 0u8..3), 1..8)) {
        let mut bytes = VALID.to_vec();
        for (at, byte, op) in edits {
            let at = at.min(bytes.len());
            match op {
                0 => bytes.insert(at, byte),
                1 if at < bytes.len() => { bytes.remove(at); }
                _ if at < bytes.len() => bytes[at] = byte,
                _ => {}
            }
        }
        check_round_trip(&bytes)?;
    }

    #[test]
    fn framer_never_panics_and_split_points_do_not_matter(bytes in vec(any::<u8>(), 0..1024), cuts in vec(any::<usize>(), 0..6)) {
        let run = |pieces: &[&[u8]]| {
            let mut f = StreamFramer::new(FramerConfig { max_header_bytes: 512, max_body_bytes: 512 });
            let mut out = Vec::new();
            for p in pieces {
                f.push(p);
                while let Some(m) = f.next_message() {
                    out.push(m);
                }
            }
            let mut pings = 0;
            while let Some(k) = f.poll_keepalive() {
                pings += usize::from(k == KeepAlive::Ping);
            }
            (out, pings)
        };
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut last = 0;
        for c in cuts {
            pieces.push(&bytes[last..c]);
            last = c;
        }
        pieces.push(&bytes[last..]);
        let (whole, _) = run(&[&bytes]);
        let (split, _) = run(&pieces);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn generated_requests_round_trip((method, text, tag, display, call_id, seq) in simple_request()) {
        let m = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&text))))?;
        let Message::Request(r) = &m else { return Err(TestCaseError::fail("not a request")) };
        prop_assert_eq!(r.method().as_str(), method.as_str());
        prop_assert_eq!(r.from().tag(), Some(tag.as_str()));
        prop_assert_eq!(r.from().display_name().map(|d| d.into_owned()), display);
        prop_assert_eq!(r.call_id(), call_id.as_str());
        prop_assert_eq!(r.cseq().seq, seq);
        prop_assert_eq!(r.top_via().branch().map(|b| b.starts_with(BRANCH_COOKIE)), Some(true));
        prop_assert_eq!(parse(&m.to_bytes()), Ok(m.clone()));
        // Pipelined on a stream, the framer cuts it back out exactly.
        let mut f = StreamFramer::default();
        let wire = m.to_bytes();
        f.push(&wire);
        f.push(&wire);
        prop_assert_eq!(f.next_message(), Some(Ok(wire.clone())));
        prop_assert_eq!(f.next_message(), Some(Ok(wire)));
    }
}
