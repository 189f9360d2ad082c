//! Putting stanzas into sessions: to one full JID, to a user's resources, or back to the
//! sender as an error.

use jid::{BareJid, FullJid, Jid};
use tandem_xmpp::router::ResourceRoute;
use tandem_xmpp::stanza::{error_reply, StanzaErrorCondition};
use tandem_xmpp::Element;

use crate::server::{SessionHandle, Shared};

/// Delivers to a bound resource; false if none is bound at that JID.
pub fn to_full(shared: &Shared, jid: &FullJid, stanza: Element) -> bool {
    match shared.routes.get(jid) {
        Some(route) => route.handle.deliver(stanza),
        None => false,
    }
}

/// Available resources of a local user (those that sent available presence).
pub fn available(shared: &Shared, bare: &BareJid) -> Vec<ResourceRoute<SessionHandle>> {
    let mut resources = shared.routes.resources(bare);
    resources.retain(|r| r.is_available());
    resources
}

/// Delivers a copy to every available resource of `bare`, with `to` set to each full JID
/// only when `readdress` (presence broadcasts keep the bare `to`). Returns how many got it.
pub fn to_available(shared: &Shared, bare: &BareJid, stanza: &Element, readdress: bool) -> usize {
    let mut delivered = 0;
    for route in available(shared, bare) {
        let mut copy = stanza.clone();
        if readdress {
            copy.set_attr("to", route.jid.to_string());
        }
        if route.handle.deliver(copy) {
            delivered += 1;
        }
    }
    delivered
}

/// Sends the error reply for `stanza` to its sender, unless it is itself an error.
pub fn bounce(shared: &Shared, stanza: &Element, condition: StanzaErrorCondition) {
    let Some(reply) = error_reply(stanza, condition, None) else {
        return;
    };
    let Some(sender) = stanza.attr("from").and_then(|f| FullJid::new(f).ok()) else {
        return;
    };
    to_full(shared, &sender, reply);
}

/// Answers the session's own request with an error, written straight into its stream.
pub fn reply_error(
    session: &mut tandem_xmpp::c2s::Session,
    request: &Element,
    condition: StanzaErrorCondition,
) {
    if let Some(reply) = error_reply(request, condition, None) {
        session.send_stanza(&reply);
    }
}

/// True when the JID is one of ours (our domain); everything else would need s2s.
pub fn is_local(shared: &Shared, jid: &Jid) -> bool {
    jid.domain().as_str() == shared.domain
}
