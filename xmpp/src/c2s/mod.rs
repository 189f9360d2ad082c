//! The client-to-server session state machine (RFC 6120 §4–§7), Sans-IO.
//!
//! Drive it with [`Session::handle_bytes`] (plaintext, after TLS decryption), answer its
//! [`Event`]s (`StartTls`, `NeedCredentials`, ...) and write out what
//! [`Session::take_outgoing`] returns. Once bound it hands every client stanza, with `from`
//! stamped, to the caller as [`Event::Stanza`].

mod features;
mod negotiation;

mod liveness;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use jid::{BareJid, FullJid};

use crate::element::Element;
use crate::sasl::{CertIdentity, ExternalMode, PasswordRecord};
use crate::stream::reader::{ReaderLimits, StreamEvent, StreamReader};
use crate::stream::writer::{self, CLIENT_NS};
use crate::stream::StreamErrorCondition;

pub use liveness::LivenessConfig;
pub use negotiation::SaslState;

/// What the session needs to know about its server.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The domain this server serves; the only accepted stream `to`.
    pub domain: String,
    /// Whether STARTTLS is offered on this connection (false on direct TLS or without a cert).
    pub starttls_available: bool,
    /// Refuse SASL until TLS is up (RFC 6120 §5.3.1 "mandatory-to-negotiate").
    pub require_encryption: bool,
    pub limits: ReaderLimits,
    /// Failed SASL attempts allowed before the stream is closed.
    pub max_auth_attempts: u32,
    /// Timeouts that detect silent peers (RFC 6120 §4.6).
    pub liveness: LivenessConfig,
    /// Certificate logins (XEP-0178); `None` when client certificates are not asked for.
    pub external: Option<ExternalPolicy>,
}

/// How SASL EXTERNAL picks the account of a verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalPolicy {
    pub modes: Vec<ExternalMode>,
    /// Create a missing account instead of refusing the login.
    pub auto_create: bool,
}

/// Something the driver must act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `<proceed/>` is queued: flush the outgoing bytes, run the TLS handshake, then call
    /// [`Session::handle_tls_established`].
    StartTls,
    /// Look the user up and answer with [`Session::handle_credentials`].
    NeedCredentials { username: String },
    /// SASL succeeded for this local user.
    Authenticated { username: String },
    /// SASL failed; `reason` is for logs only.
    AuthFailed {
        username: Option<String>,
        reason: String,
    },
    /// The client bound this full JID. Newest wins: the driver must evict an older session
    /// with the same full JID.
    Bound { jid: FullJid },
    /// A client stanza for the router, `from` already stamped.
    Stanza(Element),
    /// A certificate login for an account that does not exist yet, with auto-creation on:
    /// the driver creates it.
    CreateAccount { username: String },
    /// The stream is over; flush the outgoing bytes and close the transport.
    Closed { error: Option<StreamErrorCondition> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the client's stream header.
    AwaitHeader,
    /// Header exchanged, features sent, negotiating (TLS, SASL, bind).
    Negotiating,
    /// `<proceed/>` sent; nothing more is read until TLS is up.
    TlsPending,
    /// Waiting for the driver's credential lookup.
    CredentialsPending,
    /// Resource bound: stanzas flow.
    Established,
    Closed,
}

/// One client connection's XMPP state.
pub struct Session {
    /// Shared by every session of a listener.
    config: Arc<SessionConfig>,
    reader: StreamReader,
    phase: Phase,
    tls: bool,
    header_sent: bool,
    /// The client's `xml:lang`, when it gave one (RFC 6120 §4.7.4); "en" otherwise.
    stream_lang: Option<String>,
    authenticated: Option<String>,
    bound: Option<FullJid>,
    sasl: Option<SaslState>,
    auth_failures: u32,
    /// Elements read while a credential lookup was outstanding, handled once it returns.
    deferred: VecDeque<Element>,
    outgoing: Vec<u8>,
    events: VecDeque<Event>,
    stream_counter: u32,
    id_seed: u64,
    liveness: liveness::Liveness,
    /// Identities of the verified TLS client certificate, if one was presented.
    client_cert: Option<CertIdentity>,
    /// Channel binding data of this TLS connection (type, data), for SCRAM-*-PLUS.
    channel_bindings: Vec<(String, Vec<u8>)>,
}

