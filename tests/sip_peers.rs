//! The SIP endpoint against real peers: sipsak (OPTIONS over UDP and TCP), baresip
//! (REGISTER with digest), hand-made requests for the toll-fraud rules, and every RFC 4475
//! torture message through the live server.

mod common;

#[path = "common/baresip.rs"]
mod baresip;
#[path = "common/peer_log.rs"]
mod peer_log;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Server;

/// Sends one datagram and returns the first answer, if any arrives within `wait`.
fn udp_exchange(to: SocketAddr, message: &[u8], wait: Duration) -> Option<String> {
    let socket = UdpSocket::bind(if to.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    })
    .unwrap();
    socket.set_read_timeout(Some(wait)).unwrap();
    socket.send_to(message, to).unwrap();
    let mut buf = vec![0u8; 65_535];
    loop {
        match socket.recv_from(&mut buf) {
            // Skip provisional responses: the final one is what the tests look at.
            Ok((n, _)) if buf[..n].starts_with(b"SIP/2.0 1") => continue,
            Ok((n, _)) => return Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => return None,
        }
    }
}

fn options(branch: &str) -> String {
    format!(
        "OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch={branch};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@localhost>;tag=1\r\nTo: <sip:localhost>\r\n\
         Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

fn sipsak_available() -> bool {
    let found = Command::new("sipsak")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("TANDEM_REQUIRE_PEERS").is_none(),
            "sipsak is required: run scripts/install-test-peers.sh"
        );
        eprintln!("skipping: sipsak is not installed");
    }
    found
}

