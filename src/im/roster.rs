//! Roster management (RFC 6121 §2): get, set, remove, and pushes to interested resources.

use std::sync::atomic::{AtomicU64, Ordering};

use jid::BareJid;
use tandem_xmpp::c2s::Session;
use tandem_xmpp::roster::{
    parse_roster_set, RosterItem, RosterSet, RosterSetError, SubscriptionAction, ROSTER_NS,
};
use tandem_xmpp::stanza::{iq_result, StanzaErrorCondition};
use tandem_xmpp::stream::writer::CLIENT_NS;
use tandem_xmpp::Element;

use super::delivery::reply_error;
use super::{presence, ImSession};
use crate::server::Shared;

static PUSH_COUNTER: AtomicU64 = AtomicU64::new(1);

/// Stores the item (or deletes it when empty) and pushes it to the owner's interested
/// resources. `was_visible` says whether the client knew the item before, so that an item kept
/// only for a pending request is neither pushed nor "removed" from a roster that never had it.
pub async fn store_and_push(
    shared: &Shared,
    username: &str,
    owner: &BareJid,
    item: &RosterItem,
    was_visible: bool,
) -> bool {
    if let Err(e) = shared.storage.put_roster_item(username, item).await {
        tracing::error!(user = %username, error = %e, "could not store a roster item");
        return false;
    }
    let pushed = if item.is_visible() {
        item.to_element()
    } else if was_visible {
        Element::new("item", ROSTER_NS)
            .with_attr("jid", item.jid.to_string())
            .with_attr("subscription", "remove")
    } else {
        return true;
    };
    push(shared, owner, pushed.clone());
    // The user's sessions in other clusters get it from their own cluster.
    if shared.cluster.is_some() {
        let iq = Element::new("iq", CLIENT_NS)
            .with_attr("type", "set")
            .with_attr("to", owner.to_string())
            .with_child(Element::new("query", ROSTER_NS).with_child(pushed));
        super::delivery::to_other_clusters(shared, owner, &iq, |l| l.interested).await;
    }
    true
}

/// A roster push another cluster fanned out: to this cluster's interested sessions of the
/// owner.
pub fn push_from_cluster(shared: &Shared, iq: &Element) {
    let Some(owner) = iq.attr("to").and_then(|t| BareJid::new(t).ok()) else {
        return;
    };
    let items = iq
        .get_child("query", ROSTER_NS)
        .into_iter()
        .flat_map(|q| q.children())
        .filter(|c| c.name() == "item");
    for item in items {
        push(shared, &owner, item.clone());
    }
}

fn push(shared: &Shared, owner: &BareJid, item: Element) {
    for route in shared
        .routes
        .resources(owner)
        .into_iter()
        .filter(|r| r.interested)
    {
        let id = format!("push{}", PUSH_COUNTER.fetch_add(1, Ordering::Relaxed));
        let iq = Element::new("iq", CLIENT_NS)
            .with_attr("type", "set")
            .with_attr("id", id)
            .with_attr("to", route.jid.to_string())
            .with_child(Element::new("query", ROSTER_NS).with_child(item.clone()));
        route.handle.deliver(iq);
    }
}

/// A roster iq from the user's own client.
pub async fn handle_iq(
    shared: &Shared,
    im: &ImSession,
    session: &mut Session,
    iq: &Element,
    query: &Element,
) {
    match iq.attr("type") {
        Some("get") => {
            let items = match shared.storage.roster(&im.username).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!(user = %im.username, error = %e, "could not load roster");
                    return reply_error(session, iq, StanzaErrorCondition::InternalServerError);
                }
            };
            let id = im.session_id;
            shared.routes.set_interested(&im.jid, &|h| h.id == id);
            let mut query = Element::new("query", ROSTER_NS);
            for item in items.iter().filter(|i| i.is_visible()) {
                query.push_child(item.to_element());
            }
            session.send_stanza(&iq_result(iq, Some(query)));
        }
        Some("set") => match parse_roster_set(query) {
            Ok(RosterSet::Update { jid, name, groups }) => {
                if jid == im.bare {
                    return reply_error(session, iq, StanzaErrorCondition::NotAllowed);
                }
                let _guard = shared.user_locks.lock(&im.username).await;
                let mut item = match shared.storage.roster_item(&im.username, &jid).await {
                    Ok(item) => item.unwrap_or_else(|| RosterItem::new(jid.clone())),
                    Err(_) => {
                        return reply_error(session, iq, StanzaErrorCondition::InternalServerError)
                    }
                };
                let was_visible = item.is_visible();
                item.name = name;
                item.groups = groups;
                item.listed = true;
                if store_and_push(shared, &im.username, &im.bare, &item, was_visible).await {
                    session.send_stanza(&iq_result(iq, None));
                } else {
                    reply_error(session, iq, StanzaErrorCondition::InternalServerError);
                }
            }
            Ok(RosterSet::Remove { jid }) => remove(shared, im, session, iq, jid).await,
            Err(e) => {
                let condition = match e {
                    RosterSetError::BadRequest(_) => StanzaErrorCondition::BadRequest,
                    RosterSetError::JidMalformed => StanzaErrorCondition::JidMalformed,
                    RosterSetError::NotAcceptable(_) => StanzaErrorCondition::NotAcceptable,
                };
                reply_error(session, iq, condition);
            }
        },
        _ => {}
    }
}

/// RFC 6121 §2.5.2: removing an item cancels subscriptions both ways.
async fn remove(
    shared: &Shared,
    im: &ImSession,
    session: &mut Session,
    iq: &Element,
    jid: BareJid,
) {
    let item = match shared.storage.roster_item(&im.username, &jid).await {
        Ok(Some(item)) if item.is_visible() || item.pending_in => item,
        Ok(_) => return reply_error(session, iq, StanzaErrorCondition::ItemNotFound),
        Err(_) => return reply_error(session, iq, StanzaErrorCondition::InternalServerError),
    };
    let presence = |kind: &str| {
        Element::new("presence", CLIENT_NS)
            .with_attr("type", kind)
            .with_attr("from", im.jid.to_string())
            .with_attr("to", jid.to_string())
    };
    if item.subscription.has_to() || item.ask {
        presence::outbound_subscription(
            shared,
            im,
            presence("unsubscribe"),
            SubscriptionAction::Unsubscribe,
        )
        .await;
    }
    if item.subscription.has_from() || item.pending_in {
        presence::outbound_subscription(
            shared,
            im,
            presence("unsubscribed"),
            SubscriptionAction::Unsubscribed,
        )
        .await;
    }
    if let Err(e) = shared.storage.delete_roster_item(&im.username, &jid).await {
        tracing::error!(error = %e, "could not delete a roster item");
        return reply_error(session, iq, StanzaErrorCondition::InternalServerError);
    }
    let _ = shared
        .storage
        .delete_pending_subscription(&im.username, &jid)
        .await;
    push(
        shared,
        &im.bare,
        Element::new("item", ROSTER_NS)
            .with_attr("jid", jid.to_string())
            .with_attr("subscription", "remove"),
    );
    session.send_stanza(&iq_result(iq, None));
}
