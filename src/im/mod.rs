//! Instant messaging on top of bound sessions (RFC 6121): message, presence and iq routing,
//! rosters and subscriptions, offline storage. Pure rules live in `tandem_xmpp::roster`; this
//! module applies them against storage and the route table.

pub mod delivery;
mod iq;
pub mod locks;
mod message;
mod presence;
mod roster;
pub mod time;

use std::collections::HashSet;

use jid::{BareJid, FullJid, Jid};
use tandem_xmpp::c2s::Session;
use tandem_xmpp::stanza::StanzaKind;
use tandem_xmpp::Element;

use crate::server::{SessionHandle, Shared};

/// IM state of one bound session.
pub struct ImSession {
    /// The connection's session id, which the route table uses to tell this session from a
    /// newer one bound to the same full JID.
    pub session_id: u64,
    pub jid: FullJid,
    pub bare: BareJid,
    /// The local username (the JID's localpart), the key of everything stored for the user.
    pub username: String,
    pub available: bool,
    /// Priority of the last available presence.
    pub priority: Option<i8>,
    /// Entities that got directed presence and must hear when we go offline (RFC 6121 §4.6).
    pub directed: HashSet<Jid>,
    /// Offline messages taken from storage and written into the session; routed again if the
    /// connection fails before they reach the socket.
    pub offline_in_flight: Vec<Element>,
}

impl ImSession {
    pub fn new(jid: FullJid, session_id: u64) -> Self {
        let bare = jid.to_bare();
        let username = bare
            .node()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        ImSession {
            session_id,
            priority: None,
            jid,
            bare,
            username,
            available: false,
            directed: HashSet::new(),
            offline_in_flight: Vec::new(),
        }
    }
}

/// A stanza from a bound client, `from` stamped by the c2s core.
pub async fn handle_stanza(
    shared: &Shared,
    im: &mut ImSession,
    session: &mut Session,
    stanza: Element,
) {
    match StanzaKind::of(&stanza) {
        Some(StanzaKind::Message) => message::route(shared, stanza).await,
        Some(StanzaKind::Presence) => presence::handle_outbound(shared, im, session, stanza).await,
        Some(StanzaKind::Iq) => iq::handle_outbound(shared, im, session, stanza).await,
        None => {}
    }
}

/// The session is gone: unbind it and tell whoever saw it online.
pub async fn session_ended(shared: &Shared, im: &mut ImSession, handle: &SessionHandle) {
    let id = handle.id;
    let still_ours = shared
        .routes
        .unbind(&im.jid, &|h: &SessionHandle| h.id == id);
    // A newer session bound to the same full JID speaks for the resource once it is
    // available; otherwise contacts must hear that it left (RFC 6121 §4.5.2). Entities that
    // got directed presence from this session always hear it (§4.6.3): the successor never
    // sent them anything.
    let announce = still_ours || !shared.routes.get(&im.jid).is_some_and(|r| r.is_available());
    if !announce {
        im.available = false;
    }
    if im.available || !im.directed.is_empty() {
        presence::broadcast_unavailable(shared, im, None).await;
    }
    // Calls this resource was in end on the SIP side too (a BYE, or the INVITE refused).
    if still_ours {
        let gone = Element::new("presence", tandem_xmpp::stream::writer::CLIENT_NS)
            .with_attr("type", "unavailable")
            .with_attr("from", im.jid.to_string());
        // Calls bridged by other clusters' gateways end too: those the session talked to.
        if let Some(cluster) = &shared.cluster {
            for peer in cluster.gateways_talked_to(&im.jid.to_string()) {
                cluster.forward(&peer, &gone, crate::cluster::envelope::Target::Gateway);
            }
        }
        if let Some(gateway) = &shared.gateway {
            gateway.send(gone);
        }
    }
}

