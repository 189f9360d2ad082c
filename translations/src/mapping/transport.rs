//! An m-line's transport <-> the content's `<transport>`: XEP-0176 ICE-UDP when the SDP
//! has ICE credentials or candidates (with XEP-0320 fingerprints and XEP-0343 sctpmap
//! inside), otherwise XEP-0177 Raw UDP built from `c=` and the m-line port, which is what
//! plain SIP phones send and what every implementation in the mapping doc drops.

use super::{ice_candidate_from_sdp, sdp_candidate_from_ice, MappingError};
use crate::jingle::{
    CandidateType, Fingerprint, IceCandidate, IceUdpTransport, RawUdpCandidate, RawUdpTransport,
    RemoteCandidate, SctpMap, Setup, Transport,
};
use crate::sdp::{
    Attribute, Connection, Fingerprint as SdpFingerprint, Media, Rtcp, Sctpmap, SessionDescription,
    Setup as SdpSetup, TypedAttribute,
};

/// The transport of `media`; `generation` is the ICE generation for candidates that do not
/// state one.
pub fn transport_from_media(
    session: &SessionDescription,
    media: &Media,
    generation: u32,
) -> Result<Transport, MappingError> {
    let top: Vec<TypedAttribute> = session.typed_attributes().collect();
    let here: Vec<TypedAttribute> = media.typed_attributes().collect();
    transport_from_typed(session, media, &top, &here, generation)
}

/// [`transport_from_media`] with session and media attributes already parsed.
pub(super) fn transport_from_typed(
    session: &SessionDescription,
    media: &Media,
    top: &[TypedAttribute],
    here: &[TypedAttribute],
    generation: u32,
) -> Result<Transport, MappingError> {
    // Media-level values override session-level ones (RFC 8839 §5.4, RFC 8842 §5).
    let pick = |f: &dyn Fn(&TypedAttribute) -> Option<String>| {
        here.iter().find_map(f).or_else(|| top.iter().find_map(f))
    };
    let ufrag = pick(&|a| match a {
        TypedAttribute::IceUfrag(u) => Some(u.clone()),
        _ => None,
    });
    let pwd = pick(&|a| match a {
        TypedAttribute::IcePwd(p) => Some(p.clone()),
        _ => None,
    });
    let candidates: Vec<_> = here
        .iter()
        .filter_map(|a| match a {
            TypedAttribute::Candidate(c) => Some(c),
            _ => None,
        })
        .collect();
    if ufrag.is_none() && pwd.is_none() && candidates.is_empty() {
        return Ok(Transport::RawUdp(raw_udp_from_media(session, media, here)));
    }
    let mut ice = IceUdpTransport {
        ufrag,
        pwd,
        ..Default::default()
    };
    for c in candidates {
        ice.candidates.push(ice_candidate_from_sdp(c, generation)?);
    }
    // A session-level a=end-of-candidates covers every m-line (RFC 8840 §8.2).
    ice.gathering_complete = here
        .iter()
        .chain(top)
        .any(|a| matches!(a, TypedAttribute::EndOfCandidates));
    for a in here {
        if let TypedAttribute::RemoteCandidates(list) = a {
            for r in list {
                ice.remote_candidates.push(RemoteCandidate {
                    component: u8::try_from(r.component).map_err(|_| {
                        MappingError::ComponentOutOfRange {
                            foundation: "a=remote-candidates".into(),
                            component: r.component,
                        }
                    })?,
                    ip: r.address.clone(),
                    port: r.port,
                    unknown_attrs: Vec::new(),
                    unknown: Vec::new(),
                });
            }
        }
    }
    // RFC 4145 §4: an absent a=setup means active.
    let setup = pick(&|a| match a {
        TypedAttribute::Setup(s) => Some(s.as_str().to_string()),
        _ => None,
    })
    .and_then(|s| s.parse::<Setup>().ok())
    .unwrap_or(Setup::Active);
    let fingerprints: Vec<&SdpFingerprint> = {
        let local: Vec<_> = here.iter().filter_map(fingerprint).collect();
        if local.is_empty() {
            top.iter().filter_map(fingerprint).collect()
        } else {
            local
        }
    };
    for f in fingerprints {
        ice.fingerprints.push(Fingerprint {
            hash: f.hash.clone(),
            setup,
            value: f.value.clone(),
            unknown_attrs: Vec::new(),
            unknown: Vec::new(),
        });
    }
    for a in here {
        let map = match a {
            TypedAttribute::Sctpmap(m) => (m.port, m.protocol.clone(), m.streams),
            // The newer a=sctp-port form (RFC 8841) carries only the port.
            TypedAttribute::SctpPort(p) => (*p, "webrtc-datachannel".to_string(), None),
            _ => continue,
        };
        ice.sctpmaps.push(SctpMap {
            number: map.0,
            protocol: map.1,
            streams: map.2,
            unknown_attrs: Vec::new(),
            unknown: Vec::new(),
        });
    }
    Ok(Transport::IceUdp(ice))
}

