//! The log file a real peer (baresip, kamailio) writes, read while the test runs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct PeerLog {
    pub path: PathBuf,
    /// The peer's name, for failure messages.
    pub peer: &'static str,
}

impl PeerLog {
    /// Everything the peer wrote so far (lossy: baresip 1.0 prints some bytes that are not
    /// UTF-8).
    pub fn read(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.path).unwrap_or_default()).into_owned()
    }

    /// Waits until the log contains `needle`; panics with the log after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.read();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "{} never logged {needle:?}; log:\n{log}",
                self.peer
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
