//! Message routing, RFC 6121 §8.5 for local users; offline storage (XEP-0160) with a
//! XEP-0203 delay stamp.

use jid::{BareJid, Jid};
use tandem_xmpp::stanza::StanzaErrorCondition;
use tandem_xmpp::stream::writer::CLIENT_NS;
use tandem_xmpp::Element;

use super::delivery::{self, bounce};
use crate::server::Shared;

pub const DELAY_NS: &str = "urn:xmpp:delay";

#[derive(Clone, Copy, PartialEq, Eq)]
enum MessageType {
    Normal,
    Chat,
    Groupchat,
    Headline,
    Error,
}

fn message_type(stanza: &Element) -> MessageType {
    match stanza.attr("type") {
        Some("chat") => MessageType::Chat,
        Some("groupchat") => MessageType::Groupchat,
        Some("headline") => MessageType::Headline,
        Some("error") => MessageType::Error,
        // RFC 6121 §5.2.2: absent or unknown types are treated as normal.
        _ => MessageType::Normal,
    }
}

/// Routes a message whose `from` is a local full JID.
pub async fn route(shared: &Shared, stanza: Element) {
    let kind = message_type(&stanza);
    let to = match super::to_jid(&stanza) {
        Some(to) => to,
        // RFC 6120 §10.3.1: no `to` means the sender's own account.
        None => match super::from_jid(&stanza) {
            Some(from) => Jid::from(from.to_bare()),
            None => return,
        },
    };
    // A call another cluster's gateway bridges.
    if let Some(owner) = delivery::gateway_call_elsewhere(shared, &to) {
        if !delivery::to_gateway_of(shared, owner, &stanza) && kind != MessageType::Error {
            bounce(shared, &stanza, StanzaErrorCondition::RemoteServerTimeout);
        }
        return;
    }
    // Jingle Message Initiation (XEP-0353) to a SIP address: the call bridge's.
    if let Some(gateway) = shared.gateway.as_ref().filter(|g| g.serves(&to)) {
        let is_jmi = stanza
            .children()
            .any(|c| c.ns() == "urn:xmpp:jingle-message:0");
        if !(is_jmi && gateway.send(stanza.clone())) && kind != MessageType::Error {
            bounce(shared, &stanza, StanzaErrorCondition::ServiceUnavailable);
        }
        return;
    }
    if !delivery::is_local(shared, &to) {
        return bounce(shared, &stanza, StanzaErrorCondition::RemoteServerNotFound);
    }
    if to.node().is_none() {
        // Messages to the server itself: nothing here consumes them (RFC 6120 §10.3.3).
        if matches!(kind, MessageType::Normal | MessageType::Chat) {
            bounce(shared, &stanza, StanzaErrorCondition::ServiceUnavailable);
        }
        return;
    }
    if let Ok(full) = to.clone().try_into_full() {
        match delivery::to_full_anywhere(shared, &full, stanza.clone()).await {
            delivery::Reach::Local | delivery::Reach::Remote => return,
            delivery::Reach::Nowhere => {}
            delivery::Reach::Unknown => {
                if kind != MessageType::Error {
                    bounce(shared, &stanza, StanzaErrorCondition::RemoteServerTimeout);
                }
                return;
            }
        }
        // RFC 6121 §8.5.3.2.1: no such resource. Chat and normal messages go to the account;
        // headlines are only meaningful to the resource they were meant for.
        match kind {
            MessageType::Error | MessageType::Headline => return,
            MessageType::Groupchat => {
                return bounce(shared, &stanza, StanzaErrorCondition::ServiceUnavailable)
            }
            MessageType::Normal | MessageType::Chat => {}
        }
    }
    to_bare(shared, &to.to_bare(), stanza, kind).await;
}

