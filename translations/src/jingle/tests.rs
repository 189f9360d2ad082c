//! Fixture round-trips (fixtures/jingle/, verbatim XEP examples), spot checks,
//! unknown-content preservation, malformed input and a no-panic proptest.

use super::*;
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/../fixtures/jingle/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn jingle(name: &str) -> Jingle {
    match parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}")) {
        JinglePayload::Jingle(j) => j,
        other => panic!("{name}: not a jingle: {other:?}"),
    }
}

fn jmi(name: &str) -> JingleMessage {
    match parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}")) {
        JinglePayload::Message(m) => m,
        other => panic!("{name}: not JMI: {other:?}"),
    }
}

fn rtp(c: &Content) -> &RtpDescription {
    match &c.description {
        Some(Description::Rtp(d)) => d,
        other => panic!("not RTP: {other:?}"),
    }
}

fn ice(c: &Content) -> &IceUdpTransport {
    match &c.transport {
        Some(Transport::IceUdp(t)) => t,
        other => panic!("not ICE-UDP: {other:?}"),
    }
}

fn raw_udp(c: &Content) -> &RawUdpTransport {
    match &c.transport {
        Some(Transport::RawUdp(t)) => t,
        other => panic!("not Raw UDP: {other:?}"),
    }
}

/// parse → write → parse gives the same model, and writing is idempotent.
fn roundtrip<T: PartialEq + std::fmt::Debug>(
    name: &str,
    xml: &str,
    parse: impl Fn(&str) -> Result<T, JingleError>,
    write: impl Fn(&T) -> String,
) -> T {
    let first = parse(xml).unwrap_or_else(|e| panic!("{name}: {e}"));
    let out = write(&first);
    let second = parse(&out).unwrap_or_else(|e| panic!("{name}: re-parse of {out}: {e}"));
    assert_eq!(first, second, "{name}: model changed through {out}");
    assert_eq!(out, write(&second), "{name}: writer not idempotent");
    first
}

// The XEP-0293 example closes <jingle> too early, leaving action/sid as text.
const XEP0293_TYPO: &str = "<jingle xmlns='urn:xmpp:jingle:1'>\n    action=";
const XEP0293_FIXED: &str = "<jingle xmlns='urn:xmpp:jingle:1'\n    action=";
// The XEP-0339 example uses a bogus namespace for <content>.
const XEP0339_BOGUS_NS: &str = "http://jabber.org/protocols/jingle";

#[test]
fn every_fixture_round_trips() {
    let dir = format!("{}/../fixtures/jingle", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 36, "fixture count changed: {names:?}");
    for name in &names {
        let xml = fixture(name);
        match name.as_str() {
            "xep0294_rtp_hdrext_offer.xml" => {
                roundtrip(name, &xml, RtpDescription::from_xml, RtpDescription::to_xml);
            }
            "xep0339_ssrc_group_fragment.xml" => {
                let fixed = xml.replace(XEP0339_BOGUS_NS, ns::JINGLE);
                roundtrip(name, &fixed, Content::from_xml, Content::to_xml);
            }
            "xep0293_rtcp_fb_sdp_mapping.xml" => {
                let fixed = xml.replace(XEP0293_TYPO, XEP0293_FIXED);
                roundtrip(name, &fixed, parse, JinglePayload::to_xml);
            }
            _ => {
                roundtrip(name, &xml, parse, JinglePayload::to_xml);
            }
        }
    }
}

#[test]
fn xep0293_verbatim_is_rejected_for_missing_action() {
    let err = parse(&fixture("xep0293_rtcp_fb_sdp_mapping.xml")).unwrap_err();
    assert_eq!(
        err,
        JingleError::MissingAttribute {
            element: "jingle",
            attribute: "action"
        }
    );
}

#[test]
fn xep0339_verbatim_content_namespace_is_rejected() {
    let err = Content::from_xml(&fixture("xep0339_ssrc_group_fragment.xml")).unwrap_err();
    assert!(
        matches!(err, JingleError::UnexpectedElement { ref ns, .. } if ns == XEP0339_BOGUS_NS),
        "{err:?}"
    );
}

#[test]
fn xep0166_initiate_stub() {
    let j = jingle("xep0166_session_initiate_stub.xml");
    assert_eq!(j.action, Action::SessionInitiate);
    assert_eq!(j.sid, "a73sjjvkla37jfea");
    assert_eq!(j.initiator.as_deref(), Some("romeo@montague.lit/orchard"));
    let d = rtp(&j.contents[0]);
    assert_eq!(d.media, "audio");
    assert_eq!(d.payload_types.len(), 6);
    let l16 = &d.payload_types[4];
    assert_eq!(
        (l16.id, l16.name.as_deref(), l16.clockrate, l16.channels),
        (103, Some("L16"), Some(16000), Some(2))
    );
    assert_eq!(d.payload_types[2].clockrate, None);
}

