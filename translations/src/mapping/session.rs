//! Whole documents: an SDP offer or answer <-> a Jingle element with its contents.
//!
//! One content per m-line, named by `a=mid` or, where SDP has none (plain SIP), by the
//! media kind (`audio`, `audio-2`, ...: stable across re-offers of the same m-lines).
//! Port 0 m-lines are rejected streams (RFC 3264 §6) and are reported, not turned into
//! contents: the caller decides between leaving them out of session-accept and
//! content-reject/-remove.

use super::carried::{carried_attributes, speaks_for_session, write_back};
use super::description::description_from_typed;
use super::transport::{is_sctp_port_form, transport_from_typed};
use super::{
    direction_from_senders, media_description_from_description, media_transport_from_transport,
    profile_of, senders_from_direction, MappingError, Role,
};
use crate::jingle::{Action, Content, Creator, Description, Group, Jingle, Senders, Transport};
use crate::sdp::{
    is_token, Attribute, Connection, Media, MediaKind, Origin, SessionDescription, TypedAttribute,
    TypedView,
};

/// An SDP translated to Jingle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpToJingle {
    pub jingle: Jingle,
    /// Names of the m-lines with port 0.
    pub rejected: Vec<String>,
}

/// SDP written by `author` -> a Jingle `action` for session `sid`. `generation` is the ICE
/// generation for candidates that do not state one.
pub fn sdp_to_jingle(
    sdp: &SessionDescription,
    author: Role,
    action: Action,
    sid: &str,
    generation: u32,
) -> Result<SdpToJingle, MappingError> {
    let typed = TypedView {
        session: sdp.typed_attributes().collect(),
        media: sdp
            .media
            .iter()
            .map(|m| m.typed_attributes().collect())
            .collect(),
    };
    sdp_to_jingle_typed(sdp, &typed, author, action, sid, generation)
}

/// [`sdp_to_jingle`] with the typed view [`SessionDescription::parse_typed`] returned, so
/// the attributes parsing already typed are not typed again.
pub fn sdp_to_jingle_typed(
    sdp: &SessionDescription,
    typed: &TypedView,
    author: Role,
    action: Action,
    sid: &str,
    generation: u32,
) -> Result<SdpToJingle, MappingError> {
    let mut jingle = Jingle::new(action, sid);
    let mut rejected = Vec::new();
    let top = &typed.session;
    let typed = &typed.media;
    let names = content_names(&sdp.media, typed);
    // Contents of the initial exchange belong to the initiator; a responder only creates
    // the ones it adds later.
    let creator = match (author, action) {
        (Role::Responder, Action::ContentAdd) => Creator::Responder,
        _ => Creator::Initiator,
    };
    for ((media, here), name) in sdp.media.iter().zip(typed).zip(names) {
        if media.port == 0 {
            rejected.push(name);
            continue;
        }
        let mut content = Content::new(creator, name);
        content.senders = Some(senders_from_direction(
            media.effective_direction(sdp),
            author,
        ))
        .filter(|s| *s != Senders::Both);
        if !media.proto.contains("RTP") && !media.proto.contains("SCTP") {
            return Err(MappingError::UnsupportedMedia {
                media: media.kind.as_str().to_string(),
                proto: media.proto.clone(),
            });
        }
        if media.proto.contains("RTP") {
            if !media.formats.iter().any(|f| f.parse::<u8>().is_ok()) {
                return Err(MappingError::NoPayloadTypes {
                    media: media.kind.as_str().to_string(),
                });
            }
            content.description = Some(Description::Rtp(Box::new(description_from_typed(
                media, top, here, author,
            ))));
        }
        let transport = transport_from_typed(sdp, media, top, here, generation)?;
        content.sdp_attributes = carried_attributes(
            &sdp.attributes,
            &media.attributes,
            content.description.is_some(),
            matches!(transport, Transport::RawUdp(_)),
        );
        content.transport = Some(transport);
        jingle.contents.push(content);
    }
    for a in top {
        if let TypedAttribute::Group(g) = a {
            jingle.groups.push(Group {
                semantics: g.semantics.clone(),
                contents: g.tags.clone(),
                unknown_attrs: Vec::new(),
                unknown: Vec::new(),
            });
        }
    }
    Ok(SdpToJingle { jingle, rejected })
}

