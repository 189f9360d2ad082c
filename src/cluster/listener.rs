//! The receiving end of links: other clusters connect here with a client certificate that
//! names them, and their envelopes are delivered in order, each exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use tokio::io::AsyncWriteExt;

use super::envelope::{encode, Decoder, Frame};
use super::link::{dns_names, read_frame, write_frame};
use crate::server::Shared;

/// Per remote cluster: what was taken from it, behind a lock that handling an envelope
/// holds, so a reconnection cannot resume while the previous connection is still handling.
#[derive(Default)]
pub struct Received(Mutex<HashMap<String, Arc<tokio::sync::Mutex<PeerState>>>>);

#[derive(Default)]
struct PeerState {
    incarnation: u64,
    /// The last envelope id taken from this incarnation.
    taken: u64,
    /// Bumped by each new connection: an older connection stops handling.
    connection: u64,
}

impl Received {
    fn peer(&self, cluster: &str) -> Arc<tokio::sync::Mutex<PeerState>> {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.entry(cluster.to_string()).or_default().clone()
    }

    /// Starts a connection: where to resume, and the connection's number. A new
    /// incarnation of the sender starts again from 0.
    async fn resume(&self, cluster: &str, incarnation: u64) -> (u64, u64) {
        let peer = self.peer(cluster);
        let mut state = peer.lock().await;
        if state.incarnation != incarnation {
            state.incarnation = incarnation;
            state.taken = 0;
        }
        state.connection += 1;
        (state.taken, state.connection)
    }
}

/// How long a new connection has to finish TLS and say hello.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn accept_loop(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    received: Arc<Received>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cluster link accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, shared, received) = (acceptor.clone(), shared.clone(), received.clone());
        tokio::spawn(async move {
            if let Err(e) = serve(tcp, acceptor, shared, received).await {
                tracing::info!(%peer, error = %format!("{e:#}"), "inbound cluster link closed");
            }
        });
    }
}

async fn serve(
    tcp: tokio::net::TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
    received: Arc<Received>,
) -> Result<()> {
    tcp.set_nodelay(true)?;
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
        .await
        .context("TLS handshake timed out")?
        .context("TLS handshake")?;
    let names = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| dns_names(c))
        .unwrap_or_default();
    let (mut reader, mut writer) = tokio::io::split(tls);
    let mut decoder = Decoder::default();
    let hello = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_frame(&mut reader, &mut decoder))
        .await
        .context("no hello in time")??;
    let (peer, incarnation) = match hello {
        Frame::Hello {
            cluster,
            incarnation,
        } => (cluster, incarnation),
        other => bail!("expected hello, got {other:?}"),
    };
    // The certificate chains to our CA (rustls checked); it must also name the cluster.
    if !names.iter().any(|n| n.eq_ignore_ascii_case(&peer)) {
        bail!("certificate names {names:?}, not the cluster {peer} it claims to be");
    }
    let cluster = shared.cluster.as_ref().context("cluster is off")?.clone();
    let (mut last, connection) = received.resume(&peer, incarnation).await;
    let state = received.peer(&peer);
    write_frame(
        &mut writer,
        &Frame::Welcome {
            cluster: cluster.name().to_string(),
            received: last,
        },
    )
    .await?;
    tracing::info!(%peer, resumed_after = last, "inbound cluster link up");
    let mut acks = Vec::new();
    loop {
        let frame = read_frame(&mut reader, &mut decoder).await?;
        let Frame::Envelope(envelope) = frame else {
            bail!("unexpected frame {frame:?}");
        };
        {
            let mut state = state.lock().await;
            if state.connection != connection || state.incarnation != incarnation {
                bail!("superseded by a newer connection from {peer}");
            }
            if envelope.id > state.taken {
                cluster.receive(&shared, envelope.clone()).await;
                state.taken = envelope.id;
            }
            last = state.taken;
        }
        // Acknowledge once the frames read so far are all handled.
        if !decoder.has_frame() {
            acks.clear();
            encode(&Frame::Ack { id: last }, &mut acks);
            writer.write_all(&acks).await?;
            writer.flush().await?;
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reconnection_resumes_after_what_was_taken_and_supersedes_the_old_one() {
        let r = Received::default();
        assert_eq!(r.resume("eu-1", 7).await, (0, 1));
        r.peer("eu-1").lock().await.taken = 5;
        assert_eq!(
            r.resume("eu-1", 7).await,
            (5, 2),
            "resume after the last taken"
        );
        assert_eq!(
            r.resume("eu-1", 8).await,
            (0, 3),
            "a restarted sender numbers from 1"
        );
        assert_eq!(r.resume("us-1", 7).await, (0, 1), "per cluster");
    }
}
