//! The SIP endpoint and its call bridge without sockets or a real clock, for `tandem
//! replay`: the caller hands it messages and stanzas at virtual times and reads back what
//! it sent. Everything else (transactions, dialogs, the bridge, storage) is the code that
//! `tandem serve` runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::core::Endpoint;
use super::transport::{Destination, Flow, Inbound, Transports};
use crate::config::Config;
use crate::server::Shared;
use crate::storage::Storage;

pub struct OfflineEndpoint {
    endpoint: Endpoint,
    transports: Arc<Transports>,
}

impl OfflineEndpoint {
    /// An endpoint at `local` (tandem's address in the trace), with the bridge when the
    /// config has a gateway domain.
    pub fn new(
        config: &Config,
        storage: Storage,
        shared: Arc<Shared>,
        local: SocketAddr,
    ) -> OfflineEndpoint {
        let transports = Transports::capturing(local);
        let mut endpoint = Endpoint::new(
            config.sip_domain().to_owned(),
            storage,
            transports.clone(),
            config.sip.trusted_peers.clone(),
            config.sip.trusted_certs.clone(),
            config.sip.digest_algorithms.clone(),
            Default::default(),
        );
        if let Some(sip_domain) = &config.gateway.sip_domain {
            endpoint = endpoint.with_bridge(super::bridge::Bridge::new(
                config,
                sip_domain.clone(),
                shared,
            ));
        }
        OfflineEndpoint {
            endpoint,
            transports,
        }
    }

    /// Moves the virtual clock to `at` / `wall` and fires whatever timers are due.
    pub async fn advance(&mut self, at: Instant, wall: SystemTime) {
        super::clock::set_virtual(at, wall);
        self.endpoint.fire_timers(at);
        self.endpoint.flush().await;
    }

    /// The earliest timer of the transaction layer or of a call.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.endpoint.next_deadline()
    }

    /// A SIP message from `source` (UDP, or one connection per source over TCP).
    pub async fn receive(&mut self, bytes: Vec<u8>, source: SocketAddr, tcp: bool) {
        let flow = if tcp {
            Flow::Stream {
                id: stream_id(source),
                transport: crate::config::SipTransport::Tcp,
            }
        } else {
            Flow::Udp(0)
        };
        self.endpoint
            .receive(Inbound {
                bytes,
                source,
                flow,
            })
            .await;
    }

    /// A stanza an XMPP user sent to the gateway domain (`from` already stamped).
    pub async fn stanza(&mut self, stanza: tandem_xmpp::Element) {
        self.endpoint.receive_stanza(stanza).await;
    }

    /// Requests from this peer need no digest (a trunk, as far as the replay knows).
    pub fn trust(&mut self, peer: crate::config::TrustedPeer) {
        self.endpoint.trusted_peers.push(peer);
    }

    /// What the endpoint sent since the last call, in order.
    pub fn take_sent(&self) -> Vec<(Destination, Vec<u8>)> {
        self.transports.take_sent()
    }
}

/// A stable connection id per TCP peer of a trace.
fn stream_id(source: SocketAddr) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    source.hash(&mut h);
    h.finish()
}
