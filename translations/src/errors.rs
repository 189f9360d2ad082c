//! Error mapping between XMPP and SIP (RFC 7247 §6), and Jingle `<reason/>` <-> SIP status
//! and `Reason:` header (derived from XEP-0166 reason semantics; see
//! `design/sdp-jingle-mapping.md` §1.3, where each rule below comes from).

/// XMPP stanza error conditions (RFC 6120 §8.3.3), as far as the mapping needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StanzaError {
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

/// Whether the XMPP side addressed one resource or the account: RFC 7247 §6 answers with
/// the 4xx for a full JID and the 6xx ("everywhere") for a bare JID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    FullJid,
    BareJid,
}

/// XMPP stanza error -> SIP status (RFC 7247 §6.1). `gone_to` is the new address a `gone`
/// carries, if any.
pub fn stanza_error_to_sip(error: StanzaError, target: Target, gone_to: Option<&str>) -> u16 {
    use StanzaError::*;
    let bare = target == Target::BareJid;
    match error {
        BadRequest | Conflict | JidMalformed | SubscriptionRequired | UndefinedCondition => 400,
        FeatureNotImplemented => {
            if bare {
                501
            } else {
                405
            }
        }
        Forbidden => {
            if bare {
                603
            } else {
                403
            }
        }
        Gone => {
            if gone_to.is_some() {
                301
            } else {
                410
            }
        }
        InternalServerError | ResourceConstraint => 500,
        ItemNotFound => {
            if bare {
                604
            } else {
                404
            }
        }
        NotAcceptable => {
            if bare {
                606
            } else {
                406
            }
        }
        NotAllowed | PolicyViolation => 403,
        NotAuthorized => 401,
        RecipientUnavailable => {
            if bare {
                600
            } else {
                480
            }
        }
        Redirect => 302,
        RegistrationRequired => 407,
        RemoteServerNotFound => 404,
        RemoteServerTimeout => 408,
        UnexpectedRequest => 491,
        // RFC 7247 §6.1: "NOT 503"; 405 is the closest for a service that is not there.
        ServiceUnavailable => 405,
    }
}

/// SIP final status -> XMPP stanza error (RFC 7247 §6.2), with the per-class defaults for
/// codes the table does not name. `None` for 1xx/2xx, which are not errors.
pub fn sip_to_stanza_error(status: u16) -> Option<StanzaError> {
    use StanzaError::*;
    Some(match status {
        100..=299 => return None,
        300 | 302 | 305 => Redirect,
        301 | 410 => Gone,
        380 => NotAcceptable,
        400 | 402 | 493 => BadRequest,
        401 => NotAuthorized,
        403 => Forbidden,
        404 | 481 | 484 | 485 | 604 => ItemNotFound,
        405 | 420 | 439 | 501 => FeatureNotImplemented,
        406 | 415 | 416 | 421 | 482 | 483 | 488 | 505 | 606 => NotAcceptable,
        407 => RegistrationRequired,
        408 | 504 => RemoteServerTimeout,
        413 | 414 | 440 | 489 | 513 => PolicyViolation,
        423 => ResourceConstraint,
        430 | 480 | 486 | 487 | 600 | 603 => RecipientUnavailable,
        491 => UnexpectedRequest,
        500 | 503 => InternalServerError,
        502 => RemoteServerNotFound,
        300..=399 => Redirect,
        400..=499 => BadRequest,
        500..=599 => InternalServerError,
        _ => RecipientUnavailable,
    })
}

/// Jingle session-terminate reasons (XEP-0166 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JingleReason {
    AlternativeSession,
    Busy,
    Cancel,
    ConnectivityError,
    Decline,
    Expired,
    FailedApplication,
    FailedTransport,
    GeneralError,
    Gone,
    IncompatibleParameters,
    MediaError,
    SecurityError,
    Success,
    Timeout,
    UnsupportedApplications,
    UnsupportedTransports,
}

impl JingleReason {
    pub const ALL: [JingleReason; 17] = [
        Self::AlternativeSession,
        Self::Busy,
        Self::Cancel,
        Self::ConnectivityError,
        Self::Decline,
        Self::Expired,
        Self::FailedApplication,
        Self::FailedTransport,
        Self::GeneralError,
        Self::Gone,
        Self::IncompatibleParameters,
        Self::MediaError,
        Self::SecurityError,
        Self::Success,
        Self::Timeout,
        Self::UnsupportedApplications,
        Self::UnsupportedTransports,
    ];

    /// The element name inside `<reason/>`.
    pub fn as_str(self) -> &'static str {
        use JingleReason::*;
        match self {
            AlternativeSession => "alternative-session",
            Busy => "busy",
            Cancel => "cancel",
            ConnectivityError => "connectivity-error",
            Decline => "decline",
            Expired => "expired",
            FailedApplication => "failed-application",
            FailedTransport => "failed-transport",
            GeneralError => "general-error",
            Gone => "gone",
            IncompatibleParameters => "incompatible-parameters",
            MediaError => "media-error",
            SecurityError => "security-error",
            Success => "success",
            Timeout => "timeout",
            UnsupportedApplications => "unsupported-applications",
            UnsupportedTransports => "unsupported-transports",
        }
    }

    pub fn parse(name: &str) -> Option<JingleReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// The final response a callee-side gateway sends when the Jingle side ends the session
