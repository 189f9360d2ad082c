//! Presence (RFC 6121 §3, §4): broadcast, probes answered from the route table, directed
//! presence, and subscription requests with their roster side effects.

use std::sync::Arc;

use jid::{BareJid, Jid};
use tandem_xmpp::c2s::Session;
use tandem_xmpp::roster::{
    apply_inbound, apply_outbound, inbound_subscribe_is_redundant, RosterItem, SubscriptionAction,
};
use tandem_xmpp::stanza::StanzaErrorCondition;
use tandem_xmpp::stream::parse_stanza;
use tandem_xmpp::stream::writer::CLIENT_NS;
use tandem_xmpp::Element;

use super::delivery::{self, bounce};
use super::{roster, ImSession};
use crate::server::Shared;

/// A presence stanza from the client of `im`.
pub async fn handle_outbound(
    shared: &Shared,
    im: &mut ImSession,
    session: &mut Session,
    stanza: Element,
) {
    let presence_type = stanza.attr("type").map(str::to_owned);
    if let Some(action) = presence_type.as_deref().and_then(SubscriptionAction::parse) {
        return outbound_subscription(shared, im, stanza, action).await;
    }
    match presence_type.as_deref() {
        None | Some("unavailable") => {}
        // Clients must not probe (RFC 6121 §4.3); errors are routed like directed presence.
        Some("probe") => return,
        Some("error") => {
            if let Some(to) = super::to_jid(&stanza) {
                route_directed(shared, &to, stanza).await;
            }
            return;
        }
        Some(_) => return bounce(shared, &stanza, StanzaErrorCondition::BadRequest),
    }
    let available = presence_type.is_none();
    match super::to_jid(&stanza) {
        None => {
            if available {
                broadcast_available(shared, im, session, stanza).await;
            } else {
                broadcast_unavailable(shared, im, Some(stanza)).await;
            }
        }
        Some(to) => {
            // RFC 6121 §4.6: remember who got directed presence so they hear when we leave.
            if available {
                im.directed.insert(to.clone());
            } else {
                im.directed.remove(&to);
            }
            route_directed(shared, &to, stanza).await;
        }
    }
}

async fn route_directed(shared: &Shared, to: &Jid, stanza: Element) {
    if !delivery::is_local(shared, to) {
        return bounce(shared, &stanza, StanzaErrorCondition::RemoteServerNotFound);
    }
    match to.clone().try_into_full() {
        // Presence to a resource that is not there is dropped (RFC 6121 §8.5.3.2.1).
        Ok(full) => {
            delivery::to_full_anywhere(shared, &full, stanza).await;
        }
        Err(bare) => {
            delivery::to_available_anywhere(shared, &bare, &stanza).await;
        }
    }
}

/// Presence another cluster fanned out to this one's sessions: a probe is answered with the
/// last presence of the user's resources here; anything else is delivered to them.
pub async fn from_cluster(shared: &Shared, stanza: Element) {
    let Some(to) = super::to_jid(&stanza) else {
        return;
    };
    if stanza.attr("type") == Some("probe") {
        let Some(prober) = super::from_jid(&stanza).and_then(|f| f.try_into_full().ok()) else {
            return;
        };
        // The answers go back to the prober's cluster: out of the local-only scope the probe
        // came in.
        crate::cluster::beyond_local(async {
            for route in delivery::available(shared, &to.to_bare()) {
                if let Some(last) = &route.last_presence {
                    let mut copy = (**last).clone();
                    copy.set_attr("to", prober.to_string());
                    delivery::to_full_anywhere(shared, &prober, copy).await;
                }
            }
        })
        .await;
        return;
    }
    match to.try_into_full() {
        Ok(full) => {
            delivery::to_full(shared, &full, stanza);
        }
        Err(bare) => {
            delivery::to_available(shared, &bare, &stanza, false);
        }
    }
}

fn priority_of(stanza: &Element) -> i8 {
    stanza
        .get_child("priority", CLIENT_NS)
        .and_then(|p| p.text().trim().parse::<i64>().ok())
        .map(|p| p.clamp(-128, 127) as i8)
        .unwrap_or(0)
}

