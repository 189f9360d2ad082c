//! `tandem cert issue`: client certificates for XEP-0178 (SASL EXTERNAL) logins, carrying
//! the JID as an id-on-xmppAddr otherName (RFC 6120 §13.7.1.4), signed by the operator's CA.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use jid::BareJid;
use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose,
    OtherNameValue, SanType,
};

/// id-on-xmppAddr (RFC 6120 §13.7.1.4).
pub const XMPP_ADDR_OID: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 8, 5];

/// Writes `<out>.pem` (certificate) and `<out>.key` (private key, owner-only) for `jid`;
/// returns both paths.
pub fn issue(
    jid: &str,
    ca_cert: &Path,
    ca_key: &Path,
    out: &Path,
    days: u32,
) -> Result<(PathBuf, PathBuf)> {
    let jid = BareJid::new(jid).with_context(|| format!("{jid:?} is not a valid bare JID"))?;
    if jid.node().is_none() {
        bail!("{jid} has no user part; client certificates name a user");
    }
    let ca_pem = std::fs::read_to_string(ca_cert)
        .with_context(|| format!("reading {}", ca_cert.display()))?;
    let ca_key_pem =
        std::fs::read_to_string(ca_key).with_context(|| format!("reading {}", ca_key.display()))?;
    let ca_key =
        KeyPair::from_pem(&ca_key_pem).context("the CA key is not a usable PEM private key")?;
    let issuer =
        Issuer::from_ca_cert_pem(&ca_pem, ca_key).context("the CA certificate is not usable")?;

    let mut params =
        CertificateParams::new(Vec::<String>::new()).context("certificate parameters")?;
    params.subject_alt_names = vec![SanType::OtherName((
        XMPP_ADDR_OID.to_vec(),
        OtherNameValue::Utf8String(jid.to_string()),
    ))];
    params
        .distinguished_name
        .push(DnType::CommonName, jid.to_string());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let now = time::OffsetDateTime::now_utc();
    // A little slack backwards for clients whose clock runs behind.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(days));
    let key = KeyPair::generate().context("generating a key")?;
    let cert = params
        .signed_by(&key, &issuer)
        .context("signing the certificate")?;

    let cert_path = with_suffix(out, "pem");
    let key_path = with_suffix(out, "key");
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::tls::write_private(&key_path, key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, cert.pem())
        .with_context(|| format!("writing {}", cert_path.display()))?;
    Ok((cert_path, key_path))
}

fn with_suffix(prefix: &Path, extension: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}
