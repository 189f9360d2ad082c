//! tandem-loadgen: a small XMPP c2s load generator usable against any server.
//!
//! Every connection does the full client path a real client does: TCP, stream header,
//! STARTTLS (or direct TLS), TLS 1.3 with a full handshake (no resumption), SASL
//! (PLAIN / SCRAM-SHA-1 / SCRAM-SHA-256, server signature verified), stream restart,
//! resource bind, session if the server requires it, initial presence where relevant.

mod calls;
mod conn;
mod outcalls;
mod scram;
mod xml;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use rustls::pki_types::ServerName;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch, Notify, Semaphore};

use conn::{login, ClientSetup, Mech, Tls, XmppConn};
use xml::{escape, Frame, NS_CLIENT, NS_PING};

#[derive(Parser)]
#[command(
    name = "tandem-loadgen",
    version,
    about = "XMPP c2s load generator (works against any server)"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args)]
struct Common {
    /// Server c2s address.
    #[arg(long, global = true, default_value = "127.0.0.1:5222")]
    addr: SocketAddr,
    /// XMPP domain (stream 'to', JIDs).
    #[arg(long, global = true, default_value = "localhost")]
    domain: String,
    /// TLS server name (SNI); defaults to --domain.
    #[arg(long, global = true)]
    tls_name: Option<String>,
    /// Users are {prefix}{i}.
    #[arg(long, global = true, default_value = "user")]
    user_prefix: String,
    /// Password shared by all users.
    #[arg(long, global = true, default_value = "pw")]
    password: String,
    /// SASL mechanism.
    #[arg(long, global = true, value_enum, default_value = "PLAIN")]
    mech: Mech,
    /// TLS from the first byte (XEP-0368) instead of STARTTLS.
    #[arg(long, global = true)]
    direct_tls: bool,
    /// Also allow TLS 1.2 (default: TLS 1.3 only).
    #[arg(long, global = true)]
    tls12: bool,
    /// Always send the legacy session iq (otherwise only when the server marks it required).
    #[arg(long, global = true)]
    session: bool,
    /// Recompute the SCRAM salted password on every login (default: cache it per user, as
    /// real clients do, to keep PBKDF2 off the load generator's core).
    #[arg(long, global = true)]
    no_scram_cache: bool,
    /// Keep the SCRAM salted-password cache in this file across runs (read at start, written
    /// at the end), so repeated runs do not pay client-side PBKDF2 again.
    #[arg(long, global = true)]
    scram_cache_file: Option<std::path::PathBuf>,
    /// Per-login timeout in seconds.
    #[arg(long, global = true, default_value_t = 30)]
    timeout_secs: u64,
    /// Index of the first user.
    #[arg(long, global = true, default_value_t = 0)]
    first_user: usize,
    /// Tokio worker threads (0 = one per CPU in the affinity mask).
    #[arg(long, global = true, default_value_t = 0)]
    threads: usize,
    /// Human lines to stderr, one JSON object on stdout.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Open N authenticated TLS sessions (with presence) and hold them.
    Idle {
        #[arg(long, default_value_t = 1000)]
        n: usize,
        /// Logins in flight while opening.
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        /// Seconds to hold all sessions after they are up.
        #[arg(long, default_value_t = 10)]
        hold_secs: u64,
    },
    /// Full connect+TLS+auth+bind+close cycles.
    Logins {
        #[arg(long, default_value_t = 2000)]
        n: usize,
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        /// Cycle through this many users (default: n).
        #[arg(long)]
        users: Option<usize>,
        /// Send initial presence before closing.
        #[arg(long)]
        presence: bool,
    },
    /// SIP calls into tandem's gateway (from a trusted address) towards users
    /// {prefix}{first}..{first+callees}, who auto-answer over Jingle.
    Calls {
        /// tandem's SIP UDP address.
        #[arg(long, default_value = "127.0.0.1:5060")]
        sip: SocketAddr,
        #[arg(long, default_value_t = 50)]
        callees: usize,
        /// Calls to place.
        #[arg(long, default_value_t = 5000)]
        count: usize,
        /// Calls in setup at once.
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        /// Keep every call up (no BYE), to measure memory per active call.
        #[arg(long)]
        hold: bool,
        /// tandem's pid, to read its RSS before and after (with --hold).
        #[arg(long)]
        pid: Option<u32>,
    },
    /// Jingle calls from users {prefix}{first}..{first+callers} to `n{k}@<gateway>`, which
    /// tandem sends through `[sip] outbound_proxy` to this process's auto-answering SIP UAS.
    Outcalls {
        /// Where the UAS listens: tandem's `outbound_proxy` must point here.
        #[arg(long, default_value = "127.0.0.1:5070")]
        uas: SocketAddr,
        /// tandem's `[gateway] sip_domain`.
        #[arg(long, default_value = "sip.localhost")]
        gateway: String,
        /// Caller connections, each with one call in setup at a time.
        #[arg(long, default_value_t = 20)]
        callers: usize,
        /// Calls to place.
        #[arg(long, default_value_t = 5000)]
        count: usize,
        /// Keep every call up (no session-terminate), to measure memory per active call.
        #[arg(long)]
        hold: bool,
        /// tandem's pid, to read its RSS before and after (with --hold).
        #[arg(long)]
        pid: Option<u32>,
    },
    /// User i sends chat messages to user i+pairs; end-to-end latency from a timestamp in the body.
    Messages {
        #[arg(long, default_value_t = 50)]
        pairs: usize,
        /// Total messages over all pairs.
        #[arg(long, default_value_t = 200_000)]
        count: usize,
        /// Max messages in flight (sent, not yet received) per sender.
        #[arg(long, default_value_t = 100)]
        window: usize,
        /// Extra body padding in bytes.
        #[arg(long, default_value_t = 0)]
        body_bytes: usize,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        max_secs: u64,
        /// Log the receivers in at this c2s address instead (another cluster of the same
        /// domain: cross-cluster latency).
        #[arg(long)]
        receivers_at: Option<SocketAddr>,
    },
}

