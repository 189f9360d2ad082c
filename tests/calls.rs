//! Calls bridged between a real SIP phone (baresip) and an XMPP client, end to end on
//! loopback: the phone dials an XMPP user, her client gets the Jingle session-initiate,
//! accepts with a Raw UDP candidate, and the phone's RTP reaches that candidate.

mod common;

#[path = "common/baresip.rs"]
mod baresip;
#[path = "common/cluster.rs"]
mod cluster;
#[path = "common/kamailio.rs"]
mod kamailio;
#[path = "common/peer_log.rs"]
mod peer_log;
#[path = "common/redis.rs"]
mod redis;

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

/// The phone's first packet at `media` is PCMU RTP (parsed by rtp-rs).
async fn expect_pcmu(media: &tokio::net::UdpSocket) {
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), media.recv_from(&mut buf))
        .await
        .expect("RTP from the phone")
        .unwrap();
    let packet = rtp_rs::RtpReader::new(&buf[..n]).expect("an RTP packet");
    assert_eq!(packet.payload_type(), 0, "PCMU");
}

/// A PCMU audio content with a Raw UDP candidate at `port` on loopback.
fn pcmu_content(port: u16) -> String {
    format!(
        "<content creator='initiator' name='audio'>\
           <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0' name='PCMU' clockrate='8000'/></description>\
           <transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'>\
             <candidate component='1' generation='0' id='a1' ip='127.0.0.1' port='{port}'/></transport>\
         </content>"
    )
}

