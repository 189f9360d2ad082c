//! Hostile and broken input on a live server: the offender gets the right stream error, nobody
//! else notices. Also authentication failures and the server's own services.

mod common;

use common::{RawClient, Server, OPEN};

const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";

/// A logged-in, bound raw client with available presence.
async fn logged_in(server: &Server, user: &str, resource: &str) -> RawClient {
    let mut c = RawClient::login(server.starttls, user, "pw", Some(resource)).await;
    c.send("<presence/>").await;
    c.read_until("<presence").await;
    c.received.clear();
    c
}

async fn still_serves(server: &Server, bystander: &mut RawClient) {
    // The bystander pings the server and a fresh login still works.
    bystander
        .send("<iq type='get' id='alive' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    let got = bystander.read_until("id='alive'").await;
    assert!(got.contains("type='result'"), "{got}");
    bystander.received.clear();
    let _fresh = logged_in(server, "bystander", "second").await;
}

#[tokio::test]
async fn doctype_oversized_and_malformed_input_get_stream_errors_and_others_keep_working() {
    let server = Server::start_with_config("max_stanza_size = 10000");
    server.add_user("bystander", "pw");
    server.add_user("mallory", "pw");
    let mut bystander = logged_in(&server, "bystander", "watch").await;

    let cases = [
        ("<!DOCTYPE foo [<!ENTITY x 'y'>]>", "restricted-xml"),
        ("<?evil pi?>", "restricted-xml"),
        ("<message><body>&xxe;</body></message>", "restricted-xml"),
        ("<message><body>unclosed</message>", "not-well-formed"),
        ("<message to='x@localhost' a='1' a='2'/>", "not-well-formed"),
    ];
    for (input, condition) in cases {
        let mut m = logged_in(&server, "mallory", "m").await;
        m.send(input).await;
        let got = m.read_to_end().await;
        assert!(
            got.contains(&format!(
                "<{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            )),
            "{input} -> {got}"
        );
        assert!(
            got.ends_with("</stream:stream>"),
            "stream closed after the error: {got}"
        );
        still_serves(&server, &mut bystander).await;
    }

    let mut m = logged_in(&server, "mallory", "m").await;
    m.send(&format!(
        "<message to='bystander@localhost'><body>{}</body></message>",
        "A".repeat(20_000)
    ))
    .await;
    let got = m.read_to_end().await;
    assert!(
        got.contains("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
        "{got}"
    );
    still_serves(&server, &mut bystander).await;
    // The oversized message was never delivered.
    assert!(!bystander.received.contains("AAAA"));
}

#[tokio::test]
async fn doctype_before_tls_is_restricted_xml() {
    let server = Server::start();
    let tcp = tokio::net::TcpStream::connect(server.starttls)
        .await
        .unwrap();
    let mut raw = tcp;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    raw.write_all(b"<?xml version='1.0'?><!DOCTYPE stream:stream>")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(common::STEP, raw.read_to_end(&mut got))
        .await
        .unwrap();
    let got = String::from_utf8_lossy(&got);
    assert!(
        got.contains("<restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
        "{got}"
    );
}

#[tokio::test]
async fn wrong_password_is_not_authorized_and_plain_needs_tls() {
    let server = Server::start();
    server.add_user("erin", "pw");
    let mut c = RawClient::connect_tls(server.starttls).await;
    c.send(OPEN).await;
    c.read_until("</stream:features>").await;
    c.send(&common::plain_auth("erin", "nope")).await;
    let got = c.read_until("</failure>").await;
    assert!(
        got.contains(&format!(
            "<failure xmlns='{SASL}'><not-authorized/></failure>"
        )),
        "{got}"
    );
    // An account that does not exist looks exactly the same.
    c.received.clear();
    c.send(&common::plain_auth("nobody", "pw")).await;
    let got = c.read_until("</failure>").await;
    assert!(
        got.contains(&format!(
            "<failure xmlns='{SASL}'><not-authorized/></failure>"
        )),
        "{got}"
    );

    // Without TLS, no mechanism is offered and SASL is refused.
    let tcp = tokio::net::TcpStream::connect(server.starttls)
        .await
        .unwrap();
    let mut raw = tcp;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    raw.write_all(OPEN.as_bytes()).await.unwrap();
    raw.write_all(common::plain_auth("erin", "pw").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = String::new();
    while !got.contains("</failure>") {
        let n = tokio::time::timeout(common::STEP, raw.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        got.contains("<required/>") && !got.contains("<mechanism>"),
        "{got}"
    );
    assert!(got.contains("<encryption-required/>"), "{got}");
}

#[tokio::test]
async fn roster_disco_version_and_error_routing() {
    let server = Server::start();
    server.add_user("fred", "pw");
    server.add_user("gina", "pw");
    let mut fred = logged_in(&server, "fred", "desk").await;

    fred.send(
        "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='gina@localhost' name='Gina'>\
         <group>Friends</group></item></query></iq>",
    )
    .await;
    let got = fred.read_until("id='r1'").await;
    assert!(got.contains("type='result'"), "{got}");
    fred.received.clear();
    fred.send("<iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    let got = fred.read_until("</iq>").await;
    assert!(
        got.contains("jid='gina@localhost'")
            && got.contains("name='Gina'")
            && got.contains("<group>Friends</group>"),
        "{got}"
    );
    assert!(got.contains("subscription='none'"), "{got}");
    fred.received.clear();

    fred.send("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>").await;
    let got = fred.read_until("</iq>").await;
    assert!(
        got.contains("category='server'")
            && got.contains("var='urn:xmpp:ping'")
            && got.contains("var='msgoffline'"),
        "{got}"
    );
    fred.received.clear();

    fred.send("<iq type='get' id='v1' to='localhost'><query xmlns='jabber:iq:version'/></iq>")
        .await;
    let got = fred.read_until("</iq>").await;
    assert!(got.contains("<name>Tandem</name>"), "{got}");
    fred.received.clear();

    // An iq to a full JID that is not connected: service-unavailable (RFC 6120 §10.5.3.2).
    fred.send(
        "<iq type='get' id='u1' to='gina@localhost/nowhere'><ping xmlns='urn:xmpp:ping'/></iq>",
    )
    .await;
    let got = fred.read_until("</iq>").await;
    assert!(
        got.contains("type='error'") && got.contains("<service-unavailable"),
        "{got}"
    );
    fred.received.clear();

    // An error stanza is never answered with an error, even when undeliverable.
    fred.send("<iq type='error' id='e1' to='gina@localhost/nowhere'/>")
        .await;
    fred.send("<message type='error' id='e2' to='nobody@localhost'/>")
        .await;
    fred.send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    let got = fred.read_until("id='p1'").await;
    assert!(
        !got.contains("id='e1'") && !got.contains("id='e2'"),
        "an error was answered: {got}"
    );
    fred.received.clear();

    // Messages to an account that does not exist bounce with service-unavailable.
    fred.send("<message type='chat' id='m1' to='nobody@localhost'><body>x</body></message>")
        .await;
    let got = fred.read_until("</message>").await;
    assert!(
        got.contains("type='error'") && got.contains("<service-unavailable"),
        "{got}"
    );
}

#[tokio::test]
async fn newest_session_wins_a_resource_conflict() {
    let server = Server::start();
    server.add_user("hank", "pw");
    let mut first = logged_in(&server, "hank", "same").await;
    let _second = logged_in(&server, "hank", "same").await;
    let got = first.read_to_end().await;
    assert!(
        got.contains("<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
        "{got}"
    );
}

#[tokio::test]
async fn receipts_are_stored_offline_and_late_priority_gets_them() {
    let server = Server::start();
    server.add_user("ivy", "pw");
    server.add_user("jon", "pw");
    let mut ivy = logged_in(&server, "ivy", "phone").await;
    // A delivery receipt has no body but must not be lost (XEP-0184); a bare chat state may.
    ivy.send("<message to='jon@localhost' id='r1'><received xmlns='urn:xmpp:receipts' id='x'/></message>").await;
    ivy.send("<message to='jon@localhost' id='c1'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>").await;
    ivy.sync().await;

    // jon comes online with a negative priority: nothing yet; raising it delivers.
    let mut jon = RawClient::login(server.starttls, "jon", "pw", None).await;
    jon.send("<presence><priority>-1</priority></presence>")
        .await;
    jon.send("<iq type='get' id='s1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    let got = jon.read_until("id='s1'").await;
    assert!(
        !got.contains("urn:xmpp:receipts"),
        "negative priority gets no offline messages: {got}"
    );
    jon.send("<presence><priority>1</priority></presence>")
        .await;
    let got = jon.read_until("urn:xmpp:receipts").await;
    assert!(got.contains("<delay xmlns='urn:xmpp:delay'"), "{got}");
    assert!(
        !got.contains("composing"),
        "chat states alone are not stored: {got}"
    );
}

#[tokio::test]
async fn unsubscribe_sends_unavailable_and_remote_subscriptions_are_refused() {
    let server = Server::start();
    server.add_user("kim", "pw");
    server.add_user("lee", "pw");
    let mut kim = logged_in(&server, "kim", "a").await;
    let mut lee = logged_in(&server, "lee", "b").await;
    kim.send("<presence type='subscribe' to='lee@localhost'/>")
        .await;
    lee.read_until("type='subscribe'").await;
    lee.send("<presence type='subscribed' to='kim@localhost'/>")
        .await;
    kim.read_until("type='subscribed'").await;
    let got = kim.read_until("from='lee@localhost/b'").await;
    assert!(got.contains("<presence from='lee@localhost/b'"), "{got}");
    kim.received.clear();

    kim.send("<presence type='unsubscribe' to='lee@localhost'/>")
        .await;
    let got = kim.read_until("type='unavailable'").await;
    assert!(got.contains("from='lee@localhost/b'"), "{got}");
    kim.received.clear();

    kim.send("<presence type='subscribe' to='someone@remote.example'/>")
        .await;
    let got = kim.read_until("</presence>").await;
    assert!(
        got.contains("type='error'") && got.contains("<remote-server-not-found"),
        "{got}"
    );
    kim.received.clear();
    kim.send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    let got = kim.read_until("</iq>").await;
    assert!(got.contains("id='r'"), "{got}");
    assert!(
        !got.contains("remote.example"),
        "no roster item for an impossible request: {got}"
    );
}

#[tokio::test]
async fn sigterm_closes_streams_with_system_shutdown() {
    let mut server = Server::start();
    server.add_user("max", "pw");
    let mut max = logged_in(&server, "max", "r").await;
    let stopper = tokio::task::spawn_blocking(move || {
        server.stop();
        server
    });
    let got = max.read_to_end().await;
    assert!(
        got.contains("<system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
        "{got}"
    );
    assert!(got.ends_with("</stream:stream>"), "{got}");
    stopper.await.unwrap();
}
