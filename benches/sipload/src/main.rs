//! `tandem-sipload`: sends SIP OPTIONS over UDP from several sockets with a bounded window
//! of outstanding requests each, matches responses by branch, and reports requests/s and
//! latency percentiles. Works against any SIP server (tandem, kamailio, baresip).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::net::UdpSocket;
use tokio::sync::Mutex;

#[derive(Parser)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:5060")]
    addr: SocketAddr,
    /// Domain for the Request-URI and To.
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// Total requests.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Client sockets (each its own sender).
    #[arg(long, default_value_t = 4)]
    sockets: usize,
    /// Requests in flight per socket.
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// Give up on a request after this many milliseconds.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn options(branch: &str, local: SocketAddr, domain: &str, seq: usize) -> Vec<u8> {
    format!(
        "OPTIONS sip:{domain} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:load@{domain}>;tag=l{seq}\r\n\
         To: <sip:{domain}>\r\n\
         Call-ID: {branch}@load\r\n\
         CSeq: 1 OPTIONS\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn branch_of(response: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(response).ok()?;
    let start = text.find("branch=")? + "branch=".len();
    let rest = &text[start..];
    let end = rest.find([';', '\r', ',', ' ']).unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

struct Stats {
    latencies: Vec<Duration>,
    timeouts: usize,
    non_2xx: usize,
}

async fn run_socket(args: Arc<Args>, index: usize, quota: usize, stats: Arc<Mutex<Stats>>) {
    let bind: SocketAddr = if args.addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    }
    .parse()
    .unwrap();
    let socket = UdpSocket::bind(bind).await.expect("bind");
    let local = socket.local_addr().unwrap();
    let mut outstanding: HashMap<String, Instant> = HashMap::new();
    let mut sent = 0;
    let mut done = 0;
    let mut buf = vec![0u8; 65_535];
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut latencies = Vec::with_capacity(quota);
    let (mut timeouts, mut non_2xx) = (0, 0);
    while done < quota {
        while sent < quota && outstanding.len() < args.window {
            let branch = format!("z9hG4bK-{index}-{sent}");
            socket
                .send_to(&options(&branch, local, &args.domain, sent), args.addr)
                .await
                .expect("send");
            outstanding.insert(branch, Instant::now());
            sent += 1;
        }
        match tokio::time::timeout(timeout, socket.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => {
                let response = &buf[..n];
                if let Some(started) = branch_of(response).and_then(|b| outstanding.remove(&b)) {
                    latencies.push(started.elapsed());
                    if !response.starts_with(b"SIP/2.0 2") {
                        non_2xx += 1;
                    }
                    done += 1;
                }
            }
            _ => {
                // Everything still outstanding is lost.
                timeouts += outstanding.len();
                done += outstanding.len();
                outstanding.clear();
            }
        }
    }
    let mut s = stats.lock().await;
    s.latencies.extend(latencies);
    s.timeouts += timeouts;
    s.non_2xx += non_2xx;
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Arc::new(Args::parse());
    let stats = Arc::new(Mutex::new(Stats {
        latencies: Vec::new(),
        timeouts: 0,
        non_2xx: 0,
    }));
    let started = Instant::now();
    let per = args.count / args.sockets.max(1);
    let tasks: Vec<_> = (0..args.sockets)
        .map(|i| tokio::spawn(run_socket(args.clone(), i, per, stats.clone())))
        .collect();
    for t in tasks {
        t.await.expect("socket task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut s = stats.lock().await;
    s.latencies.sort_unstable();
    let answered = s.latencies.len();
    let rate = answered as f64 / elapsed;
    let (p50, p99, max) = (
        percentile(&s.latencies, 0.5),
        percentile(&s.latencies, 0.99),
        percentile(&s.latencies, 1.0),
    );
    if args.json {
        println!(
            "{{\"answered\":{answered},\"timeouts\":{},\"non_2xx\":{},\"seconds\":{elapsed:.3},\"rate\":{rate:.1},\"p50_ms\":{p50:.3},\"p99_ms\":{p99:.3},\"max_ms\":{max:.3}}}",
            s.timeouts, s.non_2xx
        );
    } else {
        println!(
            "{answered} answered ({} timed out, {} non-2xx) in {elapsed:.2}s: {rate:.0} req/s, p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms",
            s.timeouts, s.non_2xx
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn branch_is_found_in_a_response() {
        let response = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-1-2;rport=1;received=127.0.0.1\r\n\r\n";
        assert_eq!(super::branch_of(response).as_deref(), Some("z9hG4bK-1-2"));
    }
}