fn fingerprint(a: &TypedAttribute) -> Option<&SdpFingerprint> {
    match a {
        TypedAttribute::Fingerprint(f) => Some(f),
        _ => None,
    }
}

/// `c=` address (without any `/ttl` suffix).
fn address(connection: Option<&Connection>) -> String {
    connection
        .map(|c| c.address.split('/').next().unwrap_or_default().to_string())
        .unwrap_or_default()
}

fn raw_udp_from_media(
    session: &SessionDescription,
    media: &Media,
    here: &[TypedAttribute],
) -> RawUdpTransport {
    let ip = address(media.effective_connection(session));
    // XEP-0177 ids are unique in the session: derived from what the candidate is, so two
    // m-lines never share one and a re-offer of the same address keeps it.
    let candidate = |component: u8, ip: String, port: u16| RawUdpCandidate {
        component: Some(component),
        generation: 0,
        id: format!(
            "r{:x}",
            super::fnv1a(format!("{ip} {port} {component}").as_bytes())
        ),
        ip,
        port,
        candidate_type: None,
        unknown_attrs: Vec::new(),
        unknown: Vec::new(),
    };
    let mut transport = RawUdpTransport::default();
    transport
        .candidates
        .push(candidate(1, ip.clone(), media.port));
    if let Some(rtcp) = here.iter().find_map(|a| match a {
        TypedAttribute::Rtcp(r) => Some(r),
        _ => None,
    }) {
        let rtcp_ip = rtcp
            .connection
            .as_ref()
            .map(|c| address(Some(c)))
            .unwrap_or(ip);
        transport.candidates.push(candidate(2, rtcp_ip, rtcp.port));
    }
    transport
}

/// The RTP candidate the m-line's port and `c=` name: the one most likely to work for a
/// peer without ICE (RFC 5245 §4.1.4: relayed, then server reflexive, then host), over UDP,
/// the highest priority among equals.
fn default_candidate(candidates: &[IceCandidate]) -> Option<&IceCandidate> {
    let reach = |c: &IceCandidate| match c.candidate_type {
        CandidateType::Relay => 3,
        CandidateType::Srflx => 2,
        CandidateType::Prflx => 1,
        CandidateType::Host => 0,
    };
    candidates
        .iter()
        .filter(|c| c.component == 1 && c.protocol.eq_ignore_ascii_case("udp"))
        .max_by_key(|c| (reach(c), c.priority))
}

/// A data channel sctpmap that RFC 8841's `a=sctp-port` expresses fully (the m-line is then
/// `UDP/DTLS/SCTP webrtc-datachannel`); one with a stream count keeps the older sctpmap form.
pub(super) fn is_sctp_port_form(m: &SctpMap) -> bool {
    m.protocol == "webrtc-datachannel" && m.streams.is_none()
}

/// What an m-line needs from a transport: its port, its `c=` address, and attribute lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaTransport {
    pub port: u16,
    pub address: String,
    pub attributes: Vec<Attribute>,
}

