//! End to end with a real XMPP client library nobody here wrote (tokio-xmpp): logins over
//! STARTTLS and direct TLS with SCRAM, roster subscriptions, presence, messages, offline
//! delivery across reconnects and restarts.

mod common;
#[path = "common/im_client.rs"]
mod im_client;

use common::Server;
use im_client::{body_of, chat, connect, expect, presence_from, subscribe};
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::Stanza;

#[tokio::test]
async fn two_users_subscribe_see_presence_and_chat_over_starttls_and_direct_tls() {
    let server = Server::start();
    server.add_user("alice", "pw");
    server.add_user("bob", "pw");
    let (mut alice, alice_jid) = connect(&server, "alice", false).await;
    let (mut bob, bob_jid) = connect(&server, "bob", true).await;
    assert_eq!(alice_jid.to_bare().to_string(), "alice@localhost");
    assert!(
        alice_jid.resource().is_some(),
        "server generated a resource"
    );

    alice
        .send_stanza(Presence::new(PresenceType::None).into())
        .await
        .unwrap();
    bob.send_stanza(Presence::new(PresenceType::None).into())
        .await
        .unwrap();

    // Mutual subscription, RFC 6121 §3; approval delivers bob's current presence to alice.
    subscribe(&mut alice, "alice@localhost", &mut bob, "bob@localhost").await;

    subscribe(&mut bob, "bob@localhost", &mut alice, "alice@localhost").await;

    // A new presence broadcast reaches the subscribed contact.
    let mut away = Presence::new(PresenceType::None);
    away.show = Some(tokio_xmpp::parsers::presence::Show::Away);
    alice.send_stanza(away.into()).await.unwrap();
    expect(&mut bob, "alice away", |s| match s {
        Stanza::Presence(p) if p.show == Some(tokio_xmpp::parsers::presence::Show::Away) => {
            Some(())
        }
        _ => None,
    })
    .await;

    // Messages both ways, to the bare and to the full JID.
    alice
        .send_stanza(chat("bob@localhost", "hello bob"))
        .await
        .unwrap();
    let (from, body) = expect(&mut bob, "message from alice", body_of).await;
    assert_eq!(body, "hello bob");
    assert_eq!(
        from,
        alice_jid.to_string(),
        "from is the sender's full JID, stamped by the server"
    );
    bob.send_stanza(chat(&alice_jid.to_string(), "hi alice"))
        .await
        .unwrap();
    let (from, body) = expect(&mut alice, "message from bob", body_of).await;
    assert_eq!(
        (from.as_str(), body.as_str()),
        (bob_jid.to_string().as_str(), "hi alice")
    );

    // Going offline is seen by the contact.
    alice.send_end().await.unwrap();
    expect(&mut bob, "alice unavailable", |s| {
        presence_from(s, "alice@localhost", PresenceType::Unavailable).then_some(())
    })
    .await;
}

#[tokio::test]
async fn offline_message_arrives_after_reconnect_and_after_restart() {
    let mut server = Server::start();
    server.add_user("carol", "pw");
    server.add_user("dave", "pw");
    let (mut carol, _) = connect(&server, "carol", false).await;

    carol
        .send_stanza(chat("dave@localhost", "while you were out"))
        .await
        .unwrap();
    // Round trip through the server so the message has been handled before dave connects.
    carol
        .send_stanza(chat("carol@localhost", "sync"))
        .await
        .unwrap();
    // carol has no available presence, so a message to her bare JID is stored too; skip it.

    let (mut dave, _) = connect(&server, "dave", true).await;
    dave.send_stanza(Presence::new(PresenceType::None).into())
        .await
        .unwrap();
    let (from, body) = expect(&mut dave, "offline message", body_of).await;
    assert_eq!(body, "while you were out");
    assert!(from.starts_with("carol@localhost/"));
    dave.send_end().await.unwrap();

    // Delivered messages are gone; a new one must survive a restart of the server.
    carol
        .send_stanza(chat("dave@localhost", "survives restarts"))
        .await
        .unwrap();
    carol
        .send_stanza(chat("carol@localhost", "sync"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(carol);
    server.restart();

    let (mut dave, _) = connect(&server, "dave", false).await;
    dave.send_stanza(Presence::new(PresenceType::None).into())
        .await
        .unwrap();
    let (_, body) = expect(&mut dave, "offline message after restart", body_of).await;
    assert_eq!(
        body, "survives restarts",
        "the first offline message was delivered once and deleted"
    );
}