/// Each m-line's content name: its `a=mid`, else its media kind numbered by occurrence.
pub(super) fn content_names(media: &[Media], typed: &[Vec<TypedAttribute>]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (media, here) in media.iter().zip(typed) {
        let mid = here.iter().find_map(|a| match a {
            TypedAttribute::Mid(m) => Some(m.clone()),
            _ => None,
        });
        let name = mid.unwrap_or_else(|| {
            let kind = media.kind.as_str();
            let same = names
                .iter()
                .filter(|n| *n == kind || n.starts_with(&format!("{kind}-")))
                .count();
            if same == 0 {
                kind.to_string()
            } else {
                format!("{kind}-{}", same + 1)
            }
        });
        names.push(name);
    }
    names
}

/// Jingle written by `author` -> SDP. The origin's session id is derived from the sid so a
/// re-offer of the same session keeps it (RFC 3264 §8); `version` is the o= version.
pub fn jingle_to_sdp(
    jingle: &Jingle,
    author: Role,
    version: u64,
) -> Result<SessionDescription, MappingError> {
    let origin = Origin {
        username: "-".into(),
        session_id: session_id(&jingle.sid),
        session_version: version,
        nettype: "IN".into(),
        addrtype: "IP4".into(),
        address: "0.0.0.0".into(),
    };
    let mut sdp = SessionDescription::new(origin, "-");
    for g in &jingle.groups {
        let mut line = g.semantics.clone();
        for c in &g.contents {
            line.push(' ');
            line.push_str(c);
        }
        sdp.attributes.push(Attribute::new("group", line));
    }
    let mut session_written = false;
    for content in &jingle.contents {
        let kind = match &content.description {
            Some(Description::Rtp(d)) => MediaKind::from_token(&d.media),
            _ if is_data_channel(content) => MediaKind::Application,
            _ => {
                return Err(MappingError::NoDescription {
                    content: content.name.clone(),
                })
            }
        };
        let transport = match &content.transport {
            Some(Transport::Other(raw)) => {
                return Err(MappingError::UnsupportedTransport {
                    content: content.name.clone(),
                    namespace: xmlns_of(raw),
                })
            }
            Some(t) => Some(media_transport_from_transport(t)?),
            None => None,
        };
        let mut media = Media::new(kind, 9, profile_of(content).as_str(), Vec::new());
        if let Some(Description::Rtp(d)) = &content.description {
            let parts = media_description_from_description(d, author);
            media.formats = parts.formats;
            media.bandwidths = parts.bandwidths;
            media.attributes.extend(parts.attributes);
        } else {
            match old_style_sctpmap(content) {
                // draft-ietf-mmusic-sctp-sdp-05 (what Jitsi still sends): the port is the format.
                Some(port) => {
                    media.proto = "DTLS/SCTP".into();
                    media.formats.push(port.to_string());
                }
                None => media.formats.push("webrtc-datachannel".into()),
            }
        }
        if let Some(t) = transport {
            media.port = t.port;
            media.connection = Some(Connection {
                nettype: "IN".into(),
                addrtype: if t.address.contains(':') {
                    "IP6"
                } else {
                    "IP4"
                }
                .into(),
                address: t.address,
            });
            media.attributes.extend(t.attributes);
        }
        media
            .attributes
            .push(Attribute::new("mid", content.name.clone()));
        let senders = content.senders.unwrap_or(Senders::Both);
        media.attributes.push(Attribute::flag(
            direction_from_senders(senders, author).as_str(),
        ));
        let session = (!session_written && speaks_for_session(&content.sdp_attributes))
            .then_some(&mut sdp.attributes);
        session_written |= session.is_some();
        write_back(&content.sdp_attributes, session, &mut media.attributes);
        sdp.media.push(media);
    }
    reject_control_characters(&sdp)?;
    validate_fields(&sdp)?;
    Ok(sdp)
}

