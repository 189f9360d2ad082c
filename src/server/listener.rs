//! Accepting c2s connections.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use super::connection::run_connection;
use super::Shared;

pub async fn accept_loop(
    listener: TcpListener,
    direct_tls: bool,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    tracker: TaskTracker,
) {
    loop {
        tokio::select! {
            (tcp, peer) = crate::net::accept(&listener) => {
                tracker.spawn(run_connection(shared.clone(), tcp, peer, direct_tls, shutdown.clone()));
            }
            _ = shutdown.changed() => return,
        }
    }
}
