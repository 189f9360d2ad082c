//! One XMPP c2s client connection: TCP -> (STARTTLS | direct TLS) -> SASL -> bind -> presence.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::scram::{ScramClient, ScramHash};
use crate::xml::{self, escape, Element, Frame, FrameReader};

pub type Tls = TlsStream<TcpStream>;

/// PBKDF2 iteration count seen in the last SCRAM exchange (0: none yet).
pub static SCRAM_ITERATIONS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mech {
    #[value(name = "PLAIN")]
    Plain,
    #[value(name = "SCRAM-SHA-1")]
    ScramSha1,
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
}

impl Mech {
    pub fn name(self) -> &'static str {
        match self {
            Mech::Plain => "PLAIN",
            Mech::ScramSha1 => "SCRAM-SHA-1",
            Mech::ScramSha256 => "SCRAM-SHA-256",
        }
    }
}

/// Everything needed to log in any user.
pub struct ClientSetup {
    pub addr: SocketAddr,
    pub domain: String,
    pub tls_name: ServerName<'static>,
    pub user_prefix: String,
    pub password: String,
    pub mech: Mech,
    pub direct_tls: bool,
    pub force_session: bool,
    pub scram_cache: bool,
    pub connector: TlsConnector,
}

/// Accepts any certificate chain (benchmarks use self-signed certs) but still checks
/// that the server proves possession of the certificate's key in the handshake.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// TLS 1.3 only unless `allow_tls12`; session resumption off so every login pays a full
/// handshake on every server alike (servers differ in whether they issue tickets).
pub fn tls_connector(allow_tls12: bool) -> Result<TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = if allow_tls12 {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A logged-in (or logging-in) stream.
pub struct XmppConn<S> {
    pub io: S,
    pub reader: FrameReader,
}

impl<S: AsyncRead + AsyncWrite + Unpin> XmppConn<S> {
    fn new(io: S) -> Self {
        XmppConn {
            io,
            reader: FrameReader::new(),
        }
    }

    pub async fn send(&mut self, data: &str) -> Result<()> {
        self.io.write_all(data.as_bytes()).await?;
        self.io.flush().await?;
        Ok(())
    }

    pub async fn next_stanza(&mut self) -> Result<Element> {
        self.reader.next_stanza(&mut self.io).await
    }

    /// Send a stream header, wait for the server's header and its features.
    async fn open_stream(&mut self, domain: &str) -> Result<Element> {
        self.send(&format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' to='{}' version='1.0' xml:lang='en'>",
            escape(domain)
        ))
        .await?;
        match self.reader.next(&mut self.io).await? {
            Frame::StreamStart(_) => {}
            f => bail!("expected stream header, got {f:?}"),
        }
        let features = self.next_stanza().await?;
        if !features.is("features", xml::NS_STREAM) {
            bail!("expected stream:features, got <{}>", features.name);
        }
        Ok(features)
    }

    /// Wait for the iq result with `id`, skipping anything else (presence, pushes).
    async fn await_iq(&mut self, id: &str) -> Result<Element> {
        loop {
            let st = self.next_stanza().await?;
            if st.name == "iq" && st.attr("id") == Some(id) {
                match st.attr("type") {
                    Some("result") => return Ok(st),
                    _ => bail!("iq {id} failed: {}", error_condition(&st)),
                }
            }
        }
    }

    /// Wait for the iq reply with `id`, result or error alike.
    async fn await_iq_any(&mut self, id: &str) -> Result<Element> {
        loop {
            let st = self.next_stanza().await?;
            if st.name == "iq" && st.attr("id") == Some(id) {
                return Ok(st);
            }
        }
    }

    /// Polite close: send `</stream:stream>`, TLS close_notify, wait briefly for the server's end.
    pub async fn close(mut self) {
        let _ = self.send("</stream:stream>").await;
        let _ = self.io.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match self.reader.next(&mut self.io).await {
                    Ok(Frame::StreamEnd) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
}

fn error_condition(st: &Element) -> String {
    st.children
        .iter()
        .find(|c| c.name == "error")
        .map(|e| e.first_child_name().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

pub struct LoginInfo {
    pub jid: String,
    pub tls: String,
}

/// Full login of user `{prefix}{idx}`. Returns the bound stream.
pub async fn login(
    setup: &ClientSetup,
    idx: usize,
    resource: &str,
    presence: bool,
) -> Result<(XmppConn<Tls>, LoginInfo)> {
    let tcp = TcpStream::connect(setup.addr)
        .await
        .with_context(|| format!("connect {}", setup.addr))?;
    tcp.set_nodelay(true)?;

    let tcp = if setup.direct_tls {
        tcp
    } else {
        let mut c = XmppConn::new(tcp);
        let features = c
            .open_stream(&setup.domain)
            .await
            .context("pre-TLS stream")?;
        if features.child("starttls", xml::NS_TLS).is_none() {
            bail!("server does not offer STARTTLS");
        }
        c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            .await?;
        let r = c.next_stanza().await?;
        if !r.is("proceed", xml::NS_TLS) {
            bail!("STARTTLS refused: <{}>", r.name);
        }
        c.io
    };
    let tls = setup
        .connector
        .connect(setup.tls_name.clone(), tcp)
        .await
        .context("TLS handshake")?;
    let tls_desc = {
        let (_, s) = tls.get_ref();
        let ver = s
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|| "?".into());
        let suite = s
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()))
            .unwrap_or_else(|| "?".into());
        let kx = s
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()))
            .unwrap_or_else(|| "?".into());
        format!("{ver} {suite} {kx}")
    };
    let mut c = XmppConn::new(tls);

    // SASL
    let features = c.open_stream(&setup.domain).await.context("TLS stream")?;
    let mechs = features
        .child("mechanisms", xml::NS_SASL)
        .ok_or_else(|| anyhow!("no SASL mechanisms offered"))?;
    let offered: Vec<&str> = mechs.children.iter().map(|m| m.text.trim()).collect();
    if !offered.contains(&setup.mech.name()) {
        bail!(
            "server does not offer {} (offers {:?})",
            setup.mech.name(),
            offered
        );
    }
    let user = format!("{}{}", setup.user_prefix, idx);
    let iterations = authenticate(
        &mut c,
        setup.mech,
        &user,
        &setup.password,
        setup.scram_cache,
    )
    .await?;
    if let Some(i) = iterations {
        SCRAM_ITERATIONS.store(i, std::sync::atomic::Ordering::Relaxed);
    }

    // Restart, bind, session, presence.
    c.reader.restart();
    let features = c
        .open_stream(&setup.domain)
        .await
        .context("post-auth stream")?;
    if features.child("bind", xml::NS_BIND).is_none() {
        bail!("server does not offer resource binding");
    }
    c.send(&format!(
        "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
         <resource>{}</resource></bind></iq>",
        escape(resource)
    ))
    .await?;
    let r = c.await_iq("bind1").await?;
    let jid = r
        .child("bind", xml::NS_BIND)
        .and_then(|b| b.child("jid", xml::NS_BIND))
        .map(|j| j.text.clone())
        .ok_or_else(|| anyhow!("bind result without jid"))?;
    let session_required = features
        .child("session", xml::NS_SESSION)
        .is_some_and(|s| s.child("optional", xml::NS_SESSION).is_none());
    if session_required || setup.force_session {
        c.send(
            "<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
        )
        .await?;
        c.await_iq("sess1").await?;
    }
    if presence {
        // Presence, then a ping round trip: once the server answers, it has processed the
        // presence (a stream is handled in order), so the session is available for routing.
        c.send("<presence/><iq type='get' id='sync1'><ping xmlns='urn:xmpp:ping'/></iq>")
            .await?;
        c.await_iq_any("sync1").await?;
    }
    Ok((c, LoginInfo { jid, tls: tls_desc }))
}