/// SIP peers get nothing our own validating parser would refuse: with no line breaks in any
/// value (checked first), these are the checks a parse of the written text makes, without
/// writing and re-reading it. The jingle_to_sdp fuzz target re-parses every output to hold
/// this equivalence.
fn validate_fields(sdp: &SessionDescription) -> Result<(), MappingError> {
    let invalid = |what: String| Err(MappingError::InvalidSdp(what));
    let attributes = |attrs: &[Attribute]| -> Result<(), MappingError> {
        for a in attrs {
            if !is_token(&a.name) {
                return invalid(format!("attribute name {:?} is not a token", a.name));
            }
            if let Err(reason) = a.typed() {
                return invalid(format!("a={a}: {reason}"));
            }
        }
        Ok(())
    };
    attributes(&sdp.attributes)?;
    for m in &sdp.media {
        let kind = m.kind.as_str();
        if !is_token(kind) || m.formats.is_empty() || !m.formats.iter().all(|f| is_token(f)) {
            return invalid(format!("m={kind}: media and formats must be tokens"));
        }
        let address_ok = |c: &Connection| {
            !c.address.is_empty() && !c.address.contains(|ch: char| ch.is_whitespace())
        };
        if !m.connection.iter().all(address_ok) {
            return invalid(format!("m={kind}: c= address is not one token"));
        }
        if !m.bandwidths.iter().all(|b| is_token(&b.bwtype)) {
            return invalid(format!("m={kind}: b= type is not a token"));
        }
        attributes(&m.attributes)?;
    }
    Ok(())
}

/// The namespace a raw element declares, for error messages.
fn xmlns_of(raw: &str) -> String {
    raw.split_once("xmlns=")
        .and_then(|(_, rest)| {
            let quote = rest.chars().next()?;
            rest[1..].split(quote).next().map(str::to_string)
        })
        .unwrap_or_default()
}

fn is_data_channel(content: &Content) -> bool {
    matches!(&content.transport, Some(Transport::IceUdp(ice)) if !ice.sctpmaps.is_empty())
}

/// The sctpmap port of a data channel that needs the older `DTLS/SCTP <port>` m-line.
fn old_style_sctpmap(content: &Content) -> Option<u16> {
    match &content.transport {
        Some(Transport::IceUdp(ice)) => ice
            .sctpmaps
            .first()
            .filter(|m| !is_sctp_port_form(m))
            .map(|m| m.number),
        _ => None,
    }
}

/// Every string that came from Jingle ends up in one of these fields. A CR or LF in any of
/// them would let a Jingle peer add lines of its choosing to the SDP sent to SIP.
fn reject_control_characters(sdp: &SessionDescription) -> Result<(), MappingError> {
    let bad = |s: &str| s.chars().any(|c| c.is_control());
    let attribute = |a: &Attribute| bad(&a.name) || a.value.as_deref().is_some_and(bad);
    if let Some(a) = sdp.attributes.iter().find(|a| attribute(a)) {
        return Err(MappingError::ControlCharacter {
            what: format!("session attribute {}", a.name.escape_debug()),
        });
    }
    for m in &sdp.media {
        let fields = bad(m.kind.as_str())
            || m.formats.iter().any(|f| bad(f))
            || m.connection.as_ref().is_some_and(|c| bad(&c.address))
            || m.bandwidths.iter().any(|b| bad(&b.bwtype))
            || m.attributes.iter().any(attribute);
        if fields {
            return Err(MappingError::ControlCharacter {
                what: format!("m={}", m.kind.as_str().escape_debug()),
            });
        }
    }
    Ok(())
}

