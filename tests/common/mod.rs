//! Shared harness for end-to-end tests: runs the real `tandem` binary on ephemeral loopback
//! ports with a CA-signed certificate that test clients trust.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

pub const DOMAIN: &str = "localhost";
const DEFAULT_SIP_LISTEN: &str = "listen = [\"udp:127.0.0.1:0\", \"tcp:127.0.0.1:0\"]\n";
pub const STEP: Duration = Duration::from_secs(10);

/// A test CA, shared by every test in this process; `SSL_CERT_FILE` points at it so that
/// tokio-xmpp (through rustls-native-certs) trusts servers it signed.
pub struct TestCa {
    pub dir: tempfile::TempDir,
    pub cert_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

pub fn ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tandem test CA");
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, cert.pem()).unwrap();
        // Set once, before any client exists, and never changed afterwards.
        unsafe { std::env::set_var("SSL_CERT_FILE", &path) };
        TestCa {
            cert_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
            dir,
        }
    })
}

impl TestCa {
    /// Writes a server certificate for `localhost` signed by this CA into `dir`.
    pub fn issue_server_cert(&self, dir: &Path) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![DOMAIN.to_string()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    }

    /// A certificate with these DNS names signed by this CA, as (certificate PEM, key PEM).
    pub fn issue_cert(&self, dns_names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = dns_names.iter().map(|n| n.to_string()).collect();
        let params = rcgen::CertificateParams::new(names).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A client configuration that trusts this CA and presents `cert_pem`. Through a
    /// resolver rather than `with_client_auth_cert`, which would refuse to present a
    /// certificate rustls itself dislikes (an unknown critical extension): tests need the
    /// server to be the one refusing.
    pub fn client_config_with_cert(
        &self,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Arc<rustls::ClientConfig> {
        let chain = vec![rustls::pki_types::CertificateDer::from_pem_slice(cert_pem).unwrap()];
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem).unwrap();
        let signer = rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
        let presented = Arc::new(rustls::sign::CertifiedKey::new(chain, signer));
        Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(self.roots())
                .with_client_cert_resolver(Arc::new(Present(presented))),
        )
    }

    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(self.roots())
                .with_no_client_auth(),
        )
    }

    fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        let der =
            rustls::pki_types::CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).unwrap();
        roots.add(der).unwrap();
        roots
    }
}