#[test]
fn xep0166_terminate_reasons() {
    for (file, cond) in [
        ("xep0166_terminate_busy.xml", ReasonCondition::Busy),
        ("xep0166_terminate_decline.xml", ReasonCondition::Decline),
        (
            "xep0166_terminate_incompatible_parameters.xml",
            ReasonCondition::IncompatibleParameters,
        ),
        (
            "xep0166_terminate_unsupported_applications.xml",
            ReasonCondition::UnsupportedApplications,
        ),
        (
            "xep0166_terminate_alternative_session.xml",
            ReasonCondition::AlternativeSession,
        ),
    ] {
        let j = jingle(file);
        assert_eq!(j.action, Action::SessionTerminate, "{file}");
        assert_eq!(j.reason.as_ref().map(|r| r.condition), Some(cond), "{file}");
    }
    let alt = jingle("xep0166_terminate_alternative_session.xml");
    assert_eq!(
        alt.reason.unwrap().alternative_sid.as_deref(),
        Some("b84tkkwlmb48kgfb")
    );
}

#[test]
fn xep0167_invalid_crypto_keeps_app_specific_reason() {
    let r = jingle("xep0167_terminate_invalid_crypto.xml")
        .reason
        .unwrap();
    assert_eq!(r.condition, ReasonCondition::SecurityError);
    assert_eq!(
        r.app_specific,
        vec![format!("<invalid-crypto xmlns=\"{}\"/>", ns::RTP_ERRORS)]
    );
}

#[test]
fn xep0167_sdes_crypto() {
    let j = jingle("xep0167_session_initiate_sdes_crypto.xml");
    let enc = rtp(&j.contents[0]).encryption.as_ref().unwrap();
    assert_eq!(enc.required, Some(true));
    let c = &enc.cryptos[0];
    assert_eq!(c.tag, 1);
    assert_eq!(c.crypto_suite, "AES_CM_128_HMAC_SHA1_80");
    assert_eq!(
        c.key_params,
        "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32"
    );
    assert_eq!(c.session_params.as_deref(), Some("KDR=1 UNENCRYPTED_SRTCP"));

    let acc = jingle("xep0167_session_accept_sdes_crypto.xml");
    assert_eq!(acc.responder.as_deref(), Some("juliet@capulet.lit/balcony"));
    let enc = rtp(&acc.contents[0]).encryption.as_ref().unwrap();
    assert_eq!(enc.required, None);
    assert_eq!(
        enc.cryptos[0].session_params.as_deref(),
        Some("KDR=1;UNENCRYPTED_SRTCP")
    );
}

#[test]
fn xep0167_session_info() {
    assert_eq!(
        jingle("xep0167_session_info_hold.xml").info,
        vec![SessionInfo::new(SessionInfoKind::Hold)]
    );
    assert_eq!(
        jingle("xep0167_session_info_ringing.xml").info[0].kind,
        SessionInfoKind::Ringing
    );
    let mute = &jingle("xep0167_session_info_mute.xml").info[0];
    assert_eq!(mute.kind, SessionInfoKind::Mute);
    assert_eq!(mute.creator, Some(Creator::Responder));
    assert_eq!(mute.name.as_deref(), Some("voice"));
}

#[test]
fn xep0167_content_actions() {
    let add = jingle("xep0167_content_add_video.xml");
    let d = rtp(&add.contents[0]);
    assert_eq!(
        d.bandwidth,
        Some(Bandwidth {
            bw_type: "AS".into(),
            value: 128
        })
    );
    assert_eq!(
        d.payload_types[0].parameters[0],
        Parameter {
            name: "height".into(),
            value: "600".into()
        }
    );
    assert_eq!(d.payload_types[0].parameters.len(), 5);
    // Old ice-udp:0 namespace is not ours: kept raw.
    assert!(
        matches!(&add.contents[0].transport, Some(Transport::Other(r)) if r.contains("ice-udp:0"))
    );

    let modify = jingle("xep0167_content_modify_senders.xml");
    assert_eq!(modify.contents[0].senders, Some(Senders::Initiator));
    assert!(modify.contents[0].description.is_none());

    let reject = jingle("xep0167_content_reject.xml");
    assert_eq!(reject.action, Action::ContentReject);
    assert_eq!(
        reject.reason.unwrap().condition,
        ReasonCondition::FailedApplication
    );
}

