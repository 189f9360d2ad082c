//! Detecting silent peers (RFC 6120 §4.6): a deadline to authenticate, then XEP-0199 pings
//! after a quiet period. A phone that lost its network leaves a half-open TCP connection that
//! would otherwise look available forever and swallow messages meant for offline storage.

use std::time::{Duration, Instant};

use super::{Phase, Session};
use crate::element::Element;
use crate::stream::writer::CLIENT_NS;
use crate::stream::StreamErrorCondition;

pub const PING_NS: &str = "urn:xmpp:ping";
/// Ids of our own pings; their answers are consumed here, never routed.
const PING_ID_PREFIX: &str = "tandem-ping-";

/// The liveness timeouts.
#[derive(Debug, Clone, Copy)]
pub struct LivenessConfig {
    /// Time allowed from connect to a bound resource.
    pub auth_timeout: Duration,
    /// Quiet time after which the client is pinged.
    pub ping_after: Duration,
    /// Time the client has to answer a ping (any byte counts).
    pub ping_timeout: Duration,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        LivenessConfig {
            auth_timeout: Duration::from_secs(60),
            ping_after: Duration::from_secs(300),
            ping_timeout: Duration::from_secs(60),
        }
    }
}

pub(super) struct Liveness {
    started: Instant,
    last_heard: Instant,
    ping_sent: Option<Instant>,
    pings: u32,
}

impl Liveness {
    pub(super) fn new(now: Instant) -> Self {
        Liveness {
            started: now,
            last_heard: now,
            ping_sent: None,
            pings: 0,
        }
    }

    pub(super) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.ping_sent = None;
    }
}

impl Session {
    /// When [`Session::handle_timeout`] must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let config = self.config.liveness;
        match self.phase {
            Phase::Closed => None,
            Phase::Established => Some(match self.liveness.ping_sent {
                Some(sent) => sent + config.ping_timeout,
                None => self.liveness.last_heard + config.ping_after,
            }),
            _ => Some(self.liveness.started + config.auth_timeout),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let config = self.config.liveness;
        match self.phase {
            Phase::Closed => {}
            Phase::Established => match self.liveness.ping_sent {
                Some(sent) if now >= sent + config.ping_timeout => self.close_with_error(
                    StreamErrorCondition::ConnectionTimeout,
                    Some("no answer to ping"),
                ),
                None if now >= self.liveness.last_heard + config.ping_after => self.send_ping(now),
                _ => {}
            },
            _ if now >= self.liveness.started + config.auth_timeout => self.close_with_error(
                StreamErrorCondition::ConnectionTimeout,
                Some("too slow to authenticate"),
            ),
            _ => {}
        }
    }

    fn send_ping(&mut self, now: Instant) {
        let Some(jid) = self.bound.as_ref() else {
            return;
        };
        self.liveness.pings += 1;
        let ping = Element::new("iq", CLIENT_NS)
            .with_attr("type", "get")
            .with_attr("id", format!("{PING_ID_PREFIX}{}", self.liveness.pings))
            .with_attr("from", self.config.domain.clone())
            .with_attr("to", jid.to_string())
            .with_child(Element::new("ping", PING_NS));
        self.write_element(&ping, CLIENT_NS);
        self.liveness.ping_sent = Some(now);
    }

    /// True for the client's answer to one of our pings, which goes nowhere.
    pub(super) fn is_ping_answer(&self, iq: &Element) -> bool {
        matches!(iq.attr("type"), Some("result") | Some("error"))
            && iq
                .attr("id")
                .is_some_and(|id| id.starts_with(PING_ID_PREFIX))
            && iq
                .attr("to")
                .is_none_or(|to| to.eq_ignore_ascii_case(&self.config.domain))
    }
}