/// Human output: stdout, or stderr when --json owns stdout.
#[derive(Clone, Copy)]
pub(crate) struct Out {
    json: bool,
}

impl Out {
    fn line(&self, s: impl AsRef<str>) {
        if self.json {
            eprintln!("{}", s.as_ref());
        } else {
            println!("{}", s.as_ref());
        }
    }
    fn result(&self, v: serde_json::Value) {
        if self.json {
            println!("{v}");
        }
    }
}

#[derive(Default, Clone, Copy)]
struct LatStats {
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

/// Latency summary in milliseconds from samples in microseconds (nearest-rank percentiles).
pub(crate) fn lat_stats(mut v: Vec<u64>) -> LatStats {
    if v.is_empty() {
        return LatStats::default();
    }
    v.sort_unstable();
    let pct = |p: f64| {
        let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1] as f64 / 1000.0
    };
    LatStats {
        n: v.len(),
        p50: pct(0.50),
        p99: pct(0.99),
        max: *v.last().unwrap() as f64 / 1000.0,
        mean: v.iter().sum::<u64>() as f64 / v.len() as f64 / 1000.0,
    }
}

impl LatStats {
    fn human(&self) -> String {
        format!(
            "p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  mean {:.2} ms  (n={})",
            self.p50, self.p99, self.max, self.mean, self.n
        )
    }
    fn json(&self) -> serde_json::Value {
        json!({"p50_ms": r3(self.p50), "p99_ms": r3(self.p99), "max_ms": r3(self.max), "mean_ms": r3(self.mean)})
    }
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// This process's CPU time (user+system) in seconds, from /proc (Linux; 100 Hz ticks).
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ut: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((ut + st) / 100.0)
        })
        .unwrap_or(0.0)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if cli.common.threads > 0 {
        rt.worker_threads(cli.common.threads);
    }
    rt.build()?.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    let c = cli.common;
    let tls_name = ServerName::try_from(c.tls_name.clone().unwrap_or_else(|| c.domain.clone()))
        .map_err(|e| anyhow!("bad TLS name: {e}"))?;
    let setup = Arc::new(ClientSetup {
        addr: c.addr,
        domain: c.domain.clone(),
        tls_name,
        user_prefix: c.user_prefix.clone(),
        password: c.password.clone(),
        mech: c.mech,
        direct_tls: c.direct_tls,
        force_session: c.session,
        scram_cache: !c.no_scram_cache,
        connector: conn::tls_connector(c.tls12)?,
    });
    let out = Out { json: c.json };
    if let (Some(f), false) = (&c.scram_cache_file, c.no_scram_cache) {
        scram::load_cache(f)?;
    }
    let to = Duration::from_secs(c.timeout_secs);
    let common = json!({
        "addr": c.addr.to_string(), "mech": c.mech.name(),
        "transport": if c.direct_tls { "direct-tls" } else { "starttls" },
    });
    let mut v = match cli.cmd {
        Cmd::Idle {
            n,
            concurrency,
            hold_secs,
        } => {
            idle(
                setup,
                c.first_user,
                n,
                concurrency.max(1),
                hold_secs,
                to,
                out,
            )
            .await?
        }
        Cmd::Logins {
            n,
            concurrency,
            users,
            presence,
        } => {
            let users = users.unwrap_or(n).max(1);
            logins(
                setup,
                c.first_user,
                n,
                concurrency.max(1),
                users,
                presence,
                to,
                out,
            )
            .await?
        }
        Cmd::Calls {
            sip,
            callees,
            count,
            concurrency,
            hold,
            pid,
        } => {
            if callees == 0 {
                bail!("--callees must be > 0");
            }
            let config = calls::CallsConfig {
                sip,
                callees,
                count,
                concurrency,
                hold,
                pid,
                first_user: c.first_user,
            };
            calls::calls(setup, config, out).await?
        }
        Cmd::Outcalls {
            uas,
            gateway,
            callers,
            count,
            hold,
            pid,
        } => {
            if callers == 0 {
                bail!("--callers must be > 0");
            }
            let config = outcalls::OutCallsConfig {
                uas,
                gateway,
                callers,
                count,
                hold,
                pid,
                first_user: c.first_user,
            };
            outcalls::outcalls(setup, config, out).await?
        }
        Cmd::Messages {
            pairs,
            count,
            window,
            body_bytes,
            max_secs,
            receivers_at,
        } => {
            if pairs == 0 || window == 0 {
                bail!("--pairs and --window must be > 0");
            }
            let deadline = Duration::from_secs(max_secs);
            let receiver_setup = match receivers_at {
                None => setup.clone(),
                Some(addr) => Arc::new(ClientSetup {
                    addr,
                    domain: setup.domain.clone(),
                    tls_name: setup.tls_name.clone(),
                    user_prefix: setup.user_prefix.clone(),
                    password: setup.password.clone(),
                    mech: setup.mech,
                    direct_tls: setup.direct_tls,
                    force_session: setup.force_session,
                    scram_cache: setup.scram_cache,
                    connector: setup.connector.clone(),
                }),
            };
            messages(
                [setup, receiver_setup],
                c.first_user,
                pairs,
                count,
                window,
                body_bytes,
                deadline,
                to,
                out,
            )
            .await?
        }
    };
    if let (Some(o), Some(cm)) = (v.as_object_mut(), common.as_object()) {
        for (k, val) in cm {
            o.insert(k.clone(), val.clone());
        }
        let iters = conn::SCRAM_ITERATIONS.load(Ordering::Relaxed);
        if iters > 0 {
            o.insert("scram_iterations".into(), json!(iters));
            out.line(format!("server SCRAM PBKDF2 iterations: {iters}"));
        }
    }
    if let (Some(f), false) = (&c.scram_cache_file, c.no_scram_cache) {
        scram::save_cache(f)?;
    }
    out.result(v);
    Ok(())
}

