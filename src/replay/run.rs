//! One trace replayed offline: the remote SIP side's messages go into tandem's endpoint at
//! the trace's times on a virtual clock; scripted XMPP users play the other side; what
//! tandem sends either way is written down, normalised, as the transcript.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use tandem_sip::trace::{TraceMessage, TraceProblem};

use super::fixture::Fixture;
use super::identities::Identities;
use super::source::TraceSource;
use super::tokens::Normaliser;
use super::xmpp::{Later, XmppSide};
use crate::config::{Config, TrustedPeer};
use crate::sip::offline::OfflineEndpoint;

/// What a replay produced (the transcript went to the writer it was given).
pub struct Outcome {
    pub problems: Vec<TraceProblem>,
    /// Messages the trace held (both sides).
    pub messages: u64,
    /// Packets of a capture that were not SIP (RTP, DNS, ...).
    pub skipped: u64,
}

/// How long the replay goes on after the trace's last message and the last scripted
/// action, for timers to fire (Timer B/F is 32 s; a ring timeout may be longer).
fn grace(fixture: &Fixture) -> Duration {
    Duration::from_secs(40).max(Duration::from_secs(u64::from(fixture.ring_timeout) + 5))
}

pub async fn replay(
    mut source: TraceSource,
    fixture: &Fixture,
    transcript: &mut dyn std::io::Write,
    mut progress: impl FnMut(u64, u64),
) -> Result<Outcome> {
    let mut problems = Vec::new();
    let Some((first, tandem)) = opening(&mut source, fixture, &mut problems)? else {
        return Ok(Outcome {
            problems,
            messages: 0,
            skipped: source.skipped_packets(),
        });
    };
    let peer = if first.source == tandem {
        first.destination
    } else {
        first.source
    };
    let proxy = fixture.outbound_proxy.unwrap_or(peer);
    let dir = scratch_dir()?;
    let result = run(
        &dir,
        source,
        Start {
            first,
            tandem,
            proxy,
        },
        fixture,
        &mut problems,
        transcript,
        &mut progress,
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let (messages, skipped) = result?;
    Ok(Outcome {
        problems,
        messages,
        skipped,
    })
}

/// The trace's first message, which says where tandem was (unless the fixture does) and
/// when the trace began; `None` for a trace without messages.
pub(super) fn opening(
    source: &mut TraceSource,
    fixture: &Fixture,
    problems: &mut Vec<TraceProblem>,
) -> Result<Option<(TraceMessage, SocketAddr)>> {
    Ok(source.next_message(problems)?.map(|first| {
        let tandem = fixture
            .tandem
            .unwrap_or_else(|| tandem_of(&first, !fixture.calls.is_empty()));
        (first, tandem)
    }))
}

/// Tandem is where the first request went (or whoever sent the first response); when the
/// XMPP side places calls, tandem sent the first request.
fn tandem_of(first: &TraceMessage, tandem_calls: bool) -> SocketAddr {
    let request = !first.bytes.starts_with(b"SIP/2.0 ");
    if request != tandem_calls {
        first.destination
    } else {
        first.source
    }
}

fn scratch_dir() -> Result<std::path::PathBuf> {
    let mut random = [0u8; 8];
    let _ = getrandom::fill(&mut random);
    let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("tandem-replay-{name}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn config(
    dir: &std::path::Path,
    fixture: &Fixture,
    tandem: SocketAddr,
    proxy: SocketAddr,
) -> Result<Config> {
    let text = format!(
        "[server]\ndomain = \"{}\"\ndata_dir = \"{}\"\n\
         [xmpp]\nlisten = []\ntls_listen = []\n\
         [sip]\nlisten = [\"udp:{tandem}\"]\noutbound_proxy = \"sip:{proxy}\"\n\
         [gateway]\nsip_domain = \"{}\"\nring_timeout = {}\n",
        fixture.domain,
        dir.display(),
        fixture.sip_domain(),
        fixture.ring_timeout
    );
    let mut config =
        Config::from_str(&text, "replay").map_err(|e| anyhow::anyhow!("replay config: {e}"))?;
    config.sip.outbound_username = fixture.outbound_username.clone();
    config.sip.outbound_password = fixture.outbound_password.clone();
    Ok(config)
}

/// Where a replay starts: the trace's first message, tandem's address in the trace, and
/// the trunk it calls out through.
struct Start {
    first: TraceMessage,
    tandem: SocketAddr,
    proxy: SocketAddr,
}

/// The virtual timeline: trace time 0 is `base`.
struct Clock {
    base: Instant,
    origin: Duration,
}

impl Clock {
    fn at(&self, trace_time: Duration) -> Instant {
        self.base + trace_time.saturating_sub(self.origin)
    }
    fn wall(&self, at: Instant) -> SystemTime {
        UNIX_EPOCH + self.origin + at.saturating_duration_since(self.base)
    }
    fn offset(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.base)
    }
}

async fn run(
    dir: &std::path::Path,
    mut source: TraceSource,
    start: Start,
    fixture: &Fixture,
    problems: &mut Vec<TraceProblem>,
    transcript: &mut dyn std::io::Write,
    progress: &mut impl FnMut(u64, u64),
) -> Result<(u64, u64)> {
    let Start {
        first,
        tandem,
        proxy,
    } = start;
    let config = config(dir, fixture, tandem, proxy)?;
    let storage = crate::storage::Storage::open(&config.storage().connection_url()).await?;
    for user in &fixture.users {
        let record =
            tandem_xmpp::sasl::PasswordRecord::derive(&user.name, &fixture.domain, "replay", 4096)
                .map_err(|e| anyhow::anyhow!("user {}: {}", user.name, e.reason()))?;
        storage.add_user(&user.name, &record).await?;
    }
    let tls = crate::tls::load_or_generate(
        &config.cert_path(),
        &config.key_path(),
        &fixture.domain,
        None,
    )?;
    let (shared, _gateway) = crate::server::build_shared(
        &config,
        storage.clone(),
        tls,
        crate::server::Parts::standalone(),
    );
    let mut endpoint = OfflineEndpoint::new(&config, storage.clone(), shared.clone(), tandem);
    let mut xmpp = XmppSide::bind(&shared, fixture)?;
    let clock = Clock {
        base: Instant::now(),
        origin: first.time,
    };
    let mut state = State {
        transcript,
        written: Ok(()),
        normaliser: Normaliser::with_gateway(&fixture.sip_domain()),
        identities: Identities::default(),
        later: BTreeMap::new(),
        sequence: 0,
        trusted: HashSet::new(),
    };
    for (n, call) in fixture.calls.iter().enumerate() {
        let at = clock.base + Duration::from_secs_f64(call.at);
        state.schedule(at, Later::Call(call.clone()), n);
    }
    let mut next_message = Some(first);
    let mut messages = 0u64;
    let mut horizon = clock.base;
    loop {
        let message_at = next_message.as_ref().map(|m| clock.at(m.time));
        let later_at = state.later.keys().next().map(|(at, _)| *at);
        let activity = [message_at, later_at].into_iter().flatten().min();
        if let Some(at) = activity {
            horizon = horizon.max(at + grace(fixture));
        }
        let deadline = endpoint.next_deadline().filter(|d| *d <= horizon);
        let Some(now) = [activity, deadline].into_iter().flatten().min() else {
            break;
        };
        endpoint.advance(now, clock.wall(now)).await;
        state.collect(&clock, now, &mut endpoint, &mut xmpp).await;
        if message_at == Some(now) {
            let message = next_message.take().expect("message_at was set from it");
            messages += 1;
            progress(source.read_bytes, source.total_bytes);
            if message.source == tandem {
                state
                    .identities
                    .sent_then(String::from_utf8_lossy(&message.bytes).into_owned());
            } else if message.destination == tandem {
                state.trust(&mut endpoint, message.source.ip());
                let text = String::from_utf8_lossy(&message.bytes);
                let bytes = state.identities.rewrite(&text).into_bytes();
                endpoint
                    .receive(bytes, message.source, message.transport.as_str() == "tcp")
                    .await;
            }
            state.collect(&clock, now, &mut endpoint, &mut xmpp).await;
            next_message = source.next_message(problems)?;
        }
        if later_at == Some(now) {
            while let Some(entry) = state.later.first_entry() {
                if entry.key().0 != now {
                    break;
                }
                let (_, (n, action)) = entry.remove_entry();
                match action {
                    Later::Send(xml) => state.send(&mut endpoint, &xml).await,
                    Later::Call(call) => {
                        if let Some((_, xml)) = xmpp.place(&call, n) {
                            state.send(&mut endpoint, &xml).await;
                        }
                    }
                }
                state.collect(&clock, now, &mut endpoint, &mut xmpp).await;
            }
        }
    }
    storage.close().await;
    state.written?;
    state.transcript.flush()?;
    Ok((messages, source.skipped_packets()))
}

struct State<'w> {
    transcript: &'w mut dyn std::io::Write,
    /// The first failure to write the transcript.
    written: std::io::Result<()>,
    normaliser: Normaliser,
    identities: Identities,
    /// Scripted actions by (time, order of scheduling).
    later: BTreeMap<(Instant, u64), (usize, Later)>,
    sequence: u64,
    trusted: HashSet<IpAddr>,
}

