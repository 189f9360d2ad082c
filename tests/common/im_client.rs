//! tokio-xmpp helpers the end-to-end tests share: log in, wait for a stanza, build and read
//! the common ones.
#![allow(dead_code)]

use std::str::FromStr;

use crate::common::{Server, DOMAIN, STEP};
use futures::StreamExt;
use tokio_xmpp::connect::DnsConfig;
use tokio_xmpp::parsers::jid::{BareJid, Jid};
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::{Client, Event, Stanza};

pub async fn connect(server: &Server, user: &str, direct_tls: bool) -> (Client, Jid) {
    crate::common::ca();
    let jid = BareJid::from_str(&format!("{user}@{DOMAIN}")).unwrap();
    let mut client = if direct_tls {
        Client::new_direct_tls_with_config(
            jid,
            "pw",
            DnsConfig::Addr {
                addr: server.direct_tls.to_string(),
            },
            Default::default(),
        )
    } else {
        Client::new_starttls(
            jid,
            "pw",
            DnsConfig::Addr {
                addr: server.starttls.to_string(),
            },
            Default::default(),
        )
    };
    let bound = loop {
        match tokio::time::timeout(STEP, client.next())
            .await
            .expect("login timed out")
            .expect("client ended")
        {
            Event::Online { bound_jid, .. } => break bound_jid,
            Event::Disconnected(e) => panic!("{user} could not log in: {e}"),
            Event::Stanza(_) => {}
        }
    };
    (client, bound)
}

/// Waits for the first stanza matching `pred`, skipping others.
pub async fn expect<T>(
    client: &mut Client,
    what: &str,
    mut pred: impl FnMut(&Stanza) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + STEP;
    let mut skipped = Vec::new();
    loop {
        let event = tokio::time::timeout_at(deadline, client.next())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}; skipped {skipped:#?}"))
            .expect("client ended");
        match event {
            Event::Stanza(stanza) => {
                if let Some(found) = pred(&stanza) {
                    return found;
                }
                skipped.push(stanza);
            }
            Event::Disconnected(e) => panic!("disconnected while waiting for {what}: {e}"),
            Event::Online { .. } => {}
        }
    }
}

pub fn presence(type_: PresenceType, to: &str) -> Stanza {
    let mut p = Presence::new(type_);
    p.to = Some(Jid::from_str(to).unwrap());
    p.into()
}

pub fn chat(to: &str, body: &str) -> Stanza {
    let mut m = Message::new(Some(Jid::from_str(to).unwrap()));
    m.type_ = MessageType::Chat;
    m.bodies.insert(
        tokio_xmpp::parsers::message::Lang::default(),
        body.to_string(),
    );
    m.into()
}

pub fn body_of(stanza: &Stanza) -> Option<(String, String)> {
    match stanza {
        Stanza::Message(m) => {
            let body = m.bodies.values().next()?.clone();
            Some((m.from.as_ref()?.to_string(), body))
        }
        _ => None,
    }
}

pub fn presence_from(stanza: &Stanza, from_bare: &str, type_: PresenceType) -> bool {
    matches!(stanza, Stanza::Presence(p) if p.type_ == type_ && p.from.as_ref().is_some_and(|f| f.to_bare().to_string() == from_bare))
}

/// Sends initial (available) presence.
pub async fn available(client: &mut Client) {
    client
        .send_stanza(Presence::new(PresenceType::None).into())
        .await
        .unwrap();
}

/// `subscriber` (bare JID `who`) subscribes to `contact` (bare JID `whom`), who approves
/// (RFC 6121 §3.1); the approval brings the contact's current presence.
pub async fn subscribe(subscriber: &mut Client, who: &str, contact: &mut Client, whom: &str) {
    subscriber
        .send_stanza(presence(PresenceType::Subscribe, whom))
        .await
        .unwrap();
    expect(contact, "the subscription request", |s| {
        presence_from(s, who, PresenceType::Subscribe).then_some(())
    })
    .await;
    contact
        .send_stanza(presence(PresenceType::Subscribed, who))
        .await
        .unwrap();
    expect(subscriber, "the approval", |s| {
        presence_from(s, whom, PresenceType::Subscribed).then_some(())
    })
    .await;
    expect(subscriber, "the contact's presence", |s| {
        presence_from(s, whom, PresenceType::None).then_some(())
    })
    .await;
}
