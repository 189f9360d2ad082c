//! Fixture round trips, per-file spot checks, validation errors and properties.

use proptest::prelude::*;

use super::*;

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../fixtures/sdp/", $name)))),*]
    };
}

const FIXTURES: &[(&str, &str)] = fixtures![
    "jitsi_chrome_recvonly.sdp",
    "pjsip_test_sdes_crypto_avp_and_savp.sdp",
    "pjsip_test_session_level_sendonly.sdp",
    "rfc4317_2.1_av_answer.sdp",
    "rfc4317_2.1_av_offer.sdp",
    "rfc4317_2.2_answer_video_rejected_port0.sdp",
    "rfc4317_2.4_two_audio_telephone_event_sendonly.sdp",
    "rfc4317_2.8_answer_media_level_c_line.sdp",
    "rfc4317_3.1_hold_answer_sendonly.sdp",
    "rfc4317_3.2_hold_two_streams_reoffer.sdp",
    "rfc4317_4.1_second_audio_stream_added_recvonly.sdp",
    "sip_phone_pcmu_pcma_dtmf.sdp",
    "stox_media_red_g729d_fmtp.sdp",
    "webrtc_chrome_offer_bundle.sdp",
    "xep0293_rtcp_fb_avpf_example.sdp",
];

fn fixture(name: &str) -> SessionDescription {
    let (_, text) = FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .expect("fixture listed");
    SessionDescription::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_file_is_listed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/sdp");
    let on_disk = std::fs::read_dir(dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sdp"))
        .count();
    assert_eq!(on_disk, FIXTURES.len());
}

#[test]
fn fixtures_round_trip() {
    for (name, text) in FIXTURES {
        let sd = SessionDescription::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let written = sd.to_string();
        assert!(
            !written.replace("\r\n", "").contains('\n'),
            "{name}: bare LF written"
        );
        let again =
            SessionDescription::parse(&written).unwrap_or_else(|e| panic!("{name} rewritten: {e}"));
        assert_eq!(sd, again, "{name}");
        // The fixtures are in canonical line order, so writing is byte-exact up to CRLF.
        assert_eq!(written, text.replace('\n', "\r\n"), "{name}");
    }
}

#[test]
fn webrtc_chrome_offer_bundle() {
    let sd = fixture("webrtc_chrome_offer_bundle.sdp");
    assert_eq!(sd.origin.session_id, 4611731400430051336);
    assert_eq!(
        sd.groups(),
        vec![Group {
            semantics: "BUNDLE".into(),
            tags: vec!["0".into(), "1".into()]
        }]
    );
    assert!(sd
        .typed_attributes()
        .any(|t| t == TypedAttribute::ExtmapAllowMixed));
    // Unknown session attribute kept verbatim, leading space and all.
    assert_eq!(
        sd.attribute("msid-semantic")
            .and_then(|a| a.value.as_deref()),
        Some(" WMS stream1")
    );
    let (audio, video) = (&sd.media[0], &sd.media[1]);
    assert_eq!(audio.proto, "UDP/TLS/RTP/SAVPF");
    assert_eq!(
        audio.formats,
        ["111", "63", "9", "0", "8", "13", "110", "126"]
    );
    let cands = audio.candidates();
    assert_eq!(cands.len(), 3);
    assert_eq!(cands[1].typ, "srflx");
    assert_eq!(cands[1].raddr.as_deref(), Some("192.0.2.10"));
    assert_eq!(cands[1].rport, Some(54321));
    let tcp = &cands[2];
    assert_eq!(
        (tcp.transport.as_str(), tcp.port, tcp.tcptype.as_deref()),
        ("tcp", 9, Some("active"))
    );
    assert_eq!(tcp.generation, Some(0));
    assert_eq!(
        tcp.extensions,
        [("network-id".to_string(), "1".to_string())]
    );
    assert_eq!(
        tcp.to_string(),
        "344579997 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active generation 0 network-id 1"
    );
    assert_eq!(video.candidates().len(), 1);
    assert_eq!(audio.mid().as_deref(), Some("0"));
    assert_eq!(
        audio.rtpmaps()[0],
        Rtpmap {
            pt: 111,
            encoding: "opus".into(),
            clock_rate: 48000,
            channels: Some(2)
        }
    );
    assert_eq!(
        audio.fmtps()[1].split_params(),
        [FmtpParam {
            name: None,
            value: "111/111".into()
        }]
    );
    let fbs = video.rtcp_fbs();
    assert_eq!(fbs.len(), 6);
    assert_eq!(
        fbs[3],
        RtcpFb {
            pt: RtcpFbPt::Pt(96),
            fb_type: "nack".into(),
            param: None
        }
    );
    assert_eq!(fbs[4].param.as_deref(), Some("pli"));
    assert_eq!(
        video.extmaps()[2],
        Extmap {
            id: 13,
            direction: None,
            uri: "urn:3gpp:video-orientation".into(),
            attributes: None
        }
    );
    assert!(video.has_attribute("rtcp-rsize") && !audio.has_attribute("rtcp-rsize"));
    assert!(audio.has_attribute("rtcp-mux"));
    assert_eq!(video.fingerprints()[0].hash, "sha-256");
    let rtcp = audio.rtcp();
    assert_eq!(
        rtcp.map(|r| (r.port, r.connection.map(|c| c.address))),
        Some((9, Some("0.0.0.0".into())))
    );
    assert_eq!(
        video.ssrc_groups(),
        [SsrcGroup {
            semantics: "FID".into(),
            ssrcs: vec![2001, 2002]
        }]
    );
    let ssrcs = video.ssrcs();
    assert_eq!(ssrcs.len(), 4);
    assert_eq!(
        (ssrcs[1].attribute.as_str(), ssrcs[1].value.as_deref()),
        ("msid", Some("stream1 videotrack1"))
    );
    assert_eq!(
        audio.msids(),
        [Msid {
            stream: "stream1".into(),
            track: Some("audiotrack1".into())
        }]
    );
    assert_eq!(audio.ice_ufrag().as_deref(), Some("EsAw"));
    assert_eq!(video.ice_pwd().as_deref(), Some("P2uYro0UCOQ4zxjKXaWCBui1"));
    assert_eq!(sd.ice_ufrag(), None);
    assert!(audio
        .typed_attributes()
        .any(|t| t == TypedAttribute::IceOptions(vec!["trickle".into()])));
    assert_eq!(audio.setup(), Some(Setup::ActPass));
}

#[test]
fn jitsi_recvonly_and_datachannel() {
    let sd = fixture("jitsi_chrome_recvonly.sdp");
    assert_eq!(sd.groups()[0].tags, ["audio", "video", "data"]);
    assert_eq!(sd.media[0].direction(), Some(Direction::RecvOnly));
    assert_eq!(sd.media[1].port, 9);
    assert_eq!(sd.media[1].rtcp_fbs().len(), 20);
    let data = &sd.media[2];
    assert_eq!(
        (data.kind.clone(), data.proto.as_str()),
        (MediaKind::Application, "UDP/DTLS/SCTP")
    );
    assert_eq!(data.formats, ["webrtc-datachannel"]);
    assert_eq!(
        data.bandwidths,
        [Bandwidth {
            bwtype: "AS".into(),
            bandwidth: 30
        }]
    );
    assert_eq!(data.sctp_port(), Some(5000));
    assert!(data
        .typed_attributes()
        .any(|t| t == TypedAttribute::MaxMessageSize(262144)));
    // A typo in the source (`:` instead of `;`) is kept as one parameter, verbatim.
    let fmtp = sd.media[1]
        .fmtps()
        .into_iter()
        .find(|f| f.pt == 127)
        .unwrap();
    assert_eq!(fmtp.split_params()[1].value, "1:packetization-mode=0");
}

#[test]
fn pjsip_sdes_crypto() {
    let sd = fixture("pjsip_test_sdes_crypto_avp_and_savp.sdp");
    assert_eq!(sd.media[0].proto, "RTP/AVP");
    assert!(sd.media[0].cryptos().is_empty());
    assert_eq!(sd.media[1].proto, "RTP/SAVP");
    assert_eq!(
        sd.media[1].cryptos(),
        [Crypto {
            tag: 1,
            suite: "aes_cm_128_hmac_sha1_80".into(),
            key_params: "inline:WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ".into(),
            session_params: vec![],
        }]
    );
    assert_eq!(sd.media[0].rtpmaps()[0].encoding, "pcmu");
}

#[test]
fn pjsip_session_level_sendonly() {
    let sd = fixture("pjsip_test_session_level_sendonly.sdp");
    assert_eq!(sd.direction(), Some(Direction::SendOnly));
    let m = &sd.media[0];
    assert_eq!(m.direction(), None);
    assert_eq!(m.effective_direction(&sd), Direction::SendOnly);
    assert!(m.rtpmaps().is_empty());
    assert_eq!(m.formats, ["0"]);
}

#[test]
fn rfc4317_files() {
    let offer = fixture("rfc4317_2.1_av_offer.sdp");
    assert_eq!(offer.session_name, " ");
    assert_eq!(
        offer.connection.as_ref().unwrap().address,
        "host.atlanta.example.com"
    );
    assert_eq!(offer.media[1].formats, ["31", "32"]);
    assert_eq!(
        offer.media[0].effective_direction(&offer),
        Direction::SendRecv
    );
    let answer = fixture("rfc4317_2.1_av_answer.sdp");
    assert_eq!(answer.origin.username, "bob");
    assert_eq!(answer.origin.session_version, 2808844564);

    let rejected = fixture("rfc4317_2.2_answer_video_rejected_port0.sdp");
    assert_eq!(rejected.media[1].port, 0);
    assert_eq!(rejected.media[1].kind, MediaKind::Video);

    let two = fixture("rfc4317_2.4_two_audio_telephone_event_sendonly.sdp");
    assert_eq!(two.media.len(), 2);
    assert_eq!(two.media[1].direction(), Some(Direction::SendOnly));
    assert_eq!(two.media[1].rtpmaps()[0].encoding, "telephone-event");

    let clines = fixture("rfc4317_2.8_answer_media_level_c_line.sdp");
    assert_eq!(
        clines.media[0]
            .effective_connection(&clines)
            .unwrap()
            .address,
        "host.biloxi.example.com"
    );
    assert_eq!(
        clines.media[1]
            .effective_connection(&clines)
            .unwrap()
            .address,
        "otherhost.biloxi.example.com"
    );

    let hold = fixture("rfc4317_3.1_hold_answer_sendonly.sdp");
    assert_eq!(
        hold.media[0].effective_direction(&hold),
        Direction::SendOnly
    );

    let reoffer = fixture("rfc4317_3.2_hold_two_streams_reoffer.sdp");
    assert_eq!(reoffer.origin.session_version, 2808844565);
    let dirs: Vec<_> = reoffer.media.iter().map(|m| m.direction()).collect();
    assert_eq!(dirs, [Some(Direction::SendOnly), Some(Direction::RecvOnly)]);

    let added = fixture("rfc4317_4.1_second_audio_stream_added_recvonly.sdp");
    assert_eq!(added.media[1].port, 48282);
    assert_eq!(
        added.media[1].connection.as_ref().unwrap().address,
        "mediaserver.biloxi.example.com"
    );
}

#[test]
fn sip_phone_ptime_and_dtmf() {
    let sd = fixture("sip_phone_pcmu_pcma_dtmf.sdp");
    let m = &sd.media[0];
    assert_eq!(m.ptime(), Some(20));
    assert_eq!(
        m.fmtps()[0].split_params(),
        [FmtpParam {
            name: None,
            value: "0-16".into()
        }]
    );
    assert_eq!(m.direction(), Some(Direction::SendRecv));
}

#[test]
fn stox_red_fmtp_kept() {
    let sd = fixture("stox_media_red_g729d_fmtp.sdp");
    let f = sd.media[0].fmtps();
    assert_eq!(
        f[0],
        Fmtp {
            pt: 99,
            params: "0/103".into()
        }
    );
    assert_eq!(
        f[0].split_params(),
        [FmtpParam {
            name: None,
            value: "0/103".into()
        }]
    );
    assert_eq!(
        f[1].split_params(),
        [FmtpParam {
            name: Some("annexb".into()),
            value: "yes".into()
        }]
    );
    assert_eq!(sd.media[0].rtpmaps()[0].encoding, "RED");
}

#[test]
fn xep0293_rtcp_fb() {
    let sd = fixture("xep0293_rtcp_fb_avpf_example.sdp");
    assert_eq!(
        sd.timing,
        [Timing {
            start: 3203130148,
            stop: 3203137348,
            repeats: vec![]
        }]
    );
    let v = &sd.media[1];
    assert_eq!(v.proto, "RTP/AVPF");
    let fbs = v.rtcp_fbs();
    assert_eq!(
        fbs[0],
        RtcpFb {
            pt: RtcpFbPt::All,
            fb_type: "nack".into(),
            param: None
        }
    );
    assert_eq!(fbs[1].param.as_deref(), Some("rpsi"));
    assert_eq!(fbs[2].trr_int(), Some(100));
    assert_eq!(fbs[0].trr_int(), None);
}

// ---- validation errors ----

const HEAD: &str = "v=0\no=- 1 2 IN IP4 192.0.2.1\ns=-\nt=0 0\n";

fn err(input: &str) -> SdpError {
    SessionDescription::parse(input).expect_err("must be rejected")
}

#[test]
fn missing_required_lines() {
    assert_eq!(err("").kind, SdpErrorKind::Empty);
    let e = err("o=- 1 2 IN IP4 x\ns=-\nt=0 0\n");
    assert_eq!(
        (e.line, e.kind, e.text.as_str()),
        (1, SdpErrorKind::MissingVersion, "o=- 1 2 IN IP4 x")
    );
    let e = err("v=0\ns=-\nt=0 0\n");
    assert_eq!((e.line, e.kind), (2, SdpErrorKind::MissingOrigin));
    let e = err("v=0\no=- 1 2 IN IP4 x\nt=0 0\n");
    assert_eq!((e.line, e.kind), (3, SdpErrorKind::MissingSessionName));
    let e = err("v=0\no=- 1 2 IN IP4 x\ns=-\nc=IN IP4 x\nm=audio 1 RTP/AVP 0\n");
    assert_eq!(
        (e.line, e.kind, e.text.as_str()),
        (5, SdpErrorKind::MissingTiming, "m=audio 1 RTP/AVP 0")
    );
    let e = err("v=0\r\no=- 1 2 IN IP4 x\r\ns=-\r\n");
    assert_eq!(
        (e.line, e.kind, e.text.as_str()),
        (4, SdpErrorKind::MissingTiming, "")
    );
    let e = err("v=0\no=- 1 2 IN IP4 x\n");
    assert_eq!((e.line, e.kind), (3, SdpErrorKind::MissingSessionName));
}

#[test]
fn version_must_be_zero() {
    let e = err("v=1\no=- 1 2 IN IP4 x\ns=-\nt=0 0\n");
    assert_eq!(
        (e.line, e.kind),
        (1, SdpErrorKind::UnsupportedVersion("1".into()))
    );
}

#[test]
fn bad_numbers() {
    let e = err("v=0\no=- x 2 IN IP4 x\ns=-\nt=0 0\n");
    assert_eq!((e.line, e.kind), (2, SdpErrorKind::BadNumber("o= sess-id")));
    let e = err("v=0\no=- 1 2 IN IP4\ns=-\nt=0 0\n");
    assert_eq!(e.line, 2);
    assert!(matches!(e.kind, SdpErrorKind::BadOrigin(_)));
    let e = err("v=0\no=- 1 2 IN IP4 x\ns=-\nt=0 soon\n");
    assert_eq!((e.line, e.kind), (4, SdpErrorKind::BadNumber("t= stop")));
    let e = err(&format!("{HEAD}b=AS:lots\n"));
    assert_eq!(
        (e.line, e.kind),
        (5, SdpErrorKind::BadNumber("b= bandwidth"))
    );
    let e = err(&format!("{HEAD}m=audio 70000 RTP/AVP 0\n"));
    assert_eq!((e.line, e.kind), (5, SdpErrorKind::BadNumber("m= port")));
    let e = err(&format!("{HEAD}m=audio +5 RTP/AVP 0\n"));
    assert_eq!((e.line, e.kind), (5, SdpErrorKind::BadNumber("m= port")));
}

#[test]
fn media_line_needs_port_proto_and_format() {
    let e = err(&format!("{HEAD}m=audio\n"));
    assert_eq!(
        (e.line, e.kind),
        (5, SdpErrorKind::BadMedia("missing port"))
    );
    let e = err(&format!("{HEAD}m=audio 5000\n"));
    assert_eq!(
        (e.line, e.kind, e.text.as_str()),
        (5, SdpErrorKind::BadMedia("missing proto"), "m=audio 5000")
    );
    // RFC 8866 §5.14: `<fmt>` is not optional, not even on a rejected (port 0) stream.
    for line in [
        "m=audio 49170 RTP/AVP",
        "m=audio 0 RTP/AVP  ",
        "m=application 9 UDP/DTLS/SCTP",
    ] {
        let e = err(&format!("{HEAD}{line}\na=rtpmap:0 PCMU/8000\n"));
        assert_eq!(
            (e.line, e.kind, e.text.as_str()),
            (5, SdpErrorKind::BadMedia("missing format"), line)
        );
    }
    let e = SdpFragment::parse("a=ice-ufrag:x\nm=audio 9 RTP/AVP\n").unwrap_err();
    assert_eq!(
        (e.line, e.kind),
        (2, SdpErrorKind::BadMedia("missing format"))
    );
    let sd = SessionDescription::parse(&format!("{HEAD}m=audio 5000/2 RTP/AVP 0\n")).unwrap();
    assert_eq!((sd.media[0].port, sd.media[0].port_count), (5000, Some(2)));
}

#[test]
fn nettype_and_addrtype_must_be_tokens() {
    // RFC 8866 §9: `nettype = token`, `addrtype = token`, in o= and c= alike.
    let cases = [
        (
            "c=I<N IP4 192.0.2.1",
            SdpErrorKind::BadConnection("nettype is not a token"),
        ),
        (
            "c=IN IP\"4 192.0.2.1",
            SdpErrorKind::BadConnection("addrtype is not a token"),
        ),
    ];
    for (line, kind) in cases {
        let e = err(&format!("{HEAD}{line}\n"));
        assert_eq!((e.line, e.kind, e.text.as_str()), (5, kind.clone(), line));
        // The same check at media level.
        let e = err(&format!("{HEAD}m=audio 1 RTP/AVP 0\n{line}\n"));
        assert_eq!((e.line, e.kind, e.text.as_str()), (6, kind, line));
    }
    for (line, what) in [
        ("o=- 1 2 I(N IP4 192.0.2.1", "nettype is not a token"),
        ("o=- 1 2 IN IP@4 192.0.2.1", "addrtype is not a token"),
    ] {
        let e = err(&format!("v=0\n{line}\ns=-\nt=0 0\n"));
        assert_eq!(
            (e.line, e.kind, e.text.as_str()),
            (2, SdpErrorKind::BadOrigin(what), line)
        );
    }
    // Unknown but well-formed tokens are extensions, not errors.
    let sd = SessionDescription::parse("v=0\no=- 1 2 XX X-IP 1\ns=-\nc=XX IP4 192.0.2.1\nt=0 0\n")
        .unwrap();
    assert_eq!(
        (sd.origin.nettype.as_str(), sd.origin.addrtype.as_str()),
        ("XX", "X-IP")
    );
    assert_eq!(sd.connection.unwrap().nettype, "XX");
}

#[test]
fn several_media_level_connection_lines_are_kept_in_order() {
    // RFC 8866 §5.7: hierarchically encoded multicast media, one c= per layer.
    let text = "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n\
        m=video 51372 RTP/AVP 99\r\nc=IN IP4 233.252.0.1/127\r\nc=IN IP4 233.252.0.2/127\r\n\
        c=IN IP4 233.252.0.3/127\r\na=rtpmap:99 h263-1998/90000\r\n";
    let sd = SessionDescription::parse(text).unwrap();
    let m = &sd.media[0];
    assert_eq!(m.connection.as_ref().unwrap().address, "233.252.0.1/127");
    let extra: Vec<_> = m
        .extra_connections
        .iter()
        .map(|c| c.address.as_str())
        .collect();
    assert_eq!(extra, ["233.252.0.2/127", "233.252.0.3/127"]);
    assert_eq!(
        m.effective_connection(&sd).unwrap().address,
        "233.252.0.1/127"
    );
    assert_eq!(sd.to_string(), text);
    // Each one is still checked.
    let e = err(&format!(
        "{HEAD}m=audio 1 RTP/AVP 0\nc=IN IP4 a\nc=IN IP4\n"
    ));
    assert!(matches!(
        (e.line, e.kind),
        (7, SdpErrorKind::BadConnection(_))
    ));
    // The session level has at most one c= (RFC 8866 §9 `[connection-field]`).
    let e = err("v=0\no=- 1 2 IN IP4 x\ns=-\nc=IN IP4 a\nc=IN IP4 b\nt=0 0\n");
    assert_eq!((e.line, e.kind), (5, SdpErrorKind::Duplicate('c')));
}

#[test]
fn repeat_lines_follow_the_typed_time_grammar() {
    // RFC 8866 §9: `r=<repeat-interval> <typed-time> 1*(<typed-time>)`, typed-time being
    // `1*DIGIT [d|h|m|s]` and the interval starting with a non-zero digit. Kept verbatim.
    for ok in ["7d 1h 0 25h", "604800 3600 0 90000", "1 0 0", "10s  5m 0"] {
        let sd = SessionDescription::parse(&format!("{HEAD}r={ok}\n")).unwrap();
        assert_eq!(sd.timing[0].repeats, [ok]);
    }
    for (bad, what) in [
        ("weekly", "expected `<interval> <duration> <offset>...`"),
        ("7d 1h", "expected `<interval> <duration> <offset>...`"),
        ("", "expected `<interval> <duration> <offset>...`"),
        (
            "0 1h 0",
            "fields must be digits with an optional d/h/m/s unit",
        ),
        (
            "7w 1h 0",
            "fields must be digits with an optional d/h/m/s unit",
        ),
        (
            "7d 1h -1",
            "fields must be digits with an optional d/h/m/s unit",
        ),
        (
            "7d h 0",
            "fields must be digits with an optional d/h/m/s unit",
        ),
        (
            "7d 1hh 0",
            "fields must be digits with an optional d/h/m/s unit",
        ),
        (
            "+7 1h 0",
            "fields must be digits with an optional d/h/m/s unit",
        ),
    ] {
        let line = format!("r={bad}");
        let e = err(&format!("{HEAD}{line}\n"));
        assert_eq!(
            (e.line, e.kind, e.text),
            (5, SdpErrorKind::BadRepeat(what), line)
        );
    }
}

#[test]
fn malformed_and_misplaced_lines() {
    let e = err(&format!("{HEAD}garbage\n"));
    assert_eq!((e.line, e.kind), (5, SdpErrorKind::MalformedLine));
    let e = err(&format!("{HEAD}c=IN IP4\n"));
    assert!(matches!(
        (e.line, e.kind),
        (5, SdpErrorKind::BadConnection(_))
    ));
    let e = err(&format!("{HEAD}m=audio 1 RTP/AVP 0\nt=0 0\n"));
    assert_eq!((e.line, e.kind), (6, SdpErrorKind::Unexpected('t')));
    let e = err(&format!("{HEAD}m=audio 1 RTP/AVP 0\ni=a\ni=b\n"));
    assert_eq!((e.line, e.kind), (7, SdpErrorKind::Duplicate('i')));
    let e = err("v=0\no=- 1 2 IN IP4 x\ns=-\nr=1 2 3\nt=0 0\n");
    assert_eq!((e.line, e.kind), (4, SdpErrorKind::Unexpected('r')));
}

fn attr_err(attr: &str) -> (usize, String, AttributeError) {
    let e = err(&format!("{HEAD}m=audio 1 RTP/AVP 0\na=mid:0\n{attr}\n"));
    assert_eq!(e.text, attr);
    match e.kind {
        SdpErrorKind::BadAttribute { name, reason } => (e.line, name, reason),
        other => panic!("{attr}: {other:?}"),
    }
}

#[test]
fn typed_attribute_syntax_errors() {
    use AttributeError::*;
    let cases: &[(&str, &str, AttributeError)] = &[
        ("a=rtpmap:96 opus", "rtpmap", MissingField("clock rate")),
        ("a=rtpmap:x opus/48000", "rtpmap", BadNumber("payload type")),
        (
            "a=rtpmap:300 opus/48000",
            "rtpmap",
            BadNumber("payload type"),
        ),
        ("a=rtpmap", "rtpmap", MissingValue),
        ("a=fmtp:abc x=1", "fmtp", BadNumber("payload type")),
        ("a=ptime:twenty", "ptime", BadNumber("ptime")),
        ("a=maxptime:", "maxptime", BadNumber("maxptime")),
        ("a=rtcp-fb:96", "rtcp-fb", MissingField("type")),
        ("a=rtcp-fb:* trr-int soon", "rtcp-fb", BadNumber("trr-int")),
        ("a=extmap:1/sideways urn:x", "extmap", BadValue("direction")),
        ("a=extmap:1", "extmap", MissingField("uri")),
        ("a=mid:", "mid", BadValue("mid")),
        ("a=mid:a=b", "mid", BadValue("mid")),
        ("a=group:", "group", MissingField("semantics")),
        ("a=ssrc:12 ", "ssrc", MissingField("attribute")),
        ("a=ssrc:-1 cname:x", "ssrc", BadNumber("ssrc-id")),
        ("a=ssrc-group:FID 1 two", "ssrc-group", BadNumber("ssrc-id")),
        ("a=msid:", "msid", MissingField("stream id")),
        ("a=rtcp:9 IN IP4", "rtcp", BadValue("connection address")),
        (
            "a=rtcp:9 I<N IP4 192.0.2.1",
            "rtcp",
            BadValue("connection address"),
        ),
        ("a=ice-ufrag:", "ice-ufrag", MissingField("ice-ufrag")),
        ("a=ice-pwd", "ice-pwd", MissingValue),
        (
            "a=candidate:1 1 udp 2 192.0.2.1 9 host",
            "candidate",
            MissingField("typ"),
        ),
        (
            "a=candidate:1 1 udp 2 192.0.2.1",
            "candidate",
            MissingField("port"),
        ),
        (
            "a=candidate:1 1 udp 99999999999 192.0.2.1 9 typ host",
            "candidate",
            BadNumber("priority"),
        ),
        (
            "a=candidate:1 1 udp 2 192.0.2.1 9 typ srflx raddr",
            "candidate",
            MissingField("extension value"),
        ),
        (
            "a=candidate:1 1 udp 2 192.0.2.1 9 typ srflx rport x",
            "candidate",
            BadNumber("rport"),
        ),
        (
            "a=candidate:f$ 1 udp 2 192.0.2.1 9 typ host",
            "candidate",
            BadValue("foundation"),
        ),
        (
            "a=remote-candidates:1 192.0.2.1",
            "remote-candidates",
            BadValue("remote-candidates"),
        ),
        (
            "a=fingerprint:sha-256",
            "fingerprint",
            MissingField("fingerprint"),
        ),
        // RFC 8122 §5: `2UHEX *(":" 2UHEX)`.
        (
            "a=fingerprint:sha-256 ZZ",
            "fingerprint",
            BadValue("fingerprint"),
        ),
        (
            "a=fingerprint:sha-256 AB:C",
            "fingerprint",
            BadValue("fingerprint"),
        ),
        (
            "a=fingerprint:sha-256 ABCD",
            "fingerprint",
            BadValue("fingerprint"),
        ),
        (
            "a=fingerprint:sha-256 AB::CD",
            "fingerprint",
            BadValue("fingerprint"),
        ),
        (
            "a=fingerprint:sha-256 AB:CD:",
            "fingerprint",
            BadValue("fingerprint"),
        ),
        (
            "a=fingerprint:sha-256 AB CD",
            "fingerprint",
            BadValue("fingerprint"),
        ),
        ("a=fingerprint:sh<a AB:CD", "fingerprint", BadValue("hash")),
        ("a=setup:maybe", "setup", BadValue("setup")),
        (
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80",
            "crypto",
            MissingField("key-params"),
        ),
        (
            "a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:abc",
            "crypto",
            BadNumber("tag"),
        ),
        ("a=zrtp-hash:1.10", "zrtp-hash", MissingField("hash")),
        ("a=sctp-port:big", "sctp-port", BadNumber("sctp-port")),
        ("a=sctpmap:5000", "sctpmap", MissingField("protocol")),
        (
            "a=max-message-size:-1",
            "max-message-size",
            BadNumber("max-message-size"),
        ),
    ];
    for (line, name, reason) in cases {
        assert_eq!(
            attr_err(line),
            (7, name.to_string(), reason.clone()),
            "{line}"
        );
    }
}

#[test]
fn unknown_attributes_are_not_validated_and_survive() {
    let text = format!("{HEAD}a=x-custom:anything goes ::\na=flag\nm=audio 1 RTP/AVP 0\na=x-y\na=rtpmap:0 PCMU/8000\n");
    let sd = SessionDescription::parse(&text).unwrap();
    assert_eq!(
        sd.attributes,
        [
            Attribute::new("x-custom", "anything goes ::"),
            Attribute::flag("flag")
        ]
    );
    assert_eq!(sd.media[0].attributes[0], Attribute::flag("x-y"));
    assert_eq!(sd.to_string(), text.replace('\n', "\r\n"));
}

#[test]
fn optional_session_lines_round_trip() {
    let text = "v=0\r\no=- 1 2 IN IP6 ::1\r\ns=x\r\ni=info\r\nu=http://x\r\ne=a@b\r\ne=c@d\r\np=+1 555\r\nc=IN IP6 ::1\r\nb=CT:128\r\nt=1 2\r\nr=7d 1h 0 25h\r\nt=0 0\r\nz=2882844526 -1h\r\nk=prompt\r\na=ice-lite\r\nm=audio 1 RTP/AVP 0\r\ni=m\r\nc=IN IP6 ::2\r\nb=AS:64\r\nb=TIAS:64000\r\nk=clear:x\r\na=remote-candidates:1 192.0.2.1 5000 2 192.0.2.1 5001\r\na=zrtp-hash:1.10 fe30\r\n";
    let sd = SessionDescription::parse(text).unwrap();
    assert_eq!(sd.timing[0].repeats, ["7d 1h 0 25h"]);
    assert_eq!(sd.timing.len(), 2);
    assert_eq!(sd.to_string(), text);
    let rc = sd.media[0].typed_attributes().find_map(|t| {
        if let TypedAttribute::RemoteCandidates(r) = t {
            Some(r)
        } else {
            None
        }
    });
    assert_eq!(
        rc.unwrap()[1],
        RemoteCandidate {
            component: 2,
            address: "192.0.2.1".into(),
            port: 5001
        }
    );
}

#[test]
fn built_session_writes_and_parses() {
    let origin = Origin {
        username: "tandem".into(),
        session_id: 1,
        session_version: 1,
        nettype: "IN".into(),
        addrtype: "IP4".into(),
        address: "192.0.2.1".into(),
    };
    let mut sd = SessionDescription::new(origin, "-");
    let mut m = Media::new(MediaKind::Audio, 9, "UDP/TLS/RTP/SAVPF", vec!["111".into()]);
    m.attributes
        .push(TypedAttribute::Mid("audio".into()).to_attribute());
    m.attributes.push(Direction::SendOnly.to_attribute());
    m.attributes.push(
        TypedAttribute::Rtpmap(Rtpmap {
            pt: 111,
            encoding: "opus".into(),
            clock_rate: 48000,
            channels: Some(2),
        })
        .to_attribute(),
    );
    sd.media.push(m);
    let text = sd.to_string();
    assert_eq!(text, "v=0\r\no=tandem 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:audio\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n");
    assert_eq!(SessionDescription::parse(&text), Ok(sd));
}

#[test]
fn extmap_direction_and_attrs() {
    let e = Extmap::parse("2/recvonly urn:x attr1 attr2").unwrap();
    assert_eq!(
        e,
        Extmap {
            id: 2,
            direction: Some(Direction::RecvOnly),
            uri: "urn:x".into(),
            attributes: Some("attr1 attr2".into())
        }
    );
    assert_eq!(e.to_string(), "2/recvonly urn:x attr1 attr2");
}

#[test]
fn crypto_session_params_and_display() {
    let c = Crypto::parse("2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32 KDR=1 UNENCRYPTED_SRTCP").unwrap();
    assert_eq!(c.tag, 2);
    assert_eq!(c.session_params, ["KDR=1", "UNENCRYPTED_SRTCP"]);
    assert_eq!(c.to_string(), "2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32 KDR=1 UNENCRYPTED_SRTCP");
}

#[test]
fn several_fingerprints() {
    let sd = SessionDescription::parse(&format!(
        "{HEAD}m=audio 1 RTP/AVP 0\na=fingerprint:sha-1 AA:BB\na=fingerprint:sha-256 CC:DD\n"
    ))
    .unwrap();
    let f = sd.media[0].fingerprints();
    assert_eq!(f.len(), 2);
    assert_eq!(
        f[1],
        Fingerprint {
            hash: "sha-256".into(),
            value: "CC:DD".into()
        }
    );
    // Lower-case hex is outside RFC 8122's UHEX but deployed; it is kept as sent.
    let text = format!("{HEAD}a=fingerprint:sha-256 0a:bc:9F\n");
    let sd = SessionDescription::parse(&text).unwrap();
    assert_eq!(sd.fingerprints()[0].value, "0a:bc:9F");
    assert_eq!(sd.to_string(), text.replace('\n', "\r\n"));
}

#[test]
fn typed_attributes_write_back_to_themselves() {
    let mut seen = 0;
    for (name, _) in FIXTURES {
        let sd = fixture(name);
        let all = sd
            .attributes
            .iter()
            .chain(sd.media.iter().flat_map(|m| m.attributes.iter()));
        for a in all {
            let Some(t) = a.typed().unwrap() else {
                continue;
            };
            seen += 1;
            let back = t.to_attribute();
            assert_eq!(back.name, a.name, "{name}: {a}");
            assert_eq!(back.typed().unwrap().as_ref(), Some(&t), "{name}: {a}");
        }
    }
    assert!(seen > 150, "{seen}");
}

#[test]
fn fractional_ptime_and_loose_whitespace() {
    let text = "v=0\no=-  1 2 IN IP4 x\ns=-\nt=0  0\nm=audio  4000 RTP/AVP 0 8 \nc=IN IP4  x\nb=AS: 64\na=ptime:20.5\na=maxptime:40\n";
    let sd = SessionDescription::parse(text).unwrap();
    assert_eq!(sd.media[0].formats, ["0", "8"]);
    assert_eq!(sd.media[0].bandwidths[0].bandwidth, 64);
    let t: Vec<_> = sd.media[0].typed_attributes().collect();
    assert_eq!(t, [TypedAttribute::Ptime(20), TypedAttribute::Maxptime(40)]);
    assert_eq!(SessionDescription::parse(&sd.to_string()), Ok(sd));
    assert!(Attribute::new("ptime", "20.x").typed().is_err());
}

#[test]
fn fmtp_from_params() {
    let params = [
        FmtpParam {
            name: Some("minptime".into()),
            value: "10".into(),
        },
        FmtpParam {
            name: Some("useinbandfec".into()),
            value: "1".into(),
        },
    ];
    assert_eq!(
        Fmtp::from_params(111, &params).to_string(),
        "111 minptime=10; useinbandfec=1"
    );
    assert_eq!(Fmtp::from_params(111, &params).split_params(), params);
    let red = [FmtpParam {
        name: None,
        value: "0/103".into(),
    }];
    assert_eq!(Fmtp::from_params(99, &red).to_string(), "99 0/103");
}

// ---- sdpfrag (RFC 8840) ----

const FRAG: &str = "a=ice-options:trickle\r\na=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 RTP/AVP 0\r\na=mid:1\r\na=candidate:1 1 UDP 1658586367 198.51.100.33 49705 typ host\r\na=candidate:2 1 UDP 1658586367 192.0.2.1 9 typ srflx raddr 198.51.100.33 rport 49705\r\na=end-of-candidates\r\n";

#[test]
fn sdpfrag_round_trip() {
    let f = SdpFragment::parse(&FRAG.replace("\r\n", "\n")).unwrap();
    assert_eq!(f.attributes.len(), 3);
    assert_eq!(f.media[0].mid().as_deref(), Some("1"));
    assert_eq!(f.media[0].candidates().len(), 2);
    assert!(f.media[0]
        .typed_attributes()
        .any(|t| t == TypedAttribute::EndOfCandidates));
    assert_eq!(f.to_string(), FRAG);
    assert_eq!(SdpFragment::parse("").unwrap(), SdpFragment::default());
}

#[test]
fn sdpfrag_rejects_session_lines_and_bad_candidates() {
    let e = SdpFragment::parse("v=0\na=mid:0\n").unwrap_err();
    assert_eq!((e.line, e.kind), (1, SdpErrorKind::Unexpected('v')));
    let e = SdpFragment::parse("m=audio 9 RTP/AVP 0\na=mid:0\nt=0 0\n").unwrap_err();
    assert_eq!((e.line, e.kind), (3, SdpErrorKind::Unexpected('t')));
    let e = SdpFragment::parse("a=ice-ufrag:x\nm=audio 9 RTP/AVP 0\na=candidate:1 1 udp\n")
        .unwrap_err();
    assert_eq!(e.line, 3);
    assert!(matches!(e.kind, SdpErrorKind::BadAttribute { .. }));
}

/// Found by the sdpfrag_to_jingle fuzz target: a NUL inside an ice-pwd was accepted, and
/// credentials outside RFC 8839's ice-char set went on to Jingle.
#[test]
fn control_characters_and_non_ice_credentials_are_refused() {
    let e = SdpFragment::parse("a=ice-pwd:ab\0cd\nm=audio 9 RTP/AVP 0\n").unwrap_err();
    assert_eq!((e.line, e.kind), (1, SdpErrorKind::ForbiddenByte));
    let e = SdpFragment::parse("m=audio 9 RTP/AVP 0\na=mid:a\rb\n").unwrap_err();
    assert_eq!((e.line, e.kind), (2, SdpErrorKind::ForbiddenByte));
    for bad in [
        "a=ice-ufrag:ab cd",
        "a=ice-pwd:p\u{e9}wd",
        "a=ice-ufrag:x:y",
    ] {
        let e = SdpFragment::parse(&format!("{bad}\nm=audio 9 RTP/AVP 0\n")).unwrap_err();
        assert!(
            matches!(e.kind, SdpErrorKind::BadAttribute { .. }),
            "{bad}: {e}"
        );
    }
    assert!(SdpFragment::parse("a=ice-pwd:a+b/C9\nm=audio 9 RTP/AVP 0\n").is_ok());
    let e = SdpFragment::parse(
        "m=audio 9 RTP/AVP 0\na=candidate:1 1 UD\u{15} 1 192.0.2.1 9 typ host\n",
    )
    .unwrap_err();
    assert_eq!((e.line, e.kind), (2, SdpErrorKind::ForbiddenByte));
}

// ---- properties ----

const KNOWN_NAMES: &[&str] = &[
    "rtpmap",
    "fmtp",
    "ptime",
    "maxptime",
    "rtcp-fb",
    "extmap",
    "mid",
    "group",
    "ssrc",
    "ssrc-group",
    "msid",
    "rtcp",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "candidate",
    "remote-candidates",
    "fingerprint",
    "setup",
    "crypto",
    "zrtp-hash",
    "sctp-port",
    "sctpmap",
    "max-message-size",
];

proptest! {
    #[test]
    fn arbitrary_input_never_panics(s in "\\PC*") {
        let _ = SessionDescription::parse(&s);
        let _ = SdpFragment::parse(&s);
    }

    #[test]
    fn sdp_like_input_never_panics(lines in proptest::collection::vec("[vosctmab]=[ -~]{0,40}", 0..12)) {
        let s = lines.join("\n");
        if let Ok(sd) = SessionDescription::parse(&s) {
            prop_assert_eq!(SessionDescription::parse(&sd.to_string()), Ok(sd));
        }
        if let Ok(f) = SdpFragment::parse(&s) {
            prop_assert_eq!(SdpFragment::parse(&f.to_string()), Ok(f));
        }
    }

    #[test]
    fn typed_attributes_with_random_values(idx in 0..KNOWN_NAMES.len(), value in "[ -~]{0,60}", flag in any::<bool>()) {
        let name = KNOWN_NAMES[idx];
        let line = if flag { format!("a={name}") } else { format!("a={name}:{value}") };
        let text = format!("{HEAD}m=audio 1 RTP/AVP 0\n{line}\n");
        match SessionDescription::parse(&text) {
            Ok(sd) => {
                let t = sd.media[0].attributes[0].typed().unwrap().unwrap();
                prop_assert_eq!(t.to_attribute().typed().unwrap(), Some(t));
                prop_assert_eq!(SessionDescription::parse(&sd.to_string()), Ok(sd));
            }
            Err(e) => {
                prop_assert_eq!(e.line, 6);
                let is_attr_error = matches!(e.kind, SdpErrorKind::BadAttribute { .. });
                prop_assert!(is_attr_error, "{:?}", e);
            }
        }
    }

    #[test]
    fn mutated_fixtures_never_panic_and_round_trip(
        idx in 0..FIXTURES.len(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), 0..3u8, "[ -~]{0,12}"), 1..6),
    ) {
        let mut lines: Vec<String> = FIXTURES[idx].1.lines().map(str::to_string).collect();
        for (at, op, text) in edits {
            let i = at.index(lines.len().max(1)).min(lines.len().saturating_sub(1));
            match op {
                0 if !lines.is_empty() => { lines.remove(i); }
                1 => lines.insert(i, text),
                _ if !lines.is_empty() => lines[i].push_str(&text),
                _ => {}
            }
        }
        let text = lines.join("\n");
        if let Ok(sd) = SessionDescription::parse(&text) {
            prop_assert_eq!(SessionDescription::parse(&sd.to_string()), Ok(sd));
        }
        if let Ok(f) = SdpFragment::parse(&text) {
            prop_assert_eq!(SdpFragment::parse(&f.to_string()), Ok(f));
        }
    }

    #[test]
    fn fixtures_survive_mixed_line_endings(idx in 0..FIXTURES.len(), crlf in proptest::collection::vec(any::<bool>(), 64)) {
        let (name, text) = FIXTURES[idx];
        let mixed: String = text
            .split_inclusive('\n')
            .enumerate()
            .map(|(i, l)| if crlf[i % crlf.len()] { l.replace('\n', "\r\n") } else { l.to_string() })
            .collect();
        let parsed = SessionDescription::parse(&mixed).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
        prop_assert_eq!(&parsed, &SessionDescription::parse(text).unwrap());
        prop_assert_eq!(SessionDescription::parse(&parsed.to_string()), Ok(parsed));
    }
}
