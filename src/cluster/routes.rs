//! The route table of a clustered node: the in-memory table for local sessions, whose every
//! change is also queued for the Redis directory. Lookups stay local and synchronous; the
//! directory is written behind, in order, by [`keep_directory`].

use std::collections::HashMap;
use std::sync::Arc;

use jid::{BareJid, FullJid};
use tandem_xmpp::router::{LocalRouteTable, ResourceRoute, RouteTable};
use tandem_xmpp::Element;
use tokio::sync::mpsc;

use super::directory::{Directory, Location};
use crate::server::SessionHandle;

#[derive(Debug)]
pub enum Update {
    /// Just bound: a session of another cluster at the same full JID must go.
    Bind(FullJid),
    /// Its presence or roster interest changed: `Some(priority)` while available.
    Put(FullJid, Option<i8>, bool),
    Remove(FullJid),
}

pub type UpdateReceiver = mpsc::UnboundedReceiver<Update>;

pub struct GlobalRouteTable {
    local: LocalRouteTable<SessionHandle>,
    updates: mpsc::UnboundedSender<Update>,
}

impl GlobalRouteTable {
    pub fn new() -> (GlobalRouteTable, UpdateReceiver) {
        let (updates, rx) = mpsc::unbounded_channel();
        (
            GlobalRouteTable {
                local: LocalRouteTable::default(),
                updates,
            },
            rx,
        )
    }

    fn queue(&self, update: Update) {
        // The receiver lives as long as the server; after shutdown nothing needs writing.
        let _ = self.updates.send(update);
    }
}

impl RouteTable<SessionHandle> for GlobalRouteTable {
    fn bind(&self, jid: FullJid, handle: SessionHandle) -> Option<SessionHandle> {
        let replaced = self.local.bind(jid.clone(), handle);
        self.queue(Update::Bind(jid));
        replaced
    }

    fn unbind(&self, jid: &FullJid, is_mine: &dyn Fn(&SessionHandle) -> bool) -> bool {
        let removed = self.local.unbind(jid, is_mine);
        if removed {
            self.queue(Update::Remove(jid.clone()));
        }
        removed
    }

    fn get(&self, jid: &FullJid) -> Option<ResourceRoute<SessionHandle>> {
        self.local.get(jid)
    }

    fn resources(&self, bare: &BareJid) -> Vec<ResourceRoute<SessionHandle>> {
        self.local.resources(bare)
    }

    fn set_presence(
        &self,
        jid: &FullJid,
        is_mine: &dyn Fn(&SessionHandle) -> bool,
        presence: Option<(i8, Arc<Element>)>,
    ) {
        let priority = presence.as_ref().map(|(p, _)| *p);
        self.local.set_presence(jid, is_mine, presence);
        if let Some(route) = self.local.get(jid).filter(|r| is_mine(&r.handle)) {
            self.queue(Update::Put(jid.clone(), priority, route.interested));
        }
    }

    fn set_interested(&self, jid: &FullJid, is_mine: &dyn Fn(&SessionHandle) -> bool) {
        self.local.set_interested(jid, is_mine);
        if let Some(route) = self.local.get(jid).filter(|r| is_mine(&r.handle)) {
            self.queue(Update::Put(jid.clone(), route.priority, true));
        }
    }

    fn len(&self) -> usize {
        self.local.len()
    }
}

/// What [`keep_directory`] writes with, and where it reports resources to evict elsewhere.
pub struct Writer {
    pub directory: Arc<Directory>,
    /// This cluster's link address, registered with every refresh.
    pub advertise: String,
    pub has_trunk: bool,
    /// (cluster, full JID): a session there to close, as the JID was bound here.
    pub evictions: mpsc::UnboundedSender<(String, String)>,
}

