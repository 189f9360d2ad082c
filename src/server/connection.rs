//! One c2s connection: the I/O edge that drives a Sans-IO [`Session`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tandem_xmpp::c2s::{Event, Session};
use tandem_xmpp::stream::StreamErrorCondition;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::{SessionCommand, SessionHandle, Shared};
use crate::im::ImSession;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// A client that does not read must not make us buffer without bound.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
const READ_CHUNK: usize = 4096;

enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf).await,
            Transport::Tls(s) => s.read(buf).await,
        }
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
    mut shutdown: watch::Receiver<bool>,
) {
    let id = shared.next_session_id();
    let span = tracing::info_span!("c2s", id, %peer);
    let _enter = span.enter();
    let mut transport = if direct_tls {
        let acceptor = TlsAcceptor::from(shared.tls.direct.clone());
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => Transport::Tls(Box::new(tls)),
            Ok(Err(e)) => return tracing::debug!(error = %e, "TLS handshake failed"),
            Err(_) => return tracing::debug!("TLS handshake timed out"),
        }
    } else {
        Transport::Plain(tcp)
    };
    drop(_enter);
    let mut session = Session::new(shared.session_config(!direct_tls), direct_tls, id);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handle = SessionHandle { id, tx };
    let mut im: Option<ImSession> = None;
    let mut buf = vec![0u8; READ_CHUNK];

    loop {
        tokio::select! {
            read = transport.read(&mut buf) => match read {
                Ok(0) | Err(_) => session.handle_eof(),
                Ok(n) => session.handle_bytes(&buf[..n]),
            },
            Some(command) = rx.recv() => match command {
                SessionCommand::Deliver(stanza) => session.send_stanza(&stanza),
                SessionCommand::Evict(condition) => session.close(Some(condition), None),
            },
            _ = shutdown.changed() => session.close(Some(StreamErrorCondition::SystemShutdown), None),
        }

        let mut closed = false;
        while let Some(event) = session.poll_event() {
            match event {
                Event::StartTls => {
                    if !flush(&mut session, &mut transport).await {
                        closed = true;
                        break;
                    }
                    let Transport::Plain(tcp) = transport else { break };
                    let acceptor = TlsAcceptor::from(shared.tls.starttls.clone());
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            transport = Transport::Tls(Box::new(tls));
                            session.handle_tls_established();
                        }
                        _ => {
                            tracing::debug!(id, %peer, "STARTTLS handshake failed");
                            return;
                        }
                    }
                }
                Event::NeedCredentials { username } => {
                    let record = match shared.storage.get_user(&username).await {
                        Ok(record) => record,
                        Err(e) => {
                            tracing::error!(id, error = %e, "credential lookup failed");
                            None
                        }
                    };
                    session.handle_credentials(record.as_ref());
                }
                Event::Authenticated { username } => tracing::info!(id, %peer, %username, "authenticated"),
                Event::AuthFailed { username, reason } => {
                    tracing::info!(id, %peer, username = username.as_deref().unwrap_or(""), %reason, "authentication failed")
                }
                Event::Bound { jid } => {
                    if let Some(old) = shared.routes.bind(jid.clone(), handle.clone()) {
                        // Newest wins (RFC 6120 §7.7.2.2): the older session is closed with conflict.
                        old.evict(StreamErrorCondition::Conflict);
                    }
                    tracing::info!(id, %jid, "bound");
                    im = Some(ImSession::new(jid));
                }
                Event::Stanza(stanza) => {
                    if let Some(im) = im.as_mut() {
                        crate::im::handle_stanza(&shared, im, &mut session, stanza).await;
                    }
                }
                Event::Closed { error } => {
                    if let Some(condition) = error {
                        tracing::debug!(id, %condition, "stream closed with error");
                    }
                    closed = true;
                }
            }
        }
        let flushed = flush(&mut session, &mut transport).await;
        if flushed {
            if let Some(im) = im.as_mut() {
                crate::im::after_flush(&shared, im).await;
            }
        }
        if closed || !flushed || session.is_closed() {
            break;
        }
    }

    if let Some(mut im) = im {
        crate::im::session_ended(&shared, &mut im, &handle).await;
    }
    transport.shutdown().await;
    // Stanzas that were queued for us after we stopped reading go back through the router.
    rx.close();
    while let Ok(command) = rx.try_recv() {
        if let SessionCommand::Deliver(stanza) = command {
            crate::im::redeliver_after_close(&shared, stanza).await;
        }
    }
}

/// Writes what the session has queued. False when the client is gone or stuck.
async fn flush(session: &mut Session, transport: &mut Transport) -> bool {
    let Some(bytes) = session.take_outgoing() else { return true };
    matches!(tokio::time::timeout(WRITE_TIMEOUT, transport.write_all(&bytes)).await, Ok(Ok(())))
}
