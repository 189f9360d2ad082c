//! `a=fmtp` <-> payload-type `<parameter name value>` (XEP-0167 §format, stox-media §fmtp).
//!
//! Jingle requires both name and value, SDP has values without names. For the formats the
//! gateway knows, a nameless value gets its semantic name (stox-media): telephone-event's
//! `0-15` is `events`, red's `0/103` is `pt` (written `0,103`). Any other nameless value is
//! `name=""` and comes back bare.

use crate::jingle::Parameter;
use crate::sdp::FmtpParam;

/// How a value is rewritten between SDP and Jingle.
type ValueWriter = fn(&str) -> String;

/// A nameless fmtp value the gateway knows by name, with how its value is written in
/// Jingle and back in SDP.
struct SemanticName {
    name: &'static str,
    to_jingle: ValueWriter,
    to_sdp: ValueWriter,
}

fn semantic_name(encoding: &str) -> Option<SemanticName> {
    if encoding.eq_ignore_ascii_case("telephone-event") {
        Some(SemanticName {
            name: "events",
            to_jingle: str::to_owned,
            to_sdp: str::to_owned,
        })
    } else if encoding.eq_ignore_ascii_case("red") {
        Some(SemanticName {
            name: "pt",
            to_jingle: |v| v.replace('/', ","),
            to_sdp: |v| v.replace(',', "/"),
        })
    } else {
        None
    }
}

/// SDP fmtp parameters of a payload type -> Jingle parameters, order kept.
pub fn parameters_from_fmtp(encoding: &str, params: &[FmtpParam]) -> Vec<Parameter> {
    let semantic = semantic_name(encoding);
    params
        .iter()
        .map(|p| match (&p.name, &semantic) {
            (Some(name), _) => Parameter {
                name: name.clone(),
                value: p.value.clone(),
            },
            (None, Some(known)) => Parameter {
                name: known.name.to_string(),
                value: (known.to_jingle)(&p.value),
            },
            (None, None) => Parameter {
                name: String::new(),
                value: p.value.clone(),
            },
        })
        .collect()
}

/// Jingle parameters of a payload type -> SDP fmtp parameters.
pub fn fmtp_from_parameters(encoding: &str, params: &[Parameter]) -> Vec<FmtpParam> {
    let semantic = semantic_name(encoding);
    params
        .iter()
        .map(|p| match &semantic {
            _ if p.name.is_empty() => FmtpParam {
                name: None,
                value: p.value.clone(),
            },
            Some(known) if p.name == known.name => FmtpParam {
                name: None,
                value: (known.to_sdp)(&p.value),
            },
            _ => FmtpParam {
                name: Some(p.name.clone()),
                value: p.value.clone(),
            },
        })
        .collect()
}

/// Parameters SDP implies when a payload type has no fmtp, made explicit for Jingle peers:
/// telephone-event without fmtp carries events 0-15 (RFC 4733 §2.4.1).
pub fn implied_parameters(encoding: &str) -> Vec<Parameter> {
    if encoding.eq_ignore_ascii_case("telephone-event") {
        vec![Parameter {
            name: "events".into(),
            value: "0-15".into(),
        }]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::Fmtp;

    fn split(params: &str) -> Vec<FmtpParam> {
        Fmtp {
            pt: 96,
            params: params.into(),
        }
        .split_params()
    }

    fn pairs(params: &[Parameter]) -> Vec<(&str, &str)> {
        params
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect()
    }

    #[test]
    fn key_value_parameters_map_one_to_one_and_back() {
        let sdp = split("minptime=10;useinbandfec=1");
        let jingle = parameters_from_fmtp("opus", &sdp);
        assert_eq!(pairs(&jingle), [("minptime", "10"), ("useinbandfec", "1")]);
        assert_eq!(fmtp_from_parameters("opus", &jingle), sdp);
    }

    #[test]
    fn known_nameless_values_get_their_semantic_names() {
        let dtmf = parameters_from_fmtp("telephone-event", &split("0-16"));
        assert_eq!(pairs(&dtmf), [("events", "0-16")]);
        assert_eq!(
            fmtp_from_parameters("TELEPHONE-EVENT", &dtmf),
            split("0-16")
        );

        let red = parameters_from_fmtp("red", &split("111/111"));
        assert_eq!(pairs(&red), [("pt", "111,111")]);
        assert_eq!(
            Fmtp::from_params(63, &fmtp_from_parameters("red", &red)).params,
            "111/111"
        );
    }

    #[test]
    fn unknown_nameless_values_keep_an_empty_name() {
        let odd = parameters_from_fmtp("x-custom", &split("mode-set-whatever; a=b"));
        assert_eq!(pairs(&odd), [("", "mode-set-whatever"), ("a", "b")]);
        assert_eq!(
            Fmtp::from_params(100, &fmtp_from_parameters("x-custom", &odd)).params,
            "mode-set-whatever; a=b"
        );
        // A parameter that happens to be called "events" on another codec stays named.
        let named = [Parameter {
            name: "events".into(),
            value: "x".into(),
        }];
        assert_eq!(
            fmtp_from_parameters("opus", &named)[0].name.as_deref(),
            Some("events")
        );
    }

    #[test]
    fn telephone_event_without_fmtp_implies_events_0_to_15() {
        assert_eq!(
            pairs(&implied_parameters("telephone-event")),
            [("events", "0-15")]
        );
        assert!(implied_parameters("PCMU").is_empty());
    }
}