/// Derived from the sid, kept below 2^63 (some SDP stacks parse o= ids as signed).
fn session_id(sid: &str) -> u64 {
    super::fnv1a(sid.as_bytes()) >> 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::test_support::session;

    #[test]
    fn a_jingle_value_cannot_inject_sdp_lines() {
        // Found by the jingle_to_sdp fuzz target: element text and attribute values may hold
        // line breaks, which the SDP writer would copy verbatim.
        let xml = "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'>\
            <content creator='initiator' name='a&#13;&#10;a=candidate:1 1 udp 1 203.0.113.9 9 typ host'>\
            <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0'/></description>\
            <transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'/></content></jingle>";
        let crate::jingle::JinglePayload::Jingle(j) = crate::jingle::parse(xml).unwrap() else {
            panic!("not jingle")
        };
        assert!(matches!(
            jingle_to_sdp(&j, Role::Initiator, 1),
            Err(MappingError::ControlCharacter { .. })
        ));
    }

    #[test]
    fn a_jingle_value_sdp_cannot_carry_is_an_error_not_bad_sdp() {
        let xml = "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'>\
            <content creator='initiator' name='a'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0'/></description>\
            <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='u' pwd='p'>\
            <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'></fingerprint>\
            </transport></content></jingle>";
        let crate::jingle::JinglePayload::Jingle(j) = crate::jingle::parse(xml).unwrap() else {
            panic!("not jingle")
        };
        assert!(matches!(
            jingle_to_sdp(&j, Role::Initiator, 1),
            Err(MappingError::InvalidSdp(_))
        ));
    }

    #[test]
    fn a_content_without_description_or_data_channel_has_no_m_line() {
        // The XEP-0167 content-modify example: senders only.
        let xml = "<jingle xmlns='urn:xmpp:jingle:1' action='content-modify' sid='s'>\
            <content creator='initiator' name='webcam' senders='initiator'/></jingle>";
        let crate::jingle::JinglePayload::Jingle(j) = crate::jingle::parse(xml).unwrap() else {
            panic!("not jingle")
        };
        assert_eq!(
            jingle_to_sdp(&j, Role::Initiator, 1),
            Err(MappingError::NoDescription {
                content: "webcam".into()
            })
        );
    }

    #[test]
    fn plain_sip_m_lines_get_kind_names_and_port_zero_is_rejected() {
        let s =
            session("m=audio 4000 RTP/AVP 0\r\nm=video 0 RTP/AVP 31\r\nm=audio 4002 RTP/AVP 8\r\n");
        let t = sdp_to_jingle(&s, Role::Initiator, Action::SessionInitiate, "sid1", 0).unwrap();
        let names: Vec<_> = t.jingle.contents.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["audio", "audio-2"]);
        assert_eq!(t.rejected, ["video"]);
    }

    #[test]
    fn hold_from_the_responder_names_the_responder_as_sender() {
        let s = session("a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n");
        let t = sdp_to_jingle(&s, Role::Responder, Action::SessionAccept, "sid1", 0).unwrap();
        assert_eq!(t.jingle.contents[0].senders, Some(Senders::Responder));
        assert_eq!(t.jingle.contents[0].creator, Creator::Initiator);
    }

    fn translate_back(sdp: &str) -> (Jingle, String) {
        let s = session(sdp);
        let j = sdp_to_jingle(&s, Role::Initiator, Action::SessionInitiate, "s", 0)
            .unwrap()
            .jingle;
        let back = jingle_to_sdp(&j, Role::Initiator, 1).unwrap().to_string();
        (j, back)
    }

    #[test]
    fn lines_without_a_xep_survive_the_round_trip_at_their_level() {
        let (j, back) = translate_back(
            "a=ice-lite\r\na=ice-options:trickle\r\na=msid-semantic: WMS *\r\n\
             m=audio 4000 RTP/AVPF 0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\n\
             a=rid:1 send\r\na=x-custom\r\na=rtcp:9 IN IP4 0.0.0.0\r\n",
        );
        let carried: Vec<_> = j.contents[0]
            .sdp_attributes
            .iter()
            .map(|a| (a.name.as_str(), a.session_level))
            .collect();
        assert_eq!(
            carried,
            [
                ("ice-lite", true),
                ("ice-options", true),
                ("msid-semantic", true),
                ("rid", false),
                ("x-custom", false),
                ("rtcp", false)
            ]
        );
        let (session_part, media_part) = back.split_once("m=").unwrap();
        for line in [
            "a=ice-lite\r\n",
            "a=ice-options:trickle\r\n",
            "a=msid-semantic: WMS *\r\n",
        ] {
            assert!(
                session_part.contains(line),
                "{line} not at session level:\n{back}"
            );
        }
        for line in [
            "a=rid:1 send\r\n",
            "a=x-custom\r\n",
            "a=rtcp:9 IN IP4 0.0.0.0\r\n",
        ] {
            assert!(
                media_part.contains(line),
                "{line} not in the m-line:\n{back}"
            );
        }
    }

    #[test]
    fn rtcp_rsize_msid_and_trickle_state_map_to_elements() {
        let (j, back) = translate_back(
            "m=video 4000 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=rtcp-rsize\r\n\
             a=msid:stream1 track1\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\n\
             a=remote-candidates:1 192.0.2.3 5000 2 192.0.2.3 5001\r\na=end-of-candidates\r\n",
        );
        let Some(Description::Rtp(d)) = &j.contents[0].description else {
            panic!("rtp")
        };
        assert!(d.rtcp_reduced_size);
        assert_eq!(d.streams[0].id, "stream1");
        assert_eq!(d.streams[0].track.as_deref(), Some("track1"));
        let Some(Transport::IceUdp(ice)) = &j.contents[0].transport else {
            panic!("ice")
        };
        assert!(ice.gathering_complete);
        assert_eq!(ice.remote_candidates.len(), 2);
        assert!(j.contents[0].sdp_attributes.is_empty(), "all mapped");
        for line in [
            "a=rtcp-rsize\r\n",
            "a=msid:stream1 track1\r\n",
            "a=remote-candidates:1 192.0.2.3 5000 2 192.0.2.3 5001\r\n",
            "a=end-of-candidates\r\n",
        ] {
            assert!(back.contains(line), "{line} missing:\n{back}");
        }
    }

    #[test]
    fn data_channels_keep_their_sctp_sdp_generation() {
        let modern = "m=application 4000 UDP/DTLS/SCTP webrtc-datachannel\r\na=ice-ufrag:u\r\n\
                      a=ice-pwd:p\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";
        let (_, back) = translate_back(modern);
        assert!(
            back.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"),
            "{back}"
        );
        assert!(back.contains("a=sctp-port:5000\r\n"), "{back}");
        assert!(back.contains("a=max-message-size:262144\r\n"), "{back}");
        let legacy = "m=application 4000 DTLS/SCTP 5000\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\n\
                      a=sctpmap:5000 webrtc-datachannel 1024\r\n";
        let (_, back) = translate_back(legacy);
        assert!(
            back.contains("m=application 9 DTLS/SCTP 5000\r\n"),
            "{back}"
        );
        assert!(
            back.contains("a=sctpmap:5000 webrtc-datachannel 1024\r\n"),
            "{back}"
        );
    }

    /// Every SDP fixture: SDP -> Jingle -> SDP -> Jingle gives the same Jingle, for both
    /// authors, and the Jingle survives its own XML round trip.
    #[test]
    fn every_sdp_fixture_round_trips_through_jingle() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/sdp");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "sdp") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let sdp = SessionDescription::parse(&text).unwrap();
            let (same, typed) = SessionDescription::parse_typed(&text).unwrap();
            assert_eq!(same, sdp);
            for author in [Role::Initiator, Role::Responder] {
                let first = sdp_to_jingle(&sdp, author, Action::SessionInitiate, "s", 0)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                    .jingle;
                let from_view =
                    sdp_to_jingle_typed(&sdp, &typed, author, Action::SessionInitiate, "s", 0)
                        .unwrap()
                        .jingle;
                assert_eq!(from_view, first, "{}: typed view differs", path.display());
                let written = jingle_to_sdp(&first, author, 1).unwrap();
                let reparsed = SessionDescription::parse(&written.to_string())
                    .unwrap_or_else(|e| panic!("{}: {e}\n{written}", path.display()));
                let again = sdp_to_jingle(&reparsed, author, Action::SessionInitiate, "s", 0)
                    .unwrap()
                    .jingle;
                assert_eq!(again, first, "{} by {author:?}\n{written}", path.display());
                let xml = first.to_xml();
                let crate::jingle::JinglePayload::Jingle(from_xml) =
                    crate::jingle::parse(&xml).unwrap()
                else {
                    panic!("not jingle")
                };
                assert_eq!(from_xml, first, "{}", path.display());
            }
            seen += 1;
        }
        assert!(seen >= 10, "fixtures found: {seen}");
    }
}
