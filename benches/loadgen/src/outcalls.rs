//! `outcalls`: the reverse of `calls`. Logged-in XMPP users place Jingle calls to
//! `n{k}@<gateway>`; tandem turns each into an INVITE through `[sip] outbound_proxy`, which
//! points at this process's auto-answering SIP UAS (200 with an SDP answer to every INVITE,
//! 200 to every BYE). Measures session-initiate -> session-accept latency (the XMPP
//! caller's view of INVITE -> 200) and setups/s; with `--hold`, calls stay up and tandem's
//! RSS growth per active call is reported.
//!
//! Each caller connection places one call at a time, so `--callers` is the number of calls
//! in setup at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;
use tokio::net::UdpSocket;

use crate::conn::{login, ClientSetup, Tls, XmppConn};
use crate::xml::escape;
use crate::{lat_stats, Out};

const JINGLE_NS: &str = "urn:xmpp:jingle:1";

pub struct OutCallsConfig {
    /// Where the UAS listens (tandem's `outbound_proxy`).
    pub uas: SocketAddr,
    /// tandem's `[gateway] sip_domain`.
    pub gateway: String,
    pub callers: usize,
    pub count: usize,
    pub hold: bool,
    pub pid: Option<u32>,
    pub first_user: usize,
}

fn header<'a>(message: &'a str, names: &[&str]) -> Option<&'a str> {
    message.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        let n = n.trim();
        names
            .iter()
            .any(|want| n.eq_ignore_ascii_case(want))
            .then(|| v.trim())
    })
}

/// Every header line with one of these names (Via may repeat).
fn headers<'a>(message: &'a str, names: &'a [&str]) -> impl Iterator<Item = &'a str> {
    message.lines().filter(move |l| {
        l.split_once(':')
            .is_some_and(|(n, _)| names.iter().any(|want| n.trim().eq_ignore_ascii_case(want)))
    })
}

/// A response to `request`, echoing Via/From/To/Call-ID/CSeq (RFC 3261 §8.2.6), with a
/// To tag derived from the Call-ID so retransmitted INVITEs get the same dialog.
fn response(request: &str, local: SocketAddr, status: &str, sdp: Option<&str>) -> Option<String> {
    let call_id = header(request, &["Call-ID", "i"])?;
    let mut out = format!("SIP/2.0 {status}\r\n");
    for via in headers(request, &["Via", "v"]) {
        out.push_str(via);
        out.push_str("\r\n");
    }
    out.push_str(&format!("From: {}\r\n", header(request, &["From", "f"])?));
    let to = header(request, &["To", "t"])?;
    if to.contains(";tag=") {
        out.push_str(&format!("To: {to}\r\n"));
    } else {
        let tag = call_id
            .bytes()
            .fold(5381u32, |h, b| h.wrapping_mul(33) ^ b as u32);
        out.push_str(&format!("To: {to};tag=uas{tag:x}\r\n"));
    }
    out.push_str(&format!(
        "Call-ID: {call_id}\r\nCSeq: {}\r\nContact: <sip:uas@{local}>\r\n",
        header(request, &["CSeq"])?
    ));
    match sdp {
        Some(body) => out.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => out.push_str("Content-Length: 0\r\n\r\n"),
    }
    Some(out)
}

/// The auto-answering SIP side: a phone that picks up at once.
async fn answer_invites(socket: UdpSocket, invites: Arc<AtomicUsize>) {
    let local = socket.local_addr().expect("bound");
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        ip = local.ip()
    );
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        let Ok(text) = std::str::from_utf8(&buf[..n]) else {
            continue;
        };
        let Some(method) = text.split(' ').next() else {
            continue;
        };
        let reply = match method {
            "INVITE" => {
                invites.fetch_add(1, Ordering::Relaxed);
                response(text, local, "200 OK", Some(&sdp))
            }
            "ACK" | "SIP/2.0" => None,
            _ => response(text, local, "200 OK", None),
        };
        if let Some(reply) = reply {
            let _ = socket.send_to(reply.as_bytes(), from).await;
        }
    }
}

/// The next Jingle iq set for `sid` with `action`; iq results and other sessions' requests
/// are acknowledged or skipped on the way.
async fn await_jingle(conn: &mut XmppConn<Tls>, sid: &str, action: &str) -> Result<()> {
    loop {
        let st = conn.next_stanza().await?;
        if st.name != "iq" {
            continue;
        }
        match st.attr("type") {
            Some("set") => {
                let (id, from) = (st.attr("id").unwrap_or(""), st.attr("from").unwrap_or(""));
                conn.send(&format!(
                    "<iq type='result' id='{}' to='{}'/>",
                    escape(id),
                    escape(from)
                ))
                .await?;
                let Some(j) = st.child("jingle", JINGLE_NS) else {
                    continue;
                };
                if j.attr("sid") != Some(sid) {
                    continue;
                }
                match j.attr("action") {
                    Some(a) if a == action => return Ok(()),
                    Some("session-terminate") => bail!("call {sid} terminated by the gateway"),
                    _ => {}
                }
            }
            Some("error") => bail!("iq error: <{}>", st.first_child_name()),
            _ => {}
        }
    }
}

