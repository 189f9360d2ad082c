//! Where is this JID connected? The [`RouteTable`] boundary.
//!
//! The router asks a route table for the sessions of a bare or full JID and for their presence.
//! The embedded default, [`LocalRouteTable`], keeps it in memory for a single node; a global
//! table (Redis, several clusters) implements the same trait later without touching the router.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jid::{BareJid, FullJid};

use crate::element::Element;

/// One bound resource as the router sees it.
#[derive(Debug, Clone)]
pub struct ResourceRoute<H> {
    pub jid: FullJid,
    /// How to reach the session (a channel sender in the binary; a cluster link later).
    pub handle: H,
    /// Priority of the last available presence, `None` while unavailable (RFC 6121 §4.7.2.3).
    pub priority: Option<i8>,
    /// The last available presence broadcast by this resource, answered to probes.
    pub last_presence: Option<Arc<Element>>,
    /// Whether the resource requested the roster, and so gets roster pushes (RFC 6121 §2.1.6).
    pub interested: bool,
}

impl<H> ResourceRoute<H> {
    pub fn is_available(&self) -> bool {
        self.priority.is_some()
    }
}

/// The lookup and update operations the router needs. Implementations must be cheap to call
/// from many tasks at once.
pub trait RouteTable<H: Clone>: Send + Sync {
    /// Binds a resource. Returns the session it replaced, which the caller must evict (the
    /// "newest wins" conflict policy, RFC 6120 §7.7.2.2).
    fn bind(&self, jid: FullJid, handle: H) -> Option<H>;
    /// Unbinds `jid` if it is still bound to the session `is_mine` recognises (a replaced
    /// session must not unbind its successor).
    fn unbind(&self, jid: &FullJid, is_mine: &dyn Fn(&H) -> bool) -> bool;
    fn get(&self, jid: &FullJid) -> Option<ResourceRoute<H>>;
    /// Every bound resource of a bare JID.
    fn resources(&self, bare: &BareJid) -> Vec<ResourceRoute<H>>;
    /// Records presence: `Some((priority, stanza))` for available, `None` for unavailable.
    /// Only for the session `is_mine` recognises: a session being replaced must not change
    /// its successor's state.
    fn set_presence(
        &self,
        jid: &FullJid,
        is_mine: &dyn Fn(&H) -> bool,
        presence: Option<(i8, Arc<Element>)>,
    );
    fn set_interested(&self, jid: &FullJid, is_mine: &dyn Fn(&H) -> bool);
    /// Number of bound resources (for metrics).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The in-memory route table of a single node.
pub struct LocalRouteTable<H> {
    by_bare: RwLock<HashMap<BareJid, Vec<ResourceRoute<H>>>>,
}

impl<H> Default for LocalRouteTable<H> {
    fn default() -> Self {
        LocalRouteTable {
            by_bare: RwLock::new(HashMap::new()),
        }
    }
}

impl<H: Clone + Send + Sync> LocalRouteTable<H> {
    fn with_entry<R>(
        &self,
        jid: &FullJid,
        is_mine: &dyn Fn(&H) -> bool,
        f: impl FnOnce(&mut ResourceRoute<H>) -> R,
    ) -> Option<R> {
        let mut map = self.by_bare.write().unwrap_or_else(|p| p.into_inner());
        let entry = map
            .get_mut(&jid.to_bare())?
            .iter_mut()
            .find(|r| &r.jid == jid && is_mine(&r.handle))?;
        Some(f(entry))
    }
}

impl<H: Clone + Send + Sync> RouteTable<H> for LocalRouteTable<H> {
    fn bind(&self, jid: FullJid, handle: H) -> Option<H> {
        let mut map = self.by_bare.write().unwrap_or_else(|p| p.into_inner());
        let resources = map.entry(jid.to_bare()).or_default();
        let fresh = ResourceRoute {
            jid: jid.clone(),
            handle,
            priority: None,
            last_presence: None,
            interested: false,
        };
        match resources.iter_mut().find(|r| r.jid == jid) {
            Some(existing) => Some(std::mem::replace(existing, fresh).handle),
            None => {
                resources.push(fresh);
                None
            }
        }
    }

    fn unbind(&self, jid: &FullJid, is_mine: &dyn Fn(&H) -> bool) -> bool {
        let mut map = self.by_bare.write().unwrap_or_else(|p| p.into_inner());
        let bare = jid.to_bare();
        let Some(resources) = map.get_mut(&bare) else {
            return false;
        };
        let before = resources.len();
        resources.retain(|r| !(&r.jid == jid && is_mine(&r.handle)));
        let removed = resources.len() != before;
        if resources.is_empty() {
            map.remove(&bare);
        }
        removed
    }

    fn get(&self, jid: &FullJid) -> Option<ResourceRoute<H>> {
        let map = self.by_bare.read().unwrap_or_else(|p| p.into_inner());
        map.get(&jid.to_bare())?
            .iter()
            .find(|r| &r.jid == jid)
            .cloned()
    }

    fn resources(&self, bare: &BareJid) -> Vec<ResourceRoute<H>> {
        let map = self.by_bare.read().unwrap_or_else(|p| p.into_inner());
        map.get(bare).cloned().unwrap_or_default()
    }

    fn set_presence(
        &self,
        jid: &FullJid,
        is_mine: &dyn Fn(&H) -> bool,
        presence: Option<(i8, Arc<Element>)>,
    ) {
        self.with_entry(jid, is_mine, |entry| match presence {
            Some((priority, stanza)) => {
                entry.priority = Some(priority);
                entry.last_presence = Some(stanza);
            }
            None => {
                entry.priority = None;
                entry.last_presence = None;
            }
        });
    }

    fn set_interested(&self, jid: &FullJid, is_mine: &dyn Fn(&H) -> bool) {
        self.with_entry(jid, is_mine, |entry| entry.interested = true);
    }

    fn len(&self) -> usize {
        let map = self.by_bare.read().unwrap_or_else(|p| p.into_inner());
        map.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> FullJid {
        FullJid::new(s).unwrap()
    }

    #[test]
    fn newest_bind_wins_and_old_session_cannot_unbind_it() {
        let table = LocalRouteTable::<u32>::default();
        assert_eq!(table.bind(full("a@x/r"), 1), None);
        assert_eq!(table.bind(full("a@x/r"), 2), Some(1));
        assert!(!table.unbind(&full("a@x/r"), &|h| *h == 1));
        assert_eq!(table.get(&full("a@x/r")).unwrap().handle, 2);
        assert!(table.unbind(&full("a@x/r"), &|h| *h == 2));
        assert!(table.is_empty());
    }

    #[test]
    fn presence_and_resources() {
        let table = LocalRouteTable::<u32>::default();
        table.bind(full("a@x/1"), 1);
        table.bind(full("a@x/2"), 2);
        let presence = Arc::new(Element::new("presence", "jabber:client"));
        // Another session's handle cannot change this entry.
        table.set_presence(&full("a@x/2"), &|h| *h == 1, Some((5, presence.clone())));
        assert!(!table.get(&full("a@x/2")).unwrap().is_available());
        table.set_presence(&full("a@x/2"), &|h| *h == 2, Some((5, presence)));
        let resources = table.resources(&BareJid::new("a@x").unwrap());
        assert_eq!(resources.len(), 2);
        assert_eq!(resources.iter().filter(|r| r.is_available()).count(), 1);
        table.set_presence(&full("a@x/2"), &|h| *h == 2, None);
        assert!(table
            .resources(&BareJid::new("a@x").unwrap())
            .iter()
            .all(|r| !r.is_available()));
    }
}
