//! `a=fmtp` <-> payload-type `<parameter name value>` (XEP-0167 §format, stox-media §fmtp).
//!
//! Jingle requires both name and value, SDP has values without names. A nameless value is
//! written `name=""` with the SDP text as value, which is what deployed clients read
//! (lib-jitsi-meet, StanzaJS and MongooseIM turn `name=""` back into the bare value; a
//! client given stox-media's semantic names writes `a=fmtp:63 pt=111,111`, which breaks RED
//! in browsers). The semantic names stox-media defines (telephone-event `events`, red `pt`
//! written `0,103`) are still read and written back bare.

use crate::jingle::Parameter;
use crate::sdp::FmtpParam;

/// A stox-media semantic name for a nameless fmtp value, and how its Jingle value is
/// written back in SDP.
struct SemanticName {
    name: &'static str,
    to_sdp: fn(&str) -> String,
}

fn semantic_name(encoding: &str) -> Option<SemanticName> {
    if encoding.eq_ignore_ascii_case("telephone-event") {
        Some(SemanticName {
            name: "events",
            to_sdp: str::to_owned,
        })
    } else if encoding.eq_ignore_ascii_case("red") {
        Some(SemanticName {
            name: "pt",
            to_sdp: |v| v.replace(',', "/"),
        })
    } else {
        None
    }
}

/// SDP fmtp parameters of a payload type -> Jingle parameters, order kept.
pub fn parameters_from_fmtp(params: &[FmtpParam]) -> Vec<Parameter> {
    params
        .iter()
        .map(|p| match &p.name {
            Some(name) => Parameter {
                name: name.clone(),
                value: p.value.clone(),
            },
            None => Parameter {
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
            name: String::new(),
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
        let jingle = parameters_from_fmtp(&sdp);
        assert_eq!(pairs(&jingle), [("minptime", "10"), ("useinbandfec", "1")]);
        assert_eq!(fmtp_from_parameters("opus", &jingle), sdp);
    }

    #[test]
    fn nameless_values_are_written_nameless_and_semantic_names_are_read() {
        let dtmf = parameters_from_fmtp(&split("0-16"));
        assert_eq!(pairs(&dtmf), [("", "0-16")]);
        assert_eq!(
            fmtp_from_parameters("TELEPHONE-EVENT", &dtmf),
            split("0-16")
        );
        let red = parameters_from_fmtp(&split("111/111"));
        assert_eq!(pairs(&red), [("", "111/111")]);
        // stox-media's names, from a gateway or client that uses them.
        let stox = |name: &str, value: &str| Parameter {
            name: name.into(),
            value: value.into(),
        };
        assert_eq!(
            Fmtp::from_params(63, &fmtp_from_parameters("red", &[stox("pt", "111,111")])).params,
            "111/111"
        );
        assert_eq!(
            fmtp_from_parameters("telephone-event", &[stox("events", "0-15")]),
            split("0-15")
        );
    }

    #[test]
    fn unknown_nameless_values_keep_an_empty_name() {
        let odd = parameters_from_fmtp(&split("mode-set-whatever; a=b"));
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
            [("", "0-15")]
        );
        assert!(implied_parameters("PCMU").is_empty());
    }
}