/// The result for our iq `id` (errors fail the call).
async fn await_result(conn: &mut XmppConn<Tls>, id: &str) -> Result<()> {
    loop {
        let st = conn.next_stanza().await?;
        if st.name == "iq" && st.attr("id") == Some(id) {
            if st.attr("type") == Some("result") {
                return Ok(());
            }
            bail!("iq {id} answered {:?}", st.attr("type"));
        }
    }
}

struct Caller {
    conn: XmppConn<Tls>,
    jid: String,
    gateway: String,
}

impl Caller {
    /// session-initiate -> session-accept (and session-terminate unless held).
    async fn call(&mut self, k: usize, hold: bool) -> Result<Duration> {
        let sid = format!("out{k}-{}", std::process::id());
        let to = format!("n{k}@{}", self.gateway);
        let start = Instant::now();
        self.conn
            .send(&format!(
                "<iq type='set' id='i{sid}' to='{to}'><jingle xmlns='{JINGLE_NS}' action='session-initiate' sid='{sid}' initiator='{}'>\
                 <content creator='initiator' name='audio' senders='both'>\
                 <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0' name='PCMU' clockrate='8000'/></description>\
                 <transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'><candidate component='1' generation='0' id='c1' ip='127.0.0.1' port='{}'/></transport>\
                 </content></jingle></iq>",
                escape(&self.jid),
                20000 + (k % 20000) * 2
            ))
            .await?;
        await_jingle(&mut self.conn, &sid, "session-accept")
            .await
            .with_context(|| format!("call {k}"))?;
        let latency = start.elapsed();
        if !hold {
            self.conn
                .send(&format!(
                    "<iq type='set' id='t{sid}' to='{to}'><jingle xmlns='{JINGLE_NS}' action='session-terminate' sid='{sid}'>\
                     <reason><success/></reason></jingle></iq>"
                ))
                .await?;
            await_result(&mut self.conn, &format!("t{sid}")).await?;
        }
        Ok(latency)
    }
}

pub async fn outcalls(
    setup: Arc<ClientSetup>,
    c: OutCallsConfig,
    out: Out,
) -> Result<serde_json::Value> {
    let invites = Arc::new(AtomicUsize::new(0));
    let uas = UdpSocket::bind(c.uas)
        .await
        .with_context(|| format!("bind the UAS on {}", c.uas))?;
    tokio::spawn(answer_invites(uas, invites.clone()));
    let mut callers = Vec::with_capacity(c.callers);
    for i in 0..c.callers {
        let (conn, info) = login(&setup, c.first_user + i, "dialer", true).await?;
        callers.push(Caller {
            conn,
            jid: info.jid,
            gateway: c.gateway.clone(),
        });
    }
    out.line(format!("{} callers online, UAS on {}", c.callers, c.uas));
    let rss_before = c.pid.and_then(crate::calls::rss_kib);
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(c.count)));
    let failures = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(c.callers);
    for mut caller in callers {
        let (next, latencies, failures) = (next.clone(), latencies.clone(), failures.clone());
        let (count, hold) = (c.count, c.hold);
        tasks.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= count {
                    return caller;
                }
                match tokio::time::timeout(Duration::from_secs(10), caller.call(k, hold)).await {
                    Ok(Ok(l)) => latencies.lock().unwrap().push(l.as_micros() as u64),
                    Ok(Err(e)) => {
                        if failures.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("{e:#}");
                        }
                    }
                    Err(_) => {
                        // The connection's state is unknown after a timeout: stop this caller.
                        failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("call {k}: no answer in 10 s");
                        return caller;
                    }
                }
            }
        }));
    }
    // Keep the connections (and with --hold, the calls) up until measured.
    let mut held = Vec::with_capacity(tasks.len());
    for t in tasks {
        held.push(t.await?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stats = lat_stats(std::mem::take(&mut *latencies.lock().unwrap()));
    let setups = stats.n;
    let rate = setups as f64 / elapsed;
    out.line(format!(
        "outgoing calls: {setups} set up in {elapsed:.2} s = {rate:.0} setups/s, \
         session-initiate->session-accept {}; {} failed; the UAS saw {} INVITEs",
        stats.human(),
        failures.load(Ordering::Relaxed),
        invites.load(Ordering::Relaxed)
    ));
    let mut per_call = None;
    if let (true, Some(pid), Some(before)) = (c.hold, c.pid, rss_before) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(after) = crate::calls::rss_kib(pid) {
            let kib = (after.saturating_sub(before)) as f64 / setups.max(1) as f64;
            out.line(format!(
                "tandem RSS {before} KiB -> {after} KiB with {setups} calls up: {kib:.1} KiB per active call"
            ));
            per_call = Some(kib);
        }
    }
    drop(held);
    Ok(json!({
        "mode": "outcalls", "setups": setups, "seconds": elapsed, "setups_per_sec": rate,
        "initiate_to_accept": stats.json(), "failures": failures.load(Ordering::Relaxed),
        "uas_invites": invites.load(Ordering::Relaxed), "kib_per_active_call": per_call,
    }))
}
