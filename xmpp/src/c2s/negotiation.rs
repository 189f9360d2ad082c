//! STARTTLS, SASL, resource binding and the handling of stanzas on an established session.

use base64::Engine as _;
use jid::Jid;

use super::features::{BIND_NS, SASL_NS, SESSION_NS, TLS_NS};
use super::{Event, Phase, Session};
use crate::element::Element;
use crate::sasl::{
    resolve_external, verify_plain, ChannelBinding, Mechanism, PasswordRecord, PlainServer,
    SaslCondition, SaslError, ScramCredentials, ScramHash, ScramServer,
};
use crate::stanza::{error_reply, iq_result, StanzaErrorCondition, StanzaKind};
use crate::stream::writer::CLIENT_NS;
use crate::stream::StreamErrorCondition;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Where a SASL exchange stands.
pub enum SaslState {
    /// `<auth/>` came without an initial response; an empty challenge asked for it.
    AwaitingInitialResponse(Mechanism),
    /// EXTERNAL: the certificate named this account; waiting to learn whether it exists.
    External { username: String },
    /// PLAIN: waiting for the stored record to check the password.
    Plain {
        authzid: Option<String>,
        authcid: String,
        password: String,
    },
    /// SCRAM: client-first read, waiting for the stored record.
    ScramFirst {
        server: ScramServer,
        hash: ScramHash,
        username: String,
        authzid: Option<String>,
    },
    /// SCRAM: server-first sent, waiting for client-final.
    ScramFinal {
        server: ScramServer,
        username: String,
        authzid: Option<String>,
    },
}

impl Session {
    pub(super) fn handle_negotiation_element(&mut self, element: Element) {
        if element.is("starttls", TLS_NS) {
            return self.handle_starttls();
        }
        if element.ns() == SASL_NS {
            return self.handle_sasl(element);
        }
        if self.authenticated.is_some() && StanzaKind::of(&element) == Some(StanzaKind::Iq) {
            return self.handle_bind_iq(element);
        }
        // RFC 6120 §6.4.1 / §5.3.1: nothing else before authentication (and TLS if required).
        if self.authenticated.is_none() {
            return self.close_with_error(
                StreamErrorCondition::NotAuthorized,
                Some("authenticate first"),
            );
        }
        if StanzaKind::of(&element).is_some() {
            // RFC 6120 §7.1: stanzas before binding are refused with not-authorized.
            return self.close_with_error(
                StreamErrorCondition::NotAuthorized,
                Some("bind a resource first"),
            );
        }
        self.close_with_error(StreamErrorCondition::UnsupportedStanzaType, None);
    }

    fn handle_starttls(&mut self) {
        if self.tls
            || !self.config.starttls_available
            || self.authenticated.is_some()
            || self.sasl.is_some()
        {
            // RFC 6120 §5.4.2.2: failure, then the stream is closed.
            self.write_element(&Element::new("failure", TLS_NS), "");
            self.write_str(crate::stream::writer::STREAM_CLOSE);
            self.phase = Phase::Closed;
            self.events.push_back(Event::Closed { error: None });
            return;
        }
        self.write_element(&Element::new("proceed", TLS_NS), "");
        self.phase = Phase::TlsPending;
        self.events.push_back(Event::StartTls);
    }

    fn handle_sasl(&mut self, element: Element) {
        if self.authenticated.is_some() {
            return self.close_with_error(
                StreamErrorCondition::PolicyViolation,
                Some("already authenticated"),
            );
        }
        if !self.tls && self.config.require_encryption {
            // RFC 6120 §5.3.1: encryption is mandatory here; SASL before TLS is refused.
            return self.sasl_failure(SaslError::new(
                SaslCondition::EncryptionRequired,
                "SASL before STARTTLS",
            ));
        }
        match element.name() {
            "auth" => self.handle_auth(&element),
            "response" => self.handle_response(&element),
            "abort" => {
                self.sasl = None;
                self.sasl_failure(SaslError::new(SaslCondition::Aborted, "client aborted"));
            }
            _ => self.close_with_error(
                StreamErrorCondition::BadFormat,
                Some("unknown SASL element"),
            ),
        }
    }