/// Always presents the one certificate it holds.
#[derive(Debug)]
struct Present(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for Present {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

use rustls::pki_types::pem::PemObject;

/// A running `tandem serve` process with its data dir.
pub struct Server {
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    child: Option<Child>,
    pub starttls: SocketAddr,
    pub direct_tls: SocketAddr,
    pub sip_udp: SocketAddr,
    pub sip_tcp: SocketAddr,
    /// Every SIP listener as `(transport, address)`, in the order they were bound.
    pub sip_listeners: Vec<(String, SocketAddr)>,
    sip_config: String,
    extra_config: String,
    /// Every line the server logged, for tests that wait on what it did.
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// A fresh data dir with a CA-signed certificate, and the server started on it.
    pub fn start() -> Server {
        Self::start_with_config("")
    }

    /// `extra` is appended to the `[xmpp]` section of the generated config.
    pub fn start_with_config(extra: &str) -> Server {
        Self::start_with("", extra)
    }

    /// `sip` is added to the `[sip]` section, `extra` appended after the `[xmpp]` section.
    pub fn start_with(sip: &str, extra: &str) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        ca().issue_server_cert(&dir);
        let mut server = Server {
            dir,
            _tmp: Some(tmp),
            child: None,
            starttls: "0.0.0.0:0".parse().unwrap(),
            direct_tls: "0.0.0.0:0".parse().unwrap(),
            sip_udp: "0.0.0.0:0".parse().unwrap(),
            sip_tcp: "0.0.0.0:0".parse().unwrap(),
            sip_listeners: Vec::new(),
            sip_config: sip.to_string(),
            extra_config: extra.to_string(),
            log: Default::default(),
        };
        server.spawn();
        server
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("tandem.toml")
    }

    fn spawn(&mut self) {
        let config = format!(
            "[server]\ndomain = \"{DOMAIN}\"\ndata_dir = \"{}\"\n\
             [sip]\n{}{}\n\
             [xmpp]\nlisten = [\"127.0.0.1:0\"]\ntls_listen = [\"127.0.0.1:0\"]\n{}\n",
            self.dir.display(),
            if self.sip_config.contains("listen") {
                ""
            } else {
                DEFAULT_SIP_LISTEN
            },
            self.sip_config,
            self.extra_config
        );
        let sip_listeners = if self.sip_config.contains("listen") {
            ["\"udp:", "\"tcp:", "\"tls:"]
                .iter()
                .map(|t| self.sip_config.matches(t).count())
                .sum()
        } else {
            2
        };
        std::fs::write(self.config_path(), config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["serve", "--config"])
            .arg(self.config_path())
            .env(
                "TANDEM_LOG",
                std::env::var("TANDEM_TEST_LEVEL").unwrap_or("info".into()),
            )
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting tandem");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                log.lock().unwrap().push(line.clone());
                if std::env::var_os("TANDEM_TEST_LOG").is_some() {
                    eprintln!("[tandem] {line}");
                }
                if line.contains("c2s listening") {
                    let addr = line
                        .split("addr=")
                        .nth(1)
                        .and_then(|r| r.split_whitespace().next())
                        .unwrap()
                        .to_string();
                    let kind = if line.contains("direct_tls=true") {
                        "direct"
                    } else {
                        "starttls"
                    };
                    let _ = tx.send((addr.parse::<SocketAddr>().unwrap(), kind));
                }
                if line.contains("sip listening") {
                    let listen = line
                        .split("listen=")
                        .nth(1)
                        .and_then(|r| r.split_whitespace().next())
                        .unwrap();
                    let (transport, addr) = listen.split_once(':').unwrap();
                    let kind = match transport {
                        "udp" => "udp",
                        "tcp" => "tcp",
                        _ => "tls",
                    };
                    let _ = tx.send((addr.parse::<SocketAddr>().unwrap(), kind));
                }
            }
        });
        self.sip_listeners.clear();
        for _ in 0..2 + sip_listeners {
            let (addr, kind) = rx
                .recv_timeout(STEP)
                .expect("tandem did not start listening");
            match kind {
                "direct" => self.direct_tls = addr,
                "starttls" => self.starttls = addr,
                sip => {
                    if sip == "udp" {
                        self.sip_udp = addr;
                    } else if sip == "tcp" {
                        self.sip_tcp = addr;
                    }
                    self.sip_listeners.push((sip.to_string(), addr));
                }
            }
        }
        self.child = Some(child);
    }

    /// Everything the server logged so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the server logged a line containing `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tandem never logged {needle:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn add_user(&self, user: &str, password: &str) {
        let status = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args([
                "user",
                "add",
                &format!("{user}@{DOMAIN}"),
                "--password",
                password,
                "--config",
            ])
            .arg(self.config_path())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "tandem user add {user} failed");
    }

    /// Stops with SIGTERM (graceful) and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc_kill(child.id() as i32, 15) };
            let deadline = std::time::Instant::now() + STEP;
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    assert!(status.success(), "tandem exited with {status}");
                    return;
                }
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("tandem did not stop on SIGTERM");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Kills the process (SIGKILL): nothing is cleaned up, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops and starts again on the same data dir (new ports).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// A hand-driven client for the cases a client library would never produce.
pub struct RawClient {
    stream: RawStream,
    pub received: String,
}

enum RawStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// A SASL PLAIN `<auth/>` element.
pub fn plain_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{payload}</auth>")
}

pub const OPEN: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

impl RawClient {
    /// Connects to a STARTTLS port, negotiates TLS, and reopens the stream.
    pub async fn connect_tls(addr: SocketAddr) -> RawClient {
        Self::connect_tls_with(addr, ca().client_config())
            .await
            .expect("TLS handshake")
    }

