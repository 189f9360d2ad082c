//! Arbitrary bytes into the SIP message parser. Whatever parses must read back through every
//! accessor without panicking and serialise into bytes that parse to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_sip::message::{parse, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = parse(data) else { return };
    let _ = (
        m.call_id(),
        m.cseq(),
        m.max_forwards(),
        m.expires(),
        m.content_length(),
    );
    let _ = (
        m.from().tag(),
        m.from().display_name(),
        m.to().uri().user_decoded(),
        m.to().uri().params().iter().count(),
    );
    for v in m.vias() {
        let _ = (
            v.branch(),
            v.received(),
            v.rport(),
            v.sent_by(),
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
    for a in m.authorization().into_iter().chain(m.proxy_authorization()) {
        let _ = (a.algorithm(), a.param("nonce"), a.params().count());
    }
    let _ = (
        m.routes().count(),
        m.record_routes().count(),
        m.supported().count(),
        m.content_type().map(|c| c.is("application", "sdp")),
    );
    for f in m.headers().iter() {
        let _ = m.header(f.name().as_str()).count();
    }
    if let Message::Request(r) = &m {
        let _ = (r.uri().host(), r.uri().user_decoded());
        let _ = tandem_sip::message::Response::from_request(r, 200, "OK", Some("fuzz"));
    }
    let bytes = m.to_bytes();
    assert_eq!(
        parse(&bytes).as_ref(),
        Ok(&m),
        "round trip of {:?}",
        String::from_utf8_lossy(&bytes)
    );
});
