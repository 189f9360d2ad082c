//! The receiving end of links: other clusters connect here with a client certificate that
//! names them, and their envelopes are delivered in order, each exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use tokio::io::AsyncWriteExt;

use super::envelope::{encode, Decoder, Frame};
use super::link::{dns_names, read_frame, write_frame};
use crate::server::Shared;

/// Per remote cluster: its incarnation and the last envelope id taken from it.
#[derive(Default)]
pub struct Received(Mutex<HashMap<String, (u64, u64)>>);

impl Received {
    /// The last id taken from this incarnation; a new incarnation starts again from 0.
    fn resume(&self, cluster: &str, incarnation: u64) -> u64 {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let entry = all.entry(cluster.to_string()).or_insert((incarnation, 0));
        if entry.0 != incarnation {
            *entry = (incarnation, 0);
        }
        entry.1
    }

    fn taken(&self, cluster: &str, id: u64) {
        if let Some(e) = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(cluster)
        {
            e.1 = e.1.max(id);
        }
    }
}

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
    let tls = acceptor.accept(tcp).await.context("TLS handshake")?;
    let names = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| dns_names(c))
        .unwrap_or_default();
    let (mut reader, mut writer) = tokio::io::split(tls);
    let mut decoder = Decoder::default();
    let (peer, incarnation) = match read_frame(&mut reader, &mut decoder).await? {
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
    let mut last = received.resume(&peer, incarnation);
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
        if envelope.id > last {
            cluster.receive(&shared, envelope.clone()).await;
            last = envelope.id;
            received.taken(&peer, last);
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

    #[test]
    fn resent_envelopes_are_skipped_until_the_sender_restarts() {
        let r = Received::default();
        assert_eq!(r.resume("eu-1", 7), 0);
        r.taken("eu-1", 5);
        r.taken("eu-1", 3);
        assert_eq!(
            r.resume("eu-1", 7),
            5,
            "a reconnection resumes after the last taken"
        );
        assert_eq!(
            r.resume("eu-1", 8),
            0,
            "a restarted sender numbers from 1 again"
        );
        assert_eq!(r.resume("us-1", 7), 0, "per cluster");
    }
}