impl Session {
    /// `tls` is true for direct TLS connections (XEP-0368); `id_seed` makes stream ids unique
    /// without the core touching a random source.
    pub fn new(config: Arc<SessionConfig>, tls: bool, id_seed: u64, now: Instant) -> Self {
        Session {
            liveness: liveness::Liveness::new(now),
            client_cert: None,
            channel_bindings: Vec::new(),
            reader: StreamReader::new(config.limits),
            config,
            phase: Phase::AwaitHeader,
            tls,
            header_sent: false,
            stream_lang: None,
            authenticated: None,
            bound: None,
            sasl: None,
            auth_failures: 0,
            deferred: VecDeque::new(),
            outgoing: Vec::new(),
            events: VecDeque::new(),
            stream_counter: 0,
            id_seed,
        }
    }

    /// Feeds plaintext bytes from the client, received at `now`.
    pub fn handle_bytes(&mut self, now: Instant, data: &[u8]) {
        if matches!(self.phase, Phase::Closed | Phase::TlsPending) {
            return;
        }
        self.liveness.heard(now);
        let result = self.reader.push(data);
        // Complete stanzas that came before the bad input are still handled.
        self.process_reader();
        if let Err(err) = result {
            tracing::debug!(condition = %err.condition, detail = %err.detail, "stream read error");
            self.close_with_error(err.condition, None);
        }
    }

    /// The TLS layer verified a client certificate carrying these identities; EXTERNAL is
    /// offered from now on (XEP-0178 §5).
    pub fn set_client_certificate(&mut self, identity: CertIdentity) {
        self.client_cert = Some(identity);
    }

    /// The channel binding data the TLS layer offers (`tls-exporter` on TLS 1.3,
    /// `tls-server-end-point`); SCRAM-*-PLUS is offered from now on (RFC 9266, XEP-0440).
    pub fn set_channel_bindings(&mut self, bindings: Vec<(String, Vec<u8>)>) {
        self.channel_bindings = bindings;
    }

    /// TLS is up; the client now restarts the stream (RFC 6120 §5.4.3.3).
    pub fn handle_tls_established(&mut self) {
        if self.phase != Phase::TlsPending {
            return;
        }
        self.tls = true;
        self.restart_stream();
    }

    /// The credential lookup failed (storage down): a temporary failure the client may retry,
    /// not a wrong password (RFC 6120 §6.5.12).
    pub fn handle_credentials_unavailable(&mut self) {
        if self.phase != Phase::CredentialsPending {
            return;
        }
        self.phase = Phase::Negotiating;
        self.sasl_temporary_failure();
        self.process_reader();
    }

    /// Answer to [`Event::NeedCredentials`]; `None` when no such user exists.
    pub fn handle_credentials(&mut self, record: Option<&PasswordRecord>) {
        if self.phase != Phase::CredentialsPending {
            return;
        }
        self.phase = Phase::Negotiating;
        self.continue_sasl_with_credentials(record);
        while self.phase == Phase::Negotiating || self.phase == Phase::Established {
            let Some(element) = self.deferred.pop_front() else {
                break;
            };
            self.handle_element(element);
        }
        if matches!(
            self.phase,
            Phase::Negotiating | Phase::Established | Phase::AwaitHeader
        ) {
            self.process_reader();
        }
    }

    /// The client closed the transport without closing the stream.
    pub fn handle_eof(&mut self) {
        if self.phase != Phase::Closed {
            self.phase = Phase::Closed;
            self.events.push_back(Event::Closed { error: None });
        }
    }

    /// Queues a stanza for the client (something the router delivered).
    pub fn send_stanza(&mut self, stanza: &Element) {
        if self.phase == Phase::Established {
            let mut text = String::with_capacity(256);
            stanza.write_to(&mut text, CLIENT_NS);
            self.outgoing.extend_from_slice(text.as_bytes());
        }
    }

    /// Closes the stream from our side, with a stream error if given (e.g. `conflict` when a
    /// newer session took the resource, `system-shutdown` on shutdown).
    pub fn close(&mut self, error: Option<StreamErrorCondition>, text: Option<&str>) {
        match error {
            Some(condition) => self.close_with_error(condition, text),
            None => {
                if self.phase != Phase::Closed {
                    self.write_str(writer::STREAM_CLOSE);
                    self.phase = Phase::Closed;
                    self.events.push_back(Event::Closed { error: None });
                }
            }
        }
    }

