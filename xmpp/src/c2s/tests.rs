//! Scenario tests of the c2s state machine, no sockets: bytes in, bytes and events out.

use std::time::{Duration, Instant};

use base64::Engine as _;

use super::*;
use crate::sasl::{PasswordRecord, DEFAULT_ITERATIONS};

const OPEN: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' to='example.test' version='1.0'>";

fn config() -> SessionConfig {
    SessionConfig {
        domain: "example.test".into(),
        starttls_available: true,
        require_encryption: true,
        limits: ReaderLimits::default(),
        max_auth_attempts: 3,
        liveness: LivenessConfig::default(),
        external: Some(ExternalPolicy {
            modes: vec![crate::sasl::ExternalMode::Standard],
            auto_create: false,
        }),
    }
}

struct Harness {
    now: Instant,
    session: Session,
    record: PasswordRecord,
    out: String,
    events: Vec<Event>,
}

impl Harness {
    fn new(tls: bool) -> Self {
        let now = Instant::now();
        Harness {
            now,
            session: Session::new(std::sync::Arc::new(config()), tls, 7, now),
            record: PasswordRecord::derive("alice", "example.test", "secret", DEFAULT_ITERATIONS)
                .unwrap(),
            out: String::new(),
            events: Vec::new(),
        }
    }

    /// Feeds input and answers credential lookups like the driver would.
    fn send(&mut self, input: &str) -> String {
        self.session.handle_bytes(self.now, input.as_bytes());
        self.pump()
    }

    fn pump(&mut self) -> String {
        loop {
            let mut progressed = false;
            while let Some(event) = self.session.poll_event() {
                progressed = true;
                if let Event::NeedCredentials { username } = &event {
                    let record = (username == "alice").then(|| self.record.clone());
                    self.events.push(event);
                    self.session.handle_credentials(record.as_ref());
                } else {
                    self.events.push(event);
                }
            }
            if !progressed {
                break;
            }
        }
        let out = String::from_utf8(self.session.take_outgoing().unwrap_or_default()).unwrap();
        self.out.push_str(&out);
        out
    }

    fn login_plain(&mut self, password: &str) -> String {
        self.send(OPEN);
        let payload =
            base64::engine::general_purpose::STANDARD.encode(format!("\0alice\0{password}"));
        self.send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{payload}</auth>"
        ))
    }

    fn bind(&mut self, resource: Option<&str>) -> String {
        self.send(OPEN);
        let resource = resource
            .map(|r| format!("<resource>{r}</resource>"))
            .unwrap_or_default();
        self.send(&format!("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>{resource}</bind></iq>"))
    }
}

#[test]
fn plaintext_stream_offers_only_required_starttls() {
    let mut h = Harness::new(false);
    let out = h.send(OPEN);
    assert!(out.contains("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>"), "{out}");
    assert!(!out.contains("mechanism"));
    let out = h.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>");
    assert!(out.contains("<encryption-required/>"), "{out}");
    assert!(h.session.jid().is_none());
}

#[test]
fn starttls_then_restart_offers_mechanisms() {
    let mut h = Harness::new(false);
    h.send(OPEN);
    let out = h.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert_eq!(out, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert_eq!(h.events.last(), Some(&Event::StartTls));
    // Bytes arriving before the handshake completes are not XMPP.
    h.session.handle_bytes(h.now, b"\x16\x03\x01garbage");
    h.session.handle_tls_established();
    let out = h.send(OPEN);
    assert!(out.contains("<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>"), "{out}");
    assert!(!out.contains("starttls"));
}

#[test]
fn plain_login_bind_and_stamped_stanza() {
    let mut h = Harness::new(true);
    let out = h.login_plain("secret");
    assert_eq!(out, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    let out = h.bind(Some("phone"));
    assert!(out.contains("<jid>alice@example.test/phone</jid>"), "{out}");
    assert!(h.events.contains(&Event::Bound {
        jid: FullJid::new("alice@example.test/phone").unwrap()
    }));
    h.send("<message to='Bob@Example.Test' type='chat'><body>hi</body></message>");
    let Some(Event::Stanza(stanza)) = h.events.last() else {
        panic!("{:?}", h.events)
    };
    assert_eq!(stanza.attr("from"), Some("alice@example.test/phone"));
    assert_eq!(stanza.attr("to"), Some("bob@example.test"));
}

#[test]
fn wrong_password_is_not_authorized_and_unknown_user_looks_the_same() {
    let mut h = Harness::new(true);
    let out = h.login_plain("wrong");
    assert!(
        out.ends_with(
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"
        ),
        "{out}"
    );
    let payload = base64::engine::general_purpose::STANDARD.encode("\0nobody\0secret");
    let out = h.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{payload}</auth>"
    ));
    assert_eq!(
        out,
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"
    );
    // Third failure closes the stream.
    h.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{payload}</auth>"
    ));
    assert!(h.session.is_closed());
}