type LoginResult = Result<(XmppConn<Tls>, conn::LoginInfo)>;

async fn timed_login(
    setup: &ClientSetup,
    idx: usize,
    resource: &str,
    presence: bool,
    to: Duration,
) -> (Duration, LoginResult) {
    let t = Instant::now();
    let r = match tokio::time::timeout(to, login(setup, idx, resource, presence)).await {
        Ok(r) => r,
        Err(_) => Err(anyhow!("login timed out after {to:?}")),
    };
    (t.elapsed(), r)
}

// ---------------------------------------------------------------- idle

async fn idle(
    setup: Arc<ClientSetup>,
    first: usize,
    n: usize,
    concurrency: usize,
    hold_secs: u64,
    to: Duration,
    out: Out,
) -> Result<serde_json::Value> {
    let sem = Arc::new(Semaphore::new(concurrency));
    let (res_tx, mut res_rx) = mpsc::unbounded_channel::<(Duration, Result<String, String>)>();
    let (stop_tx, stop_rx) = watch::channel(false);
    let dropped = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (setup, sem, res_tx, mut stop_rx, dropped) = (
            setup.clone(),
            sem.clone(),
            res_tx.clone(),
            stop_rx.clone(),
            dropped.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = sem.acquire_owned().await.expect("semaphore");
            let (lat, r) = timed_login(&setup, first + i, &format!("idle{i}"), true, to).await;
            drop(permit);
            match r {
                Err(e) => {
                    let _ = res_tx.send((lat, Err(format!("{e:#}"))));
                }
                Ok((conn, info)) => {
                    let _ = res_tx.send((lat, Ok(info.tls)));
                    drop(res_tx);
                    hold(conn, &mut stop_rx, &dropped).await;
                }
            }
        }));
    }
    drop(res_tx);
    let (mut ok, mut failed, mut lats, mut first_err, mut tls) =
        (0usize, 0usize, Vec::new(), None, None);
    while let Some((lat, r)) = res_rx.recv().await {
        match r {
            Ok(t) => {
                ok += 1;
                lats.push(lat.as_micros() as u64);
                tls.get_or_insert(t);
            }
            Err(e) => {
                failed += 1;
                first_err.get_or_insert(e);
            }
        }
        if ok + failed == n {
            break;
        }
    }
    let up_secs = t0.elapsed().as_secs_f64();
    let ls = lat_stats(lats);
    out.line(format!(
        "READY all up: connected={ok} failed={failed} in {up_secs:.2}s ({:.0} logins/s) tls={}",
        ok as f64 / up_secs,
        tls.as_deref().unwrap_or("-")
    ));
    out.line(format!("login latency: {}", ls.human()));
    if let Some(e) = &first_err {
        out.line(format!("first error: {e}"));
    }
    out.line(format!("holding {ok} sessions for {hold_secs}s"));
    tokio::time::sleep(Duration::from_secs(hold_secs)).await;
    let dropped_n = dropped.load(Ordering::Relaxed);
    out.line(format!(
        "hold over: {} still open, {dropped_n} closed by the server; closing",
        ok - dropped_n
    ));
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        for t in tasks {
            let _ = t.await;
        }
    })
    .await;
    Ok(json!({
        "mode": "idle", "n": n, "connected": ok, "failed": failed, "dropped_during_hold": dropped_n,
        "up_secs": r3(up_secs), "login": ls.json(), "tls": tls, "first_error": first_err,
    }))
}

