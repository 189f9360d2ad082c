//! Global distribution (`[cluster]`): several clusters serve one domain. The Redis
//! [`directory`] says where each user's resources are, [`routes`] keeps this cluster's entries
//! in it, and [`link`]s carry stanzas to the cluster that has the recipient.
//!
//! A stanza that crosses a link carries its hop count; whatever the receiving cluster does
//! with it (deliver, route again because the user moved, answer a probe) runs inside
//! [`Scope`], so a further forward counts one more hop and stanzas meant only for the local
//! sessions of a cluster are not sent on.

pub mod directory;
pub mod envelope;
pub mod link;
pub mod listener;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use jid::BareJid;
use tandem_xmpp::stream::writer::CLIENT_NS;
use tandem_xmpp::Element;

use crate::config::Config;
use crate::metrics::{CallMetrics, Metrics};
use crate::server::Shared;
use directory::{Directory, DirectoryError, Location};
use envelope::{Envelope, Payload, Target};
use link::{LinkTls, Links};

/// How the current task came to handle a stanza (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub hops: u8,
    /// The stanza was fanned out to this cluster's sessions only.
    pub local_only: bool,
    /// The cluster it entered at; `None` for stanzas of local clients.
    pub origin: Option<Arc<str>>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// The scope of the running task: local clients' stanzas have the default.
pub fn scope() -> Scope {
    SCOPE.try_with(Clone::clone).unwrap_or_default()
}

/// Runs `work` allowed to reach other clusters again (an answer to a stanza that was fanned
/// out to this cluster only, such as a probe), keeping the hop count.
pub async fn beyond_local<F: std::future::Future>(work: F) -> F::Output {
    let scope = Scope {
        local_only: false,
        ..scope()
    };
    SCOPE.scope(scope, work).await
}

/// The hop count a stanza leaves with, or `None` when it would exceed `max` (a routing loop,
/// or a user moving faster than the tables follow).
fn next_hop(hops: u8, max: u8) -> Option<u8> {
    hops.checked_add(1).filter(|h| *h <= max)
}

/// Separates the owning cluster from the call id in the resources of the gateway's JIDs
/// (`+15551234@sip.example/eu-1~a8f3`); cluster names cannot contain it.
const CALL_OWNER_SEPARATOR: char = '~';

/// The cluster that owns a gateway call, from the resource of one of its JIDs.
pub fn call_owner(resource: &str) -> Option<&str> {
    resource
        .split_once(CALL_OWNER_SEPARATOR)
        .map(|(cluster, _)| cluster)
        .filter(|c| !c.is_empty())
}

pub struct Cluster {
    name: String,
    max_hops: u8,
    directory: Arc<Directory>,
    links: Arc<Links>,
    metrics: Arc<Metrics>,
    received: Arc<listener::Received>,
    server_tls: Arc<rustls::ServerConfig>,
    listen: std::net::SocketAddr,
    advertise: String,
    /// Stanzas for resources that are not here, looked up and forwarded in order by one
    /// task (for callers that cannot wait, such as the SIP bridge).
    later: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<(jid::FullJid, Element)>>,
    /// This cluster's gateway can call SIP numbers (`[sip] outbound_proxy`).
    has_trunk: bool,
    /// The SIP domain of local accounts' addresses-of-record.
    sip_domain: String,
    /// Calls of local users that another cluster's gateway bridges: call key (the user's
    /// full JID and the Jingle sid) -> cluster.
    calls_elsewhere: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Local sessions that talked to other clusters' gateways, and which: told when the
    /// session ends, so the calls they are in end on the SIP side.
    gateway_peers: std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>,
    /// Registration changes for Redis, written in order by one task.
    registrations: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<RegistrationChange>>,
}

/// An address-of-record, its contacts registered here (with expiry), and contacts removed.
type RegistrationChange = (String, Vec<(String, u64)>, Vec<String>);

/// Calls remembered in [`Cluster::calls_elsewhere`] at most (a client that never ends its
/// calls must not grow it without bound).
const MAX_CALLS_ELSEWHERE: usize = 100_000;

