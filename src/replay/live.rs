//! `tandem replay --live HOST:PORT`: the trace's remote side is played to a running tandem
//! with the trace's timing, over the transport each message used in the trace (UDP, or one
//! TCP connection to HOST:PORT per remote TCP endpoint of the trace), and tandem's SIP answers are checked against the
//! SIP part of the fixture's expected output. The XMPP side is whatever clients that
//! tandem has (live mode cannot script them), so traces that need an XMPP user to answer
//! match only when such a client behaves as the fixture says; the sender must be one of
//! the tandem's `[sip] trusted_peers`, as the trace's caller was.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tandem_sip::trace::TraceTransport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::fixture::Fixture;
use super::identities::Identities;
use super::run::{opening, Outcome};
use super::source::TraceSource;
use super::tokens::Normaliser;

/// How long answers are awaited after the trace's last message.
const TAIL: Duration = Duration::from_secs(3);

pub async fn live(
    mut source: TraceSource,
    fixture: &Fixture,
    target: SocketAddr,
    transcript: &mut dyn Write,
) -> Result<Outcome> {
    let mut problems = Vec::new();
    let mut messages = 0u64;
    let Some((first, tandem)) = opening(&mut source, fixture, &mut problems)? else {
        return Ok(Outcome {
            problems,
            messages: 0,
            skipped: source.skipped_packets(),
        });
    };
    let origin = first.time;
    let mut pending = Some(first);
    let bind: SocketAddr = if target.is_ipv6() {
        "[::]:0".parse()?
    } else {
        "0.0.0.0:0".parse()?
    };
    let socket = UdpSocket::bind(bind).await?;
    socket
        .connect(target)
        .await
        .with_context(|| format!("reaching {target}"))?;
    let local = socket.local_addr()?;
    let (from_streams, stream_messages) = mpsc::unbounded_channel();
    let mut peer = Peer {
        socket,
        streams: HashMap::new(),
        from_streams,
        stream_messages,
        tandem,
        target,
        identities: Identities::default(),
        normaliser: Normaliser::with_gateway(&fixture.sip_domain()),
        remotes: HashMap::new(),
        transcript,
        buf: vec![0u8; 65_535],
    };
    let start = Instant::now();
    while let Some(message) = pending.take() {
        messages += 1;
        // Answers that come before the next message is due.
        peer.receive_until(start + message.time.saturating_sub(origin))
            .await?;
        if message.source == tandem {
            peer.identities
                .sent_then(String::from_utf8_lossy(&message.bytes).into_owned());
        } else if message.transport == TraceTransport::Udp {
            peer.remotes
                .entry(message.source.to_string())
                .or_insert_with(|| local.to_string());
            let mut text = peer
                .identities
                .rewrite(&String::from_utf8_lossy(&message.bytes));
            for (then, now) in &peer.remotes {
                text = text.replace(then.as_str(), now);
            }
            peer.socket.send(text.as_bytes()).await?;
        } else {
            peer.send_tcp(message.source, &message.bytes).await?;
        }
        pending = source.next_message(&mut problems)?;
    }
    peer.receive_until(Instant::now() + TAIL).await?;
    let transcript = peer.transcript;
    transcript.flush()?;
    Ok(Outcome {
        problems,
        messages,
        skipped: source.skipped_packets(),
    })
}

/// The running tandem as the trace's remote side sees it.
struct Peer<'w> {
    socket: UdpSocket,
    /// Our TCP connections, by the trace's remote endpoint they stand for.
    streams: HashMap<SocketAddr, OwnedWriteHalf>,
    /// What tandem writes on any of them, framed (each connection's reader sends here).
    from_streams: mpsc::UnboundedSender<Vec<u8>>,
    stream_messages: mpsc::UnboundedReceiver<Vec<u8>>,
    /// tandem's address in the trace, and where it is now.
    tandem: SocketAddr,
    target: SocketAddr,
    identities: Identities,
    normaliser: Normaliser,
    /// The trace's remote addresses and ours that stand for them.
    remotes: HashMap<String, String>,
    transcript: &'w mut dyn Write,
    buf: Vec<u8>,
}

