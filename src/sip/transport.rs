//! SIP transports (RFC 3261 §18): UDP sockets, TCP and TLS listeners with one task per
//! connection. Everything received goes to the core as [`Inbound`]; the core answers through
//! [`Transports::send`], which reuses the connection a request came on (§18.2.2).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tandem_sip::message::{FramerConfig, KeepAlive, StreamFramer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio_util::task::TaskTracker;

use crate::config::{SipListen, SipTransport};

/// Largest datagram we accept; bigger SIP must use TCP (§18.1.1).
const MAX_DATAGRAM: usize = 65_535;
/// A connection nobody uses for this long is closed (phones keep theirs alive with CRLF).
const IDLE_STREAM: Duration = Duration::from_secs(600);
/// Messages waiting to be written on one connection.
const STREAM_QUEUE: usize = 256;
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Open TCP/TLS connections at most; more are refused at accept.
const MAX_STREAMS: usize = 10_000;

/// How a message arrived, and so how to answer it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flow {
    /// On the UDP socket with this index.
    Udp(usize),
    /// On the stream connection with this id.
    Stream { id: u64, transport: SipTransport },
}

impl Flow {
    /// Lower-case transport name, as in our config (`udp`, `tcp`, `tls`).
    pub fn transport_name(&self) -> &'static str {
        match self {
            Flow::Udp(_) => "udp",
            Flow::Stream { transport, .. } => transport.as_str(),
        }
    }

    /// Streams are reliable: no retransmissions (§17.1.1.1).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Flow::Udp(_))
    }
}

/// A message (or unparsed bytes) from the network.
#[derive(Debug)]
pub struct Inbound {
    pub bytes: Vec<u8>,
    pub source: SocketAddr,
    pub flow: Flow,
}

/// Where to send: back on a flow, to an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    pub flow: Flow,
    pub addr: SocketAddr,
}

/// The running transports.
pub struct Transports {
    udp: Vec<Arc<UdpSocket>>,
    streams: Mutex<HashMap<u64, mpsc::Sender<Vec<u8>>>>,
    stream_locals: Mutex<HashMap<u64, SocketAddr>>,
    /// SIP identities of the verified client certificate of TLS streams that showed one.
    stream_peer_names: Mutex<HashMap<u64, Arc<[String]>>>,
    /// Open connections by transport and peer address: how a phone that registered over
    /// TCP or TLS is reached for a call (on its own connection, as RFC 5626 has it).
    stream_peers: Mutex<HashMap<(&'static str, SocketAddr), Flow>>,
    next_stream: AtomicU64,
    /// `tandem replay`: no sockets; what is sent is kept here to be read back.
    capture: Option<Capture>,
}

/// The transports of an endpoint that is being replayed: one local address, and
/// everything sent, in order.
struct Capture {
    local: SocketAddr,
    sent: Mutex<Vec<(Destination, Vec<u8>)>>,
}

impl Transports {
    /// Binds every listener and starts the receive tasks.
    pub async fn start(
        listen: &[SipListen],
        tls: Option<Arc<rustls::ServerConfig>>,
        inbound: mpsc::Sender<Inbound>,
        shutdown: watch::Receiver<bool>,
        tracker: &TaskTracker,
    ) -> Result<Arc<Transports>> {
        let mut udp = Vec::new();
        let mut streams = Vec::new();
        let mut bound = Vec::new();
        for l in listen {
            match l.transport {
                SipTransport::Udp => {
                    let socket = UdpSocket::bind(l.addr)
                        .await
                        .with_context(|| format!("binding SIP {l}"))?;
                    bound.push(SipListen {
                        transport: l.transport,
                        addr: socket.local_addr()?,
                    });
                    udp.push(Arc::new(socket));
                }
                SipTransport::Tcp | SipTransport::Tls => {
                    let listener = TcpListener::bind(l.addr)
                        .await
                        .with_context(|| format!("binding SIP {l}"))?;
                    bound.push(SipListen {
                        transport: l.transport,
                        addr: listener.local_addr()?,
                    });
                    streams.push((l.transport, listener));
                }
            }
        }
        let transports = Arc::new(Transports {
            udp: udp.clone(),
            streams: Mutex::new(HashMap::new()),
            stream_locals: Mutex::new(HashMap::new()),
            stream_peer_names: Mutex::new(HashMap::new()),
            stream_peers: Mutex::new(HashMap::new()),
            next_stream: AtomicU64::new(1),
            capture: None,
        });
        for l in &bound {
            tracing::info!(listen = %l, "sip listening");
        }
        for (index, socket) in udp.into_iter().enumerate() {
            tracker.spawn(udp_receive(
                socket,
                index,
                inbound.clone(),
                shutdown.clone(),
            ));
        }
        for (transport, listener) in streams {
            let acceptor = match transport {
                SipTransport::Tls => Some(tokio_rustls::TlsAcceptor::from(
                    tls.clone()
                        .context("a tls: SIP listener needs the TLS certificate")?,
                )),
                _ => None,
            };
            tracker.spawn(accept_streams(
                listener,
                transport,
                acceptor,
                transports.clone(),
                inbound.clone(),
                shutdown.clone(),
                tracker.clone(),
            ));
        }
        Ok(transports)
    }

