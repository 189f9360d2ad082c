//! One c2s connection: the I/O edge that drives a Sans-IO [`Session`].
//!
//! Idle connections are the common case, so an idle one holds no read buffer: the task waits
//! for socket readiness and only then reads into a stack buffer, draining everything the socket
//! and TLS have before it sleeps again. Rarely used sub-futures (TLS handshakes, storage, IM
//! handling) are boxed so the task's own state stays small.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tandem_xmpp::c2s::{Event, Session};
use tandem_xmpp::stream::StreamErrorCondition;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use super::{SessionCommand, SessionHandle, Shared};
use crate::im::ImSession;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// A client that does not read must not make us buffer without bound.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
const READ_CHUNK: usize = 8192;

enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Reads per wake-up before other sessions get the worker back: a client that sends faster
/// than we parse must not monopolise a thread or grow our queues without bound.
const READS_PER_TURN: usize = 16;

/// What draining the socket found.
enum Drained {
    /// Nothing more to read right now.
    WouldBlock,
    /// The read budget for this turn is spent; more may be waiting.
    Budget,
    /// The peer closed, or the connection failed.
    Eof,
    /// The session stopped reading (STARTTLS pending or stream closed).
    Paused,
}

impl Transport {
    fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => s.get_ref().0,
        }
    }

    /// Reads everything available into the session without waiting. The buffer lives on the
    /// stack of this synchronous call, not in the task.
    fn drain_into(&mut self, session: &mut Session) -> Drained {
        let mut buf = [0u8; READ_CHUNK];
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let now = Instant::now();
        for _ in 0..READS_PER_TURN {
            if session.is_closed() || session.is_tls_pending() {
                return Drained::Paused;
            }
            let mut read_buf = ReadBuf::new(&mut buf);
            let poll = match self {
                Transport::Plain(s) => Pin::new(s).poll_read(&mut cx, &mut read_buf),
                Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(&mut cx, &mut read_buf),
            };
            match poll {
                // Pending with the no-op waker is fine: the caller waits on readiness next.
                Poll::Pending => return Drained::WouldBlock,
                Poll::Ready(Err(_)) => return Drained::Eof,
                Poll::Ready(Ok(())) if read_buf.filled().is_empty() => return Drained::Eof,
                Poll::Ready(Ok(())) => session.handle_bytes(now, read_buf.filled()),
            }
        }
        Drained::Budget
    }

    /// Identities of the client certificate the TLS layer verified, if one was presented.
    fn client_identity(&self) -> Option<tandem_xmpp::sasl::CertIdentity> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(tls) => {
                let leaf = tls.get_ref().1.peer_certificates()?.first()?;
                Some(super::client_cert::identity_of(leaf))
            }
        }
    }

    /// Channel binding data for SCRAM-*-PLUS: `tls-exporter` (RFC 9266, TLS 1.3 only) and
    /// `tls-server-end-point` (RFC 5929). None on a plaintext stream.
    fn channel_bindings(&self, server_end_point: &[u8]) -> Vec<(String, Vec<u8>)> {
        let Transport::Tls(tls) = self else {
            return Vec::new();
        };
        let conn = tls.get_ref().1;
        let mut bindings = Vec::new();
        if conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) {
            if let Ok(data) =
                conn.export_keying_material(vec![0u8; 32], b"EXPORTER-Channel-Binding", None)
            {
                bindings.push(("tls-exporter".to_string(), data));
            }
        }
        bindings.push((
            "tls-server-end-point".to_string(),
            server_end_point.to_vec(),
        ));
        bindings
    }

    async fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Transport::Plain(s) => s.write_all(data).await,
            Transport::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
        }
    }

    async fn shutdown(&mut self) {
        let _ = match self {
            Transport::Plain(s) => s.shutdown().await,
            Transport::Tls(s) => s.shutdown().await,
        };
    }
}

pub async fn run_connection(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    direct_tls: bool,
    shutdown: watch::Receiver<bool>,
) {
    let id = shared.next_session_id();
    let span = tracing::info_span!("c2s", id, %peer);
    Box::pin(drive(shared, tcp, direct_tls, shutdown, id))
        .instrument(span)
        .await
}