#[test]
fn xep0176_candidates() {
    let j = jingle("xep0176_session_initiate_iceudp_candidates.xml");
    let c = &j.contents[0];
    assert_eq!(c.name, "this-is-the-audio-content");
    assert_eq!(c.creator, Creator::Initiator);
    let t = ice(c);
    assert_eq!(t.ufrag.as_deref(), Some("8hhy"));
    assert_eq!(t.pwd.as_deref(), Some("asd88fgpdd777uzjYhagZg"));
    assert_eq!(t.candidates.len(), 2);
    let host = &t.candidates[0];
    assert_eq!(
        (
            host.component,
            host.foundation.as_str(),
            host.generation,
            host.id.as_str()
        ),
        (1, "1", 0, "el0747fg11")
    );
    assert_eq!(
        (host.ip.as_str(), host.port, host.priority),
        ("10.0.1.1", 8998, 2130706431)
    );
    assert_eq!(
        (host.protocol.as_str(), host.candidate_type, host.network),
        ("udp", CandidateType::Host, Some(1))
    );
    let srflx = &t.candidates[1];
    assert_eq!(srflx.candidate_type, CandidateType::Srflx);
    assert_eq!(
        (srflx.rel_addr.as_deref(), srflx.rel_port),
        (Some("10.0.1.1"), Some(8998))
    );
}

#[test]
fn xep0176_transport_info_variants() {
    let rc = jingle("xep0176_transport_info_remote_candidate.xml");
    let r = &ice(&rc.contents[0]).remote_candidates[0];
    assert_eq!((r.component, r.ip.as_str(), r.port), (1, "10.0.1.2", 9001));

    let trickle = jingle("xep0176_transport_info_trickle.xml");
    let c = &ice(&trickle.contents[0]).candidates[0];
    assert_eq!(c.ip, "2001:db8::9:1");
    assert_eq!(c.priority, 21149780477, "XEP example priority exceeds u32");

    let restart = jingle("xep0176_transport_info_ice_restart.xml");
    let t = ice(&restart.contents[0]);
    assert_eq!(
        (t.ufrag.as_deref(), t.candidates[0].generation),
        (Some("g7qs"), 1)
    );

    let replace = jingle("xep0176_transport_replace_rawudp.xml");
    assert_eq!(replace.action, Action::TransportReplace);
    let rc = &raw_udp(&replace.contents[0]).candidates[0];
    assert_eq!((rc.component, rc.port), (None, 13540));
    assert_eq!(
        jingle("xep0176_transport_accept.xml").contents[0].creator,
        Creator::Responder
    );
}

#[test]
fn xep0177_raw_udp() {
    let j = jingle("xep0177_session_accept_rawudp.xml");
    let t = raw_udp(&j.contents[0]);
    assert_eq!(t.candidates.len(), 2);
    assert_eq!(t.candidates[1].component, Some(2));
    assert_eq!(t.candidates[1].id, "hg92lsn10b");
    assert_eq!(
        (t.candidates[1].ip.as_str(), t.candidates[1].port),
        ("208.68.163.214", 9877)
    );
    assert_eq!(
        raw_udp(&jingle("xep0177_session_initiate_rawudp.xml").contents[0])
            .candidates
            .len(),
        1
    );
}

#[test]
fn xep0262_zrtp() {
    let j = jingle("xep0262_session_initiate_zrtp.xml");
    let enc = rtp(&j.contents[0]).encryption.as_ref().unwrap();
    assert_eq!(enc.required, Some(true));
    assert_eq!(enc.zrtp_hashes[0].version, "1.10");
    assert_eq!(
        enc.zrtp_hashes[0].value,
        "fe30efd02423cb054e50efd0248742ac7a52c8f91bc2df881ae642c371ba46df"
    );
}

#[test]
fn xep0293_rtcp_fb() {
    let fixed = fixture("xep0293_rtcp_fb_sdp_mapping.xml").replace(XEP0293_TYPO, XEP0293_FIXED);
    let j = Jingle::from_xml(&fixed).unwrap();
    let video = rtp(&j.contents[1]);
    assert_eq!(
        video.rtcp_fbs,
        vec![RtcpFb {
            fb_type: "nack".into(),
            subtype: None,
            unknown_attrs: vec![],
            unknown: vec![]
        }]
    );
    let h263 = &video.payload_types[0];
    assert_eq!(h263.rtcp_fbs[0].subtype.as_deref(), Some("rpsi"));
    assert_eq!(h263.rtcp_fb_trr_int, Some(100));
}

