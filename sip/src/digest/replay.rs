//! Bounded replay table: the highest `nc` seen per nonce.
//!
//! Only nonces that passed authentication are recorded, so filling the table takes valid
//! credentials. Entries whose nonce expired are dropped first; when the table is still
//! over capacity the entry with the oldest issue time is evicted and the issue time is
//! remembered as a watermark: an unrecorded nonce issued at or before it is `Forgotten`
//! (the caller answers stale), so an evicted nonce can never be replayed.

use std::collections::{BTreeSet, HashMap};

use super::nonce::Nonce;

/// A no-qop use consumes the nonce: no count can follow it.
const CONSUMED: u64 = u64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// First use of this count: accept.
    Fresh,
    /// Count not above the last one (or a one-shot nonce reused): refuse.
    Replayed,
    /// We may have forgotten this nonce: ask for a new one.
    Forgotten,
}

/// The `NonceCounts` table; memory is `O(capacity)` whatever the input.
#[derive(Debug)]
pub(crate) struct NonceCounts {
    capacity: usize,
    last: HashMap<[u8; 16], u64>,
    by_issue: BTreeSet<(u64, [u8; 16])>,
    watermark: Option<u64>,
}

impl NonceCounts {
    pub fn new(capacity: usize) -> Self {
        NonceCounts {
            capacity: capacity.max(1),
            last: HashMap::new(),
            by_issue: BTreeSet::new(),
            watermark: None,
        }
    }

    /// Records a use of `nonce` with count `nc` (`None` when the request had no qop,
    /// which may happen once per nonce). Nonces issued before `expired_before` are
    /// dropped first: they are refused as stale before getting here.
    pub fn record(&mut self, nonce: Nonce, nc: Option<u32>, expired_before: u64) -> Outcome {
        self.drop_expired(expired_before);
        let wanted = nc.map_or(CONSUMED, u64::from);
        if let Some(last) = self.last.get_mut(&nonce.id) {
            if nc.is_none() || wanted <= *last {
                return Outcome::Replayed;
            }
            *last = wanted;
            return Outcome::Fresh;
        }
        if self.watermark.is_some_and(|w| nonce.issued <= w) {
            return Outcome::Forgotten;
        }
        if wanted == 0 {
            // Counts start at 1 (RFC 7616 §3.4).
            return Outcome::Replayed;
        }
        self.last.insert(nonce.id, wanted);
        self.by_issue.insert((nonce.issued, nonce.id));
        while self.last.len() > self.capacity {
            let Some((issued, id)) = self.by_issue.pop_first() else {
                break;
            };
            self.last.remove(&id);
            self.watermark = Some(self.watermark.map_or(issued, |w| w.max(issued)));
        }
        // Even if this very entry was just evicted (it was the oldest), this first use is
        // genuine; the watermark now covers any later use of it.
        Outcome::Fresh
    }

    fn drop_expired(&mut self, expired_before: u64) {
        while let Some(&(issued, id)) = self.by_issue.first() {
            if issued >= expired_before {
                break;
            }
            self.by_issue.pop_first();
            self.last.remove(&id);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        debug_assert_eq!(self.last.len(), self.by_issue.len());
        self.last.len()
    }
}