async fn tls_accept(config: Arc<rustls::ServerConfig>, tcp: TcpStream) -> Option<Transport> {
    let acceptor = TlsAcceptor::from(config);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(Transport::Tls(Box::new(tls))),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

async fn drive(
    shared: Arc<Shared>,
    tcp: TcpStream,
    direct_tls: bool,
    mut shutdown: watch::Receiver<bool>,
    id: u64,
) {
    let mut transport = if direct_tls {
        match Box::pin(tls_accept(shared.tls.direct.clone(), tcp)).await {
            Some(t) => t,
            None => return,
        }
    } else {
        Transport::Plain(tcp)
    };
    let mut session = Session::new(
        shared.session_config(!direct_tls),
        direct_tls,
        id,
        Instant::now(),
    );
    if let Some(identity) = transport.client_identity() {
        session.set_client_certificate(identity);
    }
    session.set_channel_bindings(transport.channel_bindings(&shared.tls.server_end_point));
    let mailbox = Arc::new(super::mailbox::Mailbox::default());
    let handle = SessionHandle {
        id,
        mailbox: mailbox.clone(),
    };
    let mut im: Option<ImSession> = None;
    // Right after a TLS handshake rustls may already hold application data that arrived with
    // it; the socket will not signal readiness for that, so look before waiting.
    let mut look_before_waiting = direct_tls;
    // Messages written into the session since the last successful flush: if the flush fails
    // they are routed again instead of vanishing with the connection.
    let mut unflushed: Vec<Box<tandem_xmpp::Element>> = Vec::new();

    loop {
        let deadline = session.poll_timeout();
        // Draining more of what the socket already has is one branch among the others, so a
        // client that never stops sending cannot starve deliveries, evictions, shutdown or
        // timers of this session (select! picks fairly among ready branches).
        let look = std::mem::take(&mut look_before_waiting);
        tokio::select! {
            _ = std::future::ready(()), if look => {
                match transport.drain_into(&mut session) {
                    Drained::Eof => session.handle_eof(),
                    Drained::Budget => look_before_waiting = true,
                    Drained::WouldBlock | Drained::Paused => {}
                }
            }
            ready = transport.tcp().readable(), if !look => {
                if ready.is_err() {
                    session.handle_eof();
                } else {
                    match transport.drain_into(&mut session) {
                        Drained::Eof => session.handle_eof(),
                        Drained::Budget => look_before_waiting = true,
                        Drained::WouldBlock | Drained::Paused => {}
                    }
                }
            }
            command = mailbox.recv() => {
                // The drain was not chosen this turn; it stays due.
                look_before_waiting |= look;
                match command {
                    SessionCommand::Deliver(stanza) => {
                        session.send_stanza(&stanza);
                        // Kept until flushed: messages are routed again and requests answered
                        // with an error if the write fails.
                        if stanza.name() == "message" || matches!(stanza.attr("type"), Some("get") | Some("set")) {
                            unflushed.push(stanza);
                        }
                    }
                    SessionCommand::Evict(condition) => session.close(Some(condition), None),
                }
            }
            _ = shutdown.changed() => session.close(Some(StreamErrorCondition::SystemShutdown), None),
            _ = sleep_until_deadline(deadline) => {
                look_before_waiting |= look;
                session.handle_timeout(Instant::now());
            }
        }

        let mut closed = false;
        while let Some(event) = session.poll_event() {
            match event {
                Event::StartTls => {
                    if !Box::pin(flush(&mut session, &mut transport)).await {
                        closed = true;
                        break;
                    }
                    let Transport::Plain(tcp) = transport else {
                        break;
                    };
                    match Box::pin(tls_accept(shared.tls.starttls.clone(), tcp)).await {
                        Some(t) => {
                            transport = t;
                            if let Some(identity) = transport.client_identity() {
                                session.set_client_certificate(identity);
                            }
                            session.set_channel_bindings(
                                transport.channel_bindings(&shared.tls.server_end_point),
                            );
                            session.handle_tls_established();
                            look_before_waiting = true;
                        }
                        None => return,
                    }
                }
                Event::NeedCredentials { username } => {
                    match Box::pin(shared.storage.get_user(&username)).await {
                        Ok(record) => session.handle_credentials(record.as_ref()),
                        Err(e) => {
                            tracing::error!(error = %e, "credential lookup failed");
                            session.handle_credentials_unavailable();
                        }
                    }
                }
                Event::Authenticated { username } => tracing::info!(%username, "authenticated"),
                Event::CreateAccount { username } => {
                    // A certificate login with auto_create: the account gets a random
                    // password nobody knows; certificates remain its way in.
                    let mut secret = [0u8; 24];
                    let _ = getrandom::fill(&mut secret);
                    let password: String = secret.iter().map(|b| format!("{b:02x}")).collect();
                    match tandem_xmpp::sasl::PasswordRecord::derive(
                        &username,
                        &shared.domain,
                        &password,
                        tandem_xmpp::sasl::DEFAULT_ITERATIONS,
                    ) {
                        Ok(record) => {
                            match Box::pin(shared.storage.add_user(&username, &record)).await {
                                Ok(()) => {
                                    tracing::info!(%username, "account created for a certificate login")
                                }
                                Err(e) => {
                                    tracing::error!(%username, error = %e, "could not create the account of a certificate login")
                                }
                            }
                        }
                        Err(e) => {
                            tracing::error!(%username, error = %e, "could not derive credentials")
                        }
                    }
                }
                Event::AuthFailed { username, reason } => {
                    tracing::info!(username = username.as_deref().unwrap_or(""), %reason, "authentication failed")
                }
                Event::Bound { jid } => {
                    if let Some(old) = shared.routes.bind(jid.clone(), handle.clone()) {
                        // Newest wins (RFC 6120 §7.7.2.2): the older session is closed with conflict.
                        old.evict(StreamErrorCondition::Conflict);
                    }
                    tracing::info!(%jid, "bound");
                    im = Some(ImSession::new(jid, id));
                }
                Event::Stanza(stanza) => {
                    if let Some(im) = im.as_mut() {
                        Box::pin(crate::im::handle_stanza(&shared, im, &mut session, stanza)).await;
                    }
                }
                Event::Closed { error } => {
                    if let Some(condition) = error {
                        tracing::debug!(%condition, "stream closed with error");
                    }
                    closed = true;
                }
            }
        }
        let flushed = Box::pin(flush(&mut session, &mut transport)).await;
        if flushed {
            unflushed.clear();
            if let Some(im) = im.as_mut() {
                im.offline_in_flight.clear();
            }
        }
        if closed || !flushed || session.is_closed() {
            break;
        }
    }

    if let Some(mut im) = im {
        Box::pin(crate::im::session_ended(&shared, &mut im, &handle)).await;
        // Offline messages taken for this session but never written out go back.
        for stanza in std::mem::take(&mut im.offline_in_flight) {
            unflushed.push(Box::new(stanza));
        }
    }
    // Refuse new deliveries, then route again what was queued or written but not flushed.
    mailbox.close();
    while let Some(command) = mailbox.try_recv() {
        if let SessionCommand::Deliver(stanza) = command {
            unflushed.push(stanza);
        }
    }
    for stanza in unflushed {
        Box::pin(crate::im::redeliver_after_close(&shared, *stanza)).await;
    }
    // A peer that stopped reading must not hold the task (and its socket) while rustls tries
    // to flush close_notify.
    let _ = tokio::time::timeout(Duration::from_secs(5), transport.shutdown()).await;
}

async fn sleep_until_deadline(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Writes what the session has queued. False when the client is gone or stuck.
async fn flush(session: &mut Session, transport: &mut Transport) -> bool {
    let Some(bytes) = session.take_outgoing() else {
        return true;
    };
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, transport.write_all(&bytes)).await,
        Ok(Ok(()))
    )
}
