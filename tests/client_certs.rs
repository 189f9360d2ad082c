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
        OperatorCa { dir }
    }

    fn ca_path(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Issues a client certificate for `jid` with the tandem CLI; returns a client config
    /// presenting it (and trusting the test server CA).
    fn client_for(&self, jid: &str) -> Arc<rustls::ClientConfig> {
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
        let pem = |ext: &str| std::fs::read(format!("{}.{ext}", out.display())).unwrap();
        client_config(&pem("pem"), &pem("key"))
    }
}

fn client_config(cert_pem: &[u8], key_pem: &[u8]) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    common::ca();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(common::ca().cert_pem.as_bytes()).unwrap())
        .unwrap();
    let certs = vec![CertificateDer::from_pem_slice(cert_pem).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key_pem).unwrap();
    Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .unwrap(),
    )
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
    let outcome = match RawClient::connect_tls_with(server.starttls, rogue).await {
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