    /// Transports that send nowhere and keep what is sent ([`Self::take_sent`]), with
    /// `local` as their address: how `tandem replay` runs the endpoint offline.
    pub fn capturing(local: SocketAddr) -> Arc<Transports> {
        Arc::new(Transports {
            udp: Vec::new(),
            streams: Mutex::new(HashMap::new()),
            stream_locals: Mutex::new(HashMap::new()),
            stream_peer_names: Mutex::new(HashMap::new()),
            stream_peers: Mutex::new(HashMap::new()),
            next_stream: AtomicU64::new(1),
            capture: Some(Capture {
                local,
                sent: Mutex::new(Vec::new()),
            }),
        })
    }

    /// What capturing transports were given to send since the last call, in order.
    pub fn take_sent(&self) -> Vec<(Destination, Vec<u8>)> {
        self.capture.as_ref().map_or_else(Vec::new, |c| {
            std::mem::take(&mut *c.sent.lock().unwrap_or_else(|p| p.into_inner()))
        })
    }

    /// Sends without waiting: UDP that would block is dropped (the transaction layer
    /// retransmits where the RFC asks), a stream's queue takes it or the message is dropped.
    pub fn send_now(&self, to: &Destination, bytes: Vec<u8>) -> bool {
        if let Some(capture) = &self.capture {
            capture
                .sent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((to.clone(), bytes));
            return true;
        }
        match &to.flow {
            Flow::Udp(index) => match self.udp.get(*index).or_else(|| self.udp.first()) {
                Some(socket) => socket.try_send_to(&bytes, to.addr).is_ok(),
                None => false,
            },
            Flow::Stream { id, .. } => {
                let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
                streams.get(id).is_some_and(|tx| tx.try_send(bytes).is_ok())
            }
        }
    }

    /// Sends; false when the flow is gone (a closed connection) or the send failed.
    pub async fn send(&self, to: &Destination, bytes: Vec<u8>) -> bool {
        if self.capture.is_some() {
            return self.send_now(to, bytes);
        }
        match &to.flow {
            Flow::Udp(index) => match self.udp.get(*index).or_else(|| self.udp.first()) {
                Some(socket) => socket.send_to(&bytes, to.addr).await.is_ok(),
                None => false,
            },
            Flow::Stream { id, .. } => {
                let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
                // A full queue means the peer is not reading: the message is dropped (the
                // transaction layer retransmits where the RFC asks for it).
                streams.get(id).is_some_and(|tx| tx.try_send(bytes).is_ok())
            }
        }
    }

    /// The local address a flow sends from, for the Via of our own requests.
    pub fn local_addr(&self, flow: &Flow) -> Option<SocketAddr> {
        if let Some(capture) = &self.capture {
            return Some(capture.local);
        }
        match flow {
            Flow::Udp(index) => self.udp.get(*index).and_then(|s| s.local_addr().ok()),
            Flow::Stream { id, .. } => self
                .stream_locals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(id)
                .copied(),
        }
    }

    /// The identities (RFC 5922 §7.1) of the certificate the peer of a TLS flow presented,
    /// verified at the handshake; empty for other flows.
    pub fn peer_names(&self, flow: &Flow) -> Arc<[String]> {
        match flow {
            Flow::Stream { id, .. } => self
                .stream_peer_names
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(id)
                .cloned()
                .unwrap_or_else(|| Arc::from([])),
            Flow::Udp(_) => Arc::from([]),
        }
    }

    fn register_stream(&self, tx: mpsc::Sender<Vec<u8>>) -> u64 {
        let id = self.next_stream.fetch_add(1, Ordering::Relaxed);
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        id
    }

    /// The open connection to `peer` over `transport` (`tcp`, `tls`), if there is one.
    pub fn stream_to(&self, transport: &str, peer: SocketAddr) -> Option<Flow> {
        let peers = self.stream_peers.lock().unwrap_or_else(|p| p.into_inner());
        ["tcp", "tls"]
            .into_iter()
            .find(|t| *t == transport)
            .and_then(|t| peers.get(&(t, peer)).cloned())
    }

    fn forget_stream(&self, id: u64) {
        self.stream_peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, flow| !matches!(flow, Flow::Stream { id: open, .. } if *open == id));
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.stream_locals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.stream_peer_names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
}

async fn udp_receive(
    socket: Arc<UdpSocket>,
    index: usize,
    inbound: mpsc::Sender<Inbound>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, source)) => {
                    // RFC 5626 keep-alives: a bare CRLF (or CRLFCRLF) on UDP needs no answer.
                    if buf[..n].iter().all(|b| *b == b'\r' || *b == b'\n') {
                        continue;
                    }
                    let message = Inbound { bytes: buf[..n].to_vec(), source, flow: Flow::Udp(index) };
                    if inbound.send(message).await.is_err() {
                        return;
                    }
                }
                // ICMP errors surface here on some systems; they are not fatal for the socket.
                Err(e) => tracing::debug!(error = %e, "udp receive"),
            },
            _ = shutdown.changed() => return,
        }
    }
}

