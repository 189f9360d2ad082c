//! Stanza helpers: kinds, stanza errors (RFC 6120 §8.3) and the rule that an error is never
//! answered with an error.

use crate::element::Element;
use crate::stream::writer::CLIENT_NS;

/// Namespace of stanza error conditions.
pub const STANZA_ERROR_NS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// The three stanza kinds of RFC 6120 §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StanzaKind {
    Message,
    Presence,
    Iq,
}

impl StanzaKind {
    /// The kind of a top-level element in the client namespace, if it is a stanza.
    pub fn of(element: &Element) -> Option<StanzaKind> {
        if element.ns() != CLIENT_NS {
            return None;
        }
        match element.name() {
            "message" => Some(StanzaKind::Message),
            "presence" => Some(StanzaKind::Presence),
            "iq" => Some(StanzaKind::Iq),
            _ => None,
        }
    }
}

/// Error types of RFC 6120 §8.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    Auth,
    Cancel,
    Continue,
    Modify,
    Wait,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Auth => "auth",
            ErrorType::Cancel => "cancel",
            ErrorType::Continue => "continue",
            ErrorType::Modify => "modify",
            ErrorType::Wait => "wait",
        }
    }
}

/// Stanza error conditions (RFC 6120 §8.3.3) with their usual error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StanzaErrorCondition {
    BadRequest,
    Conflict,
    FeatureNotImplemented,
    Forbidden,
    Gone,
    InternalServerError,
    ItemNotFound,
    JidMalformed,
    NotAcceptable,
    NotAllowed,
    NotAuthorized,
    PolicyViolation,
    RecipientUnavailable,
    Redirect,
    RegistrationRequired,
    RemoteServerNotFound,
    RemoteServerTimeout,
    ResourceConstraint,
    ServiceUnavailable,
    SubscriptionRequired,
    UndefinedCondition,
    UnexpectedRequest,
}

impl StanzaErrorCondition {
    pub fn as_str(self) -> &'static str {
        use StanzaErrorCondition::*;
        match self {
            BadRequest => "bad-request",
            Conflict => "conflict",
            FeatureNotImplemented => "feature-not-implemented",
            Forbidden => "forbidden",
            Gone => "gone",
            InternalServerError => "internal-server-error",
            ItemNotFound => "item-not-found",
            JidMalformed => "jid-malformed",
            NotAcceptable => "not-acceptable",
            NotAllowed => "not-allowed",
            NotAuthorized => "not-authorized",
            PolicyViolation => "policy-violation",
            RecipientUnavailable => "recipient-unavailable",
            Redirect => "redirect",
            RegistrationRequired => "registration-required",
            RemoteServerNotFound => "remote-server-not-found",
            RemoteServerTimeout => "remote-server-timeout",
            ResourceConstraint => "resource-constraint",
            ServiceUnavailable => "service-unavailable",
            SubscriptionRequired => "subscription-required",
            UndefinedCondition => "undefined-condition",
            UnexpectedRequest => "unexpected-request",
        }
    }

    /// The error type RFC 6120 §8.3.3 gives in its examples for this condition.
    pub fn default_type(self) -> ErrorType {
        use StanzaErrorCondition::*;
        match self {
            BadRequest | JidMalformed | NotAcceptable | PolicyViolation | Redirect => {
                ErrorType::Modify
            }
            Forbidden | NotAuthorized | RegistrationRequired | SubscriptionRequired => {
                ErrorType::Auth
            }
            InternalServerError | RecipientUnavailable | RemoteServerTimeout
            | ResourceConstraint => ErrorType::Wait,
            UnexpectedRequest => ErrorType::Wait,
            _ => ErrorType::Cancel,
        }
    }
}

/// True for stanzas of `type='error'`, which must never be answered with an error.
pub fn is_error(stanza: &Element) -> bool {
    stanza.attr("type") == Some("error")
}

/// Builds the error reply to `stanza`, or `None` when the stanza is itself an error (answering
/// an error with an error can loop between two servers forever).
///
/// The reply swaps `from`/`to`, keeps `id` and the original payload (RFC 6120 §8.3.1 permits it
/// and clients use it to match), and carries the condition.
pub fn error_reply(
    stanza: &Element,
    condition: StanzaErrorCondition,
    text: Option<&str>,
) -> Option<Element> {
    // RFC 6120 §8.2.3: an iq result is not answered either.
    if is_error(stanza) || (stanza.name() == "iq" && stanza.attr("type") == Some("result")) {
        return None;
    }
    let mut reply = Element::new(stanza.name(), stanza.ns());
    if let Some(id) = stanza.attr("id") {
        reply.set_attr("id", id);
    }
    if let Some(from) = stanza.attr("to") {
        reply.set_attr("from", from);
    }
    if let Some(to) = stanza.attr("from") {
        reply.set_attr("to", to);
    }
    reply.set_attr("type", "error");
    // Only iq payloads are echoed: they are small and identify the request; message bodies
    // are not bounced back in full.
    if stanza.name() == "iq" {
        for child in stanza.children() {
            reply.push_child(child.clone());
        }
    }
    let mut error =
        Element::new("error", CLIENT_NS).with_attr("type", condition.default_type().as_str());
    error.push_child(Element::new(condition.as_str(), STANZA_ERROR_NS));
    if let Some(text) = text {
        error.push_child(Element::new("text", STANZA_ERROR_NS).with_text(text));
    }
    reply.push_child(error);
    Some(reply)
}

/// An `<iq type='result'/>` answering `iq`, with an optional payload.
pub fn iq_result(iq: &Element, payload: Option<Element>) -> Element {
    let mut reply = Element::new("iq", CLIENT_NS).with_attr("type", "result");
    if let Some(id) = iq.attr("id") {
        reply.set_attr("id", id);
    }
    if let Some(from) = iq.attr("to") {
        reply.set_attr("from", from);
    }
    if let Some(to) = iq.attr("from") {
        reply.set_attr("to", to);
    }
    if let Some(payload) = payload {
        reply.push_child(payload);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_answers_an_error_with_an_error() {
        let err = Element::new("message", CLIENT_NS)
            .with_attr("type", "error")
            .with_attr("from", "a@b/c");
        assert_eq!(
            error_reply(&err, StanzaErrorCondition::ServiceUnavailable, None),
            None
        );
    }

    #[test]
    fn error_reply_swaps_addresses_and_keeps_id() {
        let iq = Element::new("iq", CLIENT_NS)
            .with_attr("type", "get")
            .with_attr("id", "q1")
            .with_attr("from", "a@b/c")
            .with_attr("to", "d@e/f")
            .with_child(Element::new("query", "urn:x"));
        let reply = error_reply(&iq, StanzaErrorCondition::ServiceUnavailable, None).unwrap();
        assert_eq!(reply.attr("to"), Some("a@b/c"));
        assert_eq!(reply.attr("from"), Some("d@e/f"));
        assert_eq!(reply.attr("id"), Some("q1"));
        assert_eq!(reply.attr("type"), Some("error"));
        let error = reply.get_child("error", CLIENT_NS).unwrap();
        assert_eq!(error.attr("type"), Some("cancel"));
        assert!(error.has_child("service-unavailable", STANZA_ERROR_NS));
        assert!(reply.has_child("query", "urn:x"));
    }
}
