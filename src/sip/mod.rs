//! The SIP side of `tandem serve`: transports, and the endpoint (UAS + registrar) behind them.

mod bridge;
mod cdr;
pub mod clock;
mod core;
pub mod offline;
mod peer_cert;
mod register;
mod reply;
pub mod transport;

use std::sync::Arc;

use anyhow::Result;
use tokio::sync::{mpsc, watch};
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::storage::Storage;

/// Starts the SIP listeners and the endpoint task. `stanzas` carries what XMPP users send
/// to the gateway domain (see [`crate::server::GatewayLink`]).
pub async fn start(
    config: &Config,
    storage: Storage,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<crate::server::Shared>,
    stanzas: mpsc::Receiver<tandem_xmpp::Element>,
    shutdown: watch::Receiver<bool>,
    tracker: &TaskTracker,
) -> Result<()> {
    if config.sip.listen.is_empty() {
        return Ok(());
    }
    let (inbound_tx, inbound_rx) = mpsc::channel(4096);
    let transports = transport::Transports::start(
        &config.sip.listen,
        Some(tls),
        inbound_tx,
        shutdown.clone(),
        tracker,
    )
    .await?;
    let mut endpoint = core::Endpoint::new(
        config.sip_domain().to_owned(),
        storage,
        transports,
        config.sip.trusted_peers.clone(),
        config.sip.trusted_certs.clone(),
        config.sip.digest_algorithms.clone(),
        Default::default(),
    );
    endpoint.cluster = shared.cluster.clone();
    if let Some(sip_domain) = &config.gateway.sip_domain {
        endpoint = endpoint.with_bridge(bridge::Bridge::new(config, sip_domain.clone(), shared));
    }
    tracker.spawn(endpoint.run(inbound_rx, stanzas, shutdown));
    Ok(())
}