async fn broadcast_available(
    shared: &Shared,
    im: &mut ImSession,
    session: &mut Session,
    stanza: Element,
) {
    let initial = !im.available;
    let had_offline_delivery = im.priority.is_some_and(|p| p >= 0);
    let priority = priority_of(&stanza);
    let id = im.session_id;
    shared.routes.set_presence(
        &im.jid,
        &|h| h.id == id,
        Some((priority, Arc::new(stanza.clone()))),
    );
    im.available = true;
    im.priority = Some(priority);
    let items = load_roster(shared, &im.username).await;
    for item in items.iter().filter(|i| i.subscription.has_from()) {
        let mut copy = stanza.clone();
        copy.set_attr("to", item.jid.to_string());
        route_to_contact(shared, &item.jid, copy).await;
    }
    // The user's own available resources, this one included (RFC 6121 §4.2.2).
    delivery::to_available(shared, &im.bare, &stanza, true);
    to_own_remote_resources(shared, &im.bare, &stanza).await;
    if initial {
        answer_probes(shared, im, session, &items).await;
        deliver_pending_subscriptions(shared, im, session).await;
    }
    // Offline messages go to the first non-negative presence (RFC 6121 §8.5.2.1.1), also
    // when a resource raises its priority later.
    if priority >= 0 && !had_offline_delivery {
        deliver_offline(shared, im, session).await;
    }
}

/// The probes of RFC 6121 §4.3, answered from the route table: the current presence of every
/// contact the user may see. A contact's presence is shown only when the contact's own roster
/// grants it (subscription from/both), so a stale item of the user cannot leak a newcomer's
/// presence after an account name is reused.
async fn answer_probes(
    shared: &Shared,
    im: &ImSession,
    session: &mut Session,
    items: &[RosterItem],
) {
    let granting = match shared.storage.subscribers_of(&im.bare).await {
        Ok(owners) => owners,
        Err(e) => {
            return tracing::error!(user = %im.username, error = %e, "could not answer probes");
        }
    };
    let mut watched: Vec<BareJid> = items
        .iter()
        .filter(|i| i.subscription.has_to())
        .filter(|i| {
            i.jid.domain().as_str() == shared.domain
                && i.jid
                    .node()
                    .is_some_and(|n| granting.iter().any(|g| g == n.as_str()))
        })
        .map(|i| i.jid.clone())
        .collect();
    watched.push(im.bare.clone());
    if shared.cluster.is_some() {
        // Contacts connected to other clusters answer there (RFC 6121 §4.3.2 server probes).
        for contact in &watched {
            let probe = Element::new("presence", CLIENT_NS)
                .with_attr("type", "probe")
                .with_attr("from", im.jid.to_string())
                .with_attr("to", contact.to_string());
            delivery::to_available_remote(shared, contact, &probe).await;
        }
    }
    for contact in watched {
        for route in delivery::available(shared, &contact) {
            if route.jid == im.jid {
                continue;
            }
            if let Some(last) = &route.last_presence {
                let mut copy = (**last).clone();
                copy.set_attr("to", im.jid.to_string());
                session.send_stanza(&copy);
            }
        }
    }
}

async fn deliver_pending_subscriptions(shared: &Shared, im: &ImSession, session: &mut Session) {
    match shared.storage.pending_subscriptions(&im.username).await {
        Ok(pending) => {
            for xml in pending {
                if let Ok(request) = parse_stanza(&xml) {
                    session.send_stanza(&request);
                }
            }
        }
        Err(e) => {
            tracing::error!(user = %im.username, error = %e, "could not load pending subscriptions")
        }
    }
}

/// Takes stored messages out of storage and writes them into the session; the connection
/// routes them again if they never reach the socket.
async fn deliver_offline(shared: &Shared, im: &mut ImSession, session: &mut Session) {
    let messages = match shared.storage.take_offline(&im.username).await {
        Ok(messages) => messages,
        Err(e) => {
            return tracing::error!(user = %im.username, error = %e, "could not load offline messages");
        }
    };
    for message in messages {
        match parse_stanza(&message.stanza) {
            Ok(mut stanza) => {
                stanza.set_attr("to", im.jid.to_string());
                session.send_stanza(&stanza);
                im.offline_in_flight.push(stanza);
            }
            Err(e) => {
                tracing::error!(user = %im.username, id = message.id, error = %e, "dropping a corrupt offline message")
            }
        }
    }
}

