//! Calls bridged between a real SIP phone (baresip) and an XMPP client, end to end on
//! loopback: the phone dials an XMPP user, her client gets the Jingle session-initiate,
//! accepts with a Raw UDP candidate, and the phone's RTP reaches that candidate.

mod common;

#[path = "common/baresip.rs"]
mod baresip;

use std::time::Duration;

use common::{RawClient, Server};

const GATEWAY: &str = "[gateway]\nsip_domain = \"sip.localhost\"\n";

/// The value of `name='…'` or `name="…"` in the first tag of `xml` containing `tag`.
fn attr(xml: &str, tag: &str, name: &str) -> String {
    let start = xml.find(tag).unwrap_or_else(|| panic!("no {tag} in {xml}"));
    let begin = if tag.starts_with('<') {
        start
    } else {
        xml[..start].rfind('<').unwrap()
    };
    let element = &xml[begin..];
    let element = &element[..element.find('>').unwrap()];
    for quote in ['"', '\''] {
        let key = format!(" {name}={quote}");
        if let Some(at) = element.find(&key) {
            let rest = &element[at + key.len()..];
            return rest[..rest.find(quote).unwrap()].to_string();
        }
    }
    panic!("no {name} in {element}")
}

/// Two UDP sockets on adjacent loopback ports, the first even.
async fn udp_pair() -> (tokio::net::UdpSocket, tokio::net::UdpSocket) {
    for _ in 0..50 {
        let rtp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = rtp.local_addr().unwrap().port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = tokio::net::UdpSocket::bind(("127.0.0.1", port + 1)).await {
            return (rtp, rtcp);
        }
    }
    panic!("no adjacent UDP ports free on loopback")
}

fn bob_phone(server: &Server) -> Option<baresip::Baresip> {
    baresip::Baresip::start(&format!(
        "<sip:bob@localhost>;auth_pass=bobpw;outbound=\"sip:{}\";regint=0",
        server.sip_udp
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn baresip_calls_an_xmpp_user_who_answers_and_gets_its_rtp() {
    let server = Server::start_with_config(GATEWAY);
    server.add_user("alice", "alicepw");
    server.add_user("bob", "bobpw");
    let mut alice = RawClient::login(server.starttls, "alice", "alicepw", Some("laptop")).await;
    alice.send("<presence/>").await;
    alice.sync().await;
    let Some(phone) = bob_phone(&server) else {
        return;
    };
    // The console accepts commands once baresip is up.
    std::thread::sleep(Duration::from_millis(500));
    phone.command("/dial sip:alice@localhost");

    alice.read_until("session-initiate").await;
    let got = alice.read_until("</iq>").await.replace('"', "'");
    let id = attr(&got, "<iq", "id");
    let from = attr(&got, "<iq", "from");
    let sid = attr(&got, "session-initiate", "sid");
    assert!(from.starts_with("bob@sip.localhost/"), "caller JID: {from}");
    assert!(
        got.contains("urn:xmpp:jingle:transports:raw-udp:1"),
        "{got}"
    );
    assert!(got.contains("name='PCMU'"), "{got}");
    alice.received.clear();
    alice
        .send(&format!("<iq type='result' id='{id}' to='{from}'/>"))
        .await;

    // Alice's media sockets: RTP must arrive at her candidate, RTCP goes to the next port
    // (RFC 3550 §11); a closed RTCP port makes baresip drop the call on the ICMP error.
    let (media, _rtcp) = udp_pair().await;
    let port = media.local_addr().unwrap().port();
    alice
        .send(&format!(
            "<iq type='set' id='ring' to='{from}'><jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='{sid}'>\
               <ringing xmlns='urn:xmpp:jingle:apps:rtp:info:1'/></jingle></iq>"
        ))
        .await;
    alice.read_until("id='ring'").await;
    alice
        .send(&format!(
            "<iq type='set' id='accept' to='{from}'><jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='{sid}' responder='alice@localhost/laptop'>\
               <content creator='initiator' name='audio'>\
                 <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0' name='PCMU' clockrate='8000'/></description>\
                 <transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'>\
                   <candidate component='1' generation='0' id='a1' ip='127.0.0.1' port='{port}'/></transport>\
               </content></jingle></iq>"
        ))
        .await;
    let reply = alice.read_until("id='accept'").await;
    assert!(
        reply.contains("type='result'") || reply.contains("type=\"result\""),
        "{reply}"
    );
    phone.wait_for("established", Duration::from_secs(10));

    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), media.recv_from(&mut buf))
        .await
        .expect("RTP from the phone")
        .unwrap();
    let packet = rtp_rs::RtpReader::new(&buf[..n]).expect("an RTP packet");
    assert_eq!(packet.payload_type(), 0, "PCMU");

    // Alice hangs up: the phone gets a BYE.
    alice.received.clear();
    alice
        .send(&format!(
            "<iq type='set' id='bye' to='{from}'><jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='{sid}'>\
               <reason><success/></reason></jingle></iq>"
        ))
        .await;
    alice.read_until("id='bye'").await;
    // baresip reports a BYE from the other side as ECONNRESET.
    phone.wait_for("session closed", Duration::from_secs(10));
    server.wait_for_log("call ended", Duration::from_secs(5));
}
