//! Trickle ICE: Jingle `transport-info` candidates <-> the `application/trickle-ice-sdpfrag`
//! bodies SIP INFO carries (RFC 8840 §9), including end-of-candidates
//! (`<gathering-complete/>`).
//!
//! A fragment names its m-sections by `a=mid`; a peer without mids is matched by position
//! against the session's current description, so the content names are the ones
//! [`super::sdp_to_jingle`] gave that description.

use super::session::content_names;
use super::{ice_candidate_from_sdp, sdp_candidate_from_ice, MappingError};
use crate::jingle::{Action, Content, Creator, IceUdpTransport, Jingle, Transport};
use crate::sdp::{Attribute, Media, MediaKind, SdpFragment, SessionDescription, TypedAttribute};

/// A trickle fragment -> `transport-info` for session `sid`. `session`: the description the
/// fragment belongs to (its m-lines name the sections a fragment lists without `a=mid`);
/// `generation` as in [`super::sdp_to_jingle`].
pub fn transport_info_from_sdpfrag(
    fragment: &SdpFragment,
    session: Option<&SessionDescription>,
    sid: &str,
    generation: u32,
) -> Result<Jingle, MappingError> {
    let top: Vec<TypedAttribute> = fragment.typed_attributes().collect();
    let typed = typed_media(&fragment.media);
    let positional = session.map(|s| content_names(&s.media, &typed_media(&s.media)));
    let fallback = content_names(&fragment.media, &typed);
    let mut jingle = Jingle::new(Action::TransportInfo, sid);
    for (index, here) in typed.iter().enumerate() {
        let mid = here.iter().find_map(|a| match a {
            TypedAttribute::Mid(m) => Some(m.clone()),
            _ => None,
        });
        let name = mid
            .or_else(|| positional.as_ref().and_then(|p| p.get(index).cloned()))
            .unwrap_or_else(|| fallback[index].clone());
        let pick = |f: fn(&TypedAttribute) -> Option<&String>| {
            here.iter()
                .find_map(f)
                .or_else(|| top.iter().find_map(f))
                .cloned()
        };
        let mut ice = IceUdpTransport {
            ufrag: pick(|a| match a {
                TypedAttribute::IceUfrag(u) => Some(u),
                _ => None,
            }),
            pwd: pick(|a| match a {
                TypedAttribute::IcePwd(p) => Some(p),
                _ => None,
            }),
            // Session level covers every m-section (RFC 8840 §8.2).
            gathering_complete: here
                .iter()
                .chain(&top)
                .any(|a| matches!(a, TypedAttribute::EndOfCandidates)),
            ..Default::default()
        };
        for a in here {
            if let TypedAttribute::Candidate(c) = a {
                ice.candidates.push(ice_candidate_from_sdp(c, generation)?);
            }
        }
        let mut content = Content::new(Creator::Initiator, name);
        content.transport = Some(Transport::IceUdp(ice));
        jingle.contents.push(content);
    }
    Ok(jingle)
}

/// `transport-info` -> a trickle fragment. Each content's m-line repeats the one `session`
/// (the current description) has for it, as RFC 8840 §9.1 asks; without a session the
/// placeholder `m=audio 9 RTP/AVP 0` stands in (peers match on `a=mid`). Contents whose
/// transport is not ICE-UDP carry nothing to trickle and are skipped. New credentials (an
/// ICE restart, XEP-0176 §ice-restart) and remote candidates are refused: only a new offer
/// carries them.
pub fn sdpfrag_from_transport_info(
    jingle: &Jingle,
    session: Option<&SessionDescription>,
) -> Result<SdpFragment, MappingError> {
    let current = session.map(CurrentSession::new);
    let mut fragment = SdpFragment::default();
    for content in &jingle.contents {
        let Some(Transport::IceUdp(ice)) = &content.transport else {
            continue;
        };
        let needs_offer = |what| MappingError::NeedsOffer {
            content: content.name.clone(),
            what,
        };
        if !ice.remote_candidates.is_empty() {
            return Err(needs_offer("a remote-candidate"));
        }
        let index = current.as_ref().and_then(|c| c.index_of(&content.name));
        if let Some(ufrag) = current.as_ref().zip(index).and_then(|(c, i)| c.ufrag(i)) {
            if ice.ufrag.as_ref().is_some_and(|u| *u != ufrag) {
                return Err(needs_offer("new ICE credentials (a restart)"));
            }
        }
        // The session's m-line for the content (port 9: the fragment does not move media).
        let mut media = match current.as_ref().zip(index) {
            Some((c, i)) => {
                let m = &c.session.media[i];
                Media::new(m.kind.clone(), 9, &m.proto, m.formats.clone())
            }
            None => Media::new(MediaKind::Audio, 9, "RTP/AVP", vec!["0".into()]),
        };
        media
            .attributes
            .push(Attribute::new("mid", content.name.clone()));
        if let Some(u) = &ice.ufrag {
            media
                .attributes
                .push(Attribute::new("ice-ufrag", u.clone()));
        }
        if let Some(p) = &ice.pwd {
            media.attributes.push(Attribute::new("ice-pwd", p.clone()));
        }
        for c in &ice.candidates {
            let line = sdp_candidate_from_ice(c)?;
            media
                .attributes
                .push(Attribute::new("candidate", line.to_string()));
        }
        if ice.gathering_complete {
            media.attributes.push(Attribute::flag("end-of-candidates"));
        }
        fragment.media.push(media);
    }
    // A value with a line break would add lines of a Jingle peer's choosing; one SDP cannot
    // carry would fail the peer's parser. Either way the fragment would not read back as
    // what was built: never send it.
    if SdpFragment::parse(&fragment.to_string()).as_ref() != Ok(&fragment) {
        return Err(MappingError::InvalidSdp(
            "transport-info values do not form a valid sdpfrag".into(),
        ));
    }
    Ok(fragment)
}

