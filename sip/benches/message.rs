//! Parse and serialise a typical INVITE with SDP and a 200 OK; rsip 0.4's own parse of the
//! same bytes for comparison. Run: `cargo bench -p tandem-sip --bench message`.

use divan::{black_box, Bencher};
use tandem_sip::message::{parse, Message};

fn main() {
    // The benchmarks measure successful parses only.
    assert!(parse(INVITE).is_ok_and(|m| m.body().len() == 243) && parse(OK).is_ok());
    assert!(rsip::SipMessage::try_from(INVITE).is_ok() && rsip::SipMessage::try_from(OK).is_ok());
    divan::main();
}

fn bytes(name: &str) -> &'static [u8] {
    if name == "invite" {
        INVITE
    } else {
        OK
    }
}

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;rport\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 2 INVITE\r\n\
Contact: <sip:alice@client.atlanta.example.com;transport=udp>;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE\r\n\
Supported: replaces, timer, 100rel\r\n\
User-Agent: Tandem-Bench/1.0\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 243\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n";

const OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;rport=5060;received=192.0.2.101\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 2 INVITE\r\n\
Contact: <sip:bob@client.biloxi.example.com>\r\n\
Content-Length: 0\r\n\
\r\n";

#[divan::bench(args = ["invite", "200 OK"])]
fn tandem_parse(bencher: Bencher, name: &str) {
    let bytes = bytes(name);
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench(|| parse(black_box(bytes)).unwrap());
}

/// Parse, then read what a transaction + dialog layer reads.
#[divan::bench(args = ["invite", "200 OK"])]
fn tandem_parse_and_read(bencher: Bencher, name: &str) {
    let bytes = bytes(name);
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench(|| {
            let m = parse(black_box(bytes)).unwrap();
            let via = m.top_via();
            black_box((
                via.branch(),
                via.host(),
                m.from().tag(),
                m.to().tag(),
                m.call_id().len(),
                m.cseq().seq,
            ));
            black_box(m.contacts().count());
        });
}

#[divan::bench(args = ["invite", "200 OK"])]
fn tandem_serialize(bencher: Bencher, name: &str) {
    let bytes = bytes(name);
    let m: Message = parse(bytes).unwrap();
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench(|| black_box(&m).to_bytes());
}

#[divan::bench(args = ["invite", "200 OK"])]
fn rsip_parse(bencher: Bencher, name: &str) {
    let bytes = bytes(name);
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench(|| rsip::SipMessage::try_from(black_box(bytes)).unwrap());
}

/// rsip stores header values as strings; reading typed values parses them on each access.
#[divan::bench(args = ["invite", "200 OK"])]
fn rsip_parse_and_read(bencher: Bencher, name: &str) {
    use rsip::prelude::*;
    let bytes = bytes(name);
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench(|| {
            let m = rsip::SipMessage::try_from(black_box(bytes)).unwrap();
            let via = m.via_header().unwrap().typed().unwrap();
            let from = m.from_header().unwrap().typed().unwrap();
            let to = m.to_header().unwrap().typed().unwrap();
            let cseq = m.cseq_header().unwrap().typed().unwrap();
            black_box((
                via.branch().cloned(),
                from.tag().cloned(),
                to.tag().cloned(),
                m.call_id_header().unwrap().value().len(),
                cseq.seq,
            ));
        });
}

#[divan::bench(args = ["invite", "200 OK"])]
fn rsip_serialize(bencher: Bencher, name: &str) {
    let bytes = bytes(name);
    let m = rsip::SipMessage::try_from(bytes).unwrap();
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench(|| Vec::<u8>::from(black_box(&m).clone()));
}