/// Writes local changes to Redis as they come (batched while Redis is busy) and rewrites
/// every local entry each third of the TTL, which also rebuilds the table after Redis was
/// lost. Registers this cluster's link address on every rewrite.
pub async fn keep_directory(
    writer: Writer,
    mut updates: UpdateReceiver,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let Writer {
        directory,
        advertise,
        has_trunk,
        evictions,
    } = writer;
    // After shutdown starts, sessions close and unbind for a moment more.
    let mut stop_at: Option<tokio::time::Instant> = None;
    let mut mine: HashMap<FullJid, (Option<i8>, bool)> = HashMap::new();
    let node = super::directory::this_node();
    let refresh_every = directory.ttl() / 3;
    let mut refresh = tokio::time::interval(refresh_every);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // After a failed write, the next refresh announces everything (others' caches missed it).
    let mut dirty = true;
    loop {
        let stopping = async {
            match stop_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.changed(), if stop_at.is_none() => {
                stop_at = Some(tokio::time::Instant::now() + std::time::Duration::from_secs(1));
            }
            _ = stopping => {
                // The others stop sending here at once instead of when the entry lapses.
                if let Err(e) = directory.unregister().await {
                    tracing::warn!(error = %e, "could not unregister the cluster from Redis");
                }
                return;
            }
            update = updates.recv() => {
                let Some(first) = update else { return };
                let mut batch = vec![first];
                while let Ok(more) = updates.try_recv() {
                    batch.push(more);
                }
                let mut puts = Vec::new();
                for update in batch {
                    let (jid, state) = match update {
                        Update::Bind(jid) => {
                            // Newest wins across clusters (RFC 6120 §7.7.2.2).
                            if let Ok(Some(owner)) = directory
                                .owner(jid.to_bare().as_str(), jid.resource().as_str())
                                .await
                            {
                                if owner != directory.cluster() {
                                    let _ = evictions.send((owner, jid.to_string()));
                                }
                            }
                            (jid, (None, false))
                        }
                        Update::Put(jid, priority, interested) => (jid, (priority, interested)),
                        Update::Remove(jid) => {
                            mine.remove(&jid);
                            puts.retain(|(bare, l): &(String, Location)| !(bare == jid.to_bare().as_str() && l.resource == jid.resource().as_str()));
                            if let Err(e) = directory.remove(jid.to_bare().as_str(), jid.resource().as_str()).await {
                                // Its entry expires with the TTL; until then lookups may point here,
                                // and this cluster routes such stanzas on as for a moved user.
                                tracing::warn!(%jid, error = %e, "could not remove a location from Redis");
                                dirty = true;
                            }
                            continue;
                        }
                    };
                    puts.push(entry(&directory, &node, &jid, state));
                    mine.insert(jid, state);
                }
                if let Err(e) = directory.put(&puts, true).await {
                    tracing::warn!(error = %e, "could not write locations to Redis; retrying at the next refresh");
                    dirty = true;
                }
            }
            _ = refresh.tick() => {
                let all: Vec<_> = mine.iter().map(|(jid, state)| entry(&directory, &node, jid, *state)).collect();
                let mut registered = directory.register(&advertise).await;
                if has_trunk && registered.is_ok() {
                    registered = directory.register_trunk().await;
                }
                if registered.is_ok() {
                    registered = directory.refresh_registry().await;
                }
                match registered.and(directory.put(&all, dirty).await) {
                    Ok(()) => {
                        if dirty {
                            tracing::info!(entries = all.len(), "cluster locations written to Redis");
                        }
                        dirty = false;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Redis unavailable; local routing goes on, remote lookups fail");
                        dirty = true;
                    }
                }
            }
        }
    }
}

fn entry(
    directory: &Directory,
    node: &str,
    jid: &FullJid,
    (priority, interested): (Option<i8>, bool),
) -> (String, Location) {
    (
        jid.to_bare().to_string(),
        Location {
            resource: jid.resource().to_string(),
            cluster: directory.cluster().to_string(),
            node: node.to_string(),
            priority,
            interested,
        },
    )
}