/// A stanza queued for a session that closed before writing it: route it again so messages
/// reach another resource or offline storage instead of vanishing.
pub async fn redeliver_after_close(shared: &Shared, stanza: Element) {
    match StanzaKind::of(&stanza) {
        Some(StanzaKind::Message) => message::redeliver(shared, stanza).await,
        // A request that will never be answered gets an error so the requester stops waiting.
        Some(StanzaKind::Iq) if matches!(stanza.attr("type"), Some("get") | Some("set")) => {
            delivery::bounce(
                shared,
                &stanza,
                tandem_xmpp::stanza::StanzaErrorCondition::ServiceUnavailable,
            )
        }
        _ => {}
    }
}

/// A stanza another cluster forwarded (see `crate::cluster`), inside its scope.
pub async fn from_cluster(
    shared: &Shared,
    stanza: Element,
    target: crate::cluster::envelope::Target,
) {
    use crate::cluster::envelope::Target;
    let kind = StanzaKind::of(&stanza);
    match target {
        Target::Copies(resources) => {
            if !to_resources_here(shared, &resources, &stanza) && kind == Some(StanzaKind::Message)
            {
                message::redeliver(shared, stanza).await;
            }
        }
        Target::Resources(resources) => {
            if to_resources_here(shared, &resources, &stanza) {
                return;
            }
            // Every resource it was meant for left (or moved): route it again from here.
            match kind {
                Some(StanzaKind::Message) => message::route(shared, stanza).await,
                Some(StanzaKind::Iq)
                    if matches!(stanza.attr("type"), Some("get") | Some("set")) =>
                {
                    delivery::bounce(
                        shared,
                        &stanza,
                        tandem_xmpp::stanza::StanzaErrorCondition::ServiceUnavailable,
                    )
                }
                Some(StanzaKind::Iq) => {
                    if let Some(to) = to_jid(&stanza).and_then(|j| j.try_into_full().ok()) {
                        delivery::to_full_anywhere(shared, &to, stanza).await;
                    }
                }
                // Presence for a resource that is not there is dropped (RFC 6121 §8.5.3.2.1).
                _ => {}
            }
        }
        Target::Gateway => match &shared.gateway {
            Some(gateway) if gateway.send(stanza.clone()) => {}
            // A session's departure, for calls this gateway may be in: nothing to end here.
            _ if kind == Some(StanzaKind::Presence) => {}
            _ => {
                tracing::warn!(to = ?stanza.attr("to"), "a stanza for this cluster's gateway could not be handed to it");
                if stanza.attr("type") != Some("error") {
                    delivery::bounce(
                        shared,
                        &stanza,
                        tandem_xmpp::stanza::StanzaErrorCondition::ServiceUnavailable,
                    );
                }
            }
        },
        Target::LocalOnly => match kind {
            Some(StanzaKind::Presence) => presence::from_cluster(shared, stanza).await,
            // Only the server sends roster pushes (it has no `from`).
            Some(StanzaKind::Iq)
                if stanza.attr("from").is_none()
                    && stanza.attr("type") == Some("set")
                    && stanza.get_child("query", "jabber:iq:roster").is_some() =>
            {
                roster::push_from_cluster(shared, &stanza)
            }
            Some(StanzaKind::Message) => message::route(shared, stanza).await,
            _ => {}
        },
    }
}

/// Delivers a copy to each of `resources` bound here; true if any took it.
fn to_resources_here(shared: &Shared, resources: &[String], stanza: &Element) -> bool {
    let mut delivered = false;
    for jid in resources.iter().filter_map(|j| FullJid::new(j).ok()) {
        delivered |= delivery::to_full(shared, &jid, stanza.clone());
    }
    delivered
}

/// The `to` of a stanza as a JID; `None` when absent (addressed to the sender's account).
fn to_jid(stanza: &Element) -> Option<Jid> {
    stanza.attr("to").and_then(|t| Jid::new(t).ok())
}

fn from_jid(stanza: &Element) -> Option<Jid> {
    stanza.attr("from").and_then(|t| Jid::new(t).ok())
}
