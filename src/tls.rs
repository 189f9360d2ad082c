//! Server certificate: loaded from PEM files, or generated self-signed on first start.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The two rustls configurations c2s needs.
#[derive(Clone)]
pub struct TlsConfigs {
    /// For STARTTLS upgrades.
    pub starttls: Arc<rustls::ServerConfig>,
    /// For direct TLS listeners: also negotiates ALPN `xmpp-client` (XEP-0368).
    pub direct: Arc<rustls::ServerConfig>,
    /// `tls-server-end-point` channel binding data (RFC 5929 §4.1): the hash of our
    /// certificate, the same for every connection.
    pub server_end_point: Vec<u8>,
}

/// RFC 5929 §4.1: hash the certificate with the hash of its signature algorithm, SHA-256
/// when that is MD5 or SHA-1 (or unknown).
fn end_point_binding(cert: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let algorithm = x509_parser::parse_x509_certificate(cert)
        .map(|(_, c)| c.signature_algorithm.algorithm.to_id_string())
        .unwrap_or_default();
    match algorithm.as_str() {
        // ecdsa-with-SHA384, sha384WithRSAEncryption
        "1.2.840.10045.4.3.3" | "1.2.840.113549.1.1.12" => sha2::Sha384::digest(cert).to_vec(),
        // ecdsa-with-SHA512, sha512WithRSAEncryption
        "1.2.840.10045.4.3.4" | "1.2.840.113549.1.1.13" => sha2::Sha512::digest(cert).to_vec(),
        _ => sha2::Sha256::digest(cert).to_vec(),
    }
}

/// Client certificates to ask for (XEP-0178): the CA bundle and CRLs to verify them with.
pub struct ClientAuth<'a> {
    pub ca: &'a Path,
    pub crls: &'a [std::path::PathBuf],
}

/// Loads the certificate and key, generating a self-signed pair for `domain` when both files
/// are absent. Only one file present is an operator mistake and is refused.
pub fn load_or_generate(
    cert_path: &Path,
    key_path: &Path,
    domain: &str,
    client_auth: Option<ClientAuth<'_>>,
) -> Result<TlsConfigs> {
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => {}
        (false, false) => generate_self_signed(cert_path, key_path, domain)?,
        (true, false) => bail!(
            "{} exists but its key {} does not",
            cert_path.display(),
            key_path.display()
        ),
        (false, true) => bail!(
            "{} exists but its certificate {} does not",
            key_path.display(),
            cert_path.display()
        ),
    }
    let (certs, key) = load_identity(cert_path, key_path, "")?;
    build(certs, key, client_auth)
}

/// A certificate chain (at least one certificate) and its private key, from PEM files.
/// `what` (e.g. `"cluster "`) prefixes the names in error messages.
pub fn load_identity(
    cert_path: &Path,
    key_path: &Path,
    what: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .with_context(|| format!("reading {what}certificate {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing {what}certificate {}", cert_path.display()))?;
    if certs.is_empty() {
        bail!("no {what}certificate found in {}", cert_path.display());
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .with_context(|| format!("reading {what}private key {}", key_path.display()))?;
    Ok((certs, key))
}

/// Every certificate of a PEM bundle, as trust anchors; `what` (e.g. `"client CA"`) names
/// the bundle in error messages.
pub fn load_roots(path: &Path, what: &str) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {what} {}", path.display()))?
    {
        roots
            .add(cert.with_context(|| format!("parsing {what} {}", path.display()))?)
            .with_context(|| format!("{what} certificate"))?;
    }
    Ok(roots)
}

fn build(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_auth: Option<ClientAuth<'_>>,
) -> Result<TlsConfigs> {
    let server_end_point = end_point_binding(&certs[0]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match client_auth {
        None => builder.with_no_client_auth(),
        Some(auth) => builder.with_client_cert_verifier(client_verifier(&auth, provider)?),
    };
    let starttls = builder
        .with_single_cert(certs, key)
        .context("certificate and key do not match or are unsupported")?;
    let mut direct = starttls.clone();
    direct.alpn_protocols = vec![b"xmpp-client".to_vec()];
    Ok(TlsConfigs {
        starttls: Arc::new(starttls),
        direct: Arc::new(direct),
        server_end_point,
    })
}

/// Asks for a client certificate without requiring one; a certificate that is presented must
/// chain to `ca` and not be revoked, or the handshake fails (an unknown critical extension
/// fails it too, in webpki).
fn client_verifier(
    auth: &ClientAuth<'_>,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let roots = load_roots(auth.ca, "client CA")?;
    let mut crls = Vec::new();
    for path in auth.crls {
        for crl in rustls::pki_types::CertificateRevocationListDer::pem_file_iter(path)
            .with_context(|| format!("reading CRL {}", path.display()))?
        {
            crls.push(crl.with_context(|| format!("parsing CRL {}", path.display()))?);
        }
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .with_crls(crls)
        .allow_unauthenticated()
        .build()
        .context("client certificate verifier")
}

fn generate_self_signed(cert_path: &Path, key_path: &Path, domain: &str) -> Result<()> {
    let mut names = vec![domain.to_string()];
    if domain != "localhost" {
        names.push("localhost".into());
    }
    let certified = rcgen::generate_simple_self_signed(names)
        .context("generating a self-signed certificate")?;
    for path in [cert_path, key_path] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    write_private(key_path, certified.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, certified.cert.pem())
        .with_context(|| format!("writing {}", cert_path.display()))?;
    tracing::warn!(cert = %cert_path.display(), %domain, "generated a self-signed certificate; clients will not trust it until you install a real one");
    Ok(())
}

/// Writes a file readable only by its owner: it holds a private key.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
