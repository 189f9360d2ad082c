//! The transaction layer carrying a whole call in memory: INVITE / 100 / 200 / ACK and
//! BYE / 200, both sides (UAC and UAS layers), messages parsed and serialised as on the wire.
//! Run: `cargo bench -p tandem-sip --bench transaction`.

use std::time::Instant;

use divan::black_box;
use tandem_sip::message::{parse, Message, Request, Response};
use tandem_sip::transaction::key::RequestIds;
use tandem_sip::transaction::{
    ClientKey, LayerEvent, RequestDisposition, ServerKey, Timers, TransactionLayer,
};

fn main() {
    divan::main();
}

fn request(method: &str, branch: &str, cseq: u32) -> Request {
    let text = format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@atlanta.example.com>;tag=a1\r\nTo: <sip:bob@biloxi.example.com>{to_tag}\r\n\
         Call-ID: c1@atlanta\r\nCSeq: {cseq} {method}\r\nContact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n",
        to_tag = if method == "INVITE" { "" } else { ";tag=b1" }
    );
    match parse(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("bench request does not parse: {other:?}"),
    }
}

fn server_key(r: &Request) -> ServerKey {
    let via = r.top_via();
    let uri = r.uri().as_str().to_owned();
    let from_tag = r.from().tag().unwrap_or("").to_owned();
    ServerKey::for_request(&RequestIds {
        method: r.method().as_str(),
        branch: via.branch(),
        sent_by: via.sent_by(),
        top_via: via.as_str(),
        request_uri: &uri,
        from_tag: &from_tag,
        call_id: r.call_id(),
        cseq: r.cseq().seq,
    })
}

/// One side's layer hands every transmitted message, serialised and parsed again, to the
/// other side's layer, as a network would.
fn wire(message: &Message) -> Message {
    parse(&message.to_bytes()).expect("what we send parses")
}

fn transact(
    uac: &mut TransactionLayer<Message, ()>,
    uas: &mut TransactionLayer<Message, ()>,
    now: Instant,
    method: &str,
    branch: &str,
    cseq: u32,
) {
    let req = request(method, branch, cseq);
    let ckey = ClientKey {
        branch: branch.into(),
        method: method.into(),
    };
    uac.send_request(now, ckey.clone(), Message::Request(req), (), false);
    while let Some(event) = uac.poll_event() {
        if let LayerEvent::Transmit { message, .. } = event {
            let Message::Request(arrived) = wire(&message) else {
                unreachable!()
            };
            let key = server_key(&arrived);
            let disposition = uas.handle_request(
                now,
                key.clone(),
                method,
                Message::Request(arrived),
                (),
                false,
            );
            let RequestDisposition::New(Message::Request(arrived)) = disposition else {
                continue;
            };
            if method == "INVITE" {
                let trying = Response::from_request(&arrived, 100, "Trying", None).unwrap();
                uas.send_response(now, &key, 100, Message::Response(trying));
            }
            let ok = Response::from_request(&arrived, 200, "OK", Some("b1")).unwrap();
            uas.send_response(now, &key, 200, Message::Response(ok));
        }
    }
    while let Some(event) = uas.poll_event() {
        if let LayerEvent::Transmit { message, .. } = event {
            let Message::Response(response) = wire(&message) else {
                unreachable!()
            };
            let status = response.status();
            uac.handle_response(now, &ckey, status, Message::Response(response));
        }
    }
    while uac.poll_event().is_some() {}
}

#[divan::bench]
fn invite_200_ack_bye_200() {
    let now = Instant::now();
    let mut uac: TransactionLayer<Message, ()> = TransactionLayer::new(Timers::default());
    let mut uas: TransactionLayer<Message, ()> = TransactionLayer::new(Timers::default());
    transact(&mut uac, &mut uas, now, "INVITE", "z9hG4bKinv1", 1);
    // The 2xx ACK is end to end (no transaction): it goes straight to the UAS layer.
    let ack = request("ACK", "z9hG4bKack1", 1);
    let key = server_key(&ack);
    black_box(uas.handle_request(now, key, "ACK", wire(&Message::Request(ack)), (), false));
    transact(&mut uac, &mut uas, now, "BYE", "z9hG4bKbye1", 2);
    black_box((uac.len(), uas.len()));
}