/// Tells contacts, the user's other resources and directed-presence recipients that this
/// resource went offline. `stanza` is the client's own unavailable presence, if it sent one.
pub async fn broadcast_unavailable(shared: &Shared, im: &mut ImSession, stanza: Option<Element>) {
    let stanza = stanza.unwrap_or_else(|| {
        Element::new("presence", CLIENT_NS)
            .with_attr("type", "unavailable")
            .with_attr("from", im.jid.to_string())
    });
    let was_available = im.available;
    let id = im.session_id;
    shared.routes.set_presence(&im.jid, &|h| h.id == id, None);
    im.available = false;
    im.priority = None;
    if was_available {
        let items = load_roster(shared, &im.username).await;
        // A newer session for the same full JID may have come online while the roster
        // loaded; then the resource is not offline and contacts must not be told so.
        let successor_online = shared
            .routes
            .get(&im.jid)
            .is_some_and(|r| r.handle.id != id && r.is_available());
        for item in items
            .iter()
            .filter(|i| i.subscription.has_from() && !successor_online)
        {
            let mut copy = stanza.clone();
            copy.set_attr("to", item.jid.to_string());
            route_to_contact(shared, &item.jid, copy).await;
        }
        if !successor_online {
            delivery::to_available(shared, &im.bare, &stanza, true);
            to_own_remote_resources(shared, &im.bare, &stanza).await;
        }
    }
    for to in std::mem::take(&mut im.directed) {
        let mut copy = stanza.clone();
        copy.set_attr("to", to.to_string());
        route_directed(shared, &to, copy).await;
    }
}

async fn route_to_contact(shared: &Shared, contact: &BareJid, stanza: Element) {
    // Remote contacts would need s2s, which this server does not speak yet.
    if contact.domain().as_str() == shared.domain {
        delivery::to_available_anywhere(shared, contact, &stanza).await;
    }
}

/// The user's resources in other clusters hear this one's presence too (addressed to the
/// bare JID there: each cluster delivers to its own sessions).
async fn to_own_remote_resources(shared: &Shared, bare: &BareJid, stanza: &Element) {
    if shared.cluster.is_none() {
        return;
    }
    let mut copy = stanza.clone();
    copy.set_attr("to", bare.to_string());
    delivery::to_available_remote(shared, bare, &copy).await;
}

async fn load_roster(shared: &Shared, username: &str) -> Vec<RosterItem> {
    shared.storage.roster(username).await.unwrap_or_else(|e| {
        tracing::error!(user = %username, error = %e, "could not load roster");
        Vec::new()
    })
}

/// The user sent subscribe/subscribed/unsubscribe/unsubscribed (RFC 6121 §3).
pub async fn outbound_subscription(
    shared: &Shared,
    im: &ImSession,
    stanza: Element,
    action: SubscriptionAction,
) {
    let Some(to) = super::to_jid(&stanza) else {
        return;
    };
    let contact = to.to_bare();
    if contact == im.bare {
        return;
    }
    // Without s2s nothing can reach a remote contact: refuse before any state changes, so
    // the roster never shows a request that can never be answered.
    if contact.domain().as_str() != shared.domain {
        return bounce(shared, &stanza, StanzaErrorCondition::RemoteServerNotFound);
    }
    {
        let _guard = shared.user_locks.lock(&im.username).await;
        let mut item = match shared.storage.roster_item(&im.username, &contact).await {
            Ok(item) => item.unwrap_or_else(|| RosterItem::new(contact.clone())),
            Err(e) => {
                tracing::error!(error = %e, "roster lookup failed");
                return bounce(shared, &stanza, StanzaErrorCondition::InternalServerError);
            }
        };
        let was_visible = item.is_visible();
        let outcome = apply_outbound(&mut item, action);
        if outcome.changed {
            roster::store_and_push(shared, &im.username, &im.bare, &item, was_visible).await;
        }
        if matches!(
            action,
            SubscriptionAction::Subscribed | SubscriptionAction::Unsubscribed
        ) {
            let _ = shared
                .storage
                .delete_pending_subscription(&im.username, &contact)
                .await;
        }
        if !outcome.forward {
            return;
        }
    }
    // RFC 6121 §3.1.2: subscription stanzas travel between bare JIDs.
    let mut routed = stanza;
    routed.set_attr("from", im.bare.to_string());
    routed.set_attr("to", contact.to_string());
    Box::pin(inbound_subscription(
        shared, &contact, &im.bare, routed, action,
    ))
    .await;
    // After the answer itself, as RFC 6121 §3.1.5 orders it.
    match action {
        // The contact now receives our presence: send the current one (RFC 6121 §3.1.5).
        SubscriptionAction::Subscribed => {
            for route in delivery::available(shared, &im.bare) {
                if let Some(last) = &route.last_presence {
                    let mut copy = (**last).clone();
                    copy.set_attr("to", contact.to_string());
                    route_to_contact(shared, &contact, copy).await;
                }
            }
        }
        // The contact no longer sees us (RFC 6121 §3.2.2).
        SubscriptionAction::Unsubscribed => send_unavailable(shared, &im.bare, &contact).await,
        // We no longer see the contact: its server says so with unavailable (RFC 6121 §3.3.3).
        SubscriptionAction::Unsubscribe => send_unavailable(shared, &contact, &im.bare).await,
        SubscriptionAction::Subscribe => {}
    }
}