async fn accept_streams(
    listener: TcpListener,
    transport: SipTransport,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    transports: Arc<Transports>,
    inbound: mpsc::Sender<Inbound>,
    mut shutdown: watch::Receiver<bool>,
    tracker: TaskTracker,
) {
    loop {
        tokio::select! {
            (tcp, peer) = crate::net::accept(&listener) => {
                    if transports.streams.lock().unwrap_or_else(|p| p.into_inner()).len() >= MAX_STREAMS {
                        tracing::warn!(%peer, "too many SIP connections; refusing");
                        continue;
                    }
                    let local = tcp.local_addr().ok();
                    let transports = transports.clone();
                    let inbound = inbound.clone();
                    let shutdown = shutdown.clone();
                    let acceptor = acceptor.clone();
                    tracker.spawn(async move {
                        match acceptor {
                            Some(acceptor) => match tokio::time::timeout(Duration::from_secs(15), acceptor.accept(tcp)).await {
                                Ok(Ok(tls)) => {
                                    let names = tls
                                        .get_ref()
                                        .1
                                        .peer_certificates()
                                        .and_then(|chain| chain.first())
                                        .map(|cert| super::peer_cert::sip_identities(cert))
                                        .unwrap_or_default();
                                    serve_stream(tls, StreamPeer { addr: peer, local, transport, names }, transports, inbound, shutdown).await
                                }
                                _ => tracing::debug!(%peer, "SIP TLS handshake failed"),
                            },
                            None => serve_stream(tcp, StreamPeer { addr: peer, local, transport, names: Vec::new() }, transports, inbound, shutdown).await,
                        }
                    });
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Who is at the other end of a TCP or TLS connection, and how it came in.
struct StreamPeer {
    addr: SocketAddr,
    local: Option<SocketAddr>,
    transport: SipTransport,
    /// SIP identities of a verified TLS client certificate.
    names: Vec<String>,
}

/// One TCP or TLS connection: frames what arrives (Content-Length, §18.3), writes what the
/// core sends back on it.
async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    connection: StreamPeer,
    transports: Arc<Transports>,
    inbound: mpsc::Sender<Inbound>,
    mut shutdown: watch::Receiver<bool>,
) {
    let StreamPeer {
        addr: peer,
        local,
        transport,
        names: peer_names,
    } = connection;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(STREAM_QUEUE);
    let id = transports.register_stream(tx.clone());
    if let Some(local) = local {
        transports
            .stream_locals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, local);
    }
    if !peer_names.is_empty() {
        tracing::debug!(%peer, names = ?peer_names, "SIP TLS peer presented a verified certificate");
        transports
            .stream_peer_names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, peer_names.into());
    }
    let flow = Flow::Stream { id, transport };
    transports
        .stream_peers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert((transport.as_str(), peer), flow.clone());
    let mut framer = StreamFramer::new(FramerConfig::default());
    let mut buf = vec![0u8; 8192];
    loop {
        tokio::select! {
            read = tokio::time::timeout(IDLE_STREAM, reader.read(&mut buf)) => {
                let n = match read {
                    Ok(Ok(n)) if n > 0 => n,
                    _ => break,
                };
                framer.push(&buf[..n]);
                let mut broken = false;
                while let Some(frame) = framer.next_message() {
                    match frame {
                        Ok(frame) => {
                            let message = Inbound { bytes: frame, source: peer, flow: flow.clone() };
                            if inbound.send(message).await.is_err() {
                                broken = true;
                                break;
                            }
                        }
                        Err(e) => {
                            // A stream whose framing is lost cannot be resynchronised (§18.3).
                            tracing::info!(%peer, error = %e, "closing SIP stream with bad framing");
                            broken = true;
                            break;
                        }
                    }
                }
                // Keep-alives are recognised while framing: answer them after it. RFC 5626
                // §4.4.1: a double-CRLF ping gets a single CRLF pong, within 10 s.
                while let Some(keepalive) = framer.poll_keepalive() {
                    if keepalive == KeepAlive::Ping && tx.try_send(b"\r\n".to_vec()).is_err() {
                        broken = true;
                    }
                }
                if broken {
                    break;
                }
            }
            Some(bytes) = rx.recv() => {
                // A peer that stops reading must not hold the task: give up on it.
                let write = async {
                    writer.write_all(&bytes).await?;
                    writer.flush().await
                };
                if !matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(()))) {
                    break;
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    transports.forget_stream(id);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer.shutdown()).await;
}
