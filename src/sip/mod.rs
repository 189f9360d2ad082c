//! The SIP side of `tandem serve`: transports, and the endpoint (UAS + registrar) behind them.

mod core;
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

/// Starts the SIP listeners and the endpoint task.
pub async fn start(
    config: &Config,
    storage: Storage,
    tls: Arc<rustls::ServerConfig>,
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
    let endpoint = core::Endpoint::new(
        config.sip_domain().to_owned(),
        storage,
        transports,
        config.sip.trusted_peers.clone(),
        config.sip.trusted_certs.clone(),
        config.sip.digest_algorithms.clone(),
        Default::default(),
    );
    tracker.spawn(endpoint.run(inbound_rx, shutdown));
    Ok(())
}