fn bob_phone(server: &Server) -> Option<baresip::Baresip> {
    baresip::Baresip::start(&format!(
        "<sip:bob@localhost>;auth_pass=bobpw;outbound=\"sip:{}\";regint=0",
        server.sip_udp
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn baresip_calls_an_xmpp_user_who_answers_and_gets_its_rtp() {
    let (server, mut alice) = server_with_alice("").await;
    let Some(phone) = bob_phone(&server) else {
        return;
    };
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
    let content = pcmu_content(port);
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
               {content}</jingle></iq>"
        ))
        .await;
    let reply = alice.read_until("id='accept'").await;
    assert!(
        reply.contains("type='result'") || reply.contains("type=\"result\""),
        "{reply}"
    );
    phone.wait_for("established", Duration::from_secs(10));

    expect_pcmu(&media).await;

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
    // One CDR line for the call, with its times and how it ended.
    let cdr = std::fs::read_to_string(server.dir.join("cdr.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(cdr.lines().next().unwrap()).unwrap();
    assert_eq!(line["direction"], "sip-to-xmpp", "{line}");
    assert_eq!(line["callee"], "alice@localhost/laptop", "{line}");
    assert!(
        line["caller"].as_str().unwrap().starts_with("sip:bob@"),
        "{line}"
    );
    assert_eq!(line["jingle_sid"], sid.as_str(), "{line}");
    assert_eq!(
        (line["reason"].as_str(), line["status"].as_u64()),
        (Some("success"), Some(200))
    );
    for time in ["setup", "ringing", "answer", "end"] {
        assert!(
            line[time].as_str().is_some_and(|t| t.ends_with('Z')),
            "{time}: {line}"
        );
    }
    assert!(!line["sip_call_id"].as_str().unwrap().is_empty(), "{line}");
}

/// A server with the gateway, alice online (resource `laptop`), bob and carol as accounts.
async fn server_with_alice(extra: &str) -> (Server, RawClient) {
    server_with_alice_sip("", extra).await
}

/// [`server_with_alice`] with `sip` added to the `[sip]` section.
async fn server_with_alice_sip(sip: &str, extra: &str) -> (Server, RawClient) {
    let server = Server::start_with(sip, &format!("{GATEWAY}{extra}"));
    server.add_user("alice", "alicepw");
    server.add_user("bob", "bobpw");
    server.add_user("carol", "carolpw");
    let mut alice = RawClient::login(server.starttls, "alice", "alicepw", Some("laptop")).await;
    alice.send("<presence/>").await;
    alice.sync().await;
    (server, alice)
}

/// Alice's session-initiate to `to` with a PCMU Raw UDP content at `media`.
async fn initiate(alice: &mut RawClient, to: &str, sid: &str, media: &tokio::net::UdpSocket) {
    let content = pcmu_content(media.local_addr().unwrap().port());
    alice
        .send(&format!(
            "<iq type='set' id='init' to='{to}'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='{sid}' initiator='alice@localhost/laptop'>{content}</jingle></iq>"
        ))
        .await;
}

/// The phone answered alice's call: its RTP reaches her, then she hangs up and it hears so.
async fn talk_and_hang_up(
    alice: &mut RawClient,
    phone: &baresip::Baresip,
    to: &str,
    sid: &str,
    media: &tokio::net::UdpSocket,
) {
    phone.wait_for("established", Duration::from_secs(10));
    expect_pcmu(media).await;
    alice.received.clear();
    jingle(
        alice,
        to,
        sid,
        "session-terminate",
        "<reason><success/></reason>",
    )
    .await;
    phone.wait_for("session closed", Duration::from_secs(10));
}

/// [`server_with_alice`] and bob's phone (calling out through tandem). `None` when
/// baresip is not installed.
async fn setup(extra: &str) -> Option<(Server, RawClient, baresip::Baresip)> {
    let (server, alice) = server_with_alice(extra).await;
    let phone = bob_phone(&server)?;
    Some((server, alice, phone))
}

/// Reads alice's session-initiate and acknowledges it: (caller JID, sid).
async fn incoming(alice: &mut RawClient) -> (String, String) {
    answer_caps(alice, false).await;
    initiated(alice).await
}

/// Answers the gateway's disco#info query as a client that speaks Jingle, and XEP-0353 when
/// `jmi`. Leaves whatever came after the query in the buffer.
async fn answer_caps(alice: &mut RawClient, jmi: bool) {
    alice.read_until("disco#info").await;
    let got = alice.read_until("</iq>").await.replace('"', "'");
    let start = got[..got.find("disco#info").unwrap()].rfind("<iq").unwrap();
    let end = start + got[start..].find("</iq>").unwrap() + "</iq>".len();
    let query = &got[start..end];
    let (id, from) = (attr(query, "<iq", "id"), attr(query, "<iq", "from"));
    alice.received = alice.received[end..].to_string();
    let jmi = if jmi {
        "<feature var='urn:xmpp:jingle-message:0'/>"
    } else {
        ""
    };
    alice
        .send(&format!(
            "<iq type='result' id='{id}' to='{from}'><query xmlns='http://jabber.org/protocol/disco#info'>\
               <feature var='urn:xmpp:jingle:1'/><feature var='urn:xmpp:jingle:apps:rtp:audio'/>{jmi}</query></iq>"
        ))
        .await;
}

async fn jingle(alice: &mut RawClient, to: &str, sid: &str, action: &str, body: &str) {
    alice
        .send(&format!(
            "<iq type='set' id='{action}' to='{to}'><jingle xmlns='urn:xmpp:jingle:1' action='{action}' sid='{sid}'>{body}</jingle></iq>"
        ))
        .await;
    alice.read_until(&format!("id='{action}'")).await;
}

/// `GET /metrics` from the server's `[metrics]` listener (see its "metrics listening" line).
async fn scrape(server: &Server) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let line = server.wait_for_log("metrics listening", Duration::from_secs(5));
    let addr = line
        .split("addr=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text
}

const METRICS: &str = "[metrics]\nlisten = \"127.0.0.1:0\"\n";

#[tokio::test(flavor = "multi_thread")]
async fn busy_and_decline_reach_the_phone_as_486_and_603() {
    for (reason, status) in [("busy", "486"), ("decline", "603")] {
        let Some((server, mut alice, phone)) = setup(METRICS).await else {
            return;
        };
        phone.command("/dial sip:alice@localhost");
        let (from, sid) = incoming(&mut alice).await;
        jingle(
            &mut alice,
            &from,
            &sid,
            "session-terminate",
            &format!("<reason><{reason}/></reason>"),
        )
        .await;
        phone.wait_for(status, Duration::from_secs(10));
        server.wait_for_log("call ended", Duration::from_secs(5));
        let metrics = scrape(&server).await;
        for line in [
            "tandem_calls_active 0".to_string(),
            format!("tandem_call_failures_total{{reason=\"{reason}\"}} 1"),
            "tandem_call_attempts_total{direction=\"sip-to-xmpp\"} 1".to_string(),
        ] {
            assert!(metrics.contains(&line), "{line} missing from\n{metrics}");
        }
    }
}

/// bob's phone called alice and she answered with a Raw UDP candidate.
struct AnsweredCall {
    server: Server,
    alice: RawClient,
    phone: baresip::Baresip,
    /// The caller's JID at the gateway.
    from: String,
    sid: String,
    _media: (tokio::net::UdpSocket, tokio::net::UdpSocket),
}

/// Alice accepts with a Raw UDP candidate on fresh sockets (returned: keep them open) and
/// the phone reports the call established.
async fn accept(
    alice: &mut RawClient,
    phone: &baresip::Baresip,
    from: &str,
    sid: &str,
) -> (tokio::net::UdpSocket, tokio::net::UdpSocket) {
    let media = udp_pair().await;
    let port = media.0.local_addr().unwrap().port();
    jingle(alice, from, sid, "session-accept", &pcmu_content(port)).await;
    phone.wait_for("established", Duration::from_secs(10));
    media
}

async fn answered_call(extra: &str) -> Option<AnsweredCall> {
    let (server, mut alice, phone) = setup(extra).await?;
    phone.command("/dial sip:alice@localhost");
    let (from, sid) = incoming(&mut alice).await;
    let media = accept(&mut alice, &phone, &from, &sid).await;
    Some(AnsweredCall {
        server,
        alice,
        phone,
        from,
        sid,
        _media: media,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_phone_hanging_up_ends_the_jingle_session() {
    let Some(call) = answered_call(METRICS).await else {
        return;
    };
    let AnsweredCall {
        server,
        mut alice,
        phone,
        ..
    } = call;
    alice.received.clear();
    phone.command("/hangup");
    let got = alice.read_until("</jingle>").await.replace('"', "'");
    assert!(got.contains("action='session-terminate'"), "{got}");
    assert!(got.contains("<success/>"), "{got}");
    let line = server.wait_for_log("call ended", Duration::from_secs(5));
    assert!(line.contains("status=200"), "{line}");
    let metrics = scrape(&server).await;
    for line in [
        "tandem_calls_active 0",
        "tandem_call_setups_total{direction=\"sip-to-xmpp\"} 1",
        "tandem_call_setup_seconds_count 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_caller_cancelling_while_it_rings_ends_the_jingle_session() {
    let Some((_server, mut alice, phone)) = setup("").await else {
        return;
    };
    phone.command("/dial sip:alice@localhost");
    let (from, sid) = incoming(&mut alice).await;
    jingle(
        &mut alice,
        &from,
        &sid,
        "session-info",
        "<ringing xmlns='urn:xmpp:jingle:apps:rtp:info:1'/>",
    )
    .await;
    phone.wait_for("180 Ringing", Duration::from_secs(10));
    alice.received.clear();
    phone.command("/hangup");
    let got = alice.read_until("</jingle>").await.replace('"', "'");
    assert!(
        got.contains("action='session-terminate'") && got.contains("<cancel/>"),
        "{got}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_offline_and_unanswered_callees() {
    let Some((server, mut alice, phone)) = setup(&format!("ring_timeout = 5\n{METRICS}")).await
    else {
        return;
    };
    phone.command("/dial sip:nobody@localhost");
    phone.wait_for("404", Duration::from_secs(10));
    phone.command("/dial sip:carol@localhost");
    phone.wait_for("480", Duration::from_secs(10));
    // alice's client never answers: after the ring timeout the phone gets 480 and her
    // client is told the session timed out.
    let before = phone.log().matches("480").count();
    phone.command("/dial sip:alice@localhost");
    let (_from, _sid) = incoming(&mut alice).await;
    let got = tokio::time::timeout(Duration::from_secs(10), alice.read_until("</jingle>"))
        .await
        .expect("session-terminate after the ring timeout")
        .replace('"', "'");
    assert!(got.contains("<timeout/>"), "{got}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while phone.log().matches("480").count() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no 480 after the ring timeout"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let line = server.wait_for_log("reason=\"timeout\"", Duration::from_secs(5));
    assert!(line.contains("status=480"), "{line}");
    // The unanswered call is over in the books too: one CDR line, nothing left active.
    let cdr = std::fs::read_to_string(server.dir.join("cdr.jsonl")).unwrap_or_default();
    assert_eq!(cdr.lines().count(), 1, "{cdr}");
    assert!(cdr.contains("\"status\":480"), "{cdr}");
    let metrics = scrape(&server).await;
    assert!(metrics.contains("tandem_calls_active 0"), "{metrics}");
    assert!(
        metrics.contains("tandem_call_failures_total{reason=\"timeout\"} 1"),
        "{metrics}"
    );
}

/// [`server_with_alice`] and bob's phone registered at tandem, answering automatically.
async fn with_registered_bob() -> Option<(Server, RawClient, baresip::Baresip)> {
    let (server, alice) = server_with_alice("").await;
    let phone = baresip::Baresip::start(&format!(
        "<sip:bob@localhost>;auth_pass=bobpw;outbound=\"sip:{}\";regint=600;answermode=auto",
        server.sip_udp
    ))?;
    phone.wait_for("200 OK", Duration::from_secs(10));
    Some((server, alice, phone))
}

/// Alice calls the SIP address `bob@sip.localhost`; bob is a local account whose phone
/// (baresip, auto-answer) is registered, so the INVITE goes to that phone. RTP flows from
/// the phone to the Raw UDP candidate in alice's session-initiate, and each side hangs up.
#[tokio::test(flavor = "multi_thread")]
async fn an_xmpp_user_calls_a_registered_phone_which_answers() {
    let Some((server, mut alice, phone)) = with_registered_bob().await else {
        return;
    };

    let (media, _rtcp) = udp_pair().await;
    let port = media.local_addr().unwrap().port();
    let to = "bob@sip.localhost";
    let sid = "call1";
    let content = pcmu_content(port);
    alice
        .send(&format!(
            "<iq type='set' id='init' to='{to}'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='{sid}' initiator='alice@localhost/laptop'>\
               {content}</jingle></iq>"
        ))
        .await;
    let reply = alice.read_until("id='init'").await.replace('"', "'");
    assert!(reply.contains("type='result'"), "{reply}");
    // The phone answers fast: its session-accept may arrive with the result, so the buffer
    // is kept and searched from the accept on.
    alice.read_until("session-accept").await;
    let got = alice.read_until("</jingle></iq>").await.replace('"', "'");
    let accept = got[got[..got.find("session-accept").unwrap()]
        .rfind("<iq")
        .unwrap()..]
        .to_string();
    assert!(accept.contains(&format!("from='{to}'")), "{accept}");
    assert!(
        accept.contains("urn:xmpp:jingle:transports:raw-udp:1"),
        "{accept}"
    );
    let id = attr(&accept, "<iq", "id");
    alice
        .send(&format!("<iq type='result' id='{id}' to='{to}'/>"))
        .await;
    talk_and_hang_up(&mut alice, &phone, to, sid, &media).await;
    let line = server.wait_for_log("call ended", Duration::from_secs(5));
    assert!(
        line.contains("origin=Jingle") && line.contains("status=200"),
        "{line}"
    );
}

/// The gateway domain says what it does: Jingle RTP over ICE-UDP or Raw UDP, full offers, JMI.
#[tokio::test]
async fn the_gateway_domain_answers_disco_info_with_its_jingle_features() {
    let (_server, mut alice) = server_with_alice("").await;
    for to in ["sip.localhost", "+15551234@sip.localhost"] {
        alice
            .send(&format!(
                "<iq type='get' id='d1' to='{to}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
            ))
            .await;
        let got = alice.read_until("</iq>").await.replace('"', "'");
        alice.received.clear();
        assert!(got.contains("type='result'"), "{got}");
        assert!(got.contains("category='gateway'"), "{got}");
        for feature in [
            "urn:xmpp:jingle:1",
            "urn:xmpp:jingle:apps:rtp:audio",
            "urn:xmpp:jingle:transports:raw-udp:1",
            "urn:xmpp:jingle:transports:ice-udp:1",
            "urn:ietf:rfc:3264",
            "urn:xmpp:jingle-message:0",
        ] {
            assert!(
                got.contains(&format!("var='{feature}'")),
                "{feature}: {got}"
            );
        }
    }
}

/// Waits for a Jingle `action` from the gateway, acknowledging every request on the way
/// (the phone's re-INVITE may also change codecs: description-info comes too). Returns the
/// `<iq>` carrying that action.
async fn next_action(alice: &mut RawClient, from: &str, action: &str) -> String {
    let needle = format!("action='{action}'");
    loop {
        let got = alice.read_until("</iq>").await.replace('"', "'");
        let end = got.find("</iq>").unwrap() + "</iq>".len();
        let iq = got[..end].to_string();
        alice.received = alice.received[end..].to_string();
        if iq.contains("type='set'") {
            let id = attr(&iq, "<iq", "id");
            alice
                .send(&format!("<iq type='result' id='{id}' to='{from}'/>"))
                .await;
        }
        if iq.contains(&needle) {
            return iq;
        }
    }
}

/// Hold and resume both ways on an answered call: the phone's re-INVITE (sendonly, then
/// sendrecv) reaches alice as content-modify, and alice's session-info hold/active become
/// re-INVITEs the phone answers (a second change is accepted only once the first re-INVITE
/// was answered, so `active` succeeding proves the round trip).
#[tokio::test(flavor = "multi_thread")]
async fn hold_and_resume_both_ways() {
    let Some(call) = answered_call("").await else {
        return;
    };
    let AnsweredCall {
        mut alice,
        phone,
        from,
        sid,
        ..
    } = call;

    alice.received.clear();
    phone.command("/hold");
    let modify = next_action(&mut alice, &from, "content-modify").await;
    assert!(
        modify.contains("senders='initiator'"),
        "the phone (initiator) only sends: {modify}"
    );
    phone.command("/resume");
    let modify = next_action(&mut alice, &from, "content-modify").await;
    assert!(!modify.contains("senders="), "both send again: {modify}");

    jingle(
        &mut alice,
        &from,
        &sid,
        "session-info",
        "<hold xmlns='urn:xmpp:jingle:apps:rtp:info:1'/>",
    )
    .await;
    let mut resumed = false;
    for _ in 0..50 {
        alice.received.clear();
        alice
            .send(&format!(
                "<iq type='set' id='active' to='{from}'><jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='{sid}'>\
                   <active xmlns='urn:xmpp:jingle:apps:rtp:info:1'/></jingle></iq>"
            ))
            .await;
        let reply = alice.read_until("id='active'").await.replace('"', "'");
        if reply.contains("type='result'") {
            resumed = true;
            break;
        }
        assert!(reply.contains("tie-break"), "{reply}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resumed, "the phone never answered the hold re-INVITE");
}

/// A minimal PCMU offer from loopback, at `port`.
fn pcmu_offer(port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\n"
    )
}

/// The To tag of a response (the dialog's remote tag for the caller).
fn to_tag(response: &str) -> String {
    response
        .lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split(";tag=").nth(1))
        .unwrap()
        .trim()
        .to_string()
}

/// A hand-written SIP caller from a trusted address (no digest): a raw UDP dialog that sends
/// an RFC 8840 INFO with a trickled candidate once the call is answered.
struct RawSipCaller {
    socket: std::net::UdpSocket,
    tandem: std::net::SocketAddr,
    call_id: String,
}

impl RawSipCaller {
    fn new(tandem: std::net::SocketAddr) -> RawSipCaller {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        RawSipCaller {
            socket,
            tandem,
            call_id: format!("raw-{}", std::process::id()),
        }
    }

    /// The dialog's INVITE (CSeq 1) with an SDP `offer` and `extra` header lines.
    fn invite(&self, extra: &str, offer: &str) {
        self.send(
            "INVITE",
            1,
            None,
            &format!("{extra}Content-Type: application/sdp\r\n"),
            offer,
        );
    }

    fn send(&self, method: &str, cseq: u32, to_tag: Option<&str>, extra: &str, body: &str) {
        let local = self.socket.local_addr().unwrap();
        let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let message = format!(
            "{method} sip:alice@localhost SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{method}{cseq};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:carrier@localhost>;tag=rawtag\r\nTo: <sip:alice@localhost>{to_tag}\r\n\
             Call-ID: {}\r\nCSeq: {cseq} {method}\r\nContact: <sip:carrier@{local}>\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            self.call_id,
            body.len()
        );
        self.socket
            .send_to(message.as_bytes(), self.tandem)
            .unwrap();
    }

    /// The next response with this status prefix (e.g. "SIP/2.0 200"), skipping others.
    fn expect(&self, status: &str) -> String {
        let mut buf = vec![0u8; 65535];
        loop {
            let (n, _) = self.socket.recv_from(&mut buf).expect("a SIP response");
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with(status) {
                return text;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trickle_ice_info_from_sip_becomes_a_transport_info() {
    let (server, mut alice) = server_with_alice_sip("trusted_peers = [\"127.0.0.1\"]\n", "").await;
    let caller = RawSipCaller::new(server.sip_udp);
    let offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=audio 9 RTP/AVP 0\r\na=mid:0\r\na=ice-ufrag:8hhY\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\n";
    caller.invite("", offer);
    let (from, sid) = incoming(&mut alice).await;
    let port = 40000;
    jingle(
        &mut alice,
        &from,
        &sid,
        "session-accept",
        &pcmu_content(port),
    )
    .await;
    let ok = caller.expect("SIP/2.0 200");
    let to_tag = to_tag(&ok);
    caller.send("ACK", 1, Some(&to_tag), "", "");

    alice.received.clear();
    let fragment = "a=ice-ufrag:8hhY\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n\
                    a=candidate:1 1 udp 2130706431 192.0.2.9 6000 typ host\r\na=end-of-candidates\r\n";
    caller.send(
        "INFO",
        2,
        Some(&to_tag),
        "Info-Package: trickle-ice\r\nContent-Type: application/trickle-ice-sdpfrag\r\n",
        fragment,
    );
    caller.expect("SIP/2.0 200");
    let got = alice.read_until("</iq>").await.replace('"', "'");
    assert!(got.contains("action='transport-info'"), "{got}");
    assert!(
        got.contains("ip='192.0.2.9'") && got.contains("port='6000'"),
        "{got}"
    );
    assert!(got.contains("<gathering-complete/>"), "{got}");
    // An INFO outside the dialog is refused.
    caller.send(
        "INFO",
        3,
        Some("not-our-tag"),
        "Content-Type: application/trickle-ice-sdpfrag\r\n",
        fragment,
    );
    caller.expect("SIP/2.0 481");
}

/// The phone dials alice, whose device says it speaks XEP-0353: the proposal message, the
/// caller's JID and the proposal id.
async fn proposed(alice: &mut RawClient, phone: &baresip::Baresip) -> (String, String, String) {
    phone.command("/dial sip:alice@localhost");
    answer_caps(alice, true).await;
    alice.read_until("<propose").await;
    let got = alice.read_until("</message>").await.replace('"', "'");
    let message = got[got.rfind("<message").unwrap()..].to_string();
    let from = attr(&message, "<message", "from");
    let id = attr(&message, "<propose", "id");
    (message, from, id)
}

/// XEP-0353: alice's device says it speaks JMI, so the call rings with a proposal; her
/// ringing reaches the phone as 180, her proceed brings the session-initiate to that device.
#[tokio::test(flavor = "multi_thread")]
async fn a_jmi_device_is_proposed_to_and_proceeds() {
    let Some((_server, mut alice, phone)) = setup("").await else {
        return;
    };
    let (message, from, id) = proposed(&mut alice, &phone).await;
    let message = message.as_str();
    let got = alice.received.replace('"', "'");
    assert!(message.contains("media='audio'"), "{message}");
    assert!(
        message.contains("to='alice@localhost'"),
        "to the bare JID: {message}"
    );
    assert!(
        !got.contains("session-initiate"),
        "no session before proceed: {got}"
    );
    alice.received.clear();
    alice
        .send(&format!(
            "<message to='{from}' type='chat'><ringing xmlns='urn:xmpp:jingle-message:0' id='{id}'/></message>"
        ))
        .await;
    phone.wait_for("180 Ringing", Duration::from_secs(10));
    alice
        .send(&format!(
            "<message to='{from}' type='chat'><proceed xmlns='urn:xmpp:jingle-message:0' id='{id}'/></message>"
        ))
        .await;
    alice.read_until("session-initiate").await;
    let got = alice.read_until("</iq>").await.replace('"', "'");
    assert!(
        got.contains(&format!("sid='{id}'")),
        "the proposal's id is the sid: {got}"
    );
    assert!(got.contains("responder='alice@localhost/laptop'"), "{got}");
    let iq_id = attr(&got[got.find("<iq").unwrap()..], "<iq", "id");
    alice.received.clear();
    alice
        .send(&format!("<iq type='result' id='{iq_id}' to='{from}'/>"))
        .await;
    let _media = accept(&mut alice, &phone, &from, &id).await;
}

/// A JMI reject (busy) reaches the phone as 486; the caller hanging up before anyone
/// proceeds retracts the proposal.
#[tokio::test(flavor = "multi_thread")]
async fn jmi_reject_and_retract() {
    let Some((_server, mut alice, phone)) = setup("").await else {
        return;
    };
    let (_, from, id) = proposed(&mut alice, &phone).await;
    alice.received.clear();
    alice
        .send(&format!(
            "<message to='{from}' type='chat'><reject xmlns='urn:xmpp:jingle-message:0' id='{id}'>\
               <reason xmlns='urn:xmpp:jingle:1'><busy/></reason></reject></message>"
        ))
        .await;
    phone.wait_for("486", Duration::from_secs(10));

    phone.command("/dial sip:alice@localhost");
    answer_caps(&mut alice, true).await;
    alice.read_until("<propose").await;
    alice.received.clear();
    phone.command("/hangup");
    alice.read_until("<retract").await;
    let got = alice.read_until("</message>").await.replace('"', "'");
    assert!(got.contains("<cancel/>"), "{got}");
}

/// XEP-0353 towards SIP: alice proposes a call to `bob@sip.localhost`; the gateway proceeds
/// on the phone's behalf, and alice's session-initiate with that id rings bob's phone.
#[tokio::test(flavor = "multi_thread")]
async fn an_xmpp_user_proposes_a_call_to_a_sip_address() {
    let Some((_server, mut alice, phone)) = with_registered_bob().await else {
        return;
    };
    let to = "bob@sip.localhost";
    alice
        .send(&format!(
            "<message to='{to}' type='chat' id='p1'><propose xmlns='urn:xmpp:jingle-message:0' id='jmi1'>\
               <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></propose></message>"
        ))
        .await;
    alice.read_until("<proceed").await;
    let got = alice.read_until("</message>").await.replace('"', "'");
    assert!(
        got.contains("id='jmi1'") && got.contains(&format!("from='{to}'")),
        "{got}"
    );
    alice.received.clear();
    let media = udp_pair().await;
    let content = pcmu_content(media.0.local_addr().unwrap().port());
    alice
        .send(&format!(
            "<iq type='set' id='init' to='{to}'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='jmi1' initiator='alice@localhost/laptop'>{content}</jingle></iq>"
        ))
        .await;
    alice.read_until("session-accept").await;
    phone.wait_for("established", Duration::from_secs(10));
    expect_pcmu(&media.0).await;
}

/// An XMPP client that disconnects mid-call: the phone gets a BYE.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_disconnecting_mid_call_hangs_up_the_phone() {
    let Some(call) = answered_call("").await else {
        return;
    };
    let AnsweredCall {
        server,
        alice,
        phone,
        ..
    } = call;
    drop(alice);
    phone.wait_for("session closed", Duration::from_secs(10));
    let line = server.wait_for_log("call ended", Duration::from_secs(5));
    assert!(line.contains("reason=\"gone\""), "{line}");
}

/// Through a real trunk: alice calls `carol@sip.localhost`, who has no registered phone, so
/// the INVITE goes to `[sip] outbound_proxy` - kamailio - which relays it to a phone
/// (baresip, auto-answer). Media flows, and alice's hang-up reaches the phone through the
/// trunk's Record-Route.
#[tokio::test(flavor = "multi_thread")]
async fn a_call_through_a_kamailio_trunk_via_the_outbound_proxy() {
    let Some(phone) = baresip::Baresip::start("<sip:carol@127.0.0.1>;regint=0;answermode=auto")
    else {
        return;
    };
    let Some(trunk) = kamailio::Kamailio::start(phone.sip_port) else {
        return;
    };
    let (server, mut alice) = server_with_alice_sip(
        &format!("outbound_proxy = \"sip:127.0.0.1:{}\"\n", trunk.port),
        "",
    )
    .await;
    let to = "carol@sip.localhost";
    let media = udp_pair().await;
    initiate(&mut alice, to, "trunk1", &media.0).await;
    trunk.wait_for("trunk: INVITE sip:carol@", Duration::from_secs(10));
    alice.read_until("session-accept").await;
    talk_and_hang_up(&mut alice, &phone, to, "trunk1", &media.0).await;
    let line = server.wait_for_log("call ended", Duration::from_secs(5));
    assert!(line.contains("origin=Jingle"), "{line}");
}

/// RFC 4028: a session interval below 90 s is refused with 422 and Min-SE; an acceptable one
/// comes back in the 200 with the caller as refresher (tandem hangs up when refreshes stop,
/// checked in the call's unit tests).
#[tokio::test(flavor = "multi_thread")]
async fn session_timers_are_negotiated_with_the_caller_as_refresher() {
    let (server, mut alice) = server_with_alice_sip("trusted_peers = [\"127.0.0.1\"]\n", "").await;
    let caller = RawSipCaller::new(server.sip_udp);
    let offer = pcmu_offer(4000);
    caller.invite("Supported: timer\r\nSession-Expires: 60\r\n", &offer);
    let refused = caller.expect("SIP/2.0 422");
    assert!(refused.contains("Min-SE: 90"), "{refused}");
    caller.send(
        "INVITE",
        2,
        None,
        "Supported: timer\r\nSession-Expires: 1800;refresher=uac\r\nContent-Type: application/sdp\r\n",
        &offer,
    );
    let (from, sid) = incoming(&mut alice).await;
    jingle(
        &mut alice,
        &from,
        &sid,
        "session-accept",
        &pcmu_content(40000),
    )
    .await;
    let ok = caller.expect("SIP/2.0 200");
    assert!(ok.contains("Session-Expires: 1800;refresher=uac"), "{ok}");
    assert!(ok.contains("Require: timer"), "{ok}");
}

/// Teams moving to XMPP step by step: alice calls bob's own JID, `bob@localhost`; bob has no
/// XMPP session, only his registered SIP phone, which rings and answers. The session's
/// answers come from bob's JID, as alice expects.
#[tokio::test(flavor = "multi_thread")]
async fn a_jingle_call_to_a_local_user_with_only_a_phone_rings_the_phone() {
    let Some((_server, mut alice, phone)) = with_registered_bob().await else {
        return;
    };
    let to = "bob@localhost";
    let media = udp_pair().await;
    initiate(&mut alice, to, "local1", &media.0).await;
    alice.read_until("session-accept").await;
    let got = alice.read_until("</iq>").await.replace('"', "'");
    assert!(got.contains(&format!("from='{to}'")), "{got}");
    talk_and_hang_up(&mut alice, &phone, to, "local1", &media.0).await;
    // Someone without a phone is still just unavailable.
    alice
        .send(
            "<iq type='set' id='none' to='carol@localhost'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='x'/></iq>",
        )
        .await;
    let got = alice.read_until("id='none'").await.replace('"', "'");
    assert!(got.contains("type='error'"), "{got}");
}

/// A trunk that wants digest: kamailio challenges the INVITE with 407, tandem answers with
/// `[sip] outbound_username` / `outbound_password`, and the call goes through.
#[tokio::test(flavor = "multi_thread")]
async fn a_trunk_challenge_is_answered_with_the_configured_credentials() {
    let Some(phone) = baresip::Baresip::start("<sip:carol@127.0.0.1>;regint=0;answermode=auto")
    else {
        return;
    };
    let Some(trunk) = kamailio::Kamailio::start_with_password(phone.sip_port, Some("trunkpw"))
    else {
        return;
    };
    let (_server, mut alice) = server_with_alice_sip(
        &format!(
            "outbound_proxy = \"sip:127.0.0.1:{}\"\noutbound_username = \"tandem\"\noutbound_password = \"trunkpw\"\n",
            trunk.port
        ),
        "",
    )
    .await;
    let media = udp_pair().await;
    initiate(&mut alice, "carol@sip.localhost", "auth1", &media.0).await;
    trunk.wait_for("trunk: challenging INVITE", Duration::from_secs(10));
    trunk.wait_for("trunk: authenticated", Duration::from_secs(10));
    alice.read_until("session-accept").await;
    talk_and_hang_up(&mut alice, &phone, "carol@sip.localhost", "auth1", &media.0).await;
}

/// A hand-written SIP phone registered (with digest) as one of a local user's devices: it
/// shows exactly what tandem sends it (the forked INVITE, the CANCEL and its Reason).
struct RawPhone {
    socket: std::net::UdpSocket,
    tandem: std::net::SocketAddr,
}

impl RawPhone {
    fn register(tandem: std::net::SocketAddr, user: &str, password: &str) -> RawPhone {
        use tandem_sip::message::Message;
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let phone = RawPhone { socket, tandem };
        let local = phone.socket.local_addr().unwrap();
        let uri = "sip:localhost";
        let register = |cseq: u32, auth: &str| {
            format!(
                "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKreg{cseq};rport\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:{user}@localhost>;tag=reg\r\nTo: <sip:{user}@localhost>\r\n\
                 Call-ID: reg-{user}-{}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{local}>\r\n\
                 Expires: 600\r\n{auth}Content-Length: 0\r\n\r\n",
                local.port()
            )
        };
        phone
            .socket
            .send_to(register(1, "").as_bytes(), tandem)
            .unwrap();
        let challenge = phone.next("SIP/2.0 401");
        let Ok(Message::Response(challenge)) = Message::parse(challenge.as_bytes()) else {
            panic!("not a response: {challenge}");
        };
        let answer = challenge
            .www_authenticates()
            .find_map(|c| {
                tandem_sip::digest::client::authorization(
                    &c, "REGISTER", uri, user, password, "c0ffee", 1,
                )
                .ok()
            })
            .expect("a digest challenge we can answer");
        let auth = format!("Authorization: {answer}\r\n");
        phone
            .socket
            .send_to(register(2, &auth).as_bytes(), tandem)
            .unwrap();
        phone.next("SIP/2.0 200");
        phone
    }

    /// The next message starting with `start` (a method or a status line), skipping others.
    fn next(&self, start: &str) -> String {
        let mut buf = vec![0u8; 65535];
        loop {
            let (n, _) = self.socket.recv_from(&mut buf).expect("a SIP message");
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with(start) {
                return text;
            }
        }
    }

    /// Whatever arrives within `wait` (nothing: `None`).
    fn within(&self, wait: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0u8; 65535];
        let got = self
            .socket
            .recv_from(&mut buf)
            .ok()
            .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned());
        self.socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        got
    }

    /// Answers `request` with `status`, echoing its Vias and dialog headers (§8.2.6).
    fn reply(&self, request: &str, status: &str, tag: &str) {
        self.reply_with(request, status, tag, &[]);
    }

    /// [`Self::reply`] with extra header lines.
    fn reply_with(&self, request: &str, status: &str, tag: &str, headers: &[(&str, &str)]) {
        use tandem_sip::message::{Message, Response};
        let Ok(Message::Request(request)) = Message::parse(request.as_bytes()) else {
            panic!("not a request: {request}");
        };
        let code: u16 = status[..3].parse().unwrap();
        let mut response = Response::from_request(&request, code, &status[4..], Some(tag)).unwrap();
        for (name, value) in headers {
            response.push_header(name, value).unwrap();
        }
        // Responses go where the request came from: tandem's one UDP socket here.
        self.socket
            .send_to(&response.to_bytes(), self.tandem)
            .unwrap();
    }
}

/// A Jingle session-initiate to this device: acknowledged; returns (from, sid).
async fn initiated(client: &mut RawClient) -> (String, String) {
    client.read_until("session-initiate").await;
    let start = client.received[..client.received.find("session-initiate").unwrap()]
        .rfind("<iq")
        .unwrap();
    // Whatever follows the initiate (a session-terminate may come right behind it) stays.
    client.received = client.received[start..].to_string();
    let got = client.read_until("</iq>").await;
    let end = got.find("</iq>").unwrap() + "</iq>".len();
    let iq = got[..end].replace('"', "'");
    client.received = got[end..].to_string();
    let (id, from, sid) = (
        attr(&iq, "<iq", "id"),
        attr(&iq, "<iq", "from"),
        attr(&iq, "session-initiate", "sid"),
    );
    client
        .send(&format!("<iq type='result' id='{id}' to='{from}'/>"))
        .await;
    (from, sid)
}

/// A call to alice rings all her devices: two XMPP resources that do Jingle but not JMI
/// (one session-initiate each) and her registered SIP phone (the INVITE forwarded to it).
/// Her laptop answers first: the caller gets the 200, the tablet's session ends and the
/// phone gets a CANCEL, both saying "Call completed elsewhere".
#[tokio::test(flavor = "multi_thread")]
async fn the_first_device_to_answer_wins_and_the_others_hear_it_was_answered_elsewhere() {
    let (server, mut laptop) = server_with_alice_sip("trusted_peers = [\"127.0.0.1\"]\n", "").await;
    let mut tablet = RawClient::login(server.starttls, "alice", "alicepw", Some("tablet")).await;
    tablet.send("<presence/>").await;
    tablet.sync().await;
    let phone = RawPhone::register(server.sip_udp, "alice", "alicepw");

    let caller = RawSipCaller::new(server.sip_udp);
    let offer = pcmu_offer(40100);
    caller.invite("", &offer);
    answer_caps(&mut laptop, false).await;
    answer_caps(&mut tablet, false).await;
    let (from, laptop_sid) = initiated(&mut laptop).await;
    let (_, tablet_sid) = initiated(&mut tablet).await;
    assert_ne!(laptop_sid, tablet_sid, "one Jingle session per device");

    let invite = phone.next("INVITE ");
    assert!(
        invite.contains("m=audio 40100 RTP/AVP 0"),
        "the caller's offer: {invite}"
    );
    let vias = invite.lines().filter(|l| l.starts_with("Via:")).count();
    assert_eq!(vias, 2, "tandem's Via above the caller's: {invite}");
    assert!(invite.contains("Max-Forwards: 69"), "{invite}");
    phone.reply(&invite, "180 Ringing", "phonetag");

    jingle(
        &mut laptop,
        &from,
        &laptop_sid,
        "session-accept",
        &pcmu_content(40200),
    )
    .await;
    let ok = caller.expect("SIP/2.0 200");
    assert!(ok.contains("c=IN IP4 127.0.0.1"), "{ok}");

    let cancel = phone.next("CANCEL ");
    assert!(
        cancel.contains("Reason: SIP;cause=200;text=\"Call completed elsewhere\""),
        "{cancel}"
    );
    phone.reply(&cancel, "200 OK", "phonetag");
    phone.reply(&invite, "487 Request Terminated", "phonetag");

    let ended = tablet.read_until("</iq>").await.replace('"', "'");
    assert!(ended.contains(&format!("sid='{tablet_sid}'")), "{ended}");
    assert!(ended.contains("action='session-terminate'"), "{ended}");
    assert!(ended.contains("<cancel/>"), "{ended}");
    assert!(ended.contains("Call completed elsewhere"), "{ended}");
    // The laptop's call is the call: one CDR line, when it ends.
    let to_tag = to_tag(&ok);
    caller.send("ACK", 1, Some(&to_tag), "", "");
    caller.send("BYE", 2, Some(&to_tag), "", "");
    caller.expect("SIP/2.0 200");
    server.wait_for_log("status=200", Duration::from_secs(5));
    let cdr = std::fs::read_to_string(server.dir.join("cdr.jsonl")).unwrap();
    assert_eq!(cdr.lines().count(), 1, "{cdr}");
    assert!(cdr.contains(&laptop_sid), "{cdr}");
}

/// RFC 3261 §9.1: a phone that has sent no provisional response yet is not sent a CANCEL;
/// the CANCEL goes out with its first provisional response.
#[tokio::test(flavor = "multi_thread")]
async fn a_phone_that_said_nothing_yet_is_cancelled_once_it_rings() {
    let (server, mut laptop) = server_with_alice_sip("trusted_peers = [\"127.0.0.1\"]\n", "").await;
    let phone = RawPhone::register(server.sip_udp, "alice", "alicepw");
    let caller = RawSipCaller::new(server.sip_udp);
    let offer = pcmu_offer(40700);
    caller.invite("", &offer);
    let (from, sid) = incoming(&mut laptop).await;
    let invite = phone.next("INVITE ");
    jingle(
        &mut laptop,
        &from,
        &sid,
        "session-accept",
        &pcmu_content(40800),
    )
    .await;
    caller.expect("SIP/2.0 200");
    // (The registrar's OPTIONS probe may come meanwhile.)
    while let Some(early) = phone.within(Duration::from_millis(700)) {
        assert!(
            !early.starts_with("CANCEL"),
            "a CANCEL before any provisional: {early}"
        );
    }
    phone.reply(&invite, "180 Ringing", "late");
    let cancel = phone.next("CANCEL ");
    assert!(cancel.contains("Call completed elsewhere"), "{cancel}");
    phone.reply(&cancel, "200 OK", "late");
    phone.reply(&invite, "487 Request Terminated", "late");
    phone.next("ACK ");
}

/// RFC 3261 §16.7: when no device answers, the caller gets the best failure as it came.
/// alice's client is busy and her phone redirects (302, lowest class): the caller gets the
/// phone's 302 with its Contact, not one made up without it.
#[tokio::test(flavor = "multi_thread")]
async fn when_every_device_fails_the_caller_gets_the_best_response_as_it_came() {
    let (server, mut laptop) = server_with_alice_sip("trusted_peers = [\"127.0.0.1\"]\n", "").await;
    let phone = RawPhone::register(server.sip_udp, "alice", "alicepw");
    let caller = RawSipCaller::new(server.sip_udp);
    let offer = pcmu_offer(40900);
    caller.invite("", &offer);
    let (from, sid) = incoming(&mut laptop).await;
    let invite = phone.next("INVITE ");
    jingle(
        &mut laptop,
        &from,
        &sid,
        "session-terminate",
        "<reason><busy/></reason>",
    )
    .await;
    phone.reply_with(
        &invite,
        "302 Moved Temporarily",
        "redir",
        &[("Contact", "<sip:alice@192.0.2.99:5060>")],
    );
    let redirect = caller.expect("SIP/2.0 302");
    assert!(
        redirect.contains("Contact: <sip:alice@192.0.2.99:5060>"),
        "{redirect}"
    );
    assert_eq!(
        redirect.matches("Via:").count(),
        1,
        "tandem's own Via is not passed on: {redirect}"
    );
}

/// Alice's own SIP phone (baresip, auto-answer) picks up before her XMPP client does: the
/// caller's dialog is with that phone, and her client's session ends "completed elsewhere".
#[tokio::test(flavor = "multi_thread")]
async fn the_users_sip_phone_answering_first_takes_the_call() {
    let Some((server, mut alice, caller)) = setup("").await else {
        return;
    };
    let Some(alices_phone) = baresip::Baresip::start(&format!(
        "<sip:alice@localhost>;auth_pass=alicepw;outbound=\"sip:{}\";regint=600;answermode=auto",
        server.sip_udp
    )) else {
        return;
    };
    alices_phone.wait_for("200 OK", Duration::from_secs(10));
    caller.command("/dial sip:alice@localhost");
    answer_caps(&mut alice, false).await;
    let (_, sid) = initiated(&mut alice).await;
    caller.wait_for("established", Duration::from_secs(10));
    alices_phone.wait_for("established", Duration::from_secs(10));
    let ended = alice.read_until("</iq>").await.replace('"', "'");
    assert!(ended.contains(&format!("sid='{sid}'")), "{ended}");
    assert!(ended.contains("action='session-terminate'"), "{ended}");
    assert!(ended.contains("Call completed elsewhere"), "{ended}");
    server.wait_for_log("the callee's SIP phone answered", Duration::from_secs(5));
    // The phones talk directly: the caller's hang-up reaches alice's phone.
    caller.command("/hangup");
    alices_phone.wait_for("session closed", Duration::from_secs(10));
}

/// Bob's phone registered over TCP: alice's call reaches it on the connection it keeps
/// open (RFC 5626 style; nothing can connect to a phone behind NAT), with a TCP Via and
/// Contact, and the call works end to end.
#[tokio::test(flavor = "multi_thread")]
async fn a_phone_registered_over_tcp_is_called_on_its_connection() {
    let (server, mut alice) = server_with_alice("").await;
    let Some(phone) = baresip::Baresip::start(&format!(
        "<sip:bob@localhost;transport=tcp>;auth_pass=bobpw;outbound=\"sip:{};transport=tcp\";regint=600;answermode=auto",
        server.sip_tcp
    )) else {
        return;
    };
    phone.wait_for("{0/TCP/v4} 200 OK", Duration::from_secs(10));
    let to = "bob@sip.localhost";
    let media = udp_pair().await;
    initiate(&mut alice, to, "tcp1", &media.0).await;
    alice.read_until("session-accept").await;
    let got = alice.read_until("</iq>").await.replace('"', "'");
    let accept = &got[got[..got.find("session-accept").unwrap()]
        .rfind("<iq")
        .unwrap()..];
    let id = attr(accept, "<iq", "id");
    alice
        .send(&format!("<iq type='result' id='{id}' to='{to}'/>"))
        .await;
    talk_and_hang_up(&mut alice, &phone, to, "tcp1", &media.0).await;
}

/// A SIP peer adds video to an answered call: alice's client gets a content-add, and its
/// content-accept becomes the 200 to the re-INVITE, with her video m-line. Tandem says in
/// its 200 that it takes trickled candidates in INFO (RFC 8840 §4).
#[tokio::test(flavor = "multi_thread")]
async fn a_sip_re_invite_adding_video_is_a_content_add_the_client_accepts() {
    let (server, mut alice) = server_with_alice_sip("trusted_peers = [\"127.0.0.1\"]\n", "").await;
    let caller = RawSipCaller::new(server.sip_udp);
    let offer = pcmu_offer(40300);
    caller.invite("", &offer);
    let (from, sid) = incoming(&mut alice).await;
    jingle(
        &mut alice,
        &from,
        &sid,
        "session-accept",
        &pcmu_content(40400),
    )
    .await;
    let ok = caller.expect("SIP/2.0 200");
    assert!(ok.contains("Recv-Info: trickle-ice"), "{ok}");
    let to_tag = to_tag(&ok);
    caller.send("ACK", 1, Some(&to_tag), "", "");

    alice.received.clear();
    let reoffer = offer.replace("o=- 1 1", "o=- 1 2") + "m=video 40302 RTP/AVP 31\r\n";
    caller.send(
        "INVITE",
        2,
        Some(&to_tag),
        "Content-Type: application/sdp\r\n",
        &reoffer,
    );
    let add = next_action(&mut alice, &from, "content-add").await;
    assert!(add.contains("name='video'"), "{add}");
    assert!(add.contains("port='40302'"), "{add}");
    let video = "<content creator='initiator' name='video'>\
           <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'><payload-type id='31' name='H261' clockrate='90000'/></description>\
           <transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'>\
             <candidate component='1' generation='0' id='v1' ip='127.0.0.1' port='40402'/></transport>\
         </content>";
    jingle(&mut alice, &from, &sid, "content-accept", video).await;
    let answer = caller.expect("SIP/2.0 200");
    assert!(answer.contains("CSeq: 2 INVITE"), "{answer}");
    assert!(answer.contains("m=audio 40400"), "{answer}");
    assert!(answer.contains("m=video 40402"), "{answer}");
    caller.send("ACK", 2, Some(&to_tag), "", "");
}

/// RFC 8840 both ways of deciding: a caller that lists `trickle-ice` in Recv-Info gets
/// alice's late candidates in an INFO (with the sdpfrag), not in a re-INVITE.
#[tokio::test(flavor = "multi_thread")]
async fn late_candidates_reach_a_trickle_capable_caller_in_info() {
    let (server, mut alice) = server_with_alice_sip("trusted_peers = [\"127.0.0.1\"]\n", "").await;
    let caller = RawSipCaller::new(server.sip_udp);
    let offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=audio 40500 RTP/AVP 0\r\na=mid:0\r\na=ice-ufrag:8hhY\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\n\
                 a=candidate:1 1 udp 2130706431 127.0.0.1 40500 typ host\r\n";
    caller.invite(
        "Supported: trickle-ice\r\nRecv-Info: trickle-ice\r\n",
        offer,
    );
    let (from, sid) = incoming(&mut alice).await;
    let ice = |candidate: &str, port: u16, complete: &str| {
        format!(
            "<content creator='initiator' name='0'>\
               <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0' name='PCMU' clockrate='8000'/></description>\
               <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='Xk9a' pwd='q1w2e3r4t5y6u7i8o9p0as'>\
                 <candidate component='1' foundation='1' generation='0' id='{candidate}' ip='127.0.0.1' port='{port}' priority='2130706431' protocol='udp' type='host'/>{complete}\
               </transport></content>"
        )
    };
    jingle(
        &mut alice,
        &from,
        &sid,
        "session-accept",
        &ice("c1", 40600, ""),
    )
    .await;
    // No end-of-candidates: the 200 goes out after the trickle wait.
    let ok = caller.expect("SIP/2.0 200");
    assert!(ok.contains("a=candidate:"), "{ok}");
    let to_tag = to_tag(&ok);
    caller.send("ACK", 1, Some(&to_tag), "", "");
    jingle(
        &mut alice,
        &from,
        &sid,
        "transport-info",
        &ice("c2", 40602, "<gathering-complete/>"),
    )
    .await;
    let info = caller.expect("INFO ");
    assert!(info.contains("Info-Package: trickle-ice"), "{info}");
    assert!(
        info.contains("Content-Type: application/trickle-ice-sdpfrag"),
        "{info}"
    );
    assert!(info.contains(" 40602 typ host"), "{info}");
    assert!(info.contains("a=end-of-candidates"), "{info}");
}

/// How each captured call goes after alice's client got the session-initiate.
#[derive(Clone, Copy)]
enum Captured {
    /// She answers; the phone hangs up a second later.
    Answered,
    /// She answers busy.
    Busy,
    /// The phone gives up while she rings.
    Cancelled,
}

/// Not a test: writes `fixtures/traces/baresip_{answered,busy,cancelled}.pcap`, tcpdump
/// captures of real baresip calls through tandem (a trusted peer, so no digest), for
/// `tandem replay`. Run by hand as root with tcpdump installed:
/// `TANDEM_CAPTURE_DIR=fixtures/traces cargo test --test calls capture -- --ignored`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes replay fixtures; needs root and tcpdump"]
async fn capture_baresip_calls_for_replay() {
    // Relative to the workspace root, where cargo runs this package's tests.
    let dir =
        std::path::PathBuf::from(std::env::var("TANDEM_CAPTURE_DIR").expect("TANDEM_CAPTURE_DIR"));
    for (name, how) in [
        ("answered", Captured::Answered),
        ("busy", Captured::Busy),
        ("cancelled", Captured::Cancelled),
    ] {
        capture_one(&dir.join(format!("baresip_{name}.pcap")), how).await;
    }
}

async fn capture_one(pcap: &std::path::Path, how: Captured) {
    let (server, mut alice) = server_with_alice_sip("trusted_peers = [\"127.0.0.1\"]\n", "").await;
    let phone = bob_phone(&server).expect("baresip");
    let mut tcpdump = std::process::Command::new("tcpdump")
        .args(["-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w"])
        .arg(pcap)
        .arg(format!("udp and port {}", server.sip_udp.port()))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tcpdump");
    tokio::time::sleep(Duration::from_millis(500)).await;
    phone.command("/dial sip:alice@localhost");
    let (from, sid) = incoming(&mut alice).await;
    match how {
        Captured::Answered => {
            let _media = accept(&mut alice, &phone, &from, &sid).await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
            phone.command("/hangup");
            phone.wait_for("terminated", Duration::from_secs(10));
        }
        Captured::Busy => {
            jingle(
                &mut alice,
                &from,
                &sid,
                "session-terminate",
                "<reason><busy/></reason>",
            )
            .await;
            phone.wait_for("486", Duration::from_secs(10));
        }
        Captured::Cancelled => {
            jingle(
                &mut alice,
                &from,
                &sid,
                "session-info",
                "<ringing xmlns='urn:xmpp:jingle:apps:rtp:info:1'/>",
            )
            .await;
            phone.wait_for("180 Ringing", Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(700)).await;
            phone.command("/hangup");
            alice.read_until("session-terminate").await;
        }
    }
    // Time for the last packets to reach the file: with `--immediate-mode` and `-U`
    // tcpdump writes each as it comes, so nothing is lost by killing it after.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tcpdump.kill().unwrap();
    tcpdump.wait().unwrap();
    eprintln!("wrote {}", pcap.display());
}

/// Two clusters of one domain: bob's phone is registered at eu-1 (which has the SIP side
/// of every call it takes), alice is connected to us-1. The phone calls alice: the Jingle
/// side crosses to us-1 and her answers come back to eu-1's gateway, which the caller's
/// resource names. Then alice calls bob: Redis says his phone registered at eu-1, so her
/// session-initiate (and the rest of the call) goes to eu-1's gateway.
#[tokio::test(flavor = "multi_thread")]
async fn a_phone_at_one_cluster_calls_a_user_at_another_and_back() {
    let d = cluster::Deployment::new();
    let eu = d.cluster_with("eu-1", "127.0.0.1:0", "", GATEWAY);
    let us = d.cluster_with("us-1", "127.0.0.1:0", "", GATEWAY);
    eu.add_user("alice", "alicepw");
    eu.add_user("bob", "bobpw");
    let mut alice = RawClient::login(us.starttls, "alice", "alicepw", Some("laptop")).await;
    alice.send("<presence/>").await;
    alice.sync().await;
    d.wait_available("alice", "us-1");
    let Some(phone) = baresip::Baresip::start(&format!(
        "<sip:bob@localhost>;auth_pass=bobpw;outbound=\"sip:{}\";regint=600;answermode=auto",
        eu.sip_udp
    )) else {
        return;
    };
    phone.wait_for("200 OK", Duration::from_secs(10));

    phone.command("/dial sip:alice@localhost");
    let (from, sid) = incoming(&mut alice).await;
    assert!(
        from.starts_with("bob@sip.localhost/eu-1~"),
        "the caller's JID names the cluster with the SIP dialog: {from}"
    );
    let media = accept(&mut alice, &phone, &from, &sid).await;
    expect_pcmu(&media.0).await;
    alice.received.clear();
    jingle(
        &mut alice,
        &from,
        &sid,
        "session-terminate",
        "<reason><success/></reason>",
    )
    .await;
    phone.wait_for("session closed", Duration::from_secs(10));
    let line = eu.wait_for_log("call ended", Duration::from_secs(5));
    assert!(line.contains("status=200"), "{line}");

    // And back: alice calls bob, who has only his phone. It registered at eu-1, so eu-1's
    // gateway places the call (and would reach a phone behind NAT or on TCP there).
    let (media, _rtcp) = udp_pair().await;
    let to = "bob@localhost";
    alice.received.clear();
    initiate(&mut alice, to, "back1", &media).await;
    let reply = alice.read_until("id='init'").await.replace('"', "'");
    assert!(reply.contains("type='result'"), "{reply}");
    alice.read_until("session-accept").await;
    us.wait_for_log(
        "call bridged by another cluster's gateway",
        Duration::from_secs(5),
    );
    talk_and_hang_up(&mut alice, &phone, to, "back1", &media).await;
    let line = eu.wait_for_log("origin=Jingle", Duration::from_secs(5));
    assert!(
        line.contains("call ended") && line.contains("status=200"),
        "{line}"
    );
}

/// us-1 has no trunk; eu-1's goes to kamailio. alice, connected to us-1, calls a SIP
/// address: her call is bridged by eu-1 through its trunk, and the rest of it follows.
#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_without_a_trunk_calls_out_through_one_that_has_it() {
    let Some(phone) = baresip::Baresip::start("<sip:carol@127.0.0.1>;regint=0;answermode=auto")
    else {
        return;
    };
    let Some(trunk) = kamailio::Kamailio::start(phone.sip_port) else {
        return;
    };
    let d = cluster::Deployment::new();
    let eu = d.cluster_with(
        "eu-1",
        "127.0.0.1:0",
        &format!("outbound_proxy = \"sip:127.0.0.1:{}\"\n", trunk.port),
        GATEWAY,
    );
    let us = d.cluster_with("us-1", "127.0.0.1:0", "", GATEWAY);
    eu.add_user("alice", "alicepw");
    d.redis
        .wait_for(&["HGETALL", "tandem:trunks"], "eu-1's trunk", |o| {
            o.contains("eu-1")
        });
    let mut alice = RawClient::login(us.starttls, "alice", "alicepw", Some("laptop")).await;
    alice.send("<presence/>").await;
    alice.sync().await;
    let to = "carol@sip.localhost";
    let media = udp_pair().await;
    initiate(&mut alice, to, "trunk2", &media.0).await;
    trunk.wait_for("trunk: INVITE sip:carol@", Duration::from_secs(10));
    alice.read_until("session-accept").await;
    us.wait_for_log(
        "call bridged by another cluster's gateway",
        Duration::from_secs(5),
    );
    talk_and_hang_up(&mut alice, &phone, to, "trunk2", &media.0).await;
    let line = eu.wait_for_log("call ended", Duration::from_secs(5));
    assert!(line.contains("origin=Jingle"), "{line}");
}