    fn handle_auth(&mut self, element: &Element) {
        if self.sasl.is_some() {
            // A new <auth> during an exchange aborts the old one (RFC 6120 §6.4.5 allows retry).
            self.sasl = None;
        }
        let mechanism = element
            .attr("mechanism")
            .and_then(|name| Mechanism::from_name(name).ok());
        let Some(mechanism) = mechanism.filter(|m| self.offered_mechanisms().contains(m)) else {
            return self.sasl_failure(SaslError::new(
                SaslCondition::InvalidMechanism,
                "mechanism not offered",
            ));
        };
        let initial = match decode_sasl_payload(&element.text()) {
            Ok(Some(bytes)) => bytes,
            // Every mechanism we offer is client-first: ask for the initial response.
            Ok(None) => {
                self.sasl = Some(SaslState::AwaitingInitialResponse(mechanism));
                return self.write_element(&Element::new("challenge", SASL_NS), "");
            }
            Err(e) => return self.sasl_failure(e),
        };
        self.start_mechanism(mechanism, &initial);
    }

    fn start_mechanism(&mut self, mechanism: Mechanism, initial: &[u8]) {
        match mechanism {
            Mechanism::External => {
                // XEP-0178 §6: the initial response is the authzid, or empty for none.
                let Ok(authzid) = std::str::from_utf8(initial) else {
                    return self.sasl_failure(SaslError::new(
                        SaslCondition::IncorrectEncoding,
                        "authzid is not UTF-8",
                    ));
                };
                let (Some(identity), Some(policy)) =
                    (self.client_cert.as_ref(), self.config.external.as_ref())
                else {
                    return self.sasl_failure(SaslError::new(
                        SaslCondition::NotAuthorized,
                        "no verified client certificate",
                    ));
                };
                let authzid = Some(authzid).filter(|a| !a.is_empty());
                match resolve_external(identity, &policy.modes, &self.config.domain, authzid) {
                    Ok(username) => {
                        self.sasl = Some(SaslState::External {
                            username: username.clone(),
                        });
                        self.need_credentials(username);
                    }
                    Err(e) => self.sasl_failure(e),
                }
            }
            Mechanism::Plain => match PlainServer::parse(initial) {
                Ok(req) => {
                    let username = req.authcid.clone();
                    self.sasl = Some(SaslState::Plain {
                        authzid: req.authzid,
                        authcid: req.authcid,
                        password: req.password,
                    });
                    self.need_credentials(username);
                }
                Err(e) => self.sasl_failure(e),
            },
            Mechanism::ScramSha1
            | Mechanism::ScramSha256
            | Mechanism::ScramSha1Plus
            | Mechanism::ScramSha256Plus => {
                let hash = scram_hash(mechanism);
                let binding = ChannelBinding {
                    plus: mechanism.is_plus(),
                    available: self.channel_bindings.clone(),
                };
                let mut server = match ScramServer::with_random_nonce(hash) {
                    Ok(server) => server.with_channel_binding(binding),
                    Err(e) => return self.sasl_failure(e),
                };
                match server.handle_client_first(initial) {
                    Ok(first) => {
                        let username = first.username.clone();
                        self.sasl = Some(SaslState::ScramFirst {
                            server,
                            hash,
                            username: first.username,
                            authzid: first.authzid,
                        });
                        self.need_credentials(username);
                    }
                    Err(e) => self.sasl_failure(e),
                }
            }
        }
    }

    fn need_credentials(&mut self, username: String) {
        self.phase = Phase::CredentialsPending;
        self.events.push_back(Event::NeedCredentials { username });
    }

    fn handle_response(&mut self, element: &Element) {
        let payload = match decode_sasl_payload(&element.text()) {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => return self.sasl_failure(e),
        };
        match self.sasl.take() {
            // The initial response came as a <response> after our empty challenge.
            Some(SaslState::AwaitingInitialResponse(mechanism)) => {
                self.start_mechanism(mechanism, &payload)
            }
            Some(SaslState::ScramFinal {
                mut server,
                username,
                authzid,
            }) => match server.handle_client_final(&payload) {
                Ok(server_final) => self.sasl_success(username, authzid, Some(&server_final)),
                Err(e) => self.sasl_failure_for(Some(username), e),
            },
            _ => self.sasl_failure(SaslError::new(
                SaslCondition::MalformedRequest,
                "response outside an exchange",
            )),
        }
    }

