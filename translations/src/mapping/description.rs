//! An RTP m-line <-> `<description xmlns='urn:xmpp:jingle:apps:rtp:1'>`: payload types (see
//! `payload`), `b=`, rtcp-mux, XEP-0294 header extensions (role-aware senders, the same
//! rule as content senders), extmap-allow-mixed, XEP-0339 sources and groups, and SDES
//! crypto / ZRTP hashes inside `<encryption>`.

use super::payload::{media_lines_from_payload_types, payload_types_from_typed};
use super::{direction_from_senders, senders_from_direction, Role};
use crate::jingle::{
    Bandwidth, Crypto, Encryption, MsidStream, RtpDescription, RtpHdrext, Senders, Source,
    SourceParameter, SsrcGroup, ZrtpHash,
};
use crate::sdp::{
    Attribute, Bandwidth as SdpBandwidth, Crypto as SdpCrypto, Extmap, Media, Msid,
    SessionDescription, Ssrc, SsrcGroup as SdpSsrcGroup, TypedAttribute,
};

/// The description of RTP `media`, written by `author`.
pub fn description_from_media(
    session: &SessionDescription,
    media: &Media,
    author: Role,
) -> RtpDescription {
    let top: Vec<TypedAttribute> = session.typed_attributes().collect();
    let here: Vec<TypedAttribute> = media.typed_attributes().collect();
    description_from_typed(media, &top, &here, author)
}

/// [`description_from_media`] with session and media attributes already parsed.
pub(super) fn description_from_typed(
    media: &Media,
    top: &[TypedAttribute],
    here: &[TypedAttribute],
    author: Role,
) -> RtpDescription {
    let mut d = RtpDescription {
        media: media.kind.as_str().to_string(),
        ..Default::default()
    };
    payload_types_from_typed(media, here, &mut d);
    // XEP-0167 allows one <bandwidth>; further b= lines have nowhere to go.
    d.bandwidth = media.bandwidths.first().map(|b| Bandwidth {
        bw_type: b.bwtype.clone(),
        value: b.bandwidth,
    });
    // extmap-allow-mixed at session level applies to every description.
    d.extmap_allow_mixed = top
        .iter()
        .chain(here)
        .any(|a| matches!(a, TypedAttribute::ExtmapAllowMixed));
    let mut encryption = Encryption::default();
    for a in here.iter().cloned() {
        match a {
            TypedAttribute::RtcpMux => d.rtcp_mux = true,
            TypedAttribute::RtcpRsize => d.rtcp_reduced_size = true,
            TypedAttribute::Msid(m) => d.streams.push(MsidStream {
                id: m.stream,
                track: m.track,
            }),
            TypedAttribute::Extmap(e) => d.hdrexts.push(RtpHdrext {
                id: e.id,
                uri: e.uri,
                senders: e
                    .direction
                    .map(|dir| senders_from_direction(dir, author))
                    .filter(|s| *s != Senders::Both),
                parameters: e
                    .attributes
                    .map(|v| SourceParameter {
                        name: v,
                        value: None,
                    })
                    .into_iter()
                    .collect(),
                unknown_attrs: Vec::new(),
                unknown: Vec::new(),
            }),
            TypedAttribute::Ssrc(s) => {
                let parameter = SourceParameter {
                    name: s.attribute,
                    value: s.value,
                };
                match d.sources.iter_mut().find(|src| src.ssrc == s.id) {
                    Some(source) => source.parameters.push(parameter),
                    None => d.sources.push(Source {
                        ssrc: s.id,
                        parameters: vec![parameter],
                        unknown_attrs: Vec::new(),
                        unknown: Vec::new(),
                    }),
                }
            }
            TypedAttribute::SsrcGroup(g) => d.ssrc_groups.push(SsrcGroup {
                semantics: g.semantics,
                sources: g.ssrcs,
                unknown_attrs: Vec::new(),
                unknown: Vec::new(),
            }),
            TypedAttribute::Crypto(c) => encryption.cryptos.push(Crypto {
                tag: c.tag,
                crypto_suite: c.suite,
                key_params: c.key_params,
                session_params: (!c.session_params.is_empty()).then(|| c.session_params.join(" ")),
                unknown_attrs: Vec::new(),
                unknown: Vec::new(),
            }),
            TypedAttribute::ZrtpHash(z) => encryption.zrtp_hashes.push(ZrtpHash {
                version: z.version,
                value: z.hash,
            }),
            _ => {}
        }
    }
    if !encryption.cryptos.is_empty() || !encryption.zrtp_hashes.is_empty() {
        // A secure profile makes SRTP mandatory (XEP-0167 §srtp: required='true'); keys on
        // RTP/AVP are the best-effort form a responder may decline.
        if !encryption.cryptos.is_empty() && is_secure_profile(&media.proto) {
            encryption.required = Some(true);
        }
        d.encryption = Some(encryption);
    }
    d
}

/// RTP/SAVP, RTP/SAVPF (SDES); the DTLS profiles carry no crypto lines.
fn is_secure_profile(proto: &str) -> bool {
    proto.ends_with("/SAVP") || proto.ends_with("/SAVPF")
}

/// What an m-line carries for a description: formats, `b=` lines and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    pub formats: Vec<String>,
    pub bandwidths: Vec<SdpBandwidth>,
    pub attributes: Vec<Attribute>,
}

