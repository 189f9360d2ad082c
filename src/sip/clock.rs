//! The SIP side's clock. `tandem serve` reads the system clocks; `tandem replay` runs the
//! same endpoint on a virtual clock that follows a trace's timestamps, set per thread
//! (replays run on a current-thread runtime), so timers fire as they did in the capture.

use std::cell::Cell;
use std::time::{Instant, SystemTime};

thread_local! {
    static VIRTUAL: Cell<Option<(Instant, SystemTime)>> = const { Cell::new(None) };
}

/// Monotonic now: the virtual time when one is set on this thread.
pub fn now() -> Instant {
    VIRTUAL
        .with(|v| v.get())
        .map_or_else(Instant::now, |(at, _)| at)
}

/// Wall-clock now (registration expiry, digest nonces, CDR times), virtual likewise.
pub fn system_now() -> SystemTime {
    VIRTUAL
        .with(|v| v.get())
        .map_or_else(SystemTime::now, |(_, wall)| wall)
}

/// Sets this thread's virtual time (both clocks move together).
pub fn set_virtual(at: Instant, wall: SystemTime) {
    VIRTUAL.with(|v| v.set(Some((at, wall))));
}

/// Back to the system clocks.
#[allow(dead_code)]
pub fn clear_virtual() {
    VIRTUAL.with(|v| v.set(None));
}