    /// Bytes to write to the client, if any.
    pub fn take_outgoing(&mut self) -> Option<Vec<u8>> {
        if self.outgoing.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.outgoing))
        }
    }

    pub fn has_outgoing(&self) -> bool {
        !self.outgoing.is_empty()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if event.is_none() && self.events.capacity() > 0 {
            // Drained: an idle connection should not keep the queue's memory.
            self.events = VecDeque::new();
        }
        event
    }

    pub fn jid(&self) -> Option<&FullJid> {
        self.bound.as_ref()
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// True while `<proceed/>` was sent and the TLS handshake has not completed.
    pub fn is_tls_pending(&self) -> bool {
        self.phase == Phase::TlsPending
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    fn process_reader(&mut self) {
        while !matches!(self.phase, Phase::Closed | Phase::TlsPending) {
            let Some(event) = self.reader.poll_event() else {
                break;
            };
            match event {
                StreamEvent::Header(header) => self.handle_header(header),
                StreamEvent::Element(element) => {
                    if self.phase == Phase::CredentialsPending {
                        self.deferred.push_back(element);
                    } else {
                        self.handle_element(element);
                    }
                }
                StreamEvent::Close => {
                    // Answer the client's close with ours (RFC 6120 §4.4).
                    self.write_str(writer::STREAM_CLOSE);
                    self.phase = Phase::Closed;
                    self.events.push_back(Event::Closed { error: None });
                }
            }
        }
    }

    fn handle_header(&mut self, header: crate::stream::StreamHeader) {
        if self.phase != Phase::AwaitHeader {
            return self.close_with_error(
                StreamErrorCondition::BadFormat,
                Some("unexpected stream header"),
            );
        }
        if let Some(lang) = header.lang.filter(|l| !l.is_empty() && l.len() <= 35) {
            self.stream_lang = Some(lang);
        }
        self.send_header(header.from.as_deref());
        // RFC 6120 §4.9.3.6: an unknown `to` gets host-unknown; a missing one is tolerated
        // by most servers and clients rely on it, so we assume our domain.
        if let Some(to) = header.to.as_deref() {
            if !to.eq_ignore_ascii_case(&self.config.domain) {
                return self.close_with_error(
                    StreamErrorCondition::HostUnknown,
                    Some("this server does not serve that domain"),
                );
            }
        }
        match header.version.as_deref() {
            Some(v) if version_at_least_1(v) => {}
            _ => {
                return self.close_with_error(
                    StreamErrorCondition::UnsupportedVersion,
                    Some("XMPP 1.0 streams only"),
                )
            }
        }
        self.phase = Phase::Negotiating;
        let features = self.features();
        // Written with the conventional `stream:` prefix, bound in our header.
        let mut text = String::from("<stream:features>");
        for child in features.children() {
            child.write_to(&mut text, "");
        }
        text.push_str("</stream:features>");
        self.write_str(&text);
    }

    fn send_header(&mut self, client_from: Option<&str>) {
        self.stream_counter += 1;
        let id = format!("{:016x}{:04x}", self.id_seed, self.stream_counter);
        // `to` echoes the client's `from` only when it is a valid JID (RFC 6120 §4.7.2).
        let to = client_from.filter(|f| jid::Jid::new(f).is_ok());
        let lang = self.stream_lang.as_deref().unwrap_or("en");
        let header = writer::stream_header(&self.config.domain, to, &id, lang);
        self.write_str(&header);
        self.header_sent = true;
    }

    fn restart_stream(&mut self) {
        self.reader.reset();
        self.phase = Phase::AwaitHeader;
    }

    fn handle_element(&mut self, element: Element) {
        match self.phase {
            Phase::Negotiating => self.handle_negotiation_element(element),
            Phase::Established => self.handle_client_stanza(element),
            Phase::CredentialsPending => self.deferred.push_back(element),
            Phase::AwaitHeader | Phase::TlsPending | Phase::Closed => {}
        }
    }

    fn close_with_error(&mut self, condition: StreamErrorCondition, text: Option<&str>) {
        if self.phase == Phase::Closed {
            return;
        }
        if !self.header_sent {
            self.send_header(None);
        }
        let error = writer::stream_error(condition, text);
        self.write_str(&error);
        self.phase = Phase::Closed;
        self.events.push_back(Event::Closed {
            error: Some(condition),
        });
    }

    fn write_str(&mut self, s: &str) {
        self.outgoing.extend_from_slice(s.as_bytes());
    }

    fn write_element(&mut self, element: &Element, parent_ns: &str) {
        let mut text = String::with_capacity(256);
        element.write_to(&mut text, parent_ns);
        self.outgoing.extend_from_slice(text.as_bytes());
    }

    fn bare_jid(&self) -> Option<BareJid> {
        let user = self.authenticated.as_ref()?;
        BareJid::new(&format!("{user}@{}", self.config.domain)).ok()
    }
}

fn version_at_least_1(version: &str) -> bool {
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u32>().ok());
    matches!(major, Some(m) if m >= 1)
}

#[cfg(test)]
mod tests;