/// before accepting it (mapping doc §1.3).
pub fn jingle_reason_to_sip_status(reason: JingleReason, target: Target) -> u16 {
    use JingleReason::*;
    match reason {
        Busy => {
            if target == Target::BareJid {
                600
            } else {
                486
            }
        }
        Decline => 603,
        // The caller gave up: what a CANCEL produces for the INVITE.
        Cancel => 487,
        Timeout => 480,
        Gone => 410,
        // Not 415: that says the request *body* type is unknown and needs an Accept header
        // (RFC 3261 §21.4.13); "no media we can use" is 488 (§21.4.26).
        UnsupportedApplications
        | IncompatibleParameters
        | UnsupportedTransports
        | SecurityError => 488,
        AlternativeSession => 486,
        ConnectivityError | FailedTransport => 408,
        FailedApplication | MediaError | GeneralError | Expired => 500,
        // Not a rejection; a session ended normally before answer has no better code.
        Success => 480,
    }
}

/// The Jingle reason for a SIP final response that ends a call attempt (mapping doc §1.3).
pub fn sip_status_to_jingle_reason(status: u16) -> JingleReason {
    use JingleReason::*;
    match status {
        200..=299 => Success,
        486 | 600 => Busy,
        603 => Decline,
        487 => Cancel,
        408 | 480 => Timeout,
        404 | 410 | 604 => Gone,
        415 => UnsupportedApplications,
        488 | 606 => IncompatibleParameters,
        300..=399 => AlternativeSession,
        _ => GeneralError,
    }
}

/// An RFC 3326 `Reason:` header value for a BYE or CANCEL, e.g.
/// `SIP;cause=486;text="Busy Here"`.
pub fn reason_header(status: u16, text: &str) -> String {
    let text: String = text
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect();
    format!("SIP;cause={status};text=\"{text}\"")
}

/// The SIP cause of a `Reason:` header value, if it has one (`Q.850` causes are ignored).
pub fn parse_reason_header(value: &str) -> Option<u16> {
    value.split(',').find_map(|reason| {
        let mut parts = reason.split(';').map(str::trim);
        if !parts.next()?.eq_ignore_ascii_case("SIP") {
            return None;
        }
        parts.find_map(|p| {
            let (name, v) = p.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("cause")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7247_tables_hold_in_both_directions() {
        use StanzaError::*;
        assert_eq!(
            stanza_error_to_sip(ItemNotFound, Target::FullJid, None),
            404
        );
        assert_eq!(
            stanza_error_to_sip(ItemNotFound, Target::BareJid, None),
            604
        );
        assert_eq!(
            stanza_error_to_sip(Gone, Target::FullJid, Some("xmpp:new@example")),
            301
        );
        assert_eq!(stanza_error_to_sip(Gone, Target::FullJid, None), 410);
        assert_ne!(
            stanza_error_to_sip(ServiceUnavailable, Target::FullJid, None),
            503,
            "RFC 7247: not 503"
        );
        assert_eq!(sip_to_stanza_error(486), Some(RecipientUnavailable));
        assert_eq!(sip_to_stanza_error(481), Some(ItemNotFound));
        assert_eq!(sip_to_stanza_error(488), Some(NotAcceptable));
        assert_eq!(
            sip_to_stanza_error(599),
            Some(InternalServerError),
            "class default"
        );
        assert_eq!(
            sip_to_stanza_error(699),
            Some(RecipientUnavailable),
            "class default"
        );
        assert_eq!(sip_to_stanza_error(183), None);
        // Every error maps to a final status whose mapping back is in the same family.
        for status in 300..700 {
            assert!(sip_to_stanza_error(status).is_some(), "{status}");
        }
    }

    #[test]
    fn jingle_reasons_and_sip_agree_on_the_common_endings() {
        use JingleReason::*;
        for (reason, status) in [
            (Busy, 486),
            (Decline, 603),
            (Cancel, 487),
            (Timeout, 480),
            (IncompatibleParameters, 488),
        ] {
            assert_eq!(
                jingle_reason_to_sip_status(reason, Target::FullJid),
                status,
                "{reason:?}"
            );
            assert_eq!(sip_status_to_jingle_reason(status), reason, "{status}");
        }
        assert_eq!(jingle_reason_to_sip_status(Busy, Target::BareJid), 600);
        // A SIP peer that cannot read our body type did not support the application, but a
        // Jingle peer without a usable application is a media mismatch for SIP.
        assert_eq!(sip_status_to_jingle_reason(415), UnsupportedApplications);
        assert_eq!(
            jingle_reason_to_sip_status(UnsupportedApplications, Target::FullJid),
            488
        );
        assert_eq!(sip_status_to_jingle_reason(200), Success);
        assert_eq!(sip_status_to_jingle_reason(302), AlternativeSession);
        for reason in JingleReason::ALL {
            assert_eq!(JingleReason::parse(reason.as_str()), Some(reason));
            assert!((400..700).contains(&jingle_reason_to_sip_status(reason, Target::FullJid)));
        }
    }

    #[test]
    fn reason_headers() {
        let value = reason_header(200, "Call completed elsewhere");
        assert_eq!(value, "SIP;cause=200;text=\"Call completed elsewhere\"");
        assert_eq!(parse_reason_header(&value), Some(200));
        assert_eq!(
            parse_reason_header("Q.850;cause=16, SIP ; cause=486 ; text=\"Busy\""),
            Some(486)
        );
        assert_eq!(parse_reason_header("Q.850;cause=17"), None);
        assert_eq!(
            reason_header(603, "say \"no\"\r\n"),
            "SIP;cause=603;text=\"say no\""
        );
    }
}
