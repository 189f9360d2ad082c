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
    if shared.cluster.is_none() || shared.routes.get(&sender).is_some() {
        to_full(shared, &sender, reply);
        return;
    }
    // An error for the gateway of a call bridged in another cluster goes to that gateway.
    if let Some(owner) = gateway_call_elsewhere(shared, &Jid::from(sender.clone())) {
        to_gateway_of(shared, owner, &reply);
        return;
    }
    // The sender is in another cluster (the stanza came over a link): the error goes back
    // there. Errors are never answered, so this cannot loop.
    let Some(shared) = shared.me() else { return };
    tokio::spawn(async move {
        to_full_anywhere(&shared, &sender, reply).await;
    });
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

/// For the SIP bridge, which cannot wait on lookups: delivers here, or queues the stanza for
/// the cluster the resource is in. False when it can go nowhere.
pub fn to_full_or_queue(shared: &Shared, jid: &FullJid, stanza: Element) -> bool {
    match (shared.routes.get(jid), &shared.cluster) {
        (Some(route), _) => route.handle.deliver(stanza),
        (None, Some(cluster)) => cluster.send_later(jid.clone(), stanza),
        (None, None) => false,
    }
}

/// The cluster that owns the gateway call `to` belongs to, when it is another one.
pub fn gateway_call_elsewhere<'j>(shared: &Shared, to: &'j Jid) -> Option<&'j str> {
    let cluster = shared.cluster.as_ref()?;
    // Only the gateway's own JIDs carry an owner; an account's resource may contain '~'.
    let gateway = shared.gateway.as_ref()?;
    if to.domain().as_str() != gateway.domain {
        return None;
    }
    let owner = crate::cluster::call_owner(to.resource()?.as_str())?;
    (owner != cluster.name() && cluster.knows(owner)).then_some(owner)
}

/// Sends a stanza for a gateway call to the cluster that owns it; true if it went.
pub fn to_gateway_of(shared: &Shared, owner: &str, stanza: &Element) -> bool {
    shared.cluster.as_ref().is_some_and(|c| {
        if let Some(from) = stanza.attr("from") {
            c.talked_to_gateway(from, owner);
        }
        c.forward(owner, stanza, crate::cluster::envelope::Target::Gateway)
    })
}

/// Where a stanza for a full JID went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Local,
    /// Handed to the link of the cluster the resource is connected to.
    Remote,
    /// No such resource anywhere.
    Nowhere,
    /// Not here, and the global table could not say (Redis down) or the stanza could not
    /// be forwarded: callers answer `remote-server-timeout`.
    Unknown,
}

/// The resources of a local user in other clusters: empty without `[cluster]`, `Err` when
/// the global table cannot answer (logged and counted).
pub async fn remote(
    shared: &Shared,
    bare: &BareJid,
) -> Result<Vec<crate::cluster::directory::Location>, ()> {
    let Some(cluster) = &shared.cluster else {
        return Ok(Vec::new());
    };
    cluster.remote(bare).await.map_err(|e| {
        tracing::warn!(user = %bare, error = %e, "global route lookup failed");
        cluster.give_up("redis-unavailable");
    })
}

/// To a full JID, in this cluster or another one.
pub async fn to_full_anywhere(shared: &Shared, jid: &FullJid, stanza: Element) -> Reach {
    let Some(cluster) = &shared.cluster else {
        return if to_full(shared, jid, stanza) {
            Reach::Local
        } else {
            Reach::Nowhere
        };
    };
    if let Some(route) = shared.routes.get(jid) {
        if route.handle.deliver(stanza.clone()) {
            return Reach::Local;
        }
    }
    let Ok(located) = remote(shared, &jid.to_bare()).await else {
        return Reach::Unknown;
    };
    match located
        .iter()
        .find(|l| l.resource == jid.resource().as_str())
    {
        Some(l) => {
            let target = crate::cluster::envelope::Target::Resources(vec![jid.to_string()]);
            if cluster.forward(&l.cluster, &stanza, target) {
                Reach::Remote
            } else {
                Reach::Unknown
            }
        }
        None => Reach::Nowhere,
    }
}

/// [`to_available`] (without readdressing) here and in every other cluster.
pub async fn to_available_anywhere(shared: &Shared, bare: &BareJid, stanza: &Element) {
    to_available(shared, bare, stanza, false);
    to_available_remote(shared, bare, stanza).await;
}

/// A copy of `stanza` to each other cluster where `bare` has an available resource, for its
/// local sessions there. Returns how many clusters got one.
pub async fn to_available_remote(shared: &Shared, bare: &BareJid, stanza: &Element) -> usize {
    to_other_clusters(shared, bare, stanza, |l| l.priority.is_some()).await
}

/// A copy of `stanza` to each other cluster where `bare` has a session that `wanted`
/// accepts, for its local sessions there.
pub async fn to_other_clusters(
    shared: &Shared,
    bare: &BareJid,
    stanza: &Element,
    wanted: impl Fn(&crate::cluster::directory::Location) -> bool,
) -> usize {
    let Some(cluster) = &shared.cluster else {
        return 0;
    };
    let Ok(located) = remote(shared, bare).await else {
        return 0;
    };
    let mut clusters: Vec<&str> = located
        .iter()
        // Not worth queueing for a cluster that cannot be reached now.
        .filter(|l| wanted(l) && !cluster.is_down(&l.cluster))
        .map(|l| l.cluster.as_str())
        .collect();
    clusters.sort_unstable();
    clusters.dedup();
    clusters
        .into_iter()
        .filter(|c| cluster.forward(c, stanza, crate::cluster::envelope::Target::LocalOnly))
        .count()
}