/// Description -> m-line parts, written from `author`'s viewpoint.
pub fn media_description_from_description(d: &RtpDescription, author: Role) -> MediaDescription {
    let (formats, mut attributes) = media_lines_from_payload_types(d);
    if d.rtcp_mux {
        attributes.push(Attribute::flag("rtcp-mux"));
    }
    if d.rtcp_reduced_size {
        attributes.push(Attribute::flag("rtcp-rsize"));
    }
    for s in &d.streams {
        let msid = Msid {
            stream: s.id.clone(),
            track: s.track.clone(),
        };
        attributes.push(Attribute::new("msid", msid.to_string()));
    }
    if d.extmap_allow_mixed {
        attributes.push(Attribute::flag("extmap-allow-mixed"));
    }
    for h in &d.hdrexts {
        let extmap = Extmap {
            id: h.id,
            direction: h.senders.map(|s| direction_from_senders(s, author)),
            uri: h.uri.clone(),
            attributes: h.parameters.first().map(|p| p.name.clone()),
        };
        attributes.push(Attribute::new("extmap", extmap.to_string()));
    }
    if let Some(e) = &d.encryption {
        for c in &e.cryptos {
            let line = SdpCrypto {
                tag: c.tag,
                suite: c.crypto_suite.clone(),
                key_params: c.key_params.clone(),
                session_params: c
                    .session_params
                    .as_deref()
                    .map(|p| p.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
            };
            attributes.push(Attribute::new("crypto", line.to_string()));
        }
        for z in &e.zrtp_hashes {
            attributes.push(Attribute::new(
                "zrtp-hash",
                format!("{} {}", z.version, z.value),
            ));
        }
    }
    for g in &d.ssrc_groups {
        let line = SdpSsrcGroup {
            semantics: g.semantics.clone(),
            ssrcs: g.sources.clone(),
        };
        attributes.push(Attribute::new("ssrc-group", line.to_string()));
    }
    for s in &d.sources {
        for p in &s.parameters {
            let line = Ssrc {
                id: s.ssrc,
                attribute: p.name.clone(),
                value: p.value.clone(),
            };
            attributes.push(Attribute::new("ssrc", line.to_string()));
        }
    }
    MediaDescription {
        formats,
        bandwidths: d
            .bandwidth
            .iter()
            .map(|b| SdpBandwidth {
                bwtype: b.bw_type.clone(),
                bandwidth: b.value,
            })
            .collect(),
        attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::test_support::session;

    /// SDP -> Jingle -> SDP -> Jingle must give the same description.
    fn round_trip(s: &SessionDescription, author: Role) -> RtpDescription {
        let d = description_from_media(s, &s.media[0], author);
        let parts = media_description_from_description(&d, author);
        let mut media = Media::new(
            s.media[0].kind.clone(),
            9,
            s.media[0].proto.clone(),
            parts.formats,
        );
        media.bandwidths = parts.bandwidths;
        media.attributes = parts.attributes;
        let bare = session("");
        assert_eq!(description_from_media(&bare, &media, author), d);
        d
    }

    #[test]
    fn webrtc_video_with_sources_groups_and_header_extensions() {
        let s = session(
            "a=extmap-allow-mixed\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nb=AS:2000\r\na=rtpmap:96 VP8/90000\r\na=rtcp-mux\r\n\
             a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
             a=extmap:4/recvonly urn:3gpp:video-orientation\r\n\
             a=ssrc-group:FID 1111 2222\r\na=ssrc:1111 cname:abc\r\na=ssrc:1111 msid:stream track\r\na=ssrc:2222 cname:abc\r\n",
        );
        let d = round_trip(&s, Role::Initiator);
        assert!(d.rtcp_mux && d.extmap_allow_mixed);
        assert_eq!(d.bandwidth.as_ref().map(|b| b.value), Some(2000));
        assert_eq!(d.hdrexts[0].senders, None);
        // recvonly in the initiator's SDP: only the responder sends this extension.
        assert_eq!(d.hdrexts[1].senders, Some(Senders::Responder));
        assert_eq!(d.sources.len(), 2);
        assert_eq!(
            d.sources[0].parameters[1].value.as_deref(),
            Some("stream track")
        );
        assert_eq!(d.ssrc_groups[0].sources, [1111, 2222]);
        // The same line from the responder means the initiator sends it.
        let d = round_trip(&s, Role::Responder);
        assert_eq!(d.hdrexts[1].senders, Some(Senders::Initiator));
    }

    #[test]
    fn sdes_crypto_and_zrtp_hashes_go_into_encryption() {
        let s = session(
            "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32 KDR=1 UNENCRYPTED_SRTCP\r\n\
             a=zrtp-hash:1.10 fe30efd02423cb054e50efd0248742ac7a52c8f91bc2df881ae642c371ba46df\r\n",
        );
        let d = round_trip(&s, Role::Initiator);
        let e = d.encryption.unwrap();
        assert_eq!(
            e.cryptos[0].session_params.as_deref(),
            Some("KDR=1 UNENCRYPTED_SRTCP")
        );
        assert_eq!(e.zrtp_hashes[0].version, "1.10");
    }
}