    pub(super) fn continue_sasl_with_credentials(&mut self, record: Option<&PasswordRecord>) {
        match self.sasl.take() {
            Some(SaslState::External { username }) => {
                let auto_create = self.config.external.as_ref().is_some_and(|p| p.auto_create);
                if record.is_none() && auto_create {
                    self.events.push_back(Event::CreateAccount {
                        username: username.clone(),
                    });
                }
                if record.is_some() || auto_create {
                    self.sasl_success(username, None, None);
                } else {
                    // Same answer as a wrong password: nothing reveals which accounts exist.
                    let error = SaslError::new(
                        SaslCondition::NotAuthorized,
                        format!("certificate for {username}, who has no account"),
                    );
                    self.sasl_failure_for(Some(username), error);
                }
            }
            Some(SaslState::Plain {
                authzid,
                authcid,
                password,
            }) => {
                let ok = match record {
                    Some(r) => verify_plain(&password, &r.scram_sha256),
                    None => {
                        // Same work as a real check so timing does not reveal which users exist.
                        if let Ok(decoy) = ScramCredentials::decoy(ScramHash::Sha256, &authcid) {
                            let _ = verify_plain(&password, &decoy);
                        }
                        false
                    }
                };
                if ok {
                    self.sasl_success(authcid, authzid, None);
                } else {
                    let reason = if record.is_some() {
                        "wrong password"
                    } else {
                        "no such user"
                    };
                    self.sasl_failure_for(
                        Some(authcid),
                        SaslError::new(SaslCondition::NotAuthorized, reason),
                    );
                }
            }
            Some(SaslState::ScramFirst {
                mut server,
                hash,
                username,
                authzid,
            }) => {
                let creds = record.map(|r| match hash {
                    ScramHash::Sha1 => &r.scram_sha1,
                    ScramHash::Sha256 => &r.scram_sha256,
                });
                match server.handle_credentials(creds) {
                    Ok(server_first) => {
                        self.write_element(
                            &Element::new("challenge", SASL_NS).with_text(B64.encode(server_first)),
                            "",
                        );
                        self.sasl = Some(SaslState::ScramFinal {
                            server,
                            username,
                            authzid,
                        });
                    }
                    Err(e) => self.sasl_failure_for(Some(username), e),
                }
            }
            other => self.sasl = other,
        }
    }

    fn sasl_success(
        &mut self,
        username: String,
        authzid: Option<String>,
        additional: Option<&[u8]>,
    ) {
        // The only identity a user may act as is their own bare JID (RFC 6120 §6.3.8).
        if let Some(authzid) = authzid {
            let own = format!("{username}@{}", self.config.domain);
            let matches = jid::BareJid::new(&authzid)
                .map(|j| j.to_string() == own)
                .unwrap_or(false);
            if !matches {
                return self.sasl_failure_for(
                    Some(username),
                    SaslError::new(
                        SaslCondition::InvalidAuthzid,
                        format!("authzid {authzid:?} is not the user's own JID"),
                    ),
                );
            }
        }
        if jid::BareJid::new(&format!("{username}@{}", self.config.domain)).is_err() {
            return self.sasl_failure_for(
                Some(username),
                SaslError::new(
                    SaslCondition::NotAuthorized,
                    "username is not a valid localpart",
                ),
            );
        }
        let mut success = Element::new("success", SASL_NS);
        if let Some(data) = additional {
            success.push_text(B64.encode(data));
        }
        self.write_element(&success, "");
        self.events.push_back(Event::Authenticated {
            username: username.clone(),
        });
        self.authenticated = Some(username);
        // RFC 6120 §6.4.6: the client restarts the stream after success.
        self.restart_stream();
    }

    pub(super) fn sasl_temporary_failure(&mut self) {
        self.sasl = None;
        let failure = Element::new("failure", SASL_NS).with_child(Element::new(
            SaslCondition::TemporaryAuthFailure.as_str(),
            SASL_NS,
        ));
        self.write_element(&failure, "");
        self.events.push_back(Event::AuthFailed {
            username: None,
            reason: "credential store unavailable".into(),
        });
    }

    fn sasl_failure(&mut self, error: SaslError) {
        self.sasl_failure_for(None, error);
    }

    fn sasl_failure_for(&mut self, username: Option<String>, error: SaslError) {
        self.sasl = None;
        let condition = error.condition();
        self.write_element(
            &Element::new("failure", SASL_NS).with_child(Element::new(condition.as_str(), SASL_NS)),
            "",
        );
        self.events.push_back(Event::AuthFailed {
            username,
            reason: error.reason().to_string(),
        });
        if condition != SaslCondition::Aborted {
            self.auth_failures += 1;
        }
        if self.auth_failures >= self.config.max_auth_attempts {
            self.close_with_error(
                StreamErrorCondition::PolicyViolation,
                Some("too many failed authentication attempts"),
            );
        }
    }