/// Returns the PBKDF2 iteration count the server used (SCRAM only).
async fn authenticate(
    c: &mut XmppConn<Tls>,
    mech: Mech,
    user: &str,
    password: &str,
    scram_cache: bool,
) -> Result<Option<u32>> {
    let hash = match mech {
        Mech::Plain => {
            let initial = B64.encode(format!("\0{user}\0{password}"));
            c.send(&format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{initial}</auth>"
            ))
            .await?;
            let r = c.next_stanza().await?;
            sasl_outcome(&r)?;
            return Ok(None);
        }
        Mech::ScramSha1 => ScramHash::Sha1,
        Mech::ScramSha256 => ScramHash::Sha256,
    };
    let mut m = ScramClient::new(hash, user, password, scram_cache)?;
    c.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{}'>{}</auth>",
        mech.name(),
        B64.encode(m.initial())
    ))
    .await?;
    let r = c.next_stanza().await?;
    if !r.is("challenge", xml::NS_SASL) {
        sasl_outcome(&r)?;
        bail!("SASL success without SCRAM exchange");
    }
    let data = B64.decode(r.text.trim()).context("challenge base64")?;
    let resp = m.respond(&data)?;
    c.send(&format!(
        "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</response>",
        B64.encode(resp)
    ))
    .await?;
    let mut r = c.next_stanza().await?;
    if r.is("challenge", xml::NS_SASL) {
        // Old style: server-final as a challenge, then an empty success.
        m.verify(&B64.decode(r.text.trim()).context("challenge base64")?)?;
        c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            .await?;
        r = c.next_stanza().await?;
        sasl_outcome(&r)?;
    } else {
        sasl_outcome(&r)?;
        // Verify the server signature: proves the server really holds the credentials.
        m.verify(&B64.decode(r.text.trim()).context("success base64")?)?;
    }
    Ok(m.iterations)
}

fn sasl_outcome(r: &Element) -> Result<()> {
    if r.is("success", xml::NS_SASL) {
        Ok(())
    } else if r.is("failure", xml::NS_SASL) {
        bail!("SASL failure: {}", r.first_child_name())
    } else {
        bail!("unexpected SASL reply <{}>", r.name)
    }
}