#[test]
fn scram_sha256_login_with_an_independent_client() {
    use sasl::client::mechanisms::Scram;
    use sasl::client::Mechanism as _;
    use sasl::common::scram::Sha256;
    use sasl::common::{ChannelBinding, Credentials};

    let mut h = Harness::new(true);
    h.send(OPEN);
    let creds = Credentials::default()
        .with_username("alice")
        .with_password("secret")
        .with_channel_binding(ChannelBinding::Unsupported);
    let mut client = Scram::<Sha256>::from_credentials(creds).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let first = b64.encode(client.initial());
    let out = h.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{first}</auth>"
    ));
    let challenge = out
        .strip_prefix("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>")
        .unwrap()
        .strip_suffix("</challenge>")
        .unwrap();
    let response = client.response(&b64.decode(challenge).unwrap()).unwrap();
    let out = h.send(&format!(
        "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</response>",
        b64.encode(response)
    ));
    let success = out
        .strip_prefix("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>")
        .unwrap()
        .strip_suffix("</success>")
        .unwrap();
    client.success(&b64.decode(success).unwrap()).unwrap();
    assert!(h.events.contains(&Event::Authenticated {
        username: "alice".into()
    }));
}

#[test]
fn generated_resource_when_none_requested() {
    let mut h = Harness::new(true);
    h.login_plain("secret");
    let out = h.bind(None);
    assert!(out.contains("<jid>alice@example.test/tandem-"), "{out}");
}

