//! Links between clusters: TLS with certificates from `[cluster] ca` both ways, one
//! outbound link per remote cluster, acknowledged envelopes resent after a reconnection.
//!
//! Order: one link carries everything from here to a cluster, in the order `send` was
//! called, so per-sender order holds. Nothing is lost: an envelope stays in the link's
//! buffer until the receiver acknowledges it, the receiver skips ids it already took
//! (resends after a reconnection), and a full buffer refuses new envelopes instead of
//! dropping old ones.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::directory::{Directory, Liveness};
use super::envelope::{encode, Decoder, Envelope, Frame, Payload};

/// Envelopes waiting for an acknowledgement, per remote cluster.
pub const LINK_BUFFER: usize = 20_000;
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A link with envelopes outstanding and no acknowledgement for this long is dropped and
/// opened again (and, if the peer is gone, what it held is routed again).
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Both rustls configurations of a cluster's links.
pub struct LinkTls {
    pub client: Arc<rustls::ClientConfig>,
    pub server: Arc<rustls::ServerConfig>,
}

/// Loads `[cluster] ca/cert/key`. The certificate must name this cluster (a DNS SAN equal
/// to the cluster name): that is how the other end knows who connected.
pub fn load_tls(ca: &Path, cert: &Path, key: &Path) -> Result<LinkTls> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(crate::tls::load_roots(ca, "cluster CA")?);
    let (certs, key) = crate::tls::load_identity(cert, key, "cluster ")?;
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .context("cluster client verifier")?;
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("TLS versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs.clone(), key.clone_key())
        .context("cluster certificate and key")?;
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("TLS versions")?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .context("cluster certificate and key")?;
    Ok(LinkTls {
        client: Arc::new(client),
        server: Arc::new(server),
    })
}

/// The DNS names a peer's certificate carries (its claimed cluster must be one of them).
pub fn dns_names(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
            _ => None,
        })
        .collect()
}

#[derive(Default)]
struct Queue {
    next_id: u64,
    /// Sent or not, not yet acknowledged, in id order.
    unacked: VecDeque<Envelope>,
}

/// The sending half of the link to one remote cluster.
struct Outbound {
    queue: Mutex<Queue>,
    wake: Notify,
    /// Connected and welcomed.
    up: std::sync::atomic::AtomicBool,
    /// Failed to connect (or dropped) since it was last up.
    failing: std::sync::atomic::AtomicBool,
}

/// All outbound links of this cluster.
pub struct Links {
    name: String,
    incarnation: u64,
    tls: Arc<rustls::ClientConfig>,
    directory: Arc<Directory>,
    outbound: Mutex<HashMap<String, Arc<Outbound>>>,
    metrics: Arc<crate::metrics::Metrics>,
    /// Where envelopes go that a gone cluster will never take (see [`Links::run`]).
    reroute: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Envelope>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    #[error("the link to {0} has {LINK_BUFFER} envelopes waiting")]
    Full(String),
}

impl Links {
    pub fn new(
        name: &str,
        tls: Arc<rustls::ClientConfig>,
        directory: Arc<Directory>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Links {
        // It only has to differ between starts: the clock stands in if randomness fails.
        let mut seed = [0u8; 8];
        let incarnation = match getrandom::fill(&mut seed) {
            Ok(()) => u64::from_le_bytes(seed),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1),
        };
        Links {
            name: name.to_string(),
            incarnation: incarnation | 1,
            tls,
            directory,
            outbound: Mutex::new(HashMap::new()),
            metrics,
            reroute: std::sync::OnceLock::new(),
        }
    }

    /// Envelopes for clusters that are gone are handed to `reroute` to be routed again.
    pub fn set_reroute(&self, reroute: tokio::sync::mpsc::UnboundedSender<Envelope>) {
        let _ = self.reroute.set(reroute);
    }