/// The description a fragment belongs to, its attributes typed and its m-lines named once.
struct CurrentSession<'a> {
    session: &'a SessionDescription,
    typed: Vec<Vec<TypedAttribute>>,
    names: Vec<String>,
}

impl<'a> CurrentSession<'a> {
    fn new(session: &'a SessionDescription) -> CurrentSession<'a> {
        let typed = typed_media(&session.media);
        let names = content_names(&session.media, &typed);
        CurrentSession {
            session,
            typed,
            names,
        }
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The ufrag in force for m-line `index` (media level, else session level).
    fn ufrag(&self, index: usize) -> Option<String> {
        self.typed[index]
            .iter()
            .find_map(|a| match a {
                TypedAttribute::IceUfrag(u) => Some(u.clone()),
                _ => None,
            })
            .or_else(|| self.session.ice_ufrag())
    }
}

fn typed_media(media: &[Media]) -> Vec<Vec<TypedAttribute>> {
    media
        .iter()
        .map(|m| m.typed_attributes().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::test_support::session;

    const FRAG: &str = "a=ice-ufrag:8hhY\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\n\
        m=audio 9 RTP/AVP 0\r\na=mid:1\r\n\
        a=candidate:1 1 UDP 1658497328 198.51.100.33 5000 typ host\r\n\
        a=candidate:2 1 UDP 1658497328 198.51.100.33 5002 typ host\r\n\
        a=end-of-candidates\r\n";

    #[test]
    fn an_rfc_8840_fragment_becomes_transport_info_and_back() {
        let frag = SdpFragment::parse(FRAG).unwrap();
        let j = transport_info_from_sdpfrag(&frag, None, "s1", 0).unwrap();
        assert_eq!(j.action, Action::TransportInfo);
        assert_eq!(j.contents[0].name, "1");
        let Some(Transport::IceUdp(ice)) = &j.contents[0].transport else {
            panic!("ice")
        };
        assert_eq!(
            ice.ufrag.as_deref(),
            Some("8hhY"),
            "session-level credentials apply"
        );
        assert_eq!(ice.candidates.len(), 2);
        assert!(ice.gathering_complete);
        let back = sdpfrag_from_transport_info(&j, None).unwrap();
        let again = transport_info_from_sdpfrag(&back, None, "s1", 0).unwrap();
        assert_eq!(again, j);
        let text = back.to_string();
        assert!(text.contains("a=mid:1\r\na=ice-ufrag:8hhY\r\n"), "{text}");
        assert!(text.ends_with("a=end-of-candidates\r\n"), "{text}");
    }

    #[test]
    fn sections_without_mid_are_named_by_position_in_the_session() {
        let current = session("m=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 31\r\n");
        let frag = SdpFragment::parse(
            "m=audio 9 RTP/AVP 0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\n\
             m=video 9 RTP/AVP 31\r\na=candidate:1 1 udp 1 192.0.2.1 4002 typ host\r\n",
        )
        .unwrap();
        let j = transport_info_from_sdpfrag(&frag, Some(&current), "s", 0).unwrap();
        let names: Vec<_> = j.contents.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["audio", "video"]);
        let back = sdpfrag_from_transport_info(&j, Some(&current)).unwrap();
        assert_eq!(back.media[1].kind, MediaKind::Video);
        assert_eq!(back.media[1].formats, ["31"]);
    }

    #[test]
    fn restarts_and_nominations_are_refused_for_a_new_offer() {
        let current = session(
            "m=audio 4000 RTP/AVP 0\r\na=mid:1\r\na=ice-ufrag:8hhY\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\n",
        );
        let frag = SdpFragment::parse(FRAG).unwrap();
        let mut j = transport_info_from_sdpfrag(&frag, Some(&current), "s", 0).unwrap();
        assert!(sdpfrag_from_transport_info(&j, Some(&current)).is_ok());
        let Some(Transport::IceUdp(ice)) = &mut j.contents[0].transport else {
            panic!("ice")
        };
        ice.ufrag = Some("g7qs".into());
        assert!(matches!(
            sdpfrag_from_transport_info(&j, Some(&current)),
            Err(MappingError::NeedsOffer { .. })
        ));
        let Some(Transport::IceUdp(ice)) = &mut j.contents[0].transport else {
            panic!("ice")
        };
        ice.ufrag = Some("8hhY".into());
        ice.remote_candidates.push(crate::jingle::RemoteCandidate {
            component: 1,
            ip: "192.0.2.3".into(),
            port: 5000,
            unknown_attrs: Vec::new(),
            unknown: Vec::new(),
        });
        assert!(matches!(
            sdpfrag_from_transport_info(&j, None),
            Err(MappingError::NeedsOffer { .. })
        ));
    }

    #[test]
    fn a_value_with_a_line_break_is_refused() {
        let frag = SdpFragment::parse(FRAG).unwrap();
        let mut j = transport_info_from_sdpfrag(&frag, None, "s", 0).unwrap();
        let Some(Transport::IceUdp(ice)) = &mut j.contents[0].transport else {
            panic!("ice")
        };
        ice.pwd = Some("p\r\na=candidate:9 1 udp 1 203.0.113.9 9 typ host".into());
        assert!(sdpfrag_from_transport_info(&j, None).is_err());
    }
}
