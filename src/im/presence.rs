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
                route_directed(shared, &to, stanza);
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
            route_directed(shared, &to, stanza);
        }
    }
}

fn route_directed(shared: &Shared, to: &Jid, stanza: Element) {
    if !delivery::is_local(shared, to) {
        return bounce(shared, &stanza, StanzaErrorCondition::RemoteServerNotFound);
    }
    match to.clone().try_into_full() {
        // Presence to a resource that is not there is dropped (RFC 6121 §8.5.3.2.1).
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
    let priority = priority_of(&stanza);
    shared
        .routes
        .set_presence(&im.jid, Some((priority, Arc::new(stanza.clone()))));
    im.available = true;
    let items = load_roster(shared, &im.username).await;
    for item in items.iter().filter(|i| i.subscription.has_from()) {
        let mut copy = stanza.clone();
        copy.set_attr("to", item.jid.to_string());
        route_to_contact(shared, &item.jid, copy);
    }
    // The user's own available resources, this one included (RFC 6121 §4.2.2).
    delivery::to_available(shared, &im.bare, &stanza, true);
    if !initial {
        return;
    }
    // Probes are answered from the route table: the contacts' current presence.
    let mut watched: Vec<BareJid> = items
        .iter()
        .filter(|i| i.subscription.has_to())
        .map(|i| i.jid.clone())
        .collect();
    watched.push(im.bare.clone());
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
    if priority >= 0 {
        deliver_offline(shared, im, session).await;
    }
}

/// Writes stored messages into the session; they are deleted once the write succeeded.
async fn deliver_offline(shared: &Shared, im: &mut ImSession, session: &mut Session) {
    let messages = match shared.storage.offline_messages(&im.username).await {
        Ok(messages) => messages,
        Err(e) => {
            return tracing::error!(user = %im.username, error = %e, "could not load offline messages")
        }
    };
    for message in messages {
        match parse_stanza(&message.stanza) {
            Ok(mut stanza) => {
                stanza.set_attr("to", im.jid.to_string());
                session.send_stanza(&stanza);
            }
            Err(e) => {
                tracing::error!(user = %im.username, id = message.id, error = %e, "dropping a corrupt offline message")
            }
        }
        im.offline_written.push(message.id);
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
    shared.routes.set_presence(&im.jid, None);
    im.available = false;
    if was_available {
        for item in load_roster(shared, &im.username)
            .await
            .iter()
            .filter(|i| i.subscription.has_from())
        {
            let mut copy = stanza.clone();
            copy.set_attr("to", item.jid.to_string());
            route_to_contact(shared, &item.jid, copy);
        }
        delivery::to_available(shared, &im.bare, &stanza, true);
    }
    for to in std::mem::take(&mut im.directed) {
        let mut copy = stanza.clone();
        copy.set_attr("to", to.to_string());
        route_directed(shared, &to, copy);
    }
}

fn route_to_contact(shared: &Shared, contact: &BareJid, stanza: Element) {
    // Remote contacts would need s2s, which this server does not speak yet.
    if contact.domain().as_str() == shared.domain {
        delivery::to_available(shared, contact, &stanza, false);
    }
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
    // RFC 6121 §3.1.2: subscription stanzas travel between bare JIDs.
    let mut routed = stanza;
    routed.set_attr("from", im.bare.to_string());
    routed.set_attr("to", contact.to_string());
    if contact.domain().as_str() != shared.domain {
        return bounce(shared, &routed, StanzaErrorCondition::RemoteServerNotFound);
    }
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
                    route_to_contact(shared, &contact, copy);
                }
            }
        }
        SubscriptionAction::Unsubscribed => {
            for route in delivery::available(shared, &im.bare) {
                let unavailable = Element::new("presence", CLIENT_NS)
                    .with_attr("type", "unavailable")
                    .with_attr("from", route.jid.to_string())
                    .with_attr("to", contact.to_string());
                route_to_contact(shared, &contact, unavailable);
            }
        }
        _ => {}
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
        Ok(false) => {
            if action == SubscriptionAction::Subscribe {
                bounce_bare(shared, &stanza, from);
            }
            return;
        }
        Err(e) => return tracing::error!(error = %e, "user lookup failed"),
    }
    let mut item = match shared.storage.roster_item(username, from).await {
        Ok(item) => item.unwrap_or_else(|| RosterItem::new(from.clone())),
        Err(e) => return tracing::error!(error = %e, "roster lookup failed"),
    };
    if action == SubscriptionAction::Subscribe && inbound_subscribe_is_redundant(&item) {
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
    let was_visible = item.is_visible();
    let outcome = apply_inbound(&mut item, action);
    if outcome.changed {
        roster::store_and_push(shared, username, owner, &item, was_visible).await;
    }
    if !outcome.forward {
        return;
    }
    if action == SubscriptionAction::Subscribe {
        if let Err(e) = shared
            .storage
            .put_pending_subscription(username, from, &stanza.to_xml_in(CLIENT_NS))
            .await
        {
            tracing::error!(error = %e, "could not store a subscription request");
        }
    }
    delivery::to_available(shared, owner, &stanza, false);
}

/// Error for a subscription request to an account that does not exist; the sender is a bare
/// JID here, so it goes to every available resource of the sender.
fn bounce_bare(shared: &Shared, stanza: &Element, sender: &BareJid) {
    if let Some(reply) =
        tandem_xmpp::stanza::error_reply(stanza, StanzaErrorCondition::ServiceUnavailable, None)
    {
        delivery::to_available(shared, sender, &reply, true);
    }
}