/// Jingle transport -> m-line port, address and attributes. ICE without candidates yet
/// (trickle) uses the RFC 8839 placeholders 9 and 0.0.0.0.
pub fn media_transport_from_transport(
    transport: &Transport,
) -> Result<MediaTransport, MappingError> {
    let mut out = MediaTransport {
        port: 9,
        address: "0.0.0.0".into(),
        attributes: Vec::new(),
    };
    match transport {
        Transport::IceUdp(ice) => {
            if let Some(u) = &ice.ufrag {
                out.attributes.push(Attribute::new("ice-ufrag", u.clone()));
            }
            if let Some(p) = &ice.pwd {
                out.attributes.push(Attribute::new("ice-pwd", p.clone()));
            }
            for f in &ice.fingerprints {
                let line = SdpFingerprint {
                    hash: f.hash.clone(),
                    value: f.value.clone(),
                };
                out.attributes
                    .push(Attribute::new("fingerprint", line.to_string()));
            }
            if let Some(f) = ice.fingerprints.first() {
                let setup = SdpSetup::parse(f.setup.as_str()).unwrap_or(SdpSetup::ActPass);
                out.attributes
                    .push(Attribute::new("setup", setup.as_str().to_string()));
            }
            for m in &ice.sctpmaps {
                if is_sctp_port_form(m) {
                    out.attributes
                        .push(Attribute::new("sctp-port", m.number.to_string()));
                    continue;
                }
                let line = Sctpmap {
                    port: m.number,
                    protocol: m.protocol.clone(),
                    streams: m.streams,
                };
                out.attributes
                    .push(Attribute::new("sctpmap", line.to_string()));
            }
            if let Some(default) = default_candidate(&ice.candidates) {
                out.port = default.port;
                out.address = default.ip.clone();
            }
            for c in &ice.candidates {
                let line = sdp_candidate_from_ice(c)?;
                out.attributes
                    .push(Attribute::new("candidate", line.to_string()));
            }
            if !ice.remote_candidates.is_empty() {
                let list: Vec<String> = ice
                    .remote_candidates
                    .iter()
                    .map(|r| format!("{} {} {}", r.component, r.ip, r.port))
                    .collect();
                out.attributes
                    .push(Attribute::new("remote-candidates", list.join(" ")));
            }
            if ice.gathering_complete {
                out.attributes.push(Attribute::flag("end-of-candidates"));
            }
        }
        Transport::RawUdp(raw) => {
            let component = |n: u8| {
                raw.candidates
                    .iter()
                    .find(|c| c.component.unwrap_or(1) == n)
            };
            if let Some(rtp) = component(1) {
                out.port = rtp.port;
                out.address = rtp.ip.clone();
            }
            if let Some(c) = component(2) {
                // RFC 3605: the address is written when it differs from c=.
                let connection = (c.ip != out.address).then(|| Connection {
                    nettype: "IN".into(),
                    addrtype: if c.ip.contains(':') { "IP6" } else { "IP4" }.into(),
                    address: c.ip.clone(),
                });
                let rtcp = Rtcp {
                    port: c.port,
                    connection,
                };
                out.attributes
                    .push(Attribute::new("rtcp", rtcp.to_string()));
            }
        }
        Transport::Other(_) => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::test_support::session;

    #[test]
    fn a_plain_phone_gets_raw_udp_from_c_and_port_and_back() {
        let s = session("m=audio 49170 RTP/AVP 0\r\na=rtcp:49171\r\n");
        let Transport::RawUdp(raw) = transport_from_media(&s, &s.media[0], 0).unwrap() else {
            panic!("raw udp expected")
        };
        let got: Vec<_> = raw
            .candidates
            .iter()
            .map(|c| (c.component, c.ip.as_str(), c.port))
            .collect();
        assert_eq!(
            got,
            [(Some(1), "192.0.2.1", 49170), (Some(2), "192.0.2.1", 49171)]
        );
        let back = media_transport_from_transport(&Transport::RawUdp(raw)).unwrap();
        assert_eq!((back.port, back.address.as_str()), (49170, "192.0.2.1"));
        assert_eq!(back.attributes, [Attribute::new("rtcp", "49171")]);
    }

    #[test]
    fn webrtc_ice_with_session_level_fingerprint_and_media_level_credentials() {
        let s = session(
            "a=fingerprint:sha-256 AB:CD:EF\r\na=setup:actpass\r\n\
             m=audio 45664 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:8hhy\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\n\
             a=candidate:1 1 udp 2130706431 10.0.1.1 8998 typ host generation 0\r\n\
             a=candidate:2 1 udp 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998 generation 0\r\n\
             m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=ice-ufrag:8hhy\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\na=sctp-port:5000\r\n",
        );
        let Transport::IceUdp(ice) = transport_from_media(&s, &s.media[0], 0).unwrap() else {
            panic!("ice expected")
        };
        assert_eq!(ice.ufrag.as_deref(), Some("8hhy"));
        assert_eq!(ice.candidates.len(), 2);
        assert_eq!(ice.fingerprints[0].setup, Setup::Actpass);
        assert_eq!(ice.fingerprints[0].value, "AB:CD:EF");
        let back = media_transport_from_transport(&Transport::IceUdp(ice.clone())).unwrap();
        // The default is the server-reflexive candidate: a non-ICE peer cannot reach 10/8.
        assert_eq!((back.port, back.address.as_str()), (45664, "192.0.2.3"));
        // Into SDP and back into Jingle: the same transport.
        let mut media = Media::new(
            s.media[0].kind.clone(),
            back.port,
            "UDP/TLS/RTP/SAVPF",
            vec!["111".into()],
        );
        media.attributes = back.attributes;
        let bare = session("");
        assert_eq!(
            transport_from_media(&bare, &media, 0).unwrap(),
            Transport::IceUdp(ice)
        );

        let Transport::IceUdp(data) = transport_from_media(&s, &s.media[1], 0).unwrap() else {
            panic!("ice expected")
        };
        assert_eq!(data.sctpmaps[0].number, 5000);
    }

    #[test]
    fn an_rtcp_address_other_than_c_is_kept() {
        // Found by the sdp_to_jingle fuzz target.
        let s = session("m=audio 49170 RTP/AVP 0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n");
        let t = transport_from_media(&s, &s.media[0], 0).unwrap();
        let back = media_transport_from_transport(&t).unwrap();
        assert_eq!(
            back.attributes,
            [Attribute::new("rtcp", "9 IN IP4 0.0.0.0")]
        );
    }

    #[test]
    fn a_missing_setup_means_active_not_a_crash() {
        // StanzaJS crashes on this; RFC 4145 §4 gives the default.
        let s = session("m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=ice-ufrag:u\r\na=ice-pwd:pppppppppppppppppppppp\r\na=fingerprint:sha-256 AB:CD\r\n");
        let Transport::IceUdp(ice) = transport_from_media(&s, &s.media[0], 0).unwrap() else {
            panic!("ice expected")
        };
        assert_eq!(ice.fingerprints[0].setup, Setup::Active);
    }
}