    /// Whether the link to `cluster` is failing (it was opened and is not up now).
    pub fn is_down(&self, cluster: &str) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let all = self.outbound.lock().unwrap_or_else(|p| p.into_inner());
        all.get(cluster)
            .is_some_and(|l| !l.up.load(Relaxed) && l.failing.load(Relaxed))
    }

    /// Queues `payload` for `cluster`, opening the link on first use.
    pub fn send(
        self: &Arc<Self>,
        cluster: &str,
        origin: &str,
        hops: u8,
        payload: Payload,
    ) -> Result<(), SendError> {
        let link = {
            let mut all = self.outbound.lock().unwrap_or_else(|p| p.into_inner());
            match all.get(cluster) {
                Some(l) => l.clone(),
                None => {
                    let l = Arc::new(Outbound {
                        queue: Mutex::new(Queue {
                            next_id: 1,
                            unacked: VecDeque::new(),
                        }),
                        wake: Notify::new(),
                        up: false.into(),
                        failing: false.into(),
                    });
                    all.insert(cluster.to_string(), l.clone());
                    tokio::spawn(self.clone().run(cluster.to_string(), l.clone()));
                    l
                }
            }
        };
        {
            let mut q = link.queue.lock().unwrap_or_else(|p| p.into_inner());
            if q.unacked.len() >= LINK_BUFFER {
                return Err(SendError::Full(cluster.to_string()));
            }
            let id = q.next_id;
            q.next_id += 1;
            q.unacked.push_back(Envelope {
                id,
                origin: origin.to_string(),
                hops,
                payload,
            });
        }
        link.wake.notify_one();
        Ok(())
    }

    /// Keeps the link to `cluster` up for as long as the process runs. While it cannot,
    /// and the cluster's registration has lapsed (it died, or shut down), what waits for it
    /// is routed again from here: its users are elsewhere now, or offline.
    async fn run(self: Arc<Self>, cluster: String, link: Arc<Outbound>) {
        use std::sync::atomic::Ordering::Relaxed;
        let mut backoff = Duration::from_millis(100);
        loop {
            let result = self.connect_and_pump(&cluster, &link).await;
            link.up.store(false, Relaxed);
            link.failing.store(true, Relaxed);
            if let Err(e) = result {
                let waiting = link
                    .queue
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .unacked
                    .len();
                tracing::warn!(peer = %cluster, error = %format!("{e:#}"), waiting, "cluster link down; retrying in {backoff:?}");
                self.metrics.cluster_link_failures.inc();
            }
            if matches!(self.directory.liveness(&cluster).await, Ok(Liveness::Gone)) {
                self.reroute_waiting(&cluster, &link);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn reroute_waiting(&self, cluster: &str, link: &Outbound) {
        let waiting: Vec<Envelope> = {
            let mut q = link.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.unacked.drain(..).collect()
        };
        if waiting.is_empty() {
            return;
        }
        tracing::warn!(peer = %cluster, count = waiting.len(), "cluster is gone; routing what waited for it again");
        for envelope in waiting {
            let rerouted = self.reroute.get().is_some_and(|r| r.send(envelope).is_ok());
            if !rerouted {
                self.metrics
                    .cluster_give_ups
                    .get_or_create(&crate::metrics::CallMetrics::reason("cluster-gone"))
                    .inc();
            }
        }
    }

    async fn connect_and_pump(&self, cluster: &str, link: &Arc<Outbound>) -> Result<()> {
        let address = match self
            .directory
            .liveness(cluster)
            .await
            .context("looking up the cluster's address")?
        {
            Liveness::Live(address) => address,
            Liveness::Gone => bail!("cluster {cluster} is gone"),
            Liveness::Unknown => bail!("cluster {cluster} is not registered (yet)"),
        };
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&address))
            .await
            .context("connect timed out")?
            .with_context(|| format!("connecting to {address}"))?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(cluster.to_string()).context("cluster name")?;
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
            .await
            .context("TLS handshake timed out")?
            .context("TLS handshake")?;
        let (mut reader, mut writer) = tokio::io::split(tls);
        let mut out = Vec::new();
        encode(
            &Frame::Hello {
                cluster: self.name.clone(),
                incarnation: self.incarnation,
            },
            &mut out,
        );
        writer.write_all(&out).await?;
        let mut decoder = Decoder::default();
        let received = match read_frame(&mut reader, &mut decoder).await? {
            Frame::Welcome {
                cluster: c,
                received,
            } if c == cluster => received,
            other => bail!("expected a welcome from {cluster}, got {other:?}"),
        };
        ack(link, received);
        link.up.store(true, std::sync::atomic::Ordering::Relaxed);
        link.failing
            .store(false, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(peer = %cluster, %address, "cluster link up");
        // Acknowledgements are read apart from writing, so a sender that always has more to
        // write still sees them; their arrival times show whether the peer is alive.
        let started = tokio::time::Instant::now();
        let last_ack = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut acks = {
            let (link, last_ack) = (link.clone(), last_ack.clone());
            tokio::spawn(async move {
                loop {
                    match read_frame(&mut reader, &mut decoder).await? {
                        Frame::Ack { id } => {
                            ack(&link, id);
                            let now = started.elapsed().as_millis() as u64;
                            last_ack.store(now, std::sync::atomic::Ordering::Relaxed);
                        }
                        other => bail!("unexpected frame {other:?}"),
                    }
                }
            })
        };
        let result = self
            .pump(link, &mut writer, received, &mut acks, started, &last_ack)
            .await;
        acks.abort();
        result
    }

    /// Sends everything not acknowledged, then new envelopes as they come, until the link
    /// fails: a write error, the acknowledgement reader ending, or no acknowledgement for
    /// [`ACK_TIMEOUT`] while some are outstanding (a peer that vanished without a reset).
    async fn pump<W: AsyncWrite + Unpin>(
        &self,
        link: &Outbound,
        writer: &mut W,
        received: u64,
        acks: &mut tokio::task::JoinHandle<Result<()>>,
        started: tokio::time::Instant,
        last_ack: &std::sync::atomic::AtomicU64,
    ) -> Result<()> {
        let mut out = Vec::new();
        let mut sent_up_to = received;
        let mut waiting_since: Option<tokio::time::Instant> = None;
        loop {
            out.clear();
            {
                let q = link.queue.lock().unwrap_or_else(|p| p.into_inner());
                let from = sent_up_to;
                for e in q.unacked.iter().filter(|e| e.id > from) {
                    encode(&Frame::Envelope(e.clone()), &mut out);
                    sent_up_to = e.id;
                    if out.len() > 256 * 1024 {
                        break;
                    }
                }
            }
            if !out.is_empty() {
                tokio::time::timeout(ACK_TIMEOUT, writer.write_all(&out))
                    .await
                    .context("the peer stopped reading")??;
                continue;
            }
            writer.flush().await?;
            let outstanding = !link
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .unacked
                .is_empty();
            if outstanding {
                let acked_at = started
                    + Duration::from_millis(last_ack.load(std::sync::atomic::Ordering::Relaxed));
                let since = *waiting_since.get_or_insert_with(tokio::time::Instant::now);
                if since.max(acked_at).elapsed() > ACK_TIMEOUT {
                    bail!("no acknowledgement for {ACK_TIMEOUT:?}");
                }
            } else {
                waiting_since = None;
            }
            tokio::select! {
                _ = link.wake.notified() => {}
                ended = &mut *acks => {
                    return match ended {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(e),
                        Err(e) => Err(e.into()),
                    };
                }
                _ = tokio::time::sleep(Duration::from_secs(1)), if outstanding => {}
            }
        }
    }
}

fn ack(link: &Outbound, id: u64) {
    let mut q = link.queue.lock().unwrap_or_else(|p| p.into_inner());
    while q.unacked.front().is_some_and(|e| e.id <= id) {
        q.unacked.pop_front();
    }
}

/// Reads until one frame is whole. Cancel-safe: bytes read stay in `decoder`.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    decoder: &mut Decoder,
) -> Result<Frame> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(frame) = decoder.next_frame()? {
            return Ok(frame);
        }
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            bail!("the link closed");
        }
        decoder.push(&buf[..n]);
    }
}

pub async fn write_frame<W: AsyncWrite + Unpin>(writer: &mut W, frame: &Frame) -> Result<()> {
    let mut out = Vec::new();
    encode(frame, &mut out);
    writer.write_all(&out).await?;
    writer.flush().await?;
    Ok(())
}