#[test]
fn xep0294_hdrext() {
    let d = RtpDescription::from_xml(&fixture("xep0294_rtp_hdrext_offer.xml")).unwrap();
    assert_eq!(d.hdrexts.len(), 3);
    assert_eq!(
        (d.hdrexts[1].id, d.hdrexts[1].uri.as_str()),
        (4907, "urn:ietf:params:rtp-hdrext:ntp-64")
    );
    assert_eq!(d.hdrexts[0].senders, None);
    assert!(d.extmap_allow_mixed);
    // The XEP example has no senders; check a written one survives.
    let mut d2 = d.clone();
    d2.hdrexts[0].senders = Some(Senders::Initiator);
    d2.hdrexts[0].parameters.push(SourceParameter {
        name: "p".into(),
        value: None,
    });
    let back = RtpDescription::from_xml(&d2.to_xml()).unwrap();
    assert_eq!(back.hdrexts[0].senders, Some(Senders::Initiator));
    assert_eq!(back, d2);
}

#[test]
fn xep0320_fingerprints() {
    let init = jingle("xep0320_session_initiate_dtls.xml");
    let f = &ice(&init.contents[0]).fingerprints[0];
    assert_eq!((f.hash.as_str(), f.setup), ("sha-256", Setup::Actpass));
    assert!(f.value.starts_with("02:1A:CC:54") && f.value.ends_with("19:B2"));
    let acc = jingle("xep0320_session_accept_dtls.xml");
    assert_eq!(ice(&acc.contents[0]).fingerprints[0].setup, Setup::Active);
}

#[test]
fn xep0339_ssrc_groups() {
    let fixed = fixture("xep0339_ssrc_group_fragment.xml").replace(XEP0339_BOGUS_NS, ns::JINGLE);
    let c = Content::from_xml(&fixed).unwrap();
    let d = rtp(&c);
    assert_eq!(d.ssrc_groups.len(), 2);
    assert_eq!(d.ssrc_groups[0].semantics, "FID");
    assert_eq!(d.ssrc_groups[0].sources, vec![2301230316, 386328120]);
    assert_eq!(d.sources.len(), 4);
    assert_eq!(d.sources[3].ssrc, 2613715171);
    assert_eq!(
        d.sources[0].parameters[0],
        SourceParameter {
            name: "cname".into(),
            value: Some("T5qvrIZj42v//eYQ".into())
        }
    );
}