#[test]
fn sipsak_gets_200_to_options_over_udp_and_tcp() {
    if !sipsak_available() {
        return;
    }
    let server = Server::start();
    for (transport, addr) in [("udp", server.sip_udp), ("tcp", server.sip_tcp)] {
        let out = Command::new("sipsak")
            .args([
                "-s",
                &format!("sip:localhost@{addr}"),
                "-E",
                transport,
                "-vv",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "sipsak over {transport}: {text}");
        assert!(
            text.contains("SIP/2.0 200 OK") && text.contains("Allow: INVITE"),
            "{text}"
        );
    }
}

#[test]
fn baresip_registers_with_digest_and_the_binding_survives_a_restart() {
    let mut server = Server::start();
    server.add_user("bob", "secret");
    let account = format!(
        "<sip:bob@localhost>;auth_pass=secret;outbound=\"sip:{}\";regint=600",
        server.sip_udp
    );
    let Some(phone) = baresip::Baresip::start(&account) else {
        return;
    };
    phone.wait_for("200 OK", Duration::from_secs(10));
    // tandem probes the new phone with an OPTIONS and baresip answers it.
    let line = server.wait_for_log("registered phone answered OPTIONS", Duration::from_secs(10));
    assert!(line.contains("status=200"), "{line}");
    // Kill the phone without unregistering; the binding must outlive a server restart.
    drop(phone);
    server.restart();
    let db = server.dir.join("tandem.db");
    let rows = Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT aor, contact FROM registrations")
        .output();
    let listed = match rows {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        // Without the sqlite3 shell, ask the server: a wrong password cannot read bindings,
        // so fall back to the storage file itself.
        _ => {
            String::from_utf8_lossy(&std::fs::read(&db).unwrap_or_default()).into_owned()
                + &String::from_utf8_lossy(
                    &std::fs::read(server.dir.join("tandem.db-wal")).unwrap_or_default(),
                )
        }
    };
    assert!(
        listed.contains("sip:bob@localhost"),
        "binding kept across restart: {listed}"
    );
    assert!(
        server_answers(&server),
        "server still answers after restart"
    );
}

fn server_answers(server: &Server) -> bool {
    static PROBES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let branch = format!(
        "z9hG4bKalive{}",
        PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    udp_exchange(
        server.sip_udp,
        options(&branch).as_bytes(),
        Duration::from_secs(2),
    )
    .is_some_and(|r| r.starts_with("SIP/2.0 200"))
}

fn invite(branch: &str, proxy_authorization: Option<&str>) -> String {
    let auth = proxy_authorization
        .map(|a| format!("Proxy-Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:+15551234567@localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch={branch};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:mallory@elsewhere.example>;tag=m1\r\nTo: <sip:+15551234567@localhost>\r\n\
         Call-ID: {branch}\r\nCSeq: 1 INVITE\r\nContact: <sip:mallory@127.0.0.1:9>\r\n{auth}Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn calls_from_strangers_are_challenged_then_forbidden_and_trusted_peers_pass() {
    let server = Server::start_with("trusted_peers = [\"10.255.255.1\"]", "");
    server.add_user("carol", "pw");
    let wait = Duration::from_secs(3);
    let reply = udp_exchange(server.sip_udp, invite("z9hG4bKt1", None).as_bytes(), wait).unwrap();
    assert!(reply.starts_with("SIP/2.0 407"), "{reply}");
    assert!(reply.contains("Proxy-Authenticate: Digest"), "{reply}");
    // A nonce we never issued only gets a fresh challenge (a restarted server must not lock
    // phones out); a wrong password with a genuine nonce is refused.
    let forged = "Digest username=\"carol\", realm=\"localhost\", nonce=\"forged\", uri=\"sip:+15551234567@localhost\", response=\"00000000000000000000000000000000\"";
    let reply = udp_exchange(
        server.sip_udp,
        invite("z9hG4bKt2", Some(forged)).as_bytes(),
        wait,
    )
    .unwrap();
    assert!(reply.starts_with("SIP/2.0 407"), "{reply}");
    let nonce = reply
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let answer = |password: &str| {
        let hex =
            |data: String| format!("{:x}", <md5::Md5 as md5::Digest>::digest(data.as_bytes()));
        let ha1 = hex(format!("carol:localhost:{password}"));
        let ha2 = hex("INVITE:sip:+15551234567@localhost".to_string());
        let response = hex(format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
        format!(
            "Digest username=\"carol\", realm=\"localhost\", nonce=\"{nonce}\", uri=\"sip:+15551234567@localhost\", \
             algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\", response=\"{response}\""
        )
    };
    let reply = udp_exchange(
        server.sip_udp,
        invite("z9hG4bKt4", Some(&answer("wrong"))).as_bytes(),
        wait,
    )
    .unwrap();
    assert!(reply.starts_with("SIP/2.0 403"), "{reply}");
    // The right password gets past the gate (calls are not bridged yet: 480).
    let reply = udp_exchange(
        server.sip_udp,
        invite("z9hG4bKt5", Some(&answer("pw"))).as_bytes(),
        wait,
    )
    .unwrap();
    assert!(reply.starts_with("SIP/2.0 480"), "{reply}");

    // A trusted peer (here: this test's own address) is past the gate.
    let trusted = Server::start_with("trusted_peers = [\"127.0.0.1\"]", "");
    let reply = udp_exchange(trusted.sip_udp, invite("z9hG4bKt3", None).as_bytes(), wait).unwrap();
    assert!(
        !reply.starts_with("SIP/2.0 407") && !reply.starts_with("SIP/2.0 403"),
        "{reply}"
    );
}

#[test]
fn unsupported_methods_hops_and_dialogless_requests() {
    let server = Server::start();
    let wait = Duration::from_secs(3);
    let subscribe = options("z9hG4bKs1").replace("OPTIONS", "SUBSCRIBE");
    let reply = udp_exchange(server.sip_udp, subscribe.as_bytes(), wait).unwrap();
    assert!(
        reply.starts_with("SIP/2.0 405") && reply.contains("Allow: INVITE"),
        "{reply}"
    );
    let bye = options("z9hG4bKb1").replace("OPTIONS", "BYE");
    assert!(udp_exchange(server.sip_udp, bye.as_bytes(), wait)
        .unwrap()
        .starts_with("SIP/2.0 481"));
    let hops = invite("z9hG4bKh1", None).replace("Max-Forwards: 70", "Max-Forwards: 0");
    assert!(udp_exchange(server.sip_udp, hops.as_bytes(), wait)
        .unwrap()
        .starts_with("SIP/2.0 483"));
    // A retransmission (same socket, same branch) of a request that has a transaction (an
    // INFO outside any dialog: 481) is absorbed and answered with the very same response.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(wait)).unwrap();
    let mut buf = vec![0u8; 65_535];
    let mut answers = Vec::new();
    for _ in 0..2 {
        socket
            .send_to(options("z9hG4bKr1").as_bytes(), server.sip_udp)
            .unwrap();
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        answers.push(buf[..n].to_vec());
    }
    assert_eq!(
        answers[0], answers[1],
        "the transaction resent its response, tag and all"
    );
}

/// RFC 4475 §3.1.1: valid messages that must be accepted (answered, never with 400).
const VALID_REQUESTS: &[&str] = &[
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
];
/// Valid responses: nothing to answer.
const VALID_RESPONSES: &[&str] = &["unreason", "noreason"];
/// RFC 4475 §3.1.2: invalid requests, answered with 400 (505 for another SIP version).
const INVALID_REQUESTS: &[&str] = &[
    "badinv01",
    "clerr",
    "ncl",
    "scalar02",
    "quotbal",
    "ltgtruri",
    "lwsruri",
    "lwsstart",
    "trws",
    "escruri",
    "baddate",
    "regbadct",
    "badaspec",
    "baddn",
    "badvers",
    "mismatch01",
    "mismatch02",
];
/// Invalid responses: dropped silently.
const INVALID_RESPONSES: &[&str] = &["scalarlg", "bigcode"];
/// RFC 4475 §3.3: well-formed but needing a specific answer.
const APPLICATION: &[(&str, &str)] = &[
    ("insuf", "400"),
    ("multi01", "400"),
    ("mcl01", "400"),
    ("unkscm", "416"),
    ("novelsc", "416"),
    ("bext01", "420"),
];

#[test]
fn every_torture_message_is_handled_and_the_server_keeps_answering() {
    let server = Server::start();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sip-torture");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "dat"));
    files.sort();
    assert_eq!(
        files.len(),
        49,
        "all of RFC 4475 is in fixtures/sip-torture"
    );
    let wait = Duration::from_millis(700);
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&path).unwrap();
        let reply = udp_exchange(server.sip_udp, &bytes, wait);
        let status = reply
            .as_deref()
            .and_then(|r| r.get(8..11))
            .unwrap_or("---")
            .to_string();
        let n = name.as_str();
        if VALID_REQUESTS.contains(&n) {
            assert!(
                status != "400" && status != "---",
                "{name} is valid (RFC 4475 §3.1.1) but got {reply:?}"
            );
        }
        if VALID_RESPONSES.contains(&n) || INVALID_RESPONSES.contains(&n) {
            assert_eq!(
                status, "---",
                "{name} is a response: never answered, got {reply:?}"
            );
        }
        if INVALID_REQUESTS.contains(&n) {
            let expected = if n == "badvers" { "505" } else { "400" };
            assert_eq!(
                status, expected,
                "{name} is invalid (RFC 4475 §3.1.2) but got {reply:?}"
            );
        }
        if let Some((_, expected)) = APPLICATION.iter().find(|(f, _)| *f == n) {
            assert_eq!(status, *expected, "{name} (RFC 4475 §3.3) got {reply:?}");
        }
        assert!(
            server_answers(&server),
            "server stopped answering after {name}"
        );
    }
}

#[test]
fn sipsak_registers_with_digest_over_udp_and_tcp_and_a_wrong_password_fails() {
    if !sipsak_available() {
        return;
    }
    let server = Server::start();
    server.add_user("carol", "pw");
    let register = |transport: &str, addr: SocketAddr, password: &str| {
        Command::new("sipsak")
            .args([
                "-U",
                "-C",
                "sip:carol@127.0.0.1:9",
                "-s",
                "sip:carol@localhost",
                "-p",
                &addr.to_string(),
            ])
            .args(["-u", "carol", "-a", password, "-x", "120", "-E", transport])
            .output()
            .unwrap()
    };
    for (transport, addr) in [("udp", server.sip_udp), ("tcp", server.sip_tcp)] {
        let out = register(transport, addr, "pw");
        assert!(
            out.status.success(),
            "sipsak REGISTER over {transport}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    server.wait_for_log("registered aor=sip:carol@localhost", Duration::from_secs(5));
    let out = register("udp", server.sip_udp, "wrong");
    assert!(!out.status.success(), "a wrong password must not register");
}

#[tokio::test]
async fn options_over_tls_and_over_ipv6() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start_with(
        "listen = [\"tls:127.0.0.1:0\", \"udp:[::1]:0\", \"tcp:[::1]:0\"]",
        "",
    );
    let find = |t: &str| {
        server
            .sip_listeners
            .iter()
            .find(|(transport, _)| transport == t)
            .map(|(_, a)| *a)
            .unwrap()
    };

    // TLS (RFC 3261 §26.2): the server certificate is checked against the test CA.
    let request = options("z9hG4bKtls1").replace("SIP/2.0/UDP", "SIP/2.0/TLS");
    let text = tls_request(find("tls"), common::ca().client_config(), &request).await;
    assert!(text.starts_with("SIP/2.0 200"), "{text}");

    // IPv6, datagrams and streams.
    let reply = tokio::task::spawn_blocking({
        let to = find("udp");
        move || udp_exchange(to, options("z9hG4bKv6").as_bytes(), Duration::from_secs(3))
    })
    .await
    .unwrap()
    .unwrap();
    assert!(reply.starts_with("SIP/2.0 200"), "{reply}");
    let mut tcp6 = tokio::net::TcpStream::connect(find("tcp")).await.unwrap();
    tcp6.write_all(
        options("z9hG4bKv6t")
            .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(common::STEP, tcp6.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        buf[..n].starts_with(b"SIP/2.0 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[test]
fn double_crlf_ping_on_a_stream_gets_a_pong_at_once() {
    use std::io::{Read, Write};
    let server = Server::start();
    let mut stream = std::net::TcpStream::connect(server.sip_tcp).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    // RFC 5626 §4.4.1: the client gives up on the flow if no pong comes within 10 s.
    stream.write_all(b"\r\n\r\n").unwrap();
    let mut pong = [0u8; 8];
    let n = stream.read(&mut pong).expect("pong before the next ping");
    assert_eq!(&pong[..n], b"\r\n");
}

/// Sends one request over a TLS connection made with `config`; returns the first response.
async fn tls_request(
    to: SocketAddr,
    config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    request: &str,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(to).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(common::DOMAIN.try_into().unwrap(), tcp)
        .await
        .expect("TLS handshake");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(common::STEP, tls.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// `[sip] trusted_certs`: a TLS trunk whose CA-verified certificate names a trusted host
/// calls without digest; a certificate naming another host, or none, gets the challenge.
#[tokio::test]
async fn tls_trunk_with_a_trusted_certificate_calls_without_digest() {
    let ca = common::ca();
    let ca_path = ca.dir.path().join("ca.pem");
    let server = Server::start_with(
        "listen = [\"tls:127.0.0.1:0\"]\ntrusted_certs = [\"trunk.example.net\"]",
        &format!("[tls]\nclient_ca = \"{}\"\n", ca_path.display()),
    );
    let tls_addr = server.sip_listeners[0].1;
    let over_tls = |branch: &str| invite(branch, None).replace("SIP/2.0/UDP", "SIP/2.0/TLS");

    let (cert, key) = ca.issue_cert(&["trunk.example.net"]);
    let trunk = ca.client_config_with_cert(cert.as_bytes(), key.as_bytes());
    let reply = tls_request(tls_addr, trunk, &over_tls("z9hG4bKtrunk1")).await;
    // Past the toll-fraud gate (calls are not bridged yet: 480).
    assert!(reply.starts_with("SIP/2.0 480"), "{reply}");

    let (cert, key) = ca.issue_cert(&["other.example.net"]);
    let other = ca.client_config_with_cert(cert.as_bytes(), key.as_bytes());
    let reply = tls_request(tls_addr, other, &over_tls("z9hG4bKtrunk2")).await;
    assert!(reply.starts_with("SIP/2.0 407"), "{reply}");

    let reply = tls_request(tls_addr, ca.client_config(), &over_tls("z9hG4bKtrunk3")).await;
    assert!(reply.starts_with("SIP/2.0 407"), "{reply}");
}
