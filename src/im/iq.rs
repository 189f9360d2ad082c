//! Iq routing (RFC 6120 §8.2.3, §10) and the server's own services: disco (XEP-0030),
//! ping (XEP-0199), version (XEP-0092), and the roster on the user's behalf.

use tandem_xmpp::c2s::Session;
use tandem_xmpp::roster::ROSTER_NS;
use tandem_xmpp::stanza::{iq_result, StanzaErrorCondition};
use tandem_xmpp::Element;

use super::delivery::{self, bounce, reply_error};
use super::{roster, ImSession};
use crate::server::Shared;

pub const DISCO_INFO_NS: &str = "http://jabber.org/protocol/disco#info";
pub const DISCO_ITEMS_NS: &str = "http://jabber.org/protocol/disco#items";
pub const PING_NS: &str = "urn:xmpp:ping";
pub const VERSION_NS: &str = "jabber:iq:version";

/// Features the server itself really implements; nothing here is advertised ahead of the code.
const SERVER_FEATURES: &[&str] = &[
    DISCO_INFO_NS,
    DISCO_ITEMS_NS,
    PING_NS,
    VERSION_NS,
    "msgoffline",
];

/// An iq from the client of `im`.
pub async fn handle_outbound(
    shared: &Shared,
    im: &mut ImSession,
    session: &mut Session,
    iq: Element,
) {
    let is_request = matches!(iq.attr("type"), Some("get") | Some("set"));
    if !is_request && !matches!(iq.attr("type"), Some("result") | Some("error")) {
        return reply_error(session, &iq, StanzaErrorCondition::BadRequest);
    }
    let to = super::to_jid(&iq);
    let Some(to) = to else {
        // No `to`: the user's own account handles it (RFC 6120 §10.3.3).
        if is_request {
            handle_for_account(shared, im, session, &iq).await;
        }
        return;
    };
    // A call another cluster's gateway bridges (or is to bridge).
    let owner = match gateway_elsewhere(shared, &iq, &to).await {
        Some(owner) => Some(owner),
        None => delivery::gateway_call_elsewhere(shared, &to).map(str::to_owned),
    };
    if let Some(owner) = owner {
        if !delivery::to_gateway_of(shared, &owner, &iq) && is_request {
            reply_error(session, &iq, StanzaErrorCondition::RemoteServerTimeout);
        }
        return;
    }
    // SIP addresses behind the gateway: the call bridge answers (Jingle, and the results
    // and errors to the bridge's own requests).
    if let Some(gateway) = shared.gateway.as_ref().filter(|g| g.serves(&to)) {
        if !gateway.send(iq.clone()) && is_request {
            reply_error(session, &iq, StanzaErrorCondition::ResourceConstraint);
        }
        return;
    }
    if !delivery::is_local(shared, &to) {
        return bounce(shared, &iq, StanzaErrorCondition::RemoteServerNotFound);
    }
    // A call to a local user with no XMPP session: her registered phone may take it.
    if is_request
        && is_session_initiate(&iq)
        && delivery::available(shared, &to.to_bare()).is_empty()
        && !available_elsewhere(shared, &to.to_bare()).await
    {
        if let Some(gateway) = &shared.gateway {
            if !gateway.send(iq.clone()) {
                reply_error(session, &iq, StanzaErrorCondition::ResourceConstraint);
            }
            return;
        }
    }
    match to.clone().try_into_full() {
        Ok(full) => match delivery::to_full_anywhere(shared, &full, iq.clone()).await {
            delivery::Reach::Local | delivery::Reach::Remote => {}
            // RFC 6120 §10.5.3.2: an iq for a resource that is not there.
            delivery::Reach::Nowhere if is_request => {
                reply_error(session, &iq, StanzaErrorCondition::ServiceUnavailable)
            }
            delivery::Reach::Unknown if is_request => {
                reply_error(session, &iq, StanzaErrorCondition::RemoteServerTimeout)
            }
            delivery::Reach::Nowhere | delivery::Reach::Unknown => {}
        },
        // Responses to a bare JID have nobody to go to.
        Err(_) if !is_request => {}
        Err(bare) if bare.node().is_none() => handle_for_server(session, &iq),
        Err(bare) if bare == im.bare => handle_for_account(shared, im, session, &iq).await,
        // On behalf of another account, nothing is offered yet.
        Err(_) => reply_error(session, &iq, StanzaErrorCondition::ServiceUnavailable),
    }
}

