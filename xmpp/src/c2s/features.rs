//! Which stream features are offered at each step of negotiation (RFC 6120 §4.3.2).

use super::Session;
use crate::element::Element;
use crate::sasl::Mechanism;
use crate::stream::STREAM_NS;

pub const TLS_NS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
pub const SASL_NS: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const BIND_NS: &str = "urn:ietf:params:xml:ns:xmpp-bind";
pub const SESSION_NS: &str = "urn:ietf:params:xml:ns:xmpp-session";
pub const SASL_CB_NS: &str = "urn:xmpp:sasl-cb:0";

impl Session {
    /// Mechanisms usable on this connection right now, strongest first. PLAIN only under TLS.
    pub(super) fn offered_mechanisms(&self) -> Vec<Mechanism> {
        if !self.tls && self.config.require_encryption {
            return Vec::new();
        }
        let mut mechanisms = Vec::new();
        // XEP-0178 §5: EXTERNAL only when a verified certificate came with the TLS layer.
        if self.tls && self.client_cert.is_some() && self.config.external.is_some() {
            mechanisms.push(Mechanism::External);
        }
        if self.tls && !self.channel_bindings.is_empty() {
            mechanisms.extend([Mechanism::ScramSha256Plus, Mechanism::ScramSha1Plus]);
        }
        mechanisms.extend([Mechanism::ScramSha256, Mechanism::ScramSha1]);
        if self.tls {
            mechanisms.push(Mechanism::Plain);
        }
        mechanisms
    }

    pub(super) fn features(&self) -> Element {
        // The features element is written with the stream prefix by hand below.
        let mut features = Element::new("features", STREAM_NS);
        if self.authenticated.is_none() {
            if !self.tls && self.config.starttls_available {
                let mut starttls = Element::new("starttls", TLS_NS);
                if self.config.require_encryption {
                    starttls.push_child(Element::new("required", TLS_NS));
                }
                features.push_child(starttls);
            }
            let mechanisms = self.offered_mechanisms();
            if !mechanisms.is_empty() {
                let mut list = Element::new("mechanisms", SASL_NS);
                for m in mechanisms.iter() {
                    list.push_child(Element::new("mechanism", SASL_NS).with_text(m.name()));
                }
                features.push_child(list);
            }
            // XEP-0440: which channel binding types the -PLUS mechanisms can use here.
            if mechanisms.iter().any(|m| m.is_plus()) {
                let mut types = Element::new("sasl-channel-binding", SASL_CB_NS);
                for (name, _) in &self.channel_bindings {
                    types.push_child(
                        Element::new("channel-binding", SASL_CB_NS).with_attr("type", name.clone()),
                    );
                }
                features.push_child(types);
            }
        } else {
            features.push_child(Element::new("bind", BIND_NS));
            // RFC 6121 dropped the session establishment; advertising it as optional lets
            // old clients send it and new ones skip it (draft-cridland-xmpp-session-01).
            features.push_child(
                Element::new("session", SESSION_NS)
                    .with_child(Element::new("optional", SESSION_NS)),
            );
        }
        features
    }
}