/// RFC 6121 §8.5.2: a message for a local account as a whole.
async fn to_bare(shared: &Shared, bare: &BareJid, stanza: Element, kind: MessageType) {
    let candidates: Vec<_> = delivery::available(shared, bare)
        .into_iter()
        .filter(|r| r.priority.unwrap_or(-1) >= 0)
        .collect();
    // Resources in other clusters count as the local ones do (RFC 6121 §8.5.2.1.1 is about
    // the account, wherever its sessions are).
    let remote = match delivery::remote(shared, bare).await {
        Ok(located) => located
            .into_iter()
            .filter(|l| l.priority.unwrap_or(-1) >= 0)
            .collect(),
        Err(()) if candidates.is_empty() => {
            if matches!(kind, MessageType::Normal | MessageType::Chat) {
                bounce(shared, &stanza, StanzaErrorCondition::RemoteServerTimeout);
            }
            return;
        }
        Err(()) => Vec::new(),
    };
    // Resources behind a failing link may have moved on: when the user has others, those
    // get the message (the failing cluster's copy would only arrive later, or never).
    let reachable: Vec<_> = remote
        .iter()
        .filter(|l| {
            !shared
                .cluster
                .as_ref()
                .is_some_and(|c| c.is_down(&l.cluster))
        })
        .cloned()
        .collect();
    let remote = if reachable.is_empty() && candidates.is_empty() {
        remote
    } else {
        reachable
    };
    if !remote.is_empty() {
        return to_bare_across_clusters(shared, bare, stanza, kind, candidates, remote).await;
    }
    if !candidates.is_empty() {
        match kind {
            MessageType::Normal | MessageType::Chat => {
                let top = candidates
                    .iter()
                    .filter_map(|r| r.priority)
                    .max()
                    .unwrap_or(0);
                let mut delivered = false;
                for route in candidates.iter().filter(|r| r.priority == Some(top)) {
                    delivered |= route.handle.deliver(stanza.clone());
                }
                if !delivered {
                    // Every target closed in the meantime: keep the message rather than lose it.
                    let username = bare.node().map(|n| n.as_str()).unwrap_or_default();
                    store_offline(shared, username, stanza).await;
                }
            }
            MessageType::Headline => {
                for route in &candidates {
                    route.handle.deliver(stanza.clone());
                }
            }
            MessageType::Groupchat => {
                bounce(shared, &stanza, StanzaErrorCondition::ServiceUnavailable)
            }
            MessageType::Error => {}
        }
        return;
    }
    let username = bare.node().map(|n| n.as_str()).unwrap_or_default();
    let exists = match shared.storage.user_exists(username).await {
        Ok(exists) => exists,
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed while routing a message");
            return bounce(shared, &stanza, StanzaErrorCondition::InternalServerError);
        }
    };
    match kind {
        MessageType::Normal | MessageType::Chat if exists => {
            store_offline(shared, username, stanza).await
        }
        MessageType::Normal | MessageType::Chat | MessageType::Groupchat => {
            bounce(shared, &stanza, StanzaErrorCondition::ServiceUnavailable)
        }
        // Headlines are not worth keeping (RFC 6121 §8.5.2.2.1); errors are never answered.
        MessageType::Headline | MessageType::Error => {}
    }
}

/// [`to_bare`] when some of the user's available resources are in other clusters: the same
/// rules over all of them; each cluster gets one copy naming the resources it should reach.
async fn to_bare_across_clusters(
    shared: &Shared,
    bare: &BareJid,
    stanza: Element,
    kind: MessageType,
    local: Vec<tandem_xmpp::router::ResourceRoute<crate::server::SessionHandle>>,
    remote: Vec<crate::cluster::directory::Location>,
) {
    use std::collections::BTreeMap;
    let Some(cluster) = &shared.cluster else {
        return;
    };
    let top = local
        .iter()
        .filter_map(|r| r.priority)
        .chain(remote.iter().filter_map(|l| l.priority))
        .max()
        .unwrap_or(0);
    let wanted = |p: Option<i8>| match kind {
        MessageType::Normal | MessageType::Chat => p == Some(top),
        MessageType::Headline => true,
        MessageType::Groupchat | MessageType::Error => false,
    };
    if kind == MessageType::Groupchat {
        return bounce(shared, &stanza, StanzaErrorCondition::ServiceUnavailable);
    }
    let mut delivered = false;
    for route in local.iter().filter(|r| wanted(r.priority)) {
        delivered |= route.handle.deliver(stanza.clone());
    }
    let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for l in remote.iter().filter(|l| wanted(l.priority)) {
        by_cluster
            .entry(l.cluster.as_str())
            .or_default()
            .push(format!("{bare}/{}", l.resource));
    }
    let copies = by_cluster.len() + usize::from(delivered);
    for (peer, resources) in by_cluster {
        let target = if copies > 1 {
            crate::cluster::envelope::Target::Copies(resources)
        } else {
            crate::cluster::envelope::Target::Resources(resources)
        };
        delivered |= cluster.forward(peer, &stanza, target);
    }
    if !delivered && matches!(kind, MessageType::Normal | MessageType::Chat) {
        let username = bare.node().map(|n| n.as_str()).unwrap_or_default();
        store_offline(shared, username, stanza).await;
    }
}