impl Peer<'_> {
    /// Sends a TCP message of the trace's remote endpoint `source` on the connection that
    /// stands for it, opened on first use.
    async fn send_tcp(&mut self, source: SocketAddr, bytes: &[u8]) -> Result<()> {
        if !self.streams.contains_key(&source) {
            let stream = TcpStream::connect(self.target).await.with_context(|| {
                format!(
                    "nothing listens at the --live address over TCP ({})",
                    self.target
                )
            })?;
            stream.set_nodelay(true)?;
            let local = stream.local_addr()?;
            self.remotes.insert(source.to_string(), local.to_string());
            let (mut reader, writer) = stream.into_split();
            let messages = self.from_streams.clone();
            tokio::spawn(async move {
                let mut framer = tandem_sip::message::StreamFramer::new(Default::default());
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = reader.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    framer.push(&buf[..n]);
                    while let Some(frame) = framer.next_message() {
                        let Ok(frame) = frame else { return };
                        if messages.send(frame).is_err() {
                            return;
                        }
                    }
                }
            });
            self.streams.insert(source, writer);
        }
        let mut text = self.identities.rewrite(&String::from_utf8_lossy(bytes));
        for (then, now) in &self.remotes {
            text = text.replace(then.as_str(), now);
        }
        let writer = self.streams.get_mut(&source).expect("opened above");
        writer.write_all(text.as_bytes()).await?;
        Ok(())
    }

    /// Writes down what tandem says until `until`.
    async fn receive_until(&mut self, until: Instant) -> Result<()> {
        loop {
            let wait = until.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Ok(());
            }
            let udp = tokio::select! {
                udp = tokio::time::timeout(wait, self.socket.recv(&mut self.buf)) => udp,
                Some(frame) = self.stream_messages.recv() => {
                    let text = String::from_utf8_lossy(&frame).into_owned();
                    self.record(text)?;
                    continue;
                }
            };
            match udp {
                Err(_) => return Ok(()),
                // An ICMP port-unreachable surfaces here: tandem is not (yet) listening.
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    anyhow::bail!("nothing listens at the --live address: {e}")
                }
                Ok(Err(e)) => return Err(e.into()),
                Ok(Ok(n)) => {
                    let text = String::from_utf8_lossy(&self.buf[..n]).into_owned();
                    if !text.trim().is_empty() {
                        self.record(text)?;
                    }
                }
            }
        }
    }

    /// One message from tandem, written as the offline transcript writes SIP entries,
    /// with the live addresses put back to the trace's.
    fn record(&mut self, text: String) -> std::io::Result<()> {
        self.identities.sent_now(text.clone());
        let mut text = text.replace(&self.target.to_string(), &self.tandem.to_string());
        for (then, now) in &self.remotes {
            text = text.replace(now.as_str(), then);
            // RFC 3581: tandem's Via echoes the port it saw, ours.
            if let (Some((_, then_port)), Some((_, now_port))) =
                (then.rsplit_once(':'), now.rsplit_once(':'))
            {
                text = text.replace(
                    &format!(";rport={now_port}"),
                    &format!(";rport={then_port}"),
                );
            }
        }
        let shown =
            super::run::with_body_length(&self.normaliser.normalise(&text)).replace("\r\n", "\n");
        write!(self.transcript, "sip\n{}\n\n", shown.trim_end())
    }
}

/// The SIP entries of an offline transcript, as live mode writes them: without the time
/// and the address line (timing and ports differ on a live run).
pub fn sip_only(transcript: &str) -> String {
    let mut out = String::new();
    for entry in transcript.split("\n\n+") {
        let entry = entry.trim_start_matches('+');
        let Some((head, body)) = entry.split_once('\n') else {
            continue;
        };
        if head.split_whitespace().nth(1) == Some("sip") {
            out.push_str("sip\n");
            out.push_str(body.trim_end());
            out.push_str("\n\n");
        }
    }
    out
}