impl Cluster {
    /// Loads the link certificates and prepares the Redis connection; nothing listens
    /// until [`Cluster::run`].
    pub async fn new(config: &Config, metrics: Arc<Metrics>) -> Result<Option<Arc<Cluster>>> {
        let Some(c) = &config.cluster else {
            return Ok(None);
        };
        let LinkTls { client, server } = link::load_tls(
            &config.resolve(&c.ca),
            &config.resolve(&c.cert),
            &config.resolve(&c.key),
        )?;
        let directory = Arc::new(
            Directory::connect(&c.redis, &c.name, Duration::from_secs(c.location_ttl))
                .await
                .context("connecting to Redis")?,
        );
        let links = Arc::new(Links::new(
            &c.name,
            client,
            directory.clone(),
            metrics.clone(),
        ));
        Ok(Some(Arc::new(Cluster {
            name: c.name.clone(),
            max_hops: c.max_hops,
            directory,
            links,
            metrics,
            received: Arc::default(),
            server_tls: server,
            listen: c.listen,
            advertise: c.advertise.clone(),
            later: std::sync::OnceLock::new(),
            has_trunk: config.gateway.sip_domain.is_some() && config.sip.outbound_proxy.is_some(),
            sip_domain: config.sip_domain().to_owned(),
            calls_elsewhere: Default::default(),
            gateway_peers: Default::default(),
            registrations: std::sync::OnceLock::new(),
        })))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `name` is a registered, live cluster (from the last look at the registry).
    pub fn knows(&self, name: &str) -> bool {
        self.directory.known_live(name)
    }

    /// The resource of the gateway's JIDs for call `sid`, naming this cluster as its owner.
    pub fn call_resource(&self, sid: &str) -> String {
        format!("{}{CALL_OWNER_SEPARATOR}{sid}", self.name)
    }

    /// The cluster bridging the local user's call `call` (see `calls_elsewhere`), if
    /// another one does.
    pub fn call_elsewhere(&self, call: &str) -> Option<String> {
        let calls = self
            .calls_elsewhere
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        calls.get(call).cloned()
    }

    /// Remembers that `cluster` bridges the local user's call `call`.
    pub fn remember_call_elsewhere(&self, call: &str, cluster: &str) {
        let mut calls = self
            .calls_elsewhere
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if calls.len() >= MAX_CALLS_ELSEWHERE {
            tracing::warn!("too many calls bridged elsewhere remembered; forgetting them");
            calls.clear();
        }
        calls.insert(call.to_string(), cluster.to_string());
    }

    pub fn forget_call_elsewhere(&self, call: &str) {
        let mut calls = self
            .calls_elsewhere
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        calls.remove(call);
    }

    /// Which cluster's gateway should bridge a local user's new call to `to`: `None` for
    /// this one. A SIP number needs a trunk (another cluster's when this one has none); a
    /// local account's phone is called from the cluster it registered at.
    pub async fn gateway_for_new_call(&self, to: &jid::Jid, is_sip_number: bool) -> Option<String> {
        if is_sip_number {
            if self.has_trunk {
                return None;
            }
            return self.directory.trunk_cluster().await.ok().flatten();
        }
        let user = to.node()?;
        let aor = format!("sip:{user}@{}", self.sip_domain);
        let clusters = self.directory.registration_clusters(&aor).await.ok()?;
        if clusters.contains(&self.name) {
            return None;
        }
        clusters.into_iter().next()
    }

    /// Records where a local account's phone registered (see
    /// [`Directory::put_registrations`]); in the background, in order, as REGISTER does
    /// not wait. A write lost while Redis is down is made again by the phone's next
    /// REGISTER.
    pub fn registered(&self, aor: String, contacts: Vec<(String, u64)>, removed: Vec<String>) {
        if let Some(queue) = self.registrations.get() {
            let _ = queue.send((aor, contacts, removed));
        }
    }

    /// Notes that the local session `from` sent something to `cluster`'s gateway.
    pub fn talked_to_gateway(&self, from: &str, cluster: &str) {
        let mut all = self.gateway_peers.lock().unwrap_or_else(|p| p.into_inner());
        let peers = all.entry(from.to_string()).or_default();
        if !peers.iter().any(|p| p == cluster) {
            peers.push(cluster.to_string());
        }
    }

    /// The gateways of other clusters the ending session `from` talked to.
    pub fn gateways_talked_to(&self, from: &str) -> Vec<String> {
        let mut all = self.gateway_peers.lock().unwrap_or_else(|p| p.into_inner());
        all.remove(from).unwrap_or_default()
    }

    /// Queues `stanza` for `to`, which is not bound here: forwarded in order after a
    /// lookup. False before [`Cluster::run`].
    pub fn send_later(&self, to: jid::FullJid, stanza: Element) -> bool {
        self.later
            .get()
            .is_some_and(|later| later.send((to, stanza)).is_ok())
    }

    /// Binds the link listener and starts the background work: registering this cluster's
    /// address, following moves, keeping local entries in Redis (`updates`).
    pub async fn run(
        self: &Arc<Self>,
        shared: Arc<Shared>,
        updates: routes::UpdateReceiver,
        tracker: &tokio_util::task::TaskTracker,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<std::net::SocketAddr> {
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .with_context(|| format!("binding cluster link listener {}", self.listen))?;
        let local = listener.local_addr()?;
        // An advertised port of 0 (tests) means "the port we got".
        let advertise = match self.advertise.strip_suffix(":0") {
            Some(host) => format!("{host}:{}", local.port()),
            None => self.advertise.clone(),
        };
        tracing::info!(cluster = %self.name, addr = %local, %advertise, "cluster links listening");
        // Links and the move subscription end with the runtime; only the directory writer
        // is waited for at shutdown, so sessions' last removals reach Redis.
        tokio::spawn(listener::accept_loop(
            listener,
            self.server_tls.clone(),
            shared.clone(),
            self.received.clone(),
        ));
        let me = self.clone();
        tokio::spawn(async move { me.directory.follow_moves().await });
        let (reroute, mut rerouted) = tokio::sync::mpsc::unbounded_channel();
        self.links.set_reroute(reroute);
        let (me, for_reroute) = (self.clone(), shared.clone());
        tokio::spawn(async move {
            while let Some(envelope) = rerouted.recv().await {
                // Fan-outs to a gone cluster's sessions (presence, roster pushes, a call it
                // bridged) have nobody left to reach, nor do evictions; what was addressed
                // goes on.
                let addressed = matches!(
                    &envelope.payload,
                    Payload::Stanza {
                        target: Target::Resources(_) | Target::Copies(_),
                        ..
                    }
                );
                if !addressed {
                    me.give_up("cluster-gone");
                    continue;
                }
                me.handle(&for_reroute, envelope).await;
            }
        });
        let (registrations, mut changes) = tokio::sync::mpsc::unbounded_channel();
        let _ = self.registrations.set(registrations);
        let directory = self.directory.clone();
        tokio::spawn(async move {
            while let Some((aor, contacts, removed)) = changes.recv().await {
                if let Err(e) = directory.put_registrations(&aor, &contacts, &removed).await {
                    tracing::warn!(%aor, error = %e, "could not record the registration in Redis");
                }
            }
        });
        let (later, mut queued) = tokio::sync::mpsc::unbounded_channel();
        let _ = self.later.set(later);
        let for_later = shared.clone();
        tokio::spawn(async move {
            while let Some((to, stanza)) = queued.recv().await {
                let reach = crate::im::delivery::to_full_anywhere(&for_later, &to, stanza).await;
                if !matches!(
                    reach,
                    crate::im::delivery::Reach::Local | crate::im::delivery::Reach::Remote
                ) {
                    tracing::info!(%to, ?reach, "stanza for a resource in no cluster dropped");
                }
            }
        });
        let me = self.clone();
        let (evictions, mut to_evict) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        let evicting = self.clone();
        tokio::spawn(async move {
            while let Some((cluster, jid)) = to_evict.recv().await {
                let origin = evicting.name.clone();
                if evicting
                    .links
                    .send(&cluster, &origin, 1, Payload::Evict { jid })
                    .is_err()
                {
                    evicting.give_up("link-full");
                }
            }
        });
        tracker.spawn(async move {
            let writer = routes::Writer {
                directory: me.directory.clone(),
                advertise,
                has_trunk: me.has_trunk,
                evictions,
            };
            routes::keep_directory(writer, updates, shutdown).await
        });
        Ok(local)
    }

    /// The resources of `bare` in other clusters. Empty inside a local-only scope.
    pub async fn remote(&self, bare: &BareJid) -> Result<Vec<Location>, DirectoryError> {
        if scope().local_only {
            return Ok(Vec::new());
        }
        let mut all = self.directory.locate(bare.as_str()).await?;
        all.retain(|l| l.cluster != self.name);
        Ok(all)
    }

    /// Sends `stanza` to `cluster`. False (logged and counted) past the hop limit or when
    /// the link's buffer is full; the caller then treats the recipient as unreachable.
    pub fn forward(&self, cluster: &str, stanza: &Element, target: Target) -> bool {
        let here = scope();
        let Some(hops) = next_hop(here.hops, self.max_hops) else {
            tracing::warn!(to = ?stanza.attr("to"), peer = %cluster, hops = here.hops, "stanza over the cluster hop limit dropped");
            self.give_up("max-hops");
            return false;
        };
        let origin = here.origin.as_deref().unwrap_or(&self.name).to_string();
        let payload = Payload::Stanza {
            xml: stanza.to_xml_in(CLIENT_NS),
            target,
        };
        match self.links.send(cluster, &origin, hops, payload) {
            Ok(()) => {
                self.metrics.cluster_forwarded.inc();
                true
            }
            Err(e) => {
                tracing::warn!(to = ?stanza.attr("to"), error = %e, "stanza not forwarded");
                self.give_up("link-full");
                false
            }
        }
    }

    pub fn give_up(&self, reason: &str) {
        self.metrics
            .cluster_give_ups
            .get_or_create(&CallMetrics::reason(reason))
            .inc();
    }

    /// An envelope from another cluster, handled in order by its link.
    pub async fn receive(&self, shared: &Shared, envelope: Envelope) {
        self.metrics.cluster_received.inc();
        self.handle(shared, envelope).await
    }

    /// Whether the link to `peer` is failing now: its users may have moved on.
    pub fn is_down(&self, peer: &str) -> bool {
        self.links.is_down(peer)
    }

    /// An envelope as the receiving cluster handles it: from a link, or one that waited
    /// for a cluster that is gone and is routed again here.
    async fn handle(&self, shared: &Shared, envelope: Envelope) {
        let (xml, target) = match envelope.payload {
            Payload::Stanza { xml, target } => (xml, target),
            Payload::Evict { jid } => {
                if let Some(route) = jid::FullJid::new(&jid)
                    .ok()
                    .and_then(|j| shared.routes.get(&j))
                {
                    tracing::info!(%jid, peer = %envelope.origin, "resource bound again in another cluster; closing it here");
                    route
                        .handle
                        .evict(tandem_xmpp::stream::StreamErrorCondition::Conflict);
                }
                return;
            }
        };
        let stanza = match tandem_xmpp::stream::parse_stanza(&xml) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(origin = %envelope.origin, error = %e, "unreadable stanza from another cluster dropped");
                self.give_up("malformed");
                return;
            }
        };
        let scope = Scope {
            hops: envelope.hops,
            local_only: matches!(target, Target::LocalOnly),
            origin: Some(envelope.origin.into()),
        };
        SCOPE
            .scope(scope, crate::im::from_cluster(shared, stanza, target))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_resource_names_its_owner() {
        assert_eq!(call_owner("eu-1~a8f3"), Some("eu-1"));
        assert_eq!(
            call_owner("a8f3"),
            None,
            "calls of a lone cluster carry no owner"
        );
        assert_eq!(call_owner("~a8f3"), None);
    }

    #[test]
    fn stanzas_stop_at_the_hop_limit() {
        assert_eq!(next_hop(0, 4), Some(1));
        assert_eq!(next_hop(3, 4), Some(4));
        assert_eq!(next_hop(4, 4), None);
        assert_eq!(next_hop(u8::MAX, 16), None);
    }

    #[tokio::test]
    async fn a_forwarded_stanza_carries_its_hops_into_what_it_causes() {
        assert_eq!(scope().hops, 0, "local clients' stanzas start at 0");
        let inner = Scope {
            hops: 3,
            local_only: true,
            origin: Some("eu-1".into()),
        };
        let seen = SCOPE.scope(inner, async { scope() }).await;
        assert_eq!(
            (seen.hops, seen.local_only, seen.origin.as_deref()),
            (3, true, Some("eu-1"))
        );
        assert_eq!(
            next_hop(seen.hops, 3),
            None,
            "a fourth crossing is refused at max_hops 3"
        );
    }
}