/// The cluster whose gateway bridges this Jingle request of a local user, when it is not
/// this one: a call it already bridges, or a new call that needs its trunk (this cluster
/// has none) or the phone registered there.
async fn gateway_elsewhere(shared: &Shared, iq: &Element, to: &jid::Jid) -> Option<String> {
    let cluster = shared.cluster.as_ref()?;
    let jingle = iq.get_child("jingle", "urn:xmpp:jingle:1")?;
    // Clients choose sids: one user's cannot be mistaken for another's.
    let call = format!("{}\u{0}{}", iq.attr("from")?, jingle.attr("sid")?);
    if let Some(owner) = cluster.call_elsewhere(&call) {
        if jingle.attr("action") == Some("session-terminate") {
            cluster.forget_call_elsewhere(&call);
        }
        return Some(owner);
    }
    if !is_session_initiate(iq) {
        return None;
    }
    let sip_number = shared
        .gateway
        .as_ref()
        .is_some_and(|g| to.domain().as_str() == g.domain);
    let phone_call = !sip_number
        && delivery::is_local(shared, to)
        && to.node().is_some()
        && delivery::available(shared, &to.to_bare()).is_empty()
        && !available_elsewhere(shared, &to.to_bare()).await;
    if !(sip_number || phone_call) {
        return None;
    }
    let owner = cluster.gateway_for_new_call(to, sip_number).await?;
    tracing::info!(%to, gateway = %owner, "call bridged by another cluster's gateway");
    cluster.remember_call_elsewhere(&call, &owner);
    Some(owner)
}

/// Whether the user has an available resource in another cluster (then her XMPP client,
/// not her phone, takes the call).
async fn available_elsewhere(shared: &Shared, bare: &jid::BareJid) -> bool {
    delivery::remote(shared, bare)
        .await
        .is_ok_and(|located| located.iter().any(|l| l.priority.is_some()))
}

fn is_session_initiate(iq: &Element) -> bool {
    iq.attr("type") == Some("set")
        && iq
            .get_child("jingle", "urn:xmpp:jingle:1")
            .is_some_and(|j| j.attr("action") == Some("session-initiate"))
}

async fn handle_for_account(
    shared: &Shared,
    im: &mut ImSession,
    session: &mut Session,
    iq: &Element,
) {
    let Some(payload) = iq.children().next() else {
        return reply_error(session, iq, StanzaErrorCondition::BadRequest);
    };
    match (payload.name(), payload.ns()) {
        ("query", ROSTER_NS) => roster::handle_iq(shared, im, session, iq, payload).await,
        ("ping", PING_NS) if iq.attr("type") == Some("get") => {
            session.send_stanza(&iq_result(iq, None))
        }
        ("query", DISCO_INFO_NS)
            if iq.attr("type") == Some("get") && payload.attr("node").is_none() =>
        {
            let query = Element::new("query", DISCO_INFO_NS)
                .with_child(
                    Element::new("identity", DISCO_INFO_NS)
                        .with_attr("category", "account")
                        .with_attr("type", "registered"),
                )
                .with_child(Element::new("feature", DISCO_INFO_NS).with_attr("var", DISCO_INFO_NS));
            session.send_stanza(&iq_result(iq, Some(query)));
        }
        ("query", DISCO_ITEMS_NS) if iq.attr("type") == Some("get") => {
            session.send_stanza(&iq_result(iq, Some(Element::new("query", DISCO_ITEMS_NS))));
        }
        _ => reply_error(session, iq, StanzaErrorCondition::ServiceUnavailable),
    }
}

fn handle_for_server(session: &mut Session, iq: &Element) {
    let Some(payload) = iq.children().next() else {
        return reply_error(session, iq, StanzaErrorCondition::BadRequest);
    };
    let get = iq.attr("type") == Some("get");
    let reply = match (payload.name(), payload.ns()) {
        ("ping", PING_NS) if get => iq_result(iq, None),
        ("query", DISCO_INFO_NS) if get => {
            if payload.attr("node").is_some() {
                return reply_error(session, iq, StanzaErrorCondition::ItemNotFound);
            }
            let mut query = Element::new("query", DISCO_INFO_NS).with_child(
                Element::new("identity", DISCO_INFO_NS)
                    .with_attr("category", "server")
                    .with_attr("type", "im")
                    .with_attr("name", "Tandem"),
            );
            for feature in SERVER_FEATURES {
                query.push_child(Element::new("feature", DISCO_INFO_NS).with_attr("var", *feature));
            }
            iq_result(iq, Some(query))
        }
        ("query", DISCO_ITEMS_NS) if get => {
            if payload.attr("node").is_some() {
                return reply_error(session, iq, StanzaErrorCondition::ItemNotFound);
            }
            iq_result(iq, Some(Element::new("query", DISCO_ITEMS_NS)))
        }
        ("query", VERSION_NS) if get => {
            let query = Element::new("query", VERSION_NS)
                .with_child(Element::new("name", VERSION_NS).with_text("Tandem"))
                .with_child(
                    Element::new("version", VERSION_NS).with_text(env!("CARGO_PKG_VERSION")),
                );
            iq_result(iq, Some(query))
        }
        _ => return reply_error(session, iq, StanzaErrorCondition::ServiceUnavailable),
    };
    session.send_stanza(&reply);
}