impl State<'_> {
    fn write(&mut self, entry: &str) {
        if self.written.is_ok() {
            self.written = self.transcript.write_all(entry.as_bytes());
        }
    }

    fn schedule(&mut self, at: Instant, action: Later, n: usize) {
        self.sequence += 1;
        self.later.insert((at, self.sequence), (n, action));
    }

    /// The remote side of a replay is a trunk: its requests need no digest.
    fn trust(&mut self, endpoint: &mut OfflineEndpoint, ip: IpAddr) {
        if self.trusted.insert(ip) {
            endpoint.trust(TrustedPeer::Ip(ip));
        }
    }

    async fn send(&mut self, endpoint: &mut OfflineEndpoint, xml: &str) {
        match tandem_xmpp::stream::parse_stanza(xml) {
            Ok(stanza) => endpoint.stanza(stanza).await,
            Err(e) => tracing::error!(error = %e, "a scripted stanza does not parse"),
        }
    }

    /// Writes down what tandem sent, and lets the scripted users react, until quiet.
    async fn collect(
        &mut self,
        clock: &Clock,
        now: Instant,
        endpoint: &mut OfflineEndpoint,
        xmpp: &mut XmppSide,
    ) {
        loop {
            let sent = endpoint.take_sent();
            let delivered = xmpp.delivered();
            if sent.is_empty() && delivered.is_empty() {
                return;
            }
            let offset = clock.offset(now);
            for (to, bytes) in sent {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.identities.sent_now(text.clone());
                let shown = self.normaliser.normalise(&text);
                let shown = with_body_length(&shown).replace("\r\n", "\n");
                let entry = format!(
                    "+{:.3} sip {}\n{}\n\n",
                    offset.as_secs_f64(),
                    to.addr,
                    shown.trim_end()
                );
                self.write(&entry);
            }
            let mut replies = Vec::new();
            for (device, stanza) in delivered {
                let mut xml = String::new();
                stanza.write_to(&mut xml, "jabber:client");
                let shown = self.normaliser.normalise(&xml);
                let entry = format!(
                    "+{:.3} xmpp {}\n{}\n\n",
                    offset.as_secs_f64(),
                    xmpp.devices[device].jid,
                    shown
                );
                self.write(&entry);
                let (now_replies, later) = xmpp.react(device, &stanza);
                replies.extend(now_replies);
                for (after, action) in later {
                    self.schedule(now + after, action, 0);
                }
            }
            for reply in replies {
                self.send(endpoint, &reply).await;
            }
        }
    }
}

/// The Content-Length of a normalised message, made to match its normalised body (names
/// like `<sdp-session-1>` change the body's length from run to run).
pub(super) fn with_body_length(message: &str) -> String {
    let Some((head, body)) = message.split_once("\r\n\r\n") else {
        return message.to_owned();
    };
    let head: Vec<String> = head
        .split("\r\n")
        .map(|line| match line.split_once(':') {
            Some((name, _))
                if name.eq_ignore_ascii_case("content-length")
                    || name.eq_ignore_ascii_case("l") =>
            {
                format!("{name}: {}", body.len())
            }
            _ => line.to_owned(),
        })
        .collect();
    format!("{}\r\n\r\n{body}", head.join("\r\n"))
}
