//! `calls`: SIP calls into tandem's gateway towards auto-answering XMPP clients. A UDP SIP
//! caller (from an address tandem trusts, so no digest) sends INVITEs to `{prefix}{i}`;
//! each of those users is logged in with one resource that answers the gateway's
//! capability query (Jingle, no JMI) and accepts every session-initiate with a Raw UDP
//! candidate. Measures INVITE -> 200 latency and setups/s; with `--hold`, calls stay up and
//! tandem's RSS growth per active call is reported.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::json;
use tokio::net::UdpSocket;
use tokio::sync::{oneshot, Semaphore};

use crate::conn::{login, ClientSetup, Tls, XmppConn};
use crate::xml::escape;
use crate::{lat_stats, Out};

const JINGLE_NS: &str = "urn:xmpp:jingle:1";
const DISCO_INFO_NS: &str = "http://jabber.org/protocol/disco#info";

pub struct CallsConfig {
    pub sip: SocketAddr,
    pub callees: usize,
    pub count: usize,
    pub concurrency: usize,
    pub hold: bool,
    pub pid: Option<u32>,
    pub first_user: usize,
}

/// One XMPP callee: answers the capability query and accepts every call.
async fn answer_calls(mut conn: XmppConn<Tls>, accepted: Arc<AtomicUsize>) -> Result<()> {
    let mut n = 0u64;
    loop {
        let st = conn.next_stanza().await?;
        if st.name != "iq" || st.attr("type") == Some("result") {
            continue;
        }
        let (id, from) = (
            st.attr("id").unwrap_or_default().to_string(),
            st.attr("from").unwrap_or_default().to_string(),
        );
        let result = format!(
            "<iq type='result' id='{}' to='{}'/>",
            escape(&id),
            escape(&from)
        );
        if st.child("query", DISCO_INFO_NS).is_some() {
            conn.send(&format!(
                "<iq type='result' id='{}' to='{}'><query xmlns='{DISCO_INFO_NS}'>\
                 <feature var='{JINGLE_NS}'/><feature var='urn:xmpp:jingle:apps:rtp:audio'/></query></iq>",
                escape(&id),
                escape(&from)
            ))
            .await?;
            continue;
        }
        let Some(jingle) = st.child("jingle", JINGLE_NS) else {
            continue;
        };
        conn.send(&result).await?;
        if jingle.attr("action") == Some("session-initiate") {
            n += 1;
            let sid = jingle.attr("sid").unwrap_or_default();
            conn.send(&format!(
                "<iq type='set' id='acc{n}' to='{}'><jingle xmlns='{JINGLE_NS}' action='session-accept' sid='{}'>\
                 <content creator='initiator' name='audio'>\
                 <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0' name='PCMU' clockrate='8000'/></description>\
                 <transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'><candidate component='1' generation='0' id='c1' ip='127.0.0.1' port='9'/></transport>\
                 </content></jingle></iq>",
                escape(&from),
                escape(sid)
            ))
            .await?;
            accepted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Final responses by Call-ID, delivered to whoever waits for them.
type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<String>>>>;

async fn dispatch(socket: Arc<UdpSocket>, waiters: Waiters) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((n, _)) = socket.recv_from(&mut buf).await else {
            return;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        // Provisional responses and requests (none expected) are skipped.
        if !text.starts_with("SIP/2.0 ") || text.starts_with("SIP/2.0 1") {
            continue;
        }
        let Some(call_id) = header(&text, "Call-ID") else {
            continue;
        };
        let cseq = header(&text, "CSeq").unwrap_or_default();
        let key = format!("{call_id} {}", cseq.split_whitespace().nth(1).unwrap_or(""));
        if let Some(tx) = waiters.lock().unwrap().remove(&key) {
            let _ = tx.send(text);
        }
    }
}

fn header(message: &str, name: &str) -> Option<String> {
    message.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

struct Caller {
    socket: Arc<UdpSocket>,
    target: SocketAddr,
    local: SocketAddr,
    domain: String,
    waiters: Waiters,
}

impl Caller {
    async fn request(&self, call_id: &str, method: &str, text: String) -> Result<String> {
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap()
            .insert(format!("{call_id} {method}"), tx);
        self.socket.send_to(text.as_bytes(), self.target).await?;
        match tokio::time::timeout(Duration::from_secs(10), rx).await {
            Ok(Ok(r)) => Ok(r),
            _ => bail!("no final response to {method} {call_id}"),
        }
    }

    /// INVITE -> 200 -> ACK (and BYE unless held); the INVITE -> 200 time.
    async fn call(&self, n: usize, callee: &str, hold: bool) -> Result<Duration> {
        let (local, domain) = (self.local, &self.domain);
        let call_id = format!("load{n}-{}", std::process::id());
        let sdp = format!(
            "v=0\r\no=- {n} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n",
            20000 + (n % 20000) * 2
        );
        let common = |method: &str, cseq: u32, to_tag: &str| {
            format!(
                "{method} sip:{callee}@{domain} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{call_id}{method}{cseq};rport\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:load@{domain}>;tag=t{n}\r\nTo: <sip:{callee}@{domain}>{to_tag}\r\n\
                 Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:load@{local}>\r\n"
            )
        };
        let start = Instant::now();
        let invite = format!(
            "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            common("INVITE", 1, ""),
            sdp.len()
        );
        let ok = self.request(&call_id, "INVITE", invite).await?;
        let latency = start.elapsed();
        if !ok.starts_with("SIP/2.0 200") {
            bail!("INVITE answered {}", ok.lines().next().unwrap_or(""));
        }
        let to_tag = header(&ok, "To")
            .and_then(|t| t.split(";tag=").nth(1).map(|t| format!(";tag={t}")))
            .unwrap_or_default();
        let ack = format!("{}Content-Length: 0\r\n\r\n", common("ACK", 1, &to_tag));
        self.socket.send_to(ack.as_bytes(), self.target).await?;
        if !hold {
            let bye = format!("{}Content-Length: 0\r\n\r\n", common("BYE", 2, &to_tag));
            self.request(&call_id, "BYE", bye).await?;
        }
        Ok(latency)
    }
}

/// Resident set of a process, in KiB.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub async fn calls(setup: Arc<ClientSetup>, c: CallsConfig, out: Out) -> Result<serde_json::Value> {
    let accepted = Arc::new(AtomicUsize::new(0));
    for i in 0..c.callees {
        let (conn, _) = login(&setup, c.first_user + i, "phone", true).await?;
        let accepted = accepted.clone();
        tokio::spawn(async move {
            let _ = answer_calls(conn, accepted).await;
        });
    }
    // Presence settles before the first call looks for available resources.
    tokio::time::sleep(Duration::from_millis(300)).await;
    out.line(format!("{} callees online", c.callees));
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let waiters: Waiters = Default::default();
    tokio::spawn(dispatch(socket.clone(), waiters.clone()));
    let caller = Arc::new(Caller {
        local: socket.local_addr()?,
        socket,
        target: c.sip,
        domain: setup.domain.clone(),
        waiters,
    });
    let rss_before = c.pid.and_then(rss_kib);
    let permits = Arc::new(Semaphore::new(c.concurrency.max(1)));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(c.count)));
    let failures = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(c.count);
    for n in 0..c.count {
        let permit = permits.clone().acquire_owned().await?;
        let (caller, latencies, failures) = (caller.clone(), latencies.clone(), failures.clone());
        let callee = format!("{}{}", setup.user_prefix, c.first_user + n % c.callees);
        let hold = c.hold;
        tasks.push(tokio::spawn(async move {
            match caller.call(n, &callee, hold).await {
                Ok(l) => latencies.lock().unwrap().push(l.as_micros() as u64),
                Err(e) => {
                    if failures.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("call {n}: {e}");
                    }
                }
            }
            drop(permit);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stats = lat_stats(std::mem::take(&mut *latencies.lock().unwrap()));
    let setups = stats.n;
    let rate = setups as f64 / elapsed;
    out.line(format!(
        "calls: {setups} set up in {elapsed:.2} s = {rate:.0} setups/s, INVITE->200 {}; {} failed",
        stats.human(),
        failures.load(Ordering::Relaxed)
    ));
    let mut per_call = None;
    if let (true, Some(pid), Some(before)) = (c.hold, c.pid, rss_before) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(after) = rss_kib(pid) {
            let kib = (after.saturating_sub(before)) as f64 / setups.max(1) as f64;
            out.line(format!(
                "tandem RSS {before} KiB -> {after} KiB with {setups} calls up: {kib:.1} KiB per active call"
            ));
            per_call = Some(kib);
        }
    }
    Ok(json!({
        "mode": "calls", "setups": setups, "seconds": elapsed, "setups_per_sec": rate,
        "invite_to_200": stats.json(), "failures": failures.load(Ordering::Relaxed),
        "kib_per_active_call": per_call,
    }))
}