#[test]
fn stanzas_before_bind_or_auth_are_refused() {
    let mut h = Harness::new(true);
    h.send(OPEN);
    h.send("<message to='bob@example.test'/>");
    assert!(
        h.out
            .contains("<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
        "{}",
        h.out
    );
    assert!(h.session.is_closed());
}

#[test]
fn forged_from_is_invalid_from() {
    let mut h = Harness::new(true);
    h.login_plain("secret");
    h.bind(Some("r"));
    h.send("<message from='bob@example.test/x' to='carol@example.test'/>");
    assert!(
        h.out
            .contains("<invalid-from xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
        "{}",
        h.out
    );
}

#[test]
fn wrong_host_is_host_unknown() {
    let mut h = Harness::new(true);
    h.send("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='other.test' version='1.0'>");
    assert!(
        h.out
            .contains("<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
        "{}",
        h.out
    );
    assert!(h.out.starts_with("<?xml version='1.0'?><stream:stream"));
}

#[test]
fn doctype_before_anything_gets_header_then_restricted_xml() {
    let mut h = Harness::new(true);
    h.send("<?xml version='1.0'?><!DOCTYPE stream>");
    assert!(h.out.starts_with("<?xml version='1.0'?><stream:stream"));
    assert!(
        h.out
            .contains("<restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
        "{}",
        h.out
    );
    assert_eq!(
        h.events,
        vec![Event::Closed {
            error: Some(StreamErrorCondition::RestrictedXml)
        }]
    );
}

#[test]
fn legacy_session_is_acknowledged() {
    let mut h = Harness::new(true);
    h.login_plain("secret");
    h.bind(Some("r"));
    let out = h
        .send("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    assert_eq!(out, "<iq type='result' id='s1' to='alice@example.test/r'/>");
}

#[test]
fn client_close_is_answered() {
    let mut h = Harness::new(true);
    h.send(OPEN);
    let out = h.send("</stream:stream>");
    assert!(out.ends_with("</stream:stream>"));
    assert!(h.session.is_closed());
}

#[test]
fn slow_authentication_times_out() {
    let mut h = Harness::new(true);
    h.send(OPEN);
    let deadline = h.session.poll_timeout().unwrap();
    assert_eq!(deadline, h.now + Duration::from_secs(60));
    h.session
        .handle_timeout(deadline - Duration::from_millis(1));
    assert!(!h.session.is_closed());
    h.session.handle_timeout(deadline);
    h.pump();
    assert!(
        h.out
            .contains("<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
        "{}",
        h.out
    );
}

#[test]
fn quiet_client_is_pinged_and_answer_is_consumed_and_silence_closes() {
    let mut h = Harness::new(true);
    h.login_plain("secret");
    h.bind(Some("r"));
    h.events.clear();
    let quiet = h.session.poll_timeout().unwrap();
    assert_eq!(quiet, h.now + Duration::from_secs(300));
    h.session.handle_timeout(quiet);
    let out = h.pump();
    assert!(
        out.contains("<ping xmlns='urn:xmpp:ping'/>") && out.contains("id='tandem-ping-1'"),
        "{out}"
    );
    // The answer resets the clock and is not handed to the router.
    h.now = quiet + Duration::from_secs(5);
    h.send("<iq type='result' id='tandem-ping-1'/>");
    assert!(
        !h.events.iter().any(|e| matches!(e, Event::Stanza(_))),
        "{:?}",
        h.events
    );
    assert_eq!(
        h.session.poll_timeout().unwrap(),
        h.now + Duration::from_secs(300)
    );
    // A second ping without answer closes the stream.
    let quiet = h.session.poll_timeout().unwrap();
    h.session.handle_timeout(quiet);
    let give_up = h.session.poll_timeout().unwrap();
    assert_eq!(give_up, quiet + Duration::from_secs(60));
    h.session.handle_timeout(give_up);
    h.pump();
    assert!(h.session.is_closed());
    assert!(h.out.ends_with("</stream:error></stream:stream>"));
}

#[test]
fn valid_stanzas_before_bad_xml_are_still_handled() {
    let mut h = Harness::new(true);
    h.login_plain("secret");
    h.bind(Some("r"));
    h.send("<message to='bob@example.test'><body>1</body></message><!DOCTYPE x>");
    assert!(
        h.events.iter().any(|e| matches!(e, Event::Stanza(_))),
        "{:?}",
        h.events
    );
    assert!(h.session.is_closed());
}

#[test]
fn malformed_to_gets_jid_malformed_without_echoing_it() {
    let mut h = Harness::new(true);
    h.login_plain("secret");
    h.bind(Some("r"));
    let out = h.send("<message id='m' to='a@b@c'/>");
    assert!(out.contains("<jid-malformed"), "{out}");
    assert!(!out.contains("from='a@b@c'"), "{out}");
}

#[test]
fn storage_failure_is_a_temporary_auth_failure() {
    let mut h = Harness::new(true);
    h.send(OPEN);
    let payload = base64::engine::general_purpose::STANDARD.encode("\0alice\0secret");
    h.session.handle_bytes(
        h.now,
        format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{payload}</auth>"
        )
        .as_bytes(),
    );
    assert!(matches!(
        h.session.poll_event(),
        Some(Event::NeedCredentials { .. })
    ));
    h.session.handle_credentials_unavailable();
    let out = h.pump();
    assert!(
        out.ends_with(
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><temporary-auth-failure/></failure>"
        ),
        "{out}"
    );
}

fn external(h: &mut Harness, authzid: &str) -> String {
    h.send(OPEN);
    let payload = if authzid.is_empty() {
        "=".to_string()
    } else {
        base64::engine::general_purpose::STANDARD.encode(authzid)
    };
    h.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>{payload}</auth>"
    ))
}

#[test]
fn external_is_offered_only_with_a_verified_certificate_and_logs_in_its_account() {
    let mut h = Harness::new(true);
    let out = h.send(OPEN);
    assert!(
        !out.contains("EXTERNAL"),
        "no certificate, no EXTERNAL: {out}"
    );
    let mut h = Harness::new(true);
    h.session.set_client_certificate(crate::sasl::CertIdentity {
        xmpp_addrs: vec!["alice@example.test".into()],
        common_name: None,
    });
    let out = h.send(OPEN);
    assert!(
        out.contains("<mechanism>EXTERNAL</mechanism><mechanism>SCRAM-SHA-256</mechanism>"),
        "{out}"
    );
    let out =
        h.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
    assert_eq!(out, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    assert!(h.events.contains(&Event::Authenticated {
        username: "alice".into()
    }));
}

#[test]
fn external_refuses_foreign_authzids_and_missing_accounts_without_telling_which() {
    let mut h = Harness::new(true);
    h.session.set_client_certificate(crate::sasl::CertIdentity {
        xmpp_addrs: vec!["alice@example.test".into()],
        common_name: None,
    });
    let out = external(&mut h, "bob@example.test");
    assert!(
        out.ends_with(
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-authzid/></failure>"
        ),
        "{out}"
    );
    let mut h = Harness::new(true);
    h.session.set_client_certificate(crate::sasl::CertIdentity {
        xmpp_addrs: vec!["nobody@example.test".into()],
        common_name: None,
    });
    let out = external(&mut h, "");
    assert!(
        out.ends_with(
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"
        ),
        "{out}"
    );
    let mut h = Harness::new(true);
    h.session.set_client_certificate(crate::sasl::CertIdentity {
        xmpp_addrs: vec!["alice@other.test".into()],
        common_name: None,
    });
    let out = external(&mut h, "");
    assert!(out.ends_with("<not-authorized/></failure>"), "{out}");
}

/// A full SCRAM exchange driven by the independent `sasl` client; returns the final output.
fn scram_with(h: &mut Harness, mechanism: &str, binding: sasl::common::ChannelBinding) -> String {
    use sasl::client::mechanisms::Scram;
    use sasl::client::Mechanism as _;
    use sasl::common::scram::Sha256;
    use sasl::common::Credentials;
    let creds = Credentials::default()
        .with_username("alice")
        .with_password("secret")
        .with_channel_binding(binding);
    let mut client = Scram::<Sha256>::from_credentials(creds).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let first = b64.encode(client.initial());
    let out = h.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'>{first}</auth>"
    ));
    let Some(challenge) = out
        .strip_prefix("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>")
        .and_then(|c| c.strip_suffix("</challenge>"))
    else {
        return out;
    };
    let response = client.response(&b64.decode(challenge).unwrap()).unwrap();
    h.send(&format!(
        "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</response>",
        b64.encode(response)
    ))
}

#[test]
fn scram_plus_binds_to_the_tls_channel_and_a_downgrade_is_refused() {
    use sasl::common::ChannelBinding;
    let exporter = vec![0x5a; 32];
    let mut h = Harness::new(true);
    h.session
        .set_channel_bindings(vec![("tls-exporter".into(), exporter.clone())]);
    let out = h.send(OPEN);
    assert!(
        out.contains("<mechanism>SCRAM-SHA-256-PLUS</mechanism>"),
        "{out}"
    );
    assert!(out.contains("<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'><channel-binding type='tls-exporter'/></sasl-channel-binding>"), "{out}");
    let out = scram_with(
        &mut h,
        "SCRAM-SHA-256-PLUS",
        ChannelBinding::TlsExporter(exporter.clone()),
    );
    assert!(out.starts_with("<success"), "{out}");

    // Binding data from another channel (a man in the middle) fails.
    let mut h = Harness::new(true);
    h.session
        .set_channel_bindings(vec![("tls-exporter".into(), exporter.clone())]);
    h.send(OPEN);
    let out = scram_with(
        &mut h,
        "SCRAM-SHA-256-PLUS",
        ChannelBinding::TlsExporter(vec![0; 32]),
    );
    assert!(out.contains("<not-authorized/>"), "{out}");

    // 'y' (client could bind, saw no -PLUS) while -PLUS was offered: a downgrade.
    let mut h = Harness::new(true);
    h.session
        .set_channel_bindings(vec![("tls-exporter".into(), exporter)]);
    h.send(OPEN);
    let out = scram_with(&mut h, "SCRAM-SHA-256", ChannelBinding::Unsupported);
    assert!(out.contains("<not-authorized/>"), "{out}");
    // Plain 'n' still works.
    let mut h = Harness::new(true);
    h.session
        .set_channel_bindings(vec![("tls-exporter".into(), vec![1; 32])]);
    h.send(OPEN);
    assert!(scram_with(&mut h, "SCRAM-SHA-256", ChannelBinding::None).starts_with("<success"));
}