/// Messages above this many per user are refused rather than filling the disk.
const OFFLINE_QUOTA: i64 = 1000;
const CHATSTATES_NS: &str = "http://jabber.org/protocol/chatstates";

/// Whether a message being stored was already accepted once (a redelivery after a failed
/// write): it keeps its first delay stamp and is not refused by the quota.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Storing {
    New,
    Redelivery,
}

async fn store_offline(shared: &Shared, username: &str, stanza: Element) {
    store_offline_as(shared, username, stanza, Storing::New).await
}

/// A message that was queued for a session that closed before writing it. Copies of a
/// message sent to the bare JID went to several resources, so it must not go to the live
/// ones again: it waits in offline storage. A message for this one resource is routed anew.
pub async fn redeliver(shared: &Shared, stanza: Element) {
    let Some(to) = super::to_jid(&stanza) else {
        return;
    };
    let kind = message_type(&stanza);
    if to.resource().is_some() || !matches!(kind, MessageType::Normal | MessageType::Chat) {
        return route(shared, stanza).await;
    }
    let username = to.node().map(|n| n.as_str().to_owned()).unwrap_or_default();
    store_offline_as(shared, &username, stanza, Storing::Redelivery).await
}

async fn store_offline_as(shared: &Shared, username: &str, mut stanza: Element, storing: Storing) {
    // A message carrying nothing but a chat state (XEP-0085 §5.5) is not worth keeping;
    // anything else (bodies, receipts, markers, encrypted payloads, call proposals) is.
    if stanza.children().all(|c| c.ns() == CHATSTATES_NS) {
        return;
    }
    if storing == Storing::Redelivery {
        if !stanza.has_child("delay", DELAY_NS) {
            stamp_delay(shared, &mut stanza);
        }
        if let Err(e) = shared
            .storage
            .store_offline(username, &stanza.to_xml_in(CLIENT_NS))
            .await
        {
            tracing::error!(user = %username, error = %e, "could not store a redelivered message");
        }
        return;
    }
    match shared.storage.offline_count(username).await {
        Ok(n) if n >= OFFLINE_QUOTA => {
            tracing::warn!(user = %username, "offline storage full");
            return bounce(shared, &stanza, StanzaErrorCondition::ServiceUnavailable);
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(user = %username, error = %e, "could not count offline messages");
            return bounce(shared, &stanza, StanzaErrorCondition::InternalServerError);
        }
    }
    stamp_delay(shared, &mut stanza);
    if let Err(e) = shared
        .storage
        .store_offline(username, &stanza.to_xml_in(CLIENT_NS))
        .await
    {
        tracing::error!(user = %username, error = %e, "could not store an offline message");
        bounce(shared, &stanza, StanzaErrorCondition::InternalServerError);
    }
}

/// XEP-0203: when the server took the message into storage.
fn stamp_delay(shared: &Shared, stanza: &mut Element) {
    let stamp = super::time::xep0082(crate::storage::unix_now());
    stanza.push_child(
        Element::new("delay", DELAY_NS)
            .with_attr("from", shared.domain.clone())
            .with_attr("stamp", stamp)
            .with_text("Offline Storage"),
    );
}
