//! The timer values of RFC 3261 §17 and Table 4.

use std::time::Duration;

/// T1, T2, T4 (configurable per §17: "T1 ... MAY be chosen larger"); every other timer
/// derives from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// Timers B, F, H, J (and RFC 6026's L and M): 64*T1.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D: at least 32 s on unreliable transports, zero on reliable ones.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            Duration::from_secs(32).max(self.t1 * 64)
        }
    }

    /// Timers I and K: T4 on unreliable transports, zero on reliable ones.
    pub fn wait_for_stragglers(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// The next retransmission interval: doubled, capped at T2 where the RFC caps it.
    pub fn backoff(&self, current: Duration, capped: bool) -> Duration {
        let next = current * 2;
        if capped {
            next.min(self.t2)
        } else {
            next
        }
    }
}