    /// STARTTLS with a given client configuration (e.g. one presenting a certificate); the
    /// error is the handshake's. The returned stream has not been reopened.
    pub async fn connect_tls_with(
        addr: SocketAddr,
        config: Arc<rustls::ClientConfig>,
    ) -> std::io::Result<RawClient> {
        let tcp = TcpStream::connect(addr).await?;
        let mut client = RawClient {
            stream: RawStream::Plain(tcp),
            received: String::new(),
        };
        client.send(OPEN).await;
        client.read_until("</stream:features>").await;
        client
            .send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            .await;
        client.read_until("<proceed").await;
        let RawStream::Plain(tcp) = client.stream else {
            unreachable!()
        };
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(DOMAIN.try_into().unwrap(), tcp)
            .await?;
        client.stream = RawStream::Tls(Box::new(tls));
        client.received.clear();
        Ok(client)
    }

    /// Direct TLS (XEP-0368) with a given client configuration.
    pub async fn connect_direct_tls_with(
        addr: SocketAddr,
        config: Arc<rustls::ClientConfig>,
    ) -> std::io::Result<RawClient> {
        let tcp = TcpStream::connect(addr).await?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(DOMAIN.try_into().unwrap(), tcp)
            .await?;
        Ok(RawClient {
            stream: RawStream::Tls(Box::new(tls)),
            received: String::new(),
        })
    }

    /// Connects over STARTTLS, authenticates with PLAIN and binds `resource` (or a server
    /// generated one). Nothing else is sent; `received` is empty afterwards.
    pub async fn login(
        addr: SocketAddr,
        user: &str,
        password: &str,
        resource: Option<&str>,
    ) -> RawClient {
        let mut c = RawClient::connect_tls(addr).await;
        c.send(OPEN).await;
        c.read_until("</stream:features>").await;
        c.send(&plain_auth(user, password)).await;
        let got = c.read_until("urn:ietf:params:xml:ns:xmpp-sasl'").await;
        assert!(!got.contains("<failure"), "{user} could not log in: {got}");
        c.read_until("<success").await;
        c.received.clear();
        c.send(OPEN).await;
        c.read_until("</stream:features>").await;
        let resource = resource
            .map(|r| format!("<resource>{r}</resource>"))
            .unwrap_or_default();
        c.send(&format!(
            "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>{resource}</bind></iq>"
        ))
        .await;
        c.read_until("</iq>").await;
        c.received.clear();
        c
    }

    fn tls_session(&self) -> &rustls::ClientConnection {
        let RawStream::Tls(tls) = &self.stream else {
            panic!("no TLS on this connection")
        };
        tls.get_ref().1
    }

    /// RFC 9266 `tls-exporter` channel binding data of this connection (TLS 1.3 only).
    pub fn tls_exporter(&self) -> Vec<u8> {
        self.tls_session()
            .export_keying_material(vec![0u8; 32], b"EXPORTER-Channel-Binding", None)
            .expect("TLS 1.3 exporter")
    }

    /// The DER certificate the server presented on this TLS connection.
    pub fn server_certificate(&self) -> Vec<u8> {
        self.tls_session()
            .peer_certificates()
            .expect("server certificate")[0]
            .to_vec()
    }

    /// A ping round trip to the server: everything sent before it has been handled.
    pub async fn sync(&mut self) {
        self.send("<iq type='get' id='sync' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
            .await;
        self.read_until("id='sync'").await;
        self.received.clear();
    }

    pub async fn send(&mut self, data: &str) {
        let result = match &mut self.stream {
            RawStream::Plain(s) => s.write_all(data.as_bytes()).await,
            RawStream::Tls(s) => {
                let r = s.write_all(data.as_bytes()).await;
                if r.is_ok() {
                    s.flush().await
                } else {
                    r
                }
            }
        };
        // The server may already have closed on us; what it sent is what tests check.
        let _ = result;
    }

    /// Reads until `needle` was received or the stream ended; returns everything so far.
    pub async fn read_until(&mut self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + STEP;
        let mut buf = vec![0u8; 8192];
        while !self.received.contains(needle) {
            let read = match &mut self.stream {
                RawStream::Plain(s) => tokio::time::timeout_at(deadline, s.read(&mut buf)).await,
                RawStream::Tls(s) => tokio::time::timeout_at(deadline, s.read(&mut buf)).await,
            };
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => self.received.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(_) => panic!("timed out waiting for {needle:?}; got {:?}", self.received),
            }
        }
        self.received.clone()
    }

    /// Reads until the server closes the connection.
    pub async fn read_to_end(&mut self) -> String {
        self.read_until("\u{0}never").await
    }
}