#[test]
fn xep0343_sctpmap_and_foreign_description() {
    let j = jingle("xep0343_session_initiate_datachannel.xml");
    let t = ice(&j.contents[0]);
    assert_eq!(t.sctpmaps[0].number, 5000);
    assert_eq!(t.sctpmaps[0].protocol, "webrtc-datachannel");
    assert_eq!(t.sctpmaps[0].streams, Some(1024));
    assert_eq!(t.fingerprints.len(), 1);
    match &j.contents[0].description {
        Some(Description::Other(raw)) => {
            assert!(
                raw.contains("urn:xmpp:jingle:apps:file-transfer:3")
                    && raw.contains("<size>1022</size>")
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn xep0353_jmi() {
    let p = jmi("xep0353_propose.xml");
    assert_eq!(
        (p.kind, p.id.as_str()),
        (JmiKind::Propose, "ca3cf894-5325-482f-a412-a6e9f832298d")
    );
    assert!(matches!(&p.descriptions[..], [Description::Rtp(d)] if d.media == "audio"));
    assert_eq!(jmi("xep0353_proceed.xml").kind, JmiKind::Proceed);
    let r = jmi("xep0353_reject.xml");
    assert_eq!(r.kind, JmiKind::Reject);
    let reason = r.reason.unwrap();
    assert_eq!(
        (reason.condition, reason.text.as_deref()),
        (ReasonCondition::Busy, Some("Busy"))
    );
    let f = jmi("xep0353_finish.xml");
    assert_eq!(f.kind, JmiKind::Finish);
    assert_eq!(f.reason.unwrap().condition, ReasonCondition::Success);
}

#[test]
fn unknown_elements_and_attributes_are_kept() {
    let xml = "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s1' x-foo='1' xml:lang='en'>\
        <content creator='initiator' name='a' x-bar='2'>\
          <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio' weird='w'>\
            <payload-type id='111' name='opus' clockrate='48000' channels='2' x-pt='q'/>\
            <x-rtcp-thing/>\
            <rid xmlns='urn:example:rid' id='r0'>text &amp; more</rid>\
          </description>\
          <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='u' pwd='p' iceLite='true'>\
            <candidate component='1' foundation='f' generation='0' id='c' ip='::1' port='9' priority='1' \
              protocol='tcp' type='host' tcptype='active' x-net='y'/>\
            <end-of-candidates xmlns='urn:example:eoc'/>\
          </transport>\
          <security xmlns='urn:example:sec'/>\
        </content>\
        <group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'><content name='a'/></group>\
        <p:ext xmlns:p='urn:example:ext' p:attr='v'><p:inner/></p:ext>\
      </jingle>";
    let j = roundtrip("unknown", xml, Jingle::from_xml, Jingle::to_xml);
    assert_eq!(
        j.unknown_attrs,
        vec![
            ("x-foo".into(), "1".into()),
            (
                "{http://www.w3.org/XML/1998/namespace}lang".into(),
                "en".into()
            )
        ]
    );
    let c = &j.contents[0];
    assert_eq!(c.unknown_attrs, vec![("x-bar".into(), "2".into())]);
    assert_eq!(
        c.unknown,
        vec!["<security xmlns=\"urn:example:sec\"/>".to_string()]
    );
    let d = rtp(c);
    assert_eq!(d.unknown_attrs, vec![("weird".into(), "w".into())]);
    assert_eq!(
        d.payload_types[0].unknown_attrs,
        vec![("x-pt".into(), "q".into())]
    );
    assert_eq!(
        d.unknown[0],
        format!("<x-rtcp-thing xmlns=\"{}\"/>", ns::RTP)
    );
    assert_eq!(
        d.unknown[1],
        "<rid xmlns=\"urn:example:rid\" id=\"r0\">text &amp; more</rid>"
    );
    let t = ice(c);
    assert_eq!(t.unknown_attrs, vec![("iceLite".into(), "true".into())]);
    assert_eq!(t.candidates[0].tcptype.as_deref(), Some("active"));
    assert_eq!(
        t.candidates[0].unknown_attrs,
        vec![("x-net".into(), "y".into())]
    );
    assert_eq!(
        t.unknown,
        vec!["<end-of-candidates xmlns=\"urn:example:eoc\"/>".to_string()]
    );
    assert_eq!(j.groups[0].contents, vec!["a".to_string()]);
    // Prefixed foreign element: namespace made explicit, prefixed attribute kept.
    assert_eq!(j.unknown.len(), 1);
    let ext = &j.unknown[0];
    assert!(ext.starts_with("<ext xmlns=\"urn:example:ext\""), "{ext}");
    assert!(ext.contains("<inner/>"), "{ext}");
    let out = j.to_xml();
    assert!(out.contains("xml:lang=\"en\""), "{out}");
    assert!(out.contains("=\"v\""), "{out}");
}

#[test]
fn prefixes_are_resolved() {
    let xml =
        "<j:jingle xmlns:j='urn:xmpp:jingle:1' xmlns:r='urn:xmpp:jingle:apps:rtp:1' action='session-accept' sid='s'>\
        <j:content creator='responder' name='v'><r:description media='video'><r:rtcp-mux/></r:description></j:content>\
        <j:reason><j:timeout/></j:reason></j:jingle>";
    let j = Jingle::from_xml(xml).unwrap();
    assert!(rtp(&j.contents[0]).rtcp_mux);
    assert_eq!(j.reason.unwrap().condition, ReasonCondition::Timeout);
    // Same local names in the wrong namespace are not Jingle.
    let wrong = "<jingle xmlns='urn:example:not-jingle' action='session-accept' sid='s'/>";
    assert!(matches!(
        Jingle::from_xml(wrong),
        Err(JingleError::UnexpectedElement { .. })
    ));
}

#[test]
fn built_model_writes_and_reads_back() {
    let mut j = Jingle::new(Action::SessionTerminate, "sid1");
    let mut r = Reason::new(ReasonCondition::Gone);
    r.text = Some("bye <now> & 'then'".into());
    j.reason = Some(r);
    let back = Jingle::from_xml(&j.to_xml()).unwrap();
    assert_eq!(back, j);
}

fn err(xml: &str) -> JingleError {
    match parse(xml) {
        Err(e) => e,
        Ok(v) => panic!("accepted {xml}: {v:?}"),
    }
}

#[test]
fn malformed_inputs_are_typed_errors() {
    const J: &str = "xmlns='urn:xmpp:jingle:1'";
    assert_eq!(
        err(&format!("<jingle {J} sid='s'/>")),
        JingleError::MissingAttribute {
            element: "jingle",
            attribute: "action"
        }
    );
    assert_eq!(
        err(&format!("<jingle {J} action='session-accept'/>")),
        JingleError::MissingAttribute {
            element: "jingle",
            attribute: "sid"
        }
    );
    assert_eq!(
        err(&format!("<jingle {J} action='session-dance' sid='s'/>")),
        JingleError::InvalidAttribute {
            element: "jingle",
            attribute: "action",
            value: "session-dance".into()
        }
    );
    let content = |inner: &str| {
        format!("<jingle {J} action='session-initiate' sid='s'><content creator='initiator' name='a'>{inner}</content></jingle>")
    };
    assert_eq!(
        err(&content(
            "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='300'/></description>"
        )),
        JingleError::InvalidAttribute {
            element: "payload-type",
            attribute: "id",
            value: "300".into()
        }
    );
    assert_eq!(
        err(&content(
            "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='101'><parameter name='events'/></payload-type></description>"
        )),
        JingleError::MissingAttribute { element: "parameter", attribute: "value" }
    );
    assert_eq!(
        err(&content(
            "<description xmlns='urn:xmpp:jingle:apps:rtp:1'/>"
        )),
        JingleError::MissingAttribute {
            element: "description",
            attribute: "media"
        }
    );
    assert_eq!(
        err(&content("<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate component='1' foundation='1' generation='0' id='x' ip='1.2.3.4' port='99999' priority='1' protocol='udp' type='host'/></transport>")),
        JingleError::InvalidAttribute { element: "candidate", attribute: "port", value: "99999".into() }
    );
    assert_eq!(
        err(&content("<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate component='1' foundation='1' generation='0' id='x' ip='1.2.3.4' port='9' priority='1' protocol='udp' type='bogus'/></transport>")),
        JingleError::InvalidAttribute { element: "candidate", attribute: "type", value: "bogus".into() }
    );
    assert_eq!(
        err(&content("<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256'>AA</fingerprint></transport>")),
        JingleError::MissingAttribute { element: "fingerprint", attribute: "setup" }
    );
    assert_eq!(
        err(&content("<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><bandwidth type='AS'>lots</bandwidth></description>")),
        JingleError::InvalidText { element: "bandwidth", value: "lots".into() }
    );
    assert_eq!(
        err(&content("<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><encryption><crypto tag='x' crypto-suite='s' key-params='k'/></encryption></description>")),
        JingleError::InvalidAttribute { element: "crypto", attribute: "tag", value: "x".into() }
    );
    assert_eq!(
        err(&format!(
            "<jingle {J} action='session-initiate' sid='s'><content name='a'/></jingle>"
        )),
        JingleError::MissingAttribute {
            element: "content",
            attribute: "creator"
        }
    );
    assert_eq!(
        err(&format!(
            "<jingle {J} action='session-terminate' sid='s'><reason><text>x</text></reason></jingle>"
        )),
        JingleError::MissingChild {
            element: "reason",
            child: "condition"
        }
    );
    assert_eq!(
        err("<propose xmlns='urn:xmpp:jingle-message:0'/>"),
        JingleError::MissingAttribute {
            element: "jmi",
            attribute: "id"
        }
    );
    assert!(matches!(
        err("<jingle xmlns='urn:xmpp:jingle:1' action='a' sid='s'>"),
        JingleError::Xml(_)
    ));
    assert!(matches!(err("<a></b>"), JingleError::Xml(_)));
    assert!(matches!(err("<x:jingle action='a'/>"), JingleError::Xml(_)));
    assert_eq!(err(""), JingleError::Empty);
    assert!(matches!(
        err(&"<a>".repeat(10_000)),
        JingleError::TooDeep(_)
    ));
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,400}") {
        let _ = parse(&s);
        let _ = Content::from_xml(&s);
        let _ = RtpDescription::from_xml(&s);
    }

    #[test]
    fn xml_ish_strings_never_panic(s in "[<>/='a-z:\\- &;#0-9\"]{0,300}") {
        let _ = parse(&s);
        let wrapped = format!("<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s'>{s}</jingle>");
        if let Ok(p) = parse(&wrapped) {
            // Whatever parses must write back to something that parses to the same model.
            prop_assert_eq!(parse(&p.to_xml()).ok(), Some(p));
        }
    }
}

#[test]
fn unknown_content_of_leaf_elements_is_kept() {
    let xml = "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s'>\
        <content creator='initiator' name='a'>\
          <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\
            <payload-type id='0'><parameter name='a' value='b' x='y'/><parameter name='c' value='d'/></payload-type>\
            <bandwidth type='TIAS' x='1'>64000</bandwidth>\
            <encryption><crypto tag='1' crypto-suite='s' key-params='k'><ext xmlns='urn:example'/></crypto></encryption>\
          </description>\
          <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>\
            <candidate component='1' foundation='1' generation='0' id='x' ip='1.2.3.4' port='9' priority='1' \
              protocol='udp' type='host'><ext xmlns='urn:example'/></candidate>\
          </transport>\
        </content>\
        <mute xmlns='urn:xmpp:jingle:apps:rtp:info:1'><ext xmlns='urn:example'/></mute>\
      </jingle>";
    let j = roundtrip("leaf", xml, Jingle::from_xml, Jingle::to_xml);
    let d = rtp(&j.contents[0]);
    let pt = &d.payload_types[0];
    assert_eq!(
        pt.parameters,
        vec![Parameter {
            name: "c".into(),
            value: "d".into()
        }]
    );
    assert_eq!(pt.unknown.len(), 1);
    assert!(pt.unknown[0].contains("x=\"y\""));
    assert_eq!(d.bandwidth, None);
    assert!(d.unknown[0].contains("64000"));
    let ext = "<ext xmlns=\"urn:example\"/>".to_string();
    assert_eq!(
        d.encryption.as_ref().unwrap().cryptos[0].unknown,
        vec![ext.clone()]
    );
    assert_eq!(ice(&j.contents[0]).candidates[0].unknown, vec![ext.clone()]);
    assert_eq!(j.info[0].unknown, vec![ext]);
}

/// Found by the jingle_parse fuzz target: a namespace name with a character XML escapes
/// (`>` is legal raw in an attribute value) changed on every round trip.
#[test]
fn namespace_names_with_escaped_characters_round_trip() {
    for xmlns in ["urn:x:dtls-sctp>1", "urn:x:a&amp;b", "urn:x:&lt;q&gt;"] {
        let xml = format!(
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s'><extra xmlns='{xmlns}'/></jingle>"
        );
        let first = parse(&xml).unwrap();
        let again = parse(&first.to_xml()).unwrap();
        assert_eq!(first, again, "{xmlns}");
    }
}

/// Found by the jingle_parse fuzz target: names quick-xml tolerates but XML forbids.
#[test]
fn names_that_are_not_ncnames_are_malformed_xml() {
    for bad in [
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s'><xmlns:a:b xmlns='urn:x'/></jingle>",
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s'><x xmlns='urn:x' v\u{f}a='1'/></jingle>",
    ] {
        assert!(
            matches!(parse(bad), Err(JingleError::Xml(_))),
            "{bad:?}: {:?}",
            parse(bad)
        );
    }
}

/// Elements without a XEP that deployed clients use (StanzaJS: rtcp-reduced-size, msid
/// stream, gathering-complete) and tandem's SDP attribute carrier.
#[test]
fn non_xep_elements_tandem_maps() {
    let xml = "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'>\
        <content creator='initiator' name='v'>\
          <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
            <payload-type id='96' name='VP8' clockrate='90000'/>\
            <rtcp-reduced-size/>\
            <stream xmlns='urn:xmpp:jingle:apps:rtp:msid:0' id='s1' track='t1'/>\
            <stream xmlns='urn:xmpp:jingle:apps:rtp:msid:0' id='s2'/>\
          </description>\
          <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='u' pwd='p'>\
            <remote-candidate component='1' ip='192.0.2.3' port='5000'/>\
            <remote-candidate component='2' ip='192.0.2.3' port='5001'/>\
            <gathering-complete/>\
          </transport>\
          <attribute xmlns='urn:x-tandem:sdp:0' name='ice-lite' level='session'/>\
          <attribute xmlns='urn:x-tandem:sdp:0' name='rid' value='1 send'/>\
          <attribute xmlns='urn:x-tandem:sdp:0' name='odd' level='media'/>\
        </content>\
      </jingle>";
    let j = roundtrip("non-xep", xml, Jingle::from_xml, Jingle::to_xml);
    let c = &j.contents[0];
    let d = rtp(c);
    assert!(d.rtcp_reduced_size);
    assert_eq!(d.streams.len(), 2);
    assert_eq!(d.streams[1].track, None);
    let t = ice(c);
    assert!(t.gathering_complete);
    assert_eq!(t.remote_candidates.len(), 2);
    assert_eq!(c.sdp_attributes.len(), 2);
    assert!(c.sdp_attributes[0].session_level);
    assert_eq!(c.sdp_attributes[1].value.as_deref(), Some("1 send"));
    // A level this model cannot write back stays a raw unknown child.
    assert_eq!(c.unknown.len(), 1);
    assert!(c.unknown[0].contains("odd"));
}

/// Tiny deterministic generator for XML-ish documents (xorshift), for the fast-path check.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn chance(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    /// One element with random namespace declarations, attributes (values with
    /// references, tabs, newlines), text, comments, CDATA and now and then a wrong end tag.
    fn element(&mut self, depth: usize, out: &mut String) {
        const NAMES: &[&str] = &[
            "jingle",
            "content",
            "description",
            "transport",
            "payload-type",
            "parameter",
            "candidate",
            "fingerprint",
            "reason",
            "text",
            "success",
            "mute",
            "zrtp-hash",
            "bandwidth",
            "rtcp-mux",
            "x",
            "a.b",
            "_u",
            "y-z",
            "é",
        ];
        const NSS: &[&str] = &[
            ns::JINGLE,
            ns::RTP,
            ns::ICE_UDP,
            ns::DTLS,
            ns::RTP_INFO,
            ns::JMI,
            "urn:other",
            "urn:a&amp;b",
            "",
        ];
        const ATTRS: &[&str] = &[
            "action", "sid", "creator", "name", "media", "id", "type", "value", "x", "xmlns",
            "xml:lang", "p:q", "xmlns:p", "a1", "-b",
        ];
        const VALUES: &[&str] = &[
            "session-initiate",
            "s",
            "initiator",
            "audio",
            "1",
            "x&amp;y",
            "&lt;&gt;",
            "&apos;&quot;",
            "&#65;",
            "&bogus;",
            " sp ",
            "t\tab",
            "n\nl",
            "",
            "é",
            "a>b",
            "a<b",
            "c\r",
        ];
        const TEXTS: &[&str] = &[
            "",
            "\n  ",
            "hello",
            "&amp;",
            "&lt;x&gt;",
            "&#x41;",
            "<![CDATA[c<d]]>",
            "<!-- c -->",
            "]]>",
            "\r\n",
            "é",
            ">",
            "<?pi x?>",
            "&nope;",
        ];
        let name = self.pick(NAMES);
        let prefixed = self.chance(25);
        out.push('<');
        if prefixed {
            out.push_str("p:");
        }
        out.push_str(name);
        if prefixed || self.chance(3) {
            let colon = if prefixed { ":p" } else { "" };
            out.push_str(&format!(" xmlns{colon}='{}'", self.pick(NSS)));
        }
        for _ in 0..self.next() % 5 {
            let sep = if self.chance(15) {
                "\n "
            } else if self.chance(30) {
                ""
            } else {
                " "
            };
            let q = if self.chance(4) { '"' } else { '\'' };
            let (k, v) = (self.pick(ATTRS), self.pick(VALUES));
            out.push_str(&format!("{sep}{k}={q}{v}{q}"));
        }
        if self.chance(20) {
            out.push(' ');
        }
        if depth > 5 || self.chance(3) {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for _ in 0..self.next() % 5 {
            if self.chance(3) {
                out.push_str(self.pick(TEXTS));
            } else {
                self.element(depth + 1, out);
            }
        }
        out.push_str("</");
        if prefixed {
            out.push_str("p:");
        }
        out.push_str(if self.chance(60) { "zz" } else { name });
        if self.chance(40) {
            out.push(' ');
        }
        out.push('>');
    }
}

/// The fast reader either gives up or returns exactly what the full reader returns.
#[test]
fn fast_reader_agrees_with_full_reader() {
    let check = |s: &str| -> bool {
        match xml::parse_fast(s) {
            Some(fast) => {
                assert_eq!(Ok(fast), xml::parse_full(s), "fast path differs on {s:?}");
                true
            }
            None => false,
        }
    };
    let dir = format!("{}/../fixtures/jingle", env!("CARGO_MANIFEST_DIR"));
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "xml") {
            let text = std::fs::read_to_string(&path).unwrap();
            check(&text);
            // What the writer produces is what the fast path is for.
            if let Ok(p) = parse(&text) {
                assert!(check(&p.to_xml()), "fast path gave up on written {path:?}");
            }
        }
    }
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let (mut fast, mut total) = (0, 0);
    for _ in 0..20_000 {
        let mut s = String::new();
        if g.chance(10) {
            s.push_str(g.pick(&["  ", "\n", "<?xml version='1.0'?>", "x", "<!-- c -->"]));
        }
        if g.chance(2) {
            s.push_str("<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'>");
            for _ in 0..g.next() % 4 {
                g.element(1, &mut s);
            }
            s.push_str("</jingle>");
        } else {
            g.element(0, &mut s);
        }
        if g.chance(10) {
            s.push_str(g.pick(&["  ", "\n", "x", "<a/>", "<!-- c -->", "\u{a0}"]));
        }
        total += 1;
        if check(&s) {
            fast += 1;
        }
    }
    // The generator must exercise both paths.
    assert!(
        fast > total / 20 && fast < total,
        "fast path took {fast} of {total}"
    );
}
