//! SDP attributes that no XEP maps (`a=ice-lite`, `a=ice-options`, `a=msid-semantic`,
//! `a=rid`, `a=simulcast`, `a=x-…`, `a=rtcp` next to ICE) ride in the content as
//! `<attribute xmlns='urn:x-tandem:sdp:0'>` and are written back where they came from, so a
//! translation never silently loses what an SDP peer said.

use crate::jingle::SdpAttribute;
use crate::sdp::{is_token, Attribute};

/// Session-level names the mapping turns into Jingle (directions become senders, ICE
/// credentials and fingerprints go into every transport, groups into `<group>`).
const SESSION_MAPPED: &[&str] = &[
    "group",
    "ice-ufrag",
    "ice-pwd",
    "fingerprint",
    "setup",
    "sendrecv",
    "sendonly",
    "recvonly",
    "inactive",
    "extmap-allow-mixed",
    "end-of-candidates",
];

/// Media-level names every content maps (its name, direction and transport).
const TRANSPORT_MAPPED: &[&str] = &[
    "mid",
    "sendrecv",
    "sendonly",
    "recvonly",
    "inactive",
    "ice-ufrag",
    "ice-pwd",
    "candidate",
    "end-of-candidates",
    "remote-candidates",
    "fingerprint",
    "setup",
    "sctp-port",
    "sctpmap",
];

/// Media-level names an RTP `<description>` maps.
const RTP_MAPPED: &[&str] = &[
    "rtpmap",
    "fmtp",
    "ptime",
    "maxptime",
    "rtcp-fb",
    "extmap",
    "extmap-allow-mixed",
    "ssrc",
    "ssrc-group",
    "msid",
    "rtcp-mux",
    "rtcp-rsize",
    "crypto",
    "zrtp-hash",
];

/// What a content carries: the session's unmapped attributes (marked as such, so they go
/// back to session level) followed by the m-line's. `rtp`: the content has an RTP
/// description; `raw_udp`: its transport is Raw UDP, which maps `a=rtcp` itself.
pub(super) fn carried_attributes(
    session: &[Attribute],
    media: &[Attribute],
    rtp: bool,
    raw_udp: bool,
) -> Vec<SdpAttribute> {
    let carry = |a: &Attribute, session_level: bool| SdpAttribute {
        name: a.name.clone(),
        value: a.value.clone(),
        session_level,
    };
    let from_session = session
        .iter()
        .filter(|a| !SESSION_MAPPED.contains(&a.name.as_str()))
        .map(|a| carry(a, true));
    let from_media = media
        .iter()
        .filter(|a| {
            let name = a.name.as_str();
            !(TRANSPORT_MAPPED.contains(&name)
                || (rtp && RTP_MAPPED.contains(&name))
                || (raw_udp && name == "rtcp"))
        })
        .map(|a| carry(a, false));
    // Only what the way back writes: a mapped name the mapping did not use here (a session-
    // level a=mid, an rtpmap on a data channel) has no line to return to.
    from_session
        .chain(from_media)
        .filter(is_carriable)
        .collect()
}

/// What we would have carried ourselves: a token name (RFC 8866 §9) that no rule maps. A
/// Jingle peer cannot use the carrier to contradict what the mapped elements say (a second
/// a=mid, a direction, a candidate).
fn is_carriable(a: &SdpAttribute) -> bool {
    let name = a.name.as_str();
    let mapped = TRANSPORT_MAPPED.contains(&name)
        || RTP_MAPPED.contains(&name)
        || (a.session_level && SESSION_MAPPED.contains(&name));
    is_token(name) && !mapped
}

/// Split carried attributes back into session-level lines (each distinct line once, in
/// first-seen order: every content repeats them) and this m-line's own.
pub(super) fn write_back(
    carried: &[SdpAttribute],
    session: Option<&mut Vec<Attribute>>,
    media: &mut Vec<Attribute>,
) {
    let mut session = session;
    for a in carried.iter().filter(|a| is_carriable(a)) {
        let line = Attribute {
            name: a.name.clone(),
            value: a.value.clone(),
        };
        if !a.session_level {
            media.push(line);
        } else if let Some(session) = session.as_deref_mut() {
            session.push(line);
        }
    }
}

/// Every content repeats the session's carried lines; the first content that carries any
/// speaks for the session ([`write_back`] gets the session only for it), so a line the
/// session had twice comes back twice (fuzzing found that deduplicating them changed the
/// SDP on the way back).
pub(super) fn speaks_for_session(carried: &[SdpAttribute]) -> bool {
    carried.iter().any(|a| a.session_level && is_carriable(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(lines: &[&str]) -> Vec<Attribute> {
        lines
            .iter()
            .map(|l| Attribute::from_line_value(l))
            .collect()
    }

    #[test]
    fn unmapped_lines_are_carried_and_mapped_ones_are_not() {
        let session = attrs(&["ice-lite", "group:BUNDLE 0", "msid-semantic: WMS *"]);
        let media = attrs(&[
            "mid:0",
            "rtpmap:0 PCMU/8000",
            "rid:1 send",
            "rtcp:9 IN IP4 0.0.0.0",
        ]);
        let names: Vec<_> = carried_attributes(&session, &media, true, false)
            .into_iter()
            .map(|a| (a.name, a.session_level))
            .collect();
        assert_eq!(
            names,
            [
                ("ice-lite".to_string(), true),
                ("msid-semantic".to_string(), true),
                ("rid".to_string(), false),
                ("rtcp".to_string(), false),
            ]
        );
        // Raw UDP turns a=rtcp into its RTCP candidate. A mapped name where its rule does not
        // apply (rtpmap on a data channel, a session-level mid) is not carried: the way back
        // could not write it, and a carried line must come back as it went.
        assert!(carried_attributes(&[], &media, true, true)
            .iter()
            .all(|a| a.name != "rtcp"));
        assert!(carried_attributes(&attrs(&["mid:x"]), &media, false, false)
            .iter()
            .all(|a| a.name != "rtpmap" && a.name != "mid"));
    }

    #[test]
    fn session_lines_come_back_once_and_media_lines_stay_in_their_m_line() {
        let carried = carried_attributes(&attrs(&["ice-lite"]), &attrs(&["x-a:1"]), true, false);
        let (mut session, mut first, mut second) = (Vec::new(), Vec::new(), Vec::new());
        write_back(&carried, Some(&mut session), &mut first);
        write_back(&carried, None, &mut second);
        assert_eq!(session, attrs(&["ice-lite"]));
        assert_eq!(first, attrs(&["x-a:1"]));
        assert_eq!(second, first);
    }

    #[test]
    fn a_jingle_peer_cannot_write_mapped_lines_through_the_carrier() {
        let forged = |name: &str| SdpAttribute {
            name: name.into(),
            value: Some("x".into()),
            session_level: false,
        };
        let carried = [
            forged("mid"),
            forged("candidate"),
            forged("a b"),
            forged("x-ok"),
        ];
        let (mut session, mut media) = (Vec::new(), Vec::new());
        write_back(&carried, Some(&mut session), &mut media);
        assert_eq!(media, attrs(&["x-ok:x"]));
    }
}