/// Unavailable presence from every available resource of `from` to `to`'s resources.
async fn send_unavailable(shared: &Shared, from: &BareJid, to: &BareJid) {
    for route in delivery::available(shared, from) {
        let unavailable = Element::new("presence", CLIENT_NS)
            .with_attr("type", "unavailable")
            .with_attr("from", route.jid.to_string())
            .with_attr("to", to.to_string());
        route_to_contact(shared, to, unavailable).await;
    }
}

/// A subscription stanza from `from` arrives for the local account `owner`.
async fn inbound_subscription(
    shared: &Shared,
    owner: &BareJid,
    from: &BareJid,
    stanza: Element,
    action: SubscriptionAction,
) {
    let username = owner.node().map(|n| n.as_str()).unwrap_or_default();
    match shared.storage.user_exists(username).await {
        Ok(true) => {}
        // RFC 6121 §8.5.1: subscription stanzas for an account that does not exist are
        // silently ignored.
        Ok(false) => return,
        Err(e) => return tracing::error!(error = %e, "user lookup failed"),
    }
    let redundant = {
        let _guard = shared.user_locks.lock(username).await;
        let mut item = match shared.storage.roster_item(username, from).await {
            Ok(item) => item.unwrap_or_else(|| RosterItem::new(from.clone())),
            Err(e) => return tracing::error!(error = %e, "roster lookup failed"),
        };
        if action == SubscriptionAction::Subscribe && inbound_subscribe_is_redundant(&item) {
            true
        } else {
            let was_visible = item.is_visible();
            let outcome = apply_inbound(&mut item, action);
            if outcome.changed {
                roster::store_and_push(shared, username, owner, &item, was_visible).await;
            }
            match action {
                SubscriptionAction::Subscribe if outcome.forward => {
                    let xml = stanza.to_xml_in(CLIENT_NS);
                    if let Err(e) = shared
                        .storage
                        .put_pending_subscription(username, from, &xml)
                        .await
                    {
                        tracing::error!(error = %e, "could not store a subscription request");
                    }
                }
                // The requester withdrew: the request must not come back at the next login.
                SubscriptionAction::Unsubscribe => {
                    let _ = shared
                        .storage
                        .delete_pending_subscription(username, from)
                        .await;
                }
                _ => {}
            }
            if !outcome.forward {
                return;
            }
            false
        }
    };
    if redundant {
        // Already approved: the server answers for the user (RFC 6121 §3.1.3).
        let reply = Element::new("presence", CLIENT_NS)
            .with_attr("type", "subscribed")
            .with_attr("from", owner.to_string())
            .with_attr("to", from.to_string());
        return Box::pin(inbound_subscription(
            shared,
            from,
            owner,
            reply,
            SubscriptionAction::Subscribed,
        ))
        .await;
    }
    delivery::to_available_anywhere(shared, owner, &stanza).await;
}
