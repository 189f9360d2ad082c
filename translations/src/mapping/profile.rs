//! The m-line transport protocol, which Jingle never states (XEP-0167 §format): it is
//! re-derived from what the content carries. Every implementation in the mapping doc
//! hard-codes one profile, which breaks either plain SIP phones or WebRTC clients.

use crate::jingle::{Content, Description, Transport};

/// An SDP media transport protocol (RFC 4566 §5.14, RFC 5764, RFC 8841).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    RtpAvp,
    RtpAvpf,
    RtpSavp,
    RtpSavpf,
    UdpTlsRtpSavpf,
    UdpDtlsSctp,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::RtpAvp => "RTP/AVP",
            Profile::RtpAvpf => "RTP/AVPF",
            Profile::RtpSavp => "RTP/SAVP",
            Profile::RtpSavpf => "RTP/SAVPF",
            Profile::UdpTlsRtpSavpf => "UDP/TLS/RTP/SAVPF",
            Profile::UdpDtlsSctp => "UDP/DTLS/SCTP",
        }
    }
}

/// DTLS fingerprints make it DTLS-SRTP (with feedback, as WebRTC requires: RFC 8829
/// §5.1.2); required SDES crypto makes it SAVP; rtcp-fb anywhere makes it AVPF (XEP-0293); an
/// content without RTP is a data channel; anything else is plain RTP/AVP, what phones want.
pub fn profile_of(content: &Content) -> Profile {
    let rtp = match &content.description {
        Some(Description::Rtp(rtp)) => Some(rtp),
        _ => None,
    };
    let ice = match &content.transport {
        Some(Transport::IceUdp(ice)) => Some(ice),
        _ => None,
    };
    let dtls = ice.is_some_and(|t| !t.fingerprints.is_empty());
    // Without an RTP description the content can only be a data channel (the translation
    // refuses other non-RTP m-lines).
    if rtp.is_none() {
        return Profile::UdpDtlsSctp;
    }
    if dtls {
        return Profile::UdpTlsRtpSavpf;
    }
    let feedback = rtp.is_some_and(|d| {
        !d.rtcp_fbs.is_empty()
            || d.rtcp_fb_trr_int.is_some()
            || d.payload_types
                .iter()
                .any(|p| !p.rtcp_fbs.is_empty() || p.rtcp_fb_trr_int.is_some())
    });
    // SDES keys with required='true' need the secure profile; optional ones ride on RTP/AVP
    // (best-effort SRTP, as pjsip offers it), so a peer without SRTP can still answer.
    let sdes = rtp.is_some_and(|d| {
        d.encryption
            .as_ref()
            .is_some_and(|e| !e.cryptos.is_empty() && e.required == Some(true))
    });
    match (sdes, feedback) {
        (true, true) => Profile::RtpSavpf,
        (true, false) => Profile::RtpSavp,
        (false, true) => Profile::RtpAvpf,
        (false, false) => Profile::RtpAvp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jingle::{parse, JinglePayload};

    fn content(inner: &str) -> Content {
        let xml = format!(
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s' initiator='a@b/c'>\
             <content creator='initiator' name='0'>{inner}</content></jingle>"
        );
        let JinglePayload::Jingle(j) = parse(&xml).unwrap() else {
            panic!("not jingle")
        };
        j.contents.into_iter().next().unwrap()
    }

    const PCMU: &str = "<payload-type id='0' name='PCMU' clockrate='8000'/>";

    fn rtp(children: &str) -> String {
        format!("<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>{PCMU}{children}</description>")
    }

    const ICE_DTLS: &str = "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='u' pwd='p'>\
        <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>AB:CD</fingerprint></transport>";

    #[test]
    fn profiles_follow_what_the_content_carries() {
        let raw = "<transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'/>";
        assert_eq!(
            profile_of(&content(&format!("{}{raw}", rtp("")))),
            Profile::RtpAvp
        );
        let fb = "<rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='nack'/>";
        assert_eq!(profile_of(&content(&rtp(fb))), Profile::RtpAvpf);
        let crypto =
            "<encryption required='1'><crypto tag='1' crypto-suite='AES_CM_128_HMAC_SHA1_80' \
                      key-params='inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz'/></encryption>";
        assert_eq!(profile_of(&content(&rtp(crypto))), Profile::RtpSavp);
        // Optional SRTP (no required='true') is best effort: keys on RTP/AVP.
        let optional = crypto.replace(" required='1'", "");
        assert_eq!(profile_of(&content(&rtp(&optional))), Profile::RtpAvp);
        assert_eq!(
            profile_of(&content(&rtp(&format!("{crypto}{fb}")))),
            Profile::RtpSavpf
        );
        assert_eq!(
            profile_of(&content(&format!("{}{ICE_DTLS}", rtp("")))),
            Profile::UdpTlsRtpSavpf
        );
        let sctp = "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='u' pwd='p'>\
            <sctpmap xmlns='urn:xmpp:jingle:transports:dtls-sctp:1' number='5000' protocol='webrtc-datachannel' streams='1024'/>\
            <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>AB:CD</fingerprint></transport>";
        assert_eq!(profile_of(&content(sctp)), Profile::UdpDtlsSctp);
    }
}