    fn handle_bind_iq(&mut self, iq: Element) {
        let bind = iq.get_child("bind", BIND_NS);
        if iq.attr("type") != Some("set") || bind.is_none() {
            // RFC 6120 §7.1: only binding is possible before a resource is bound.
            if let Some(reply) = error_reply(
                &iq,
                StanzaErrorCondition::NotAuthorized,
                Some("bind a resource first"),
            ) {
                self.write_element(&reply, CLIENT_NS);
            }
            return;
        }
        let Some(bare) = self.bare_jid() else {
            return self.close_with_error(StreamErrorCondition::InternalServerError, None);
        };
        let requested = bind
            .and_then(|b| b.get_child("resource", BIND_NS))
            .map(|r| r.text());
        let full = match requested
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            Some(resource) => match bare.with_resource_str(resource) {
                Ok(full) => full,
                Err(_) => {
                    let reply = error_reply(
                        &iq,
                        StanzaErrorCondition::BadRequest,
                        Some("resource is not valid"),
                    );
                    if let Some(reply) = reply {
                        self.write_element(&reply, CLIENT_NS);
                    }
                    return;
                }
            },
            None => match bare.with_resource_str(&self.generate_resource()) {
                Ok(full) => full,
                Err(_) => {
                    return self.close_with_error(StreamErrorCondition::InternalServerError, None)
                }
            },
        };
        let mut iq = iq;
        iq.remove_attr("to");
        iq.remove_attr("from");
        let payload = Element::new("bind", BIND_NS)
            .with_child(Element::new("jid", BIND_NS).with_text(full.to_string()));
        let reply = iq_result(&iq, Some(payload));
        self.write_element(&reply, CLIENT_NS);
        self.bound = Some(full.clone());
        self.phase = Phase::Established;
        self.events.push_back(Event::Bound { jid: full });
    }

    fn generate_resource(&mut self) -> String {
        let mut bytes = [0u8; 9];
        if getrandom::fill(&mut bytes).is_err() {
            // Fall back to something unique per session; uniqueness, not secrecy, matters here.
            bytes[..8].copy_from_slice(&self.id_seed.to_le_bytes());
        }
        format!(
            "tandem-{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )
    }

    /// A stanza from a bound client: validated, `from` stamped, handed to the router.
    pub(super) fn handle_client_stanza(&mut self, mut stanza: Element) {
        let Some(kind) = StanzaKind::of(&stanza) else {
            return self.close_with_error(
                StreamErrorCondition::UnsupportedStanzaType,
                Some(&format!("<{}/> in {}", stanza.name(), stanza.ns())),
            );
        };
        let Some(full) = self.bound.clone() else {
            return;
        };
        // RFC 6120 §8.1.2.1: a `from` other than the client's own JID is a stream error.
        if let Some(from) = stanza.attr("from") {
            let ok = match Jid::new(from) {
                Ok(j) => j == full.clone() || j == full.to_bare(),
                Err(_) => false,
            };
            if !ok {
                return self.close_with_error(StreamErrorCondition::InvalidFrom, None);
            }
        }
        stanza.set_attr("from", full.to_string());
        if let Some(to) = stanza.attr("to") {
            match Jid::new(to) {
                Ok(j) => {
                    let normalized = j.to_string();
                    stanza.set_attr("to", normalized);
                }
                Err(_) => {
                    if let Some(mut reply) =
                        error_reply(&stanza, StanzaErrorCondition::JidMalformed, None)
                    {
                        // Echoing the malformed address as `from` would make the reply
                        // itself unparseable for strict clients.
                        reply.remove_attr("from");
                        self.write_element(&reply, CLIENT_NS);
                    }
                    return;
                }
            }
        }
        if kind == StanzaKind::Iq && self.is_ping_answer(&stanza) {
            return;
        }
        if kind == StanzaKind::Iq
            && stanza.attr("to").is_none()
            && self.handle_local_session_iq(&stanza)
        {
            return;
        }
        self.events.push_back(Event::Stanza(stanza));
    }

    /// The legacy session establishment (RFC 3921 §3) is a no-op success.
    fn handle_local_session_iq(&mut self, iq: &Element) -> bool {
        if iq.attr("type") == Some("set") && iq.has_child("session", SESSION_NS) {
            let mut reply = iq_result(iq, None);
            reply.remove_attr("from");
            self.write_element(&reply, CLIENT_NS);
            return true;
        }
        false
    }
}

fn scram_hash(mechanism: Mechanism) -> ScramHash {
    mechanism.scram_hash().unwrap_or(ScramHash::Sha256)
}

/// RFC 6120 §6.4.2: no text means "no initial response", a single `=` means an empty one.
fn decode_sasl_payload(text: &str) -> Result<Option<Vec<u8>>, SaslError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text == "=" {
        return Ok(Some(Vec::new()));
    }
    B64.decode(text)
        .map(Some)
        .map_err(|_| SaslError::new(SaslCondition::IncorrectEncoding, "payload is not base64"))
}
