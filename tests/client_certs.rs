//! Certificate logins (XEP-0178): SASL EXTERNAL is offered only with a verified client
//! certificate, logs in the account the certificate names, and a certificate from another
//! CA never gets through the TLS handshake. Over STARTTLS and direct TLS.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{RawClient, Server, OPEN};
use tokio_rustls::rustls;

const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";

/// An operator CA on disk, and `tandem cert issue` for users.
struct OperatorCa {
    dir: tempfile::TempDir,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl OperatorCa {
    fn new() -> OperatorCa {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "operator CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("ca.key"), key.serialize_pem()).unwrap();
        OperatorCa {
            dir,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A certificate for `jid` made here rather than by the CLI, so that a test can set its
    /// serial and extensions.
    fn custom_client(
        &self,
        jid: &str,
        serial: u64,
        extra: Option<rcgen::CustomExtension>,
    ) -> Arc<rustls::ClientConfig> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![rcgen::SanType::OtherName((
            vec![1, 3, 6, 1, 5, 5, 7, 8, 5],
            rcgen::OtherNameValue::Utf8String(jid.to_string()),
        ))];
        params.serial_number = Some(serial.into());
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.custom_extensions.extend(extra);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        client_config(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
    }

    /// A CRL revoking `serials`, written next to the CA.
    fn crl(&self, serials: &[u64]) -> std::path::PathBuf {
        let revoked_certs = serials
            .iter()
            .map(|s| rcgen::RevokedCertParams {
                serial_number: (*s).into(),
                revocation_time: rcgen::date_time_ymd(2026, 1, 1),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect();
        let crl = rcgen::CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2026, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: 1u64.into(),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .unwrap();
        let path = self.dir.path().join("revoked.pem");
        std::fs::write(&path, crl.pem().unwrap()).unwrap();
        path
    }

    fn ca_path(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Issues a client certificate for `jid` with the tandem CLI; returns a client config
    /// presenting it (and trusting the test server CA).
    fn client_for(&self, jid: &str) -> Arc<rustls::ClientConfig> {
        let (cert, key) = self.issue(jid);
        client_config(&std::fs::read(cert).unwrap(), &std::fs::read(key).unwrap())
    }

    /// `tandem cert issue` for `jid`: the certificate and key files it wrote.
    fn issue(&self, jid: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let out = self.dir.path().join(jid.replace('@', "_at_"));
        let status = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["cert", "issue", jid, "--ca-cert"])
            .arg(self.dir.path().join("ca.pem"))
            .arg("--ca-key")
            .arg(self.dir.path().join("ca.key"))
            .arg("--out")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        let file = |ext: &str| std::path::PathBuf::from(format!("{}.{ext}", out.display()));
        (file("pem"), file("key"))
    }
}

fn client_config(cert_pem: &[u8], key_pem: &[u8]) -> Arc<rustls::ClientConfig> {
    common::ca().client_config_with_cert(cert_pem, key_pem)
}

fn server_with_client_ca(ca: &Path) -> Server {
    Server::start_with("", &format!("[tls]\nclient_ca = \"{}\"\n", ca.display()))
}

async fn features(client: &mut RawClient) -> String {
    client.send(OPEN).await;
    client.read_until("</stream:features>").await
}

async fn external(client: &mut RawClient) -> String {
    client.received.clear();
    client
        .send(&format!(
            "<auth xmlns='{SASL}' mechanism='EXTERNAL'>=</auth>"
        ))
        .await;
    client.read_until(&format!("xmlns='{SASL}'")).await;
    client.read_until(">").await
}

#[tokio::test]
async fn ca_signed_certificate_logs_in_with_external_over_starttls_and_direct_tls() {
    let ca = OperatorCa::new();
    let server = server_with_client_ca(&ca.ca_path());
    server.add_user("alice", "pw");
    let alice = ca.client_for("alice@localhost");

    let mut c = RawClient::connect_tls_with(server.starttls, alice.clone())
        .await
        .unwrap();
    let got = features(&mut c).await;
    assert!(got.contains("<mechanism>EXTERNAL</mechanism>"), "{got}");
    let got = external(&mut c).await;
    assert!(got.contains("<success"), "{got}");

    let mut d = RawClient::connect_direct_tls_with(server.direct_tls, alice)
        .await
        .unwrap();
    let got = features(&mut d).await;
    assert!(got.contains("<mechanism>EXTERNAL</mechanism>"), "{got}");
    assert!(external(&mut d).await.contains("<success"));
}

#[tokio::test]
async fn no_certificate_no_external_and_accounts_are_not_created_or_revealed() {
    let ca = OperatorCa::new();
    let server = server_with_client_ca(&ca.ca_path());
    let mut plain = RawClient::connect_tls(server.starttls).await;
    let got = features(&mut plain).await;
    assert!(
        !got.contains("EXTERNAL") && got.contains("SCRAM-SHA-256"),
        "{got}"
    );

    // A valid certificate for an account that does not exist: not-authorized, like a wrong
    // password (auto_create is off by default).
    let ghost = ca.client_for("ghost@localhost");
    let mut c = RawClient::connect_tls_with(server.starttls, ghost)
        .await
        .unwrap();
    features(&mut c).await;
    let got = external(&mut c).await;
    assert!(got.contains("<not-authorized/>"), "{got}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_at_the_handshake() {
    let ca = OperatorCa::new();
    let server = server_with_client_ca(&ca.ca_path());
    server.add_user("alice", "pw");
    // Same JID, but signed by a CA the server does not trust.
    let rogue = OperatorCa::new().client_for("alice@localhost");
    assert_refused_at_handshake(&server, rogue).await;
    // Self-signed: no CA at all.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "alice");
    let cert = params.self_signed(&key).unwrap();
    let own = client_config(cert.pem().as_bytes(), key.serialize_pem().as_bytes());
    assert_refused_at_handshake(&server, own).await;
}

/// The server must not speak XMPP over a TLS session whose client certificate it refused.
async fn assert_refused_at_handshake(server: &Server, config: Arc<rustls::ClientConfig>) {
    let outcome = match RawClient::connect_tls_with(server.starttls, config).await {
        Err(_) => None,
        // TLS 1.3 clients learn of a rejected certificate on their first read.
        Ok(mut c) => {
            c.send(OPEN).await;
            Some(c.read_to_end().await)
        }
    };
    if let Some(got) = outcome {
        assert!(
            !got.contains("<stream:features>"),
            "the server must not speak XMPP to it: {got}"
        );
    }
}

async fn external_login_succeeds(server: &Server, config: Arc<rustls::ClientConfig>) -> bool {
    let mut c = RawClient::connect_tls_with(server.starttls, config)
        .await
        .unwrap();
    let got = features(&mut c).await;
    got.contains("EXTERNAL") && external(&mut c).await.contains("<success")
}

#[tokio::test]
async fn a_revoked_certificate_is_refused_and_its_neighbour_is_not() {
    let ca = OperatorCa::new();
    let crl = ca.crl(&[666]);
    let server = Server::start_with(
        "",
        &format!(
            "[tls]\nclient_ca = \"{}\"\ncrl = [\"{}\"]\n",
            ca.ca_path().display(),
            crl.display()
        ),
    );
    server.add_user("alice", "pw");
    assert!(external_login_succeeds(&server, ca.custom_client("alice@localhost", 665, None)).await);
    assert_refused_at_handshake(&server, ca.custom_client("alice@localhost", 666, None)).await;
}

#[tokio::test]
async fn a_certificate_with_an_unknown_critical_extension_is_refused() {
    let ca = OperatorCa::new();
    let server = server_with_client_ca(&ca.ca_path());
    server.add_user("alice", "pw");
    // An extension from a private arc, DER NULL content.
    let extension = |critical: bool| {
        let mut e =
            rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![5, 0]);
        e.set_criticality(critical);
        Some(e)
    };
    // Not critical: ignored, as RFC 5280 §4.2 allows.
    assert!(
        external_login_succeeds(
            &server,
            ca.custom_client("alice@localhost", 7, extension(false))
        )
        .await
    );
    assert_refused_at_handshake(
        &server,
        ca.custom_client("alice@localhost", 8, extension(true)),
    )
    .await;
}

#[tokio::test]
async fn auto_create_makes_the_account_on_first_certificate_login() {
    let ca = OperatorCa::new();
    let server = Server::start_with(
        "",
        &format!(
            "[xmpp.sasl_external]\nauto_create = true\n[tls]\nclient_ca = \"{}\"\n",
            ca.ca_path().display()
        ),
    );
    let newbie = ca.client_for("newbie@localhost");
    let mut c = RawClient::connect_tls_with(server.starttls, newbie)
        .await
        .unwrap();
    features(&mut c).await;
    assert!(external(&mut c).await.contains("<success"));
    server.wait_for_log(
        "account created for a certificate login",
        std::time::Duration::from_secs(5),
    );
}

/// slixmpp (Debian python3-slixmpp), a client nobody here wrote, logs in with nothing but
/// its certificate; with a certificate for an account that does not exist it is refused.
#[test]
fn slixmpp_logs_in_with_a_certificate_and_no_password() {
    let python = "/usr/bin/python3";
    let available = Command::new(python)
        .args(["-c", "import slixmpp"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            std::env::var_os("TANDEM_REQUIRE_PEERS").is_none(),
            "slixmpp is required: run scripts/install-test-peers.sh"
        );
        eprintln!("skipping: python3-slixmpp is not installed");
        return;
    }
    let ca = OperatorCa::new();
    let server = server_with_client_ca(&ca.ca_path());
    server.add_user("alice", "a password slixmpp never sees");
    let server_ca = common::ca().dir.path().join("ca.pem");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/slixmpp_external.py"
    );
    let run = |jid: &str| {
        let (cert, key) = ca.issue(jid);
        let out = Command::new(python)
            .arg(script)
            .arg(jid)
            .arg(cert)
            .arg(key)
            .arg(&server_ca)
            .arg(server.starttls.ip().to_string())
            .arg(server.starttls.port().to_string())
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = run("alice@localhost");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("bound alice@localhost/") && out.contains("via EXTERNAL"),
        "{out}"
    );

    let (code, out) = run("ghost@localhost");
    assert_eq!(code, Some(2), "{out}");
}