/// Keep a session open, answering server pings, until told to stop.
async fn hold(mut conn: XmppConn<Tls>, stop: &mut watch::Receiver<bool>, dropped: &AtomicUsize) {
    loop {
        tokio::select! {
            f = conn.reader.next(&mut conn.io) => match f {
                Ok(Frame::Stanza(st)) => {
                    if st.name == "iq" && st.attr("type") == Some("get") && st.child("ping", NS_PING).is_some() {
                        let reply = format!(
                            "<iq type='result' id='{}'{}/>",
                            escape(st.attr("id").unwrap_or("")),
                            st.attr("from").map(|f| format!(" to='{}'", escape(f))).unwrap_or_default()
                        );
                        if conn.send(&reply).await.is_err() {
                            dropped.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                }
                Ok(_) | Err(_) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            },
            _ = stop.changed() => {
                conn.close().await;
                return;
            }
        }
    }
}

// ---------------------------------------------------------------- logins

#[allow(clippy::too_many_arguments)]
async fn logins(
    setup: Arc<ClientSetup>,
    first: usize,
    n: usize,
    concurrency: usize,
    users: usize,
    presence: bool,
    to: Duration,
    out: Out,
) -> Result<serde_json::Value> {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu0 = cpu_secs();
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.min(n.max(1)) {
        let (setup, next) = (setup.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut lats = Vec::new();
            let (mut failed, mut first_err, mut tls) = (0usize, None, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (lat, r) = timed_login(
                    &setup,
                    first + i % users,
                    &format!("login{i}"),
                    presence,
                    to,
                )
                .await;
                match r {
                    Ok((conn, info)) => {
                        lats.push(lat.as_micros() as u64);
                        tls.get_or_insert(info.tls);
                        conn.close().await;
                    }
                    Err(e) => {
                        failed += 1;
                        first_err.get_or_insert(format!("{e:#}"));
                    }
                }
            }
            (lats, failed, first_err, tls)
        }));
    }
    let (mut lats, mut failed, mut first_err, mut tls) = (Vec::new(), 0usize, None, None);
    for w in workers {
        let (l, f, e, t) = w.await?;
        lats.extend(l);
        failed += f;
        if first_err.is_none() {
            first_err = e;
        }
        if tls.is_none() {
            tls = t;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    let ok = lats.len();
    let ls = lat_stats(lats);
    let rate = ok as f64 / secs;
    out.line(format!(
        "logins: {ok} ok, {failed} failed in {secs:.2}s = {rate:.1} logins/s (concurrency {concurrency}, {} {})",
        setup.mech.name(),
        tls.as_deref().unwrap_or("-")
    ));
    out.line(format!(
        "login latency (connect..bind{}): {}",
        if presence { "+presence" } else { "" },
        ls.human()
    ));
    out.line(format!(
        "loadgen cpu: {:.0}% of one core",
        100.0 * cpu / secs
    ));
    if let Some(e) = &first_err {
        out.line(format!("first error: {e}"));
    }
    Ok(json!({
        "mode": "logins", "n": n, "ok": ok, "failed": failed, "concurrency": concurrency,
        "secs": r3(secs), "logins_per_sec": r3(rate), "latency": ls.json(), "tls": tls,
        "loadgen_cpu_pct": r3(100.0 * cpu / secs), "first_error": first_err,
    }))
}

// ---------------------------------------------------------------- messages

struct PairState {
    window: Semaphore,
    errors: AtomicU64,
    wake: Notify,
}

#[allow(clippy::too_many_arguments)]
async fn messages(
    [setup, receiver_setup]: [Arc<ClientSetup>; 2],
    first: usize,
    pairs: usize,
    count: usize,
    window: usize,
    body_bytes: usize,
    max: Duration,
    to: Duration,
    out: Out,
) -> Result<serde_json::Value> {
    // Connect everyone (presence + ping round trip, so the server knows them all as available).
    let sem = Arc::new(Semaphore::new(50));
    let mut logins = Vec::new();
    for u in 0..2 * pairs {
        let setup = if u < pairs { &setup } else { &receiver_setup };
        let (setup, sem) = (setup.clone(), sem.clone());
        logins.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await.expect("semaphore");
            timed_login(&setup, first + u, &format!("msg{u}"), true, to)
                .await
                .1
        }));
    }
    let mut conns = Vec::new();
    let mut tls = None;
    for (u, l) in logins.into_iter().enumerate() {
        let (c, info) = l
            .await?
            .with_context(|| format!("login of {}{}", setup.user_prefix, first + u))?;
        tls.get_or_insert(info.tls);
        conns.push(c);
    }
    let receivers: Vec<_> = conns.split_off(pairs);
    let senders = conns;
    out.line(format!(
        "messages: {} sessions up ({}); {count} messages over {pairs} pairs, window {window}",
        2 * pairs,
        tls.as_deref().unwrap_or("-")
    ));

    let base = Instant::now();
    let deadline = tokio::time::Instant::now() + max;
    let pad = "x".repeat(body_bytes);
    let cpu0 = cpu_secs();
    let mut recv_tasks = Vec::new();
    let mut send_tasks = Vec::new();
    let mut states = Vec::new();
    for (p, (s, r)) in senders.into_iter().zip(receivers).enumerate() {
        let cnt = count / pairs + usize::from(p < count % pairs);
        let st = Arc::new(PairState {
            window: Semaphore::new(window),
            errors: AtomicU64::new(0),
            wake: Notify::new(),
        });
        states.push(st.clone());
        let to_jid = escape(&format!(
            "{}{}@{}",
            setup.user_prefix,
            first + pairs + p,
            setup.domain
        ));

        // Receiver: count bodies, compute latency, give window credit back.
        let st_r = st.clone();
        recv_tasks.push(tokio::spawn(async move {
            let XmppConn { mut io, mut reader } = r;
            let mut lats = Vec::with_capacity(cnt);
            let mut last = Duration::ZERO;
            let mut err = None;
            while lats.len() + (st_r.errors.load(Ordering::Relaxed) as usize) < cnt {
                tokio::select! {
                    f = reader.next(&mut io) => match f {
                        Ok(Frame::Stanza(m)) if m.name == "message" && m.attr("type") != Some("error") => {
                            let Some(body) = m.child("body", NS_CLIENT) else { continue };
                            let Some(ts) = body.text.split(' ').next().and_then(|t| t.parse::<u64>().ok()) else { continue };
                            let now = base.elapsed();
                            lats.push((now.as_nanos() as u64).saturating_sub(ts) / 1000);
                            last = now;
                            st_r.window.add_permits(1);
                        }
                        Ok(Frame::Stanza(_)) => {}
                        Ok(f) => { err = Some(format!("receiver: unexpected {f:?}")); break; }
                        Err(e) => { err = Some(format!("receiver: {e:#}")); break; }
                    },
                    _ = st_r.wake.notified() => {}
                    _ = tokio::time::sleep_until(deadline) => { err = Some("deadline reached".into()); break; }
                }
            }
            let _ = io.write_all(b"</stream:stream>").await;
            let _ = io.shutdown().await;
            (lats, last, err)
        }));

        // Sender: write side sends within the window; read side watches for bounces.
        let XmppConn { io, mut reader } = s;
        let (mut rh, mut wh) = tokio::io::split(io);
        let st_s = st.clone();
        let drain = tokio::spawn(async move {
            while let Ok(f) = reader.next(&mut rh).await {
                if let Frame::Stanza(m) = f {
                    if m.name == "message" && m.attr("type") == Some("error") {
                        st_s.errors.fetch_add(1, Ordering::Relaxed);
                        st_s.window.add_permits(1);
                        st_s.wake.notify_one();
                    }
                }
            }
        });
        let pad = pad.clone();
        send_tasks.push(tokio::spawn(async move {
            let mut buf = Vec::with_capacity(16 * 1024);
            let mut k = 0usize;
            let mut err = None;
            'outer: while k < cnt {
                tokio::select! {
                    p = st.window.acquire() => p.expect("window").forget(),
                    _ = tokio::time::sleep_until(deadline) => break 'outer,
                }
                loop {
                    use std::io::Write;
                    let ts = base.elapsed().as_nanos() as u64;
                    let _ = write!(
                        buf,
                        "<message type='chat' to='{to_jid}' id='m{k}'><body>{ts} {pad}</body></message>"
                    );
                    k += 1;
                    if k >= cnt || buf.len() >= 16 * 1024 {
                        break;
                    }
                    match st.window.try_acquire() {
                        Ok(p) => p.forget(),
                        Err(_) => break,
                    }
                }
                let w = async {
                    wh.write_all(&buf).await?;
                    wh.flush().await
                };
                if let Err(e) = w.await {
                    err = Some(format!("sender: {e}"));
                    break;
                }
                buf.clear();
            }
            // Keep the sender's session open until its receiver is done (bounces may still come).
            (k, err, wh, drain)
        }));
    }

    let mut sent = 0usize;
    let mut writers = Vec::new();
    let mut first_err = None;
    for t in send_tasks {
        let (k, err, wh, drain) = t.await?;
        sent += k;
        first_err = first_err.or(err);
        writers.push((wh, drain));
    }
    let mut lats = Vec::with_capacity(count);
    let mut last = Duration::ZERO;
    for t in recv_tasks {
        let (l, ls, err) = t.await?;
        lats.extend(l);
        last = last.max(ls);
        first_err = first_err.or(err);
    }
    let cpu = cpu_secs() - cpu0;
    for (mut wh, drain) in writers {
        let _ = wh.write_all(b"</stream:stream>").await;
        let _ = wh.shutdown().await;
        drain.abort();
    }
    let received = lats.len();
    let bounced: u64 = states
        .iter()
        .map(|s| s.errors.load(Ordering::Relaxed))
        .sum();
    let secs = last.as_secs_f64().max(1e-9);
    let rate = received as f64 / secs;
    let ls = lat_stats(lats);
    let lost = sent - received;
    out.line(format!(
        "messages: sent {sent}, received {received} ({lost} not received, {bounced} bounced) in {secs:.2}s = {rate:.0} msg/s"
    ));
    out.line(format!("end-to-end latency: {}", ls.human()));
    out.line(format!(
        "loadgen cpu: {:.0}% of one core",
        100.0 * cpu / secs
    ));
    if let Some(e) = &first_err {
        out.line(format!("first error: {e}"));
    }
    Ok(json!({
        "mode": "messages", "pairs": pairs, "count": count, "window": window, "body_bytes": body_bytes,
        "sent": sent, "received": received, "not_received": lost, "bounced": bounced, "secs": r3(secs),
        "msgs_per_sec": r3(rate), "latency": ls.json(), "tls": tls,
        "loadgen_cpu_pct": r3(100.0 * cpu / secs), "first_error": first_err,
    }))
}
