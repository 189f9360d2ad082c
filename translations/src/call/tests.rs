//! Whole calls on a virtual clock: every path of issue 5 that the call itself decides.

use std::time::{Duration, Instant};

use super::*;
use crate::jingle::{self, Action, Jingle, JinglePayload, ReasonCondition, Senders, Transport};
use crate::sdp::{Direction, SdpFragment, SessionDescription};

const PHONE_OFFER: &str =
    "v=0\r\no=- 1 1 IN IP4 192.0.2.55\r\ns=-\r\nc=IN IP4 192.0.2.55\r\nt=0 0\r\n\
    m=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";

const SID: &str = "sid1";

fn jingle(xml: &str) -> Jingle {
    match jingle::parse(xml).unwrap() {
        JinglePayload::Jingle(j) => j,
        JinglePayload::Message(_) => panic!("not jingle"),
    }
}

fn parse_sdp(text: &str) -> SessionDescription {
    SessionDescription::parse(text).unwrap()
}

fn raw_udp_content(ip: &str, port: u16) -> String {
    format!(
        "<content creator='initiator' name='audio'>\
           <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\
             <payload-type id='0' name='PCMU' clockrate='8000'/></description>\
           <transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'>\
             <candidate component='1' generation='0' id='c1' ip='{ip}' port='{port}'/></transport>\
         </content>"
    )
}

fn action(sid: &str, action: &str, body: &str) -> Jingle {
    jingle(&format!(
        "<jingle xmlns='urn:xmpp:jingle:1' action='{action}' sid='{sid}'>{body}</jingle>"
    ))
}

fn info(kind: &str) -> Jingle {
    action(
        SID,
        "session-info",
        &format!("<{kind} xmlns='urn:xmpp:jingle:apps:rtp:info:1'/>"),
    )
}

fn terminate(reason: &str) -> Jingle {
    action(
        SID,
        "session-terminate",
        &format!("<reason><{reason}/></reason>"),
    )
}

fn drain(call: &mut Call) -> Vec<Output> {
    std::iter::from_fn(|| call.poll_output()).collect()
}

fn sip_actions(outputs: &[Output]) -> Vec<&SipAction> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Sip(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn jingles(outputs: &[Output]) -> Vec<&Jingle> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Jingle(j) => Some(j),
            _ => None,
        })
        .collect()
}

fn record(outputs: &[Output]) -> &CallRecord {
    outputs
        .iter()
        .find_map(|o| match o {
            Output::Ended(r) => Some(r),
            _ => None,
        })
        .expect("the call ended")
}

fn reason(j: &Jingle) -> ReasonCondition {
    j.reason.as_ref().unwrap().condition
}

/// The Jingle callee accepts with a Raw UDP candidate; outputs are drained.
fn accept_raw_udp(call: &mut Call, now: Instant) {
    let accept = action(
        SID,
        "session-accept",
        &raw_udp_content("198.51.100.9", 7000),
    );
    call.handle_jingle(now, &accept).unwrap();
    drain(call);
}

/// A SIP caller's call, ringing alice's phone resource (its session-initiate queued).
fn sip_call(now: Instant) -> Call {
    Call::from_sip(
        now,
        CallConfig::default(),
        SID,
        "+15551234@sip.example.test",
        "alice@example.test/phone",
        &parse_sdp(PHONE_OFFER),
    )
    .unwrap()
}

/// A SIP caller's call, rung and answered by a Jingle client with Raw UDP.
fn answered_sip_call(now: Instant) -> Call {
    let mut call = sip_call(now);
    drain(&mut call);
    let accept = action(
        SID,
        "session-accept",
        &raw_udp_content("198.51.100.9", 7000),
    );
    call.handle_jingle(now, &accept).unwrap();
    drain(&mut call);
    call
}

#[test]
fn sip_caller_rings_then_is_answered_then_hangs_up() {
    let t0 = Instant::now();
    let mut call = sip_call(t0);
    let out = drain(&mut call);
    let initiate = jingles(&out)[0];
    assert_eq!(initiate.action, Action::SessionInitiate);
    assert_eq!(
        initiate.initiator.as_deref(),
        Some("+15551234@sip.example.test")
    );
    assert!(matches!(
        initiate.contents[0].transport,
        Some(Transport::RawUdp(_))
    ));
    assert_eq!(call.poll_timeout(), Some(t0 + Duration::from_secs(60)));

    let t1 = t0 + Duration::from_secs(1);
    call.handle_jingle(t1, &info("ringing")).unwrap();
    call.handle_jingle(t1, &info("ringing")).unwrap();
    let out = drain(&mut call);
    assert_eq!(
        sip_actions(&out),
        [&SipAction::Provisional { status: 180 }],
        "only the first ringing goes to SIP"
    );

    let t2 = t0 + Duration::from_secs(3);
    let accept = action(
        SID,
        "session-accept",
        &raw_udp_content("198.51.100.9", 7000),
    );
    call.handle_jingle(t2, &accept).unwrap();
    let out = drain(&mut call);
    let [SipAction::Accept { sdp }] = sip_actions(&out)[..] else {
        panic!("200 expected: {out:?}")
    };
    let text = sdp.to_string();
    assert!(text.contains("m=audio 7000 RTP/AVP 0"), "{text}");
    assert!(text.contains("c=IN IP4 198.51.100.9"), "{text}");

    call.handle_sip(t2, SipEvent::Acked);
    let t3 = t0 + Duration::from_secs(30);
    call.handle_sip(t3, SipEvent::Bye { cause: None });
    let out = drain(&mut call);
    assert_eq!(reason(jingles(&out)[0]), ReasonCondition::Success);
    let r = record(&out);
    assert_eq!(
        (r.origin, r.ringing, r.answer, r.end, r.status),
        (Origin::Sip, Some(t1), Some(t2), t3, 200)
    );
    assert!(call.is_ended());
    assert_eq!(
        call.handle_jingle(t3, &info("ringing")),
        Err(JingleRefusal::UnknownSession)
    );
}

#[test]
fn sip_caller_endings_before_answer() {
    let t0 = Instant::now();
    let new = || {
        let mut c = Call::from_sip(
            t0,
            CallConfig::default(),
            SID,
            "a@sip.example.test",
            "alice@example.test",
            &parse_sdp(PHONE_OFFER),
        )
        .unwrap();
        drain(&mut c);
        c
    };
    // The callee declines or is busy: the caller gets the mapped status.
    for (jingle_reason, status) in [
        ("busy", 486),
        ("decline", 603),
        ("incompatible-parameters", 488),
    ] {
        let mut call = new();
        call.handle_jingle(t0, &terminate(jingle_reason)).unwrap();
        let out = drain(&mut call);
        assert_eq!(
            sip_actions(&out),
            [&SipAction::Reject { status }],
            "{jingle_reason}"
        );
        assert_eq!(record(&out).status, status);
    }
    // The caller gives up.
    let mut call = new();
    call.handle_sip(t0, SipEvent::Cancelled);
    let out = drain(&mut call);
    assert_eq!(reason(jingles(&out)[0]), ReasonCondition::Cancel);
    assert_eq!(record(&out).status, 487);
    // Nobody answers: 480 after the ring timeout, and the Jingle side is told.
    let mut call = new();
    let deadline = call.poll_timeout().unwrap();
    call.handle_timeout(deadline - Duration::from_millis(1));
    assert!(drain(&mut call).is_empty());
    call.handle_timeout(deadline);
    let out = drain(&mut call);
    assert_eq!(reason(jingles(&out)[0]), ReasonCondition::Timeout);
    assert_eq!(sip_actions(&out), [&SipAction::Reject { status: 480 }]);
    // The XMPP client disconnects while ringing.
    let mut call = new();
    call.handle_xmpp_gone(t0);
    let out = drain(&mut call);
    assert_eq!(sip_actions(&out), [&SipAction::Reject { status: 480 }]);
}

const ICE_INITIATE: &str = "<content creator='initiator' name='audio'>\
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\
      <payload-type id='111' name='opus' clockrate='48000' channels='2'/></description>\
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='abcd' pwd='asd88fgpdd777uzjYhagZg'/>\
  </content>";

fn candidate(id: &str, port: u16, complete: bool) -> Jingle {
    action(
        SID,
        "transport-info",
        &format!(
            "<content creator='initiator' name='audio'>\
               <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='abcd' pwd='asd88fgpdd777uzjYhagZg'>\
                 <candidate component='1' foundation='1' generation='0' id='{id}' ip='203.0.113.7'\
                   port='{port}' priority='2130706431' protocol='udp' type='host'/>{}\
               </transport></content>",
            if complete { "<gathering-complete/>" } else { "" }
        ),
    )
}

fn jingle_call(now: Instant, config: CallConfig) -> Call {
    let mut initiate = action(SID, "session-initiate", ICE_INITIATE);
    initiate.initiator = Some("alice@example.test/laptop".into());
    Call::from_jingle(now, config, initiate).unwrap()
}

fn invite_sdp(outputs: &[Output]) -> String {
    match sip_actions(outputs)[..] {
        [SipAction::Invite { sdp }] => sdp.to_string(),
        _ => panic!("one INVITE expected: {outputs:?}"),
    }
}

#[test]
fn jingle_caller_invite_waits_for_end_of_candidates() {
    let t0 = Instant::now();
    let mut call = jingle_call(t0, CallConfig::default());
    assert!(
        drain(&mut call).is_empty(),
        "no INVITE before the candidates"
    );
    assert_eq!(call.poll_timeout(), Some(t0 + Duration::from_millis(500)));
    call.handle_jingle(t0, &candidate("k1", 5000, false))
        .unwrap();
    assert!(drain(&mut call).is_empty());
    call.handle_jingle(t0, &candidate("k2", 5002, true))
        .unwrap();
    let text = invite_sdp(&drain(&mut call));
    assert!(text.contains("203.0.113.7 5000 typ host"), "{text}");
    assert!(text.contains("203.0.113.7 5002 typ host"), "{text}");
    assert!(text.contains("a=end-of-candidates"), "{text}");
}

#[test]
fn jingle_caller_invite_goes_out_at_the_trickle_wait() {
    let t0 = Instant::now();
    let mut call = jingle_call(t0, CallConfig::default());
    call.handle_jingle(t0, &candidate("k1", 5000, false))
        .unwrap();
    call.handle_timeout(t0 + Duration::from_millis(500));
    let text = invite_sdp(&drain(&mut call));
    assert!(text.contains("m=audio 5000 "), "{text}");
    assert_eq!(
        call.poll_timeout(),
        Some(t0 + Duration::from_millis(500) + Duration::from_secs(60)),
        "ring timer from the INVITE"
    );
}

const PHONE_ANSWER: &str =
    "v=0\r\no=- 2 1 IN IP4 192.0.2.77\r\ns=-\r\nc=IN IP4 192.0.2.77\r\nt=0 0\r\n\
    m=audio 8000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n";

fn invited(now: Instant, config: CallConfig) -> Call {
    let mut call = jingle_call(now, config);
    call.handle_jingle(now, &candidate("k1", 5000, true))
        .unwrap();
    drain(&mut call);
    call
}

#[test]
fn jingle_caller_ringing_early_media_answer_and_hangup() {
    let t0 = Instant::now();
    let mut call = invited(t0, CallConfig::default());
    call.handle_sip(t0, SipEvent::Provisional { status: 100 });
    assert!(drain(&mut call).is_empty());
    call.handle_sip(t0, SipEvent::Provisional { status: 180 });
    call.handle_sip(t0, SipEvent::Provisional { status: 183 });
    let out = drain(&mut call);
    let sent = jingles(&out);
    assert_eq!(
        sent.len(),
        1,
        "one ringing, and 183 is not an accept: {out:?}"
    );
    assert_eq!(sent[0].action, Action::SessionInfo);

    call.handle_sip(
        t0,
        SipEvent::Answered {
            sdp: parse_sdp(PHONE_ANSWER),
        },
    );
    let out = drain(&mut call);
    let accept = jingles(&out)[0];
    assert_eq!(accept.action, Action::SessionAccept);
    assert!(matches!(
        accept.contents[0].transport,
        Some(Transport::RawUdp(_))
    ));

    call.handle_jingle(t0, &terminate("success")).unwrap();
    let out = drain(&mut call);
    let [SipAction::Bye { reason }] = sip_actions(&out)[..] else {
        panic!("BYE expected: {out:?}")
    };
    assert!(
        reason.starts_with("SIP;cause=200;"),
        "a normal hang-up: {reason}"
    );
    assert_eq!(record(&out).status, 200);
}

#[test]
fn jingle_caller_sees_each_sip_failure_as_its_reason() {
    let t0 = Instant::now();
    for (status, expected) in [
        (486, ReasonCondition::Busy),
        (603, ReasonCondition::Decline),
        (404, ReasonCondition::Gone),
        (480, ReasonCondition::Timeout),
        (408, ReasonCondition::Timeout),
        (488, ReasonCondition::IncompatibleParameters),
    ] {
        let mut call = invited(t0, CallConfig::default());
        call.handle_sip(t0, SipEvent::Rejected { status });
        let out = drain(&mut call);
        assert_eq!(reason(jingles(&out)[0]), expected, "{status}");
        assert_eq!(record(&out).status, status);
    }
    // The caller hangs up while the phone rings: CANCEL.
    let mut call = invited(t0, CallConfig::default());
    call.handle_jingle(t0, &terminate("cancel")).unwrap();
    let out = drain(&mut call);
    assert!(matches!(sip_actions(&out)[..], [SipAction::Cancel { .. }]));
    // Later SIP events for an ended call change nothing.
    call.handle_sip(t0, SipEvent::Rejected { status: 487 });
    assert!(drain(&mut call).is_empty());
}

fn direction_of(sdp: &SessionDescription) -> Direction {
    sdp.media[0].effective_direction(sdp)
}

#[test]
fn hold_and_resume_from_the_jingle_side_re_invite_sip() {
    let t0 = Instant::now();
    let mut call = answered_sip_call(t0);
    call.handle_jingle(t0, &info("hold")).unwrap();
    let out = drain(&mut call);
    let [SipAction::ReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("re-INVITE expected: {out:?}")
    };
    // The holder keeps sending and stops receiving (RFC 6337 §5.3).
    assert_eq!(direction_of(sdp), Direction::SendOnly);
    assert_eq!(
        sdp.origin.session_version, 2,
        "o= version moves on (RFC 3264 §8)"
    );
    // A second change while the re-INVITE is in flight is a tie-break.
    assert_eq!(
        call.handle_jingle(t0, &info("active")),
        Err(JingleRefusal::TieBreak)
    );
    call.handle_sip(
        t0,
        SipEvent::ReInviteAnswered {
            sdp: parse_sdp(PHONE_OFFER),
        },
    );
    call.handle_jingle(t0, &info("active")).unwrap();
    let out = drain(&mut call);
    let [SipAction::ReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("re-INVITE expected: {out:?}")
    };
    assert_eq!(direction_of(sdp), Direction::SendRecv);
}

#[test]
fn hold_from_the_sip_side_is_a_content_modify_and_a_mirrored_answer() {
    let t0 = Instant::now();
    let mut call = answered_sip_call(t0);
    let hold = PHONE_OFFER.replace("o=- 1 1", "o=- 1 2") + "a=sendonly\r\n";
    call.handle_sip(
        t0,
        SipEvent::ReInvite {
            sdp: parse_sdp(&hold),
        },
    );
    let out = drain(&mut call);
    let modify = jingles(&out)[0];
    assert_eq!(modify.action, Action::ContentModify);
    // The SIP caller is the Jingle initiator here: only it sends.
    assert_eq!(modify.contents[0].senders, Some(Senders::Initiator));
    let [SipAction::AcceptReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("200 to the re-INVITE expected: {out:?}")
    };
    assert_eq!(direction_of(sdp), Direction::RecvOnly);

    // Glare: our re-INVITE in flight, theirs arrives: 491.
    call.handle_jingle(t0, &info("hold")).unwrap();
    drain(&mut call);
    call.handle_sip(
        t0,
        SipEvent::ReInvite {
            sdp: parse_sdp(&hold),
        },
    );
    assert_eq!(
        sip_actions(&drain(&mut call)),
        [&SipAction::RejectReInvite { status: 491 }]
    );
}

#[test]
fn late_candidates_go_by_info_or_by_re_invite() {
    let t0 = Instant::now();
    let trickle = CallConfig {
        sip_trickle: true,
        ..CallConfig::default()
    };
    let mut call = invited(t0, trickle);
    call.handle_jingle(t0, &candidate("k9", 5009, false))
        .unwrap();
    let out = drain(&mut call);
    let [SipAction::Info { fragment }] = sip_actions(&out)[..] else {
        panic!("INFO expected: {out:?}")
    };
    assert!(fragment.to_string().contains("203.0.113.7 5009 typ host"));

    // Without INFO trickle the candidate waits for the answer, then goes in a re-INVITE.
    let mut call = invited(t0, CallConfig::default());
    call.handle_jingle(t0, &candidate("k9", 5009, false))
        .unwrap();
    assert!(sip_actions(&drain(&mut call)).is_empty());
    call.handle_sip(
        t0,
        SipEvent::Answered {
            sdp: parse_sdp(PHONE_ANSWER),
        },
    );
    let out = drain(&mut call);
    let [SipAction::ReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("re-INVITE expected: {out:?}")
    };
    assert!(sdp.to_string().contains("203.0.113.7 5009 typ host"));
}

#[test]
fn sip_info_trickle_becomes_transport_info() {
    let t0 = Instant::now();
    let mut call = answered_sip_call(t0);
    let fragment = SdpFragment::parse(
        "a=ice-ufrag:8hhY\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\nm=audio 9 RTP/AVP 0\r\n\
         a=candidate:1 1 udp 2130706431 192.0.2.55 6000 typ host\r\n",
    )
    .unwrap();
    call.handle_sip(t0, SipEvent::Info { fragment });
    let out = drain(&mut call);
    let info = jingles(&out)[0];
    assert_eq!(
        (info.action, info.sid.as_str()),
        (Action::TransportInfo, SID)
    );
    assert_eq!(
        info.contents[0].name, "audio",
        "named by position in the offer"
    );
}

#[test]
fn wrong_sessions_and_out_of_order_requests_are_refused() {
    let t0 = Instant::now();
    let mut call = answered_sip_call(t0);
    let other = action("other", "session-terminate", "<reason><success/></reason>");
    assert_eq!(
        call.handle_jingle(t0, &other),
        Err(JingleRefusal::UnknownSession)
    );
    let again = action(SID, "session-initiate", ICE_INITIATE);
    assert_eq!(
        call.handle_jingle(t0, &again),
        Err(JingleRefusal::OutOfOrder)
    );
    let accept = action(
        SID,
        "session-accept",
        &raw_udp_content("198.51.100.9", 7000),
    );
    assert_eq!(
        call.handle_jingle(t0, &accept),
        Err(JingleRefusal::OutOfOrder)
    );
    assert!(drain(&mut call).is_empty(), "refusals send nothing");
    // A session-initiate that could never become SDP is refused up front.
    let bad = action(
        SID,
        "session-initiate",
        "<content creator='initiator' name='x'><transport xmlns='urn:xmpp:jingle:transports:ice-udp:0'/></content>",
    );
    assert!(matches!(
        Call::from_jingle(t0, CallConfig::default(), bad),
        Err(JingleRefusal::BadRequest(_))
    ));
}

#[test]
fn the_maximum_duration_hangs_up_both_legs_and_a_lost_client_hangs_up_sip() {
    let t0 = Instant::now();
    let config = CallConfig {
        max_duration: Duration::from_secs(3600),
        ..CallConfig::default()
    };
    let mut call = Call::from_sip(
        t0,
        config,
        SID,
        "a@sip.example.test",
        "alice@example.test",
        &parse_sdp(PHONE_OFFER),
    )
    .unwrap();
    accept_raw_udp(&mut call, t0);
    assert_eq!(call.poll_timeout(), Some(t0 + Duration::from_secs(3600)));
    call.handle_timeout(t0 + Duration::from_secs(3600));
    let out = drain(&mut call);
    assert_eq!(reason(jingles(&out)[0]), ReasonCondition::Timeout);
    assert!(matches!(sip_actions(&out)[..], [SipAction::Bye { .. }]));
    assert_eq!(call.poll_timeout(), None);

    let mut call = answered_sip_call(t0);
    call.handle_xmpp_gone(t0);
    let out = drain(&mut call);
    assert!(matches!(sip_actions(&out)[..], [SipAction::Bye { .. }]));
    assert_eq!(record(&out).reason, ReasonCondition::Gone);
}

fn jmi(kind: &str, body: &str) -> crate::jingle::JingleMessage {
    crate::jingle::JingleMessage::from_xml(&format!(
        "<{kind} xmlns='urn:xmpp:jingle-message:0' id='{SID}'>{body}</{kind}>"
    ))
    .unwrap()
}

fn proposed_call(now: Instant) -> Call {
    Call::from_sip_proposed(
        now,
        CallConfig::default(),
        SID,
        "a@sip.example.test/sid1",
        &parse_sdp(PHONE_OFFER),
    )
    .unwrap()
}

fn messages(outputs: &[Output]) -> Vec<&crate::jingle::JingleMessage> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

#[test]
fn jmi_propose_then_ringing_then_proceed_starts_the_jingle_session_with_that_device() {
    let t0 = Instant::now();
    let mut call = proposed_call(t0);
    let out = drain(&mut call);
    let propose = messages(&out)[0];
    assert_eq!(propose.kind, crate::jingle::JmiKind::Propose);
    assert_eq!(propose.id, SID);
    let xml = propose.to_xml();
    assert!(xml.contains("media=\"audio\""), "{xml}");
    assert!(
        !xml.contains("payload-type"),
        "the propose says only the kind: {xml}"
    );
    assert!(
        jingles(&out).is_empty(),
        "no session-initiate before a device proceeds"
    );

    call.handle_jmi(t0, "alice@example.test/phone", &jmi("ringing", ""))
        .unwrap();
    assert_eq!(
        sip_actions(&drain(&mut call)),
        [&SipAction::Provisional { status: 180 }]
    );
    call.handle_jmi(t0, "alice@example.test/phone", &jmi("proceed", ""))
        .unwrap();
    let out = drain(&mut call);
    let initiate = jingles(&out)[0];
    assert_eq!(initiate.action, Action::SessionInitiate);
    assert_eq!(
        initiate.responder.as_deref(),
        Some("alice@example.test/phone")
    );
    // Another device proceeding too is out of order: the session has its responder.
    assert_eq!(
        call.handle_jmi(t0, "alice@example.test/laptop", &jmi("proceed", "")),
        Err(JingleRefusal::OutOfOrder)
    );
    let accept = action(
        SID,
        "session-accept",
        &raw_udp_content("198.51.100.9", 7000),
    );
    call.handle_jingle(t0, &accept).unwrap();
    assert!(matches!(
        sip_actions(&drain(&mut call))[..],
        [SipAction::Accept { .. }]
    ));
}

#[test]
fn jmi_endings_before_a_device_proceeds() {
    let t0 = Instant::now();
    // The callee rejects: decline by default, busy when she says so.
    for (body, status) in [
        ("", 603),
        ("<reason xmlns='urn:xmpp:jingle:1'><busy/></reason>", 486),
    ] {
        let mut call = proposed_call(t0);
        drain(&mut call);
        call.handle_jmi(t0, "alice@example.test/phone", &jmi("reject", body))
            .unwrap();
        let out = drain(&mut call);
        assert_eq!(sip_actions(&out), [&SipAction::Reject { status }]);
        assert_eq!(record(&out).status, status);
    }
    // The caller cancels, or nobody proceeds in time: the proposal is retracted.
    let mut call = proposed_call(t0);
    drain(&mut call);
    call.handle_sip(t0, SipEvent::Cancelled);
    let out = drain(&mut call);
    assert_eq!(messages(&out)[0].kind, crate::jingle::JmiKind::Retract);
    assert!(jingles(&out).is_empty());
    let mut call = proposed_call(t0);
    drain(&mut call);
    call.handle_timeout(t0 + Duration::from_secs(60));
    let out = drain(&mut call);
    assert_eq!(messages(&out)[0].kind, crate::jingle::JmiKind::Retract);
    assert_eq!(sip_actions(&out), [&SipAction::Reject { status: 480 }]);
    // A message for another session is not ours.
    let mut call = proposed_call(t0);
    let other = crate::jingle::JingleMessage::new(crate::jingle::JmiKind::Proceed, "other");
    assert_eq!(
        call.handle_jmi(t0, "alice@example.test/phone", &other),
        Err(JingleRefusal::UnknownSession)
    );
}

#[test]
fn session_timer_refreshes_keep_the_call_and_a_missing_one_ends_it() {
    let t0 = Instant::now();
    let mut call = Call::from_sip(
        t0,
        CallConfig::default(),
        SID,
        "a@sip.example.test",
        "alice@example.test/phone",
        &parse_sdp(PHONE_OFFER),
    )
    .unwrap();
    call.set_session_expires(Duration::from_secs(90));
    accept_raw_udp(&mut call, t0);
    // RFC 4028 §10: hang up before expiry, less min(32 s, 90 s / 3) = 30 s.
    assert_eq!(call.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    let refresh_at = t0 + Duration::from_secs(45);
    call.handle_sip(
        refresh_at,
        SipEvent::ReInvite {
            sdp: parse_sdp(PHONE_OFFER),
        },
    );
    drain(&mut call);
    assert_eq!(
        call.poll_timeout(),
        Some(refresh_at + Duration::from_secs(60))
    );
    call.handle_timeout(refresh_at + Duration::from_secs(60));
    let out = drain(&mut call);
    let [SipAction::Bye { reason }] = sip_actions(&out)[..] else {
        panic!("BYE expected: {out:?}")
    };
    assert!(reason.contains("cause=408"), "{reason}");
    assert_eq!(record(&out).status, 408);
}

const VIDEO_LINE: &str = "m=video 6002 RTP/AVP 31\r\n";

fn video_content(port: u16) -> String {
    format!(
        "<content creator='initiator' name='video'>\
           <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
             <payload-type id='31' name='H261' clockrate='90000'/></description>\
           <transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'>\
             <candidate component='1' generation='0' id='v1' ip='198.51.100.9' port='{port}'/></transport>\
         </content>"
    )
}

/// A SIP re-offer adding video, held until the XMPP side answers its content-add.
fn sip_adds_video(t0: Instant) -> (Call, Jingle) {
    let mut call = answered_sip_call(t0);
    let reoffer = PHONE_OFFER.replace("o=- 1 1", "o=- 1 2") + VIDEO_LINE;
    call.handle_sip(
        t0,
        SipEvent::ReInvite {
            sdp: parse_sdp(&reoffer),
        },
    );
    let out = drain(&mut call);
    assert!(sip_actions(&out).is_empty(), "the answer waits: {out:?}");
    let add = jingles(&out)[0].clone();
    assert_eq!(add.action, Action::ContentAdd);
    assert_eq!(add.contents.len(), 1);
    assert_eq!(add.contents[0].name, "video");
    (call, add)
}

#[test]
fn a_stream_the_sip_side_adds_is_a_content_add_answered_by_the_xmpp_side() {
    let t0 = Instant::now();
    // Accepted: the 200 carries the XMPP side's video.
    let (mut call, _) = sip_adds_video(t0);
    call.handle_jingle(t0, &action(SID, "content-accept", &video_content(7002)))
        .unwrap();
    let out = drain(&mut call);
    let [SipAction::AcceptReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("answer expected: {out:?}")
    };
    assert_eq!(sdp.media.len(), 2, "{sdp}");
    assert_eq!(sdp.media[1].port, 7002, "{sdp}");
    assert_eq!(sdp.media[0].port, 7000, "{sdp}");
    // A later re-offer of the same session changes nothing on the XMPP side.
    let same = PHONE_OFFER.replace("o=- 1 1", "o=- 1 3") + VIDEO_LINE;
    call.handle_sip(
        t0,
        SipEvent::ReInvite {
            sdp: parse_sdp(&same),
        },
    );
    let out = drain(&mut call);
    assert!(jingles(&out).is_empty(), "{out:?}");
    let [SipAction::AcceptReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("answer expected: {out:?}")
    };
    assert_eq!(sdp.media[1].port, 7002);

    // Rejected: the new stream gets port 0, the call goes on.
    let (mut call, _) = sip_adds_video(t0);
    call.handle_jingle(
        t0,
        &action(
            SID,
            "content-reject",
            "<content creator='initiator' name='video'/>",
        ),
    )
    .unwrap();
    let out = drain(&mut call);
    let [SipAction::AcceptReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("answer expected: {out:?}")
    };
    assert_eq!((sdp.media.len(), sdp.media[1].port), (2, 0), "{sdp}");
    assert!(!call.is_ended());
    // An answer with nothing pending is out of order.
    assert_eq!(
        call.handle_jingle(t0, &action(SID, "content-accept", &video_content(7002))),
        Err(JingleRefusal::OutOfOrder)
    );

    // Unanswered: SIP is not kept waiting; the content-add is withdrawn.
    let (mut call, _) = sip_adds_video(t0);
    let due = call.poll_timeout().unwrap();
    assert!(due <= t0 + Duration::from_secs(10));
    call.handle_timeout(due);
    let out = drain(&mut call);
    let [SipAction::AcceptReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("answer expected: {out:?}")
    };
    assert_eq!(sdp.media[1].port, 0);
    assert_eq!(jingles(&out)[0].action, Action::ContentRemove);
    assert_eq!(jingles(&out)[0].contents[0].name, "video");
}

#[test]
fn the_sip_side_removing_a_stream_is_a_content_remove_and_stays_port_zero() {
    let t0 = Instant::now();
    let (mut call, _) = sip_adds_video(t0);
    call.handle_jingle(t0, &action(SID, "content-accept", &video_content(7002)))
        .unwrap();
    drain(&mut call);
    let without_video = PHONE_OFFER.replace("o=- 1 1", "o=- 1 3") + "m=video 0 RTP/AVP 31\r\n";
    call.handle_sip(
        t0,
        SipEvent::ReInvite {
            sdp: parse_sdp(&without_video),
        },
    );
    let out = drain(&mut call);
    assert_eq!(jingles(&out)[0].action, Action::ContentRemove, "{out:?}");
    let [SipAction::AcceptReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("answer expected: {out:?}")
    };
    assert_eq!((sdp.media.len(), sdp.media[1].port), (2, 0), "{sdp}");
    // Our own next offer (a hold) keeps the m-line, still port 0.
    call.handle_jingle(t0, &info("hold")).unwrap();
    let out = drain(&mut call);
    let [SipAction::ReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("re-INVITE expected: {out:?}")
    };
    assert_eq!((sdp.media.len(), sdp.media[1].port), (2, 0), "{sdp}");
}

#[test]
fn the_xmpp_side_adding_and_removing_streams_re_invites_sip() {
    let t0 = Instant::now();
    let mut call = answered_sip_call(t0);
    let add = action(
        SID,
        "content-add",
        &video_content(7002).replace("initiator", "responder"),
    );
    call.handle_jingle(t0, &add).unwrap();
    let out = drain(&mut call);
    let [SipAction::ReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("re-INVITE expected: {out:?}")
    };
    assert_eq!((sdp.media.len(), sdp.media[1].port), (2, 7002), "{sdp}");
    // A second change while SIP has not answered: tie-break.
    assert_eq!(call.handle_jingle(t0, &add), Err(JingleRefusal::TieBreak));
    // SIP takes the video: content-accept with SIP's side of it, under the client's name.
    let answer = PHONE_OFFER.replace("o=- 1 1", "o=- 1 2") + VIDEO_LINE;
    call.handle_sip(
        t0,
        SipEvent::ReInviteAnswered {
            sdp: parse_sdp(&answer),
        },
    );
    let out = drain(&mut call);
    let accept = jingles(&out)[0];
    assert_eq!(accept.action, Action::ContentAccept, "{out:?}");
    assert_eq!(accept.contents[0].name, "video");
    assert_eq!(
        accept.contents[0].creator,
        crate::jingle::Creator::Responder
    );
    let Some(Transport::RawUdp(raw)) = &accept.contents[0].transport else {
        panic!("SIP's transport: {accept:?}")
    };
    assert_eq!(raw.candidates[0].port, 6002);

    // Removing the video re-offers it with port 0; removing everything is refused.
    let remove = action(
        SID,
        "content-remove",
        "<content creator='responder' name='video'/>",
    );
    call.handle_jingle(t0, &remove).unwrap();
    let out = drain(&mut call);
    let [SipAction::ReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("re-INVITE expected: {out:?}")
    };
    assert_eq!((sdp.media.len(), sdp.media[1].port), (2, 0), "{sdp}");
    call.handle_sip(
        t0,
        SipEvent::ReInviteAnswered {
            sdp: parse_sdp(&answer.replace("m=video 6002", "m=video 0")),
        },
    );
    assert!(jingles(&drain(&mut call)).is_empty());
    let remove_audio = action(
        SID,
        "content-remove",
        "<content creator='initiator' name='audio'/>",
    );
    assert!(matches!(
        call.handle_jingle(t0, &remove_audio),
        Err(JingleRefusal::BadRequest(_))
    ));

    // SIP refusing an added stream (port 0, or a failed re-INVITE) is a content-reject.
    let mut call = answered_sip_call(t0);
    call.handle_jingle(t0, &add).unwrap();
    drain(&mut call);
    call.handle_sip(t0, SipEvent::ReInviteRejected { status: 488 });
    let out = drain(&mut call);
    assert_eq!(jingles(&out)[0].action, Action::ContentReject, "{out:?}");
    // The session is as before: the next offer has one m-line.
    call.handle_jingle(t0, &info("hold")).unwrap();
    let out = drain(&mut call);
    let [SipAction::ReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("re-INVITE expected: {out:?}")
    };
    assert_eq!(sdp.media.len(), 1, "{sdp}");
}

#[test]
fn a_forked_branch_that_loses_tells_only_the_xmpp_side_why() {
    let t0 = Instant::now();
    // Proposed devices get a retract saying the call was answered elsewhere.
    let mut call = proposed_call(t0);
    drain(&mut call);
    call.handle_fork_ended(t0, 200);
    let out = drain(&mut call);
    assert!(
        sip_actions(&out).is_empty(),
        "the fork answers SIP: {out:?}"
    );
    let retract = messages(&out)[0];
    assert_eq!(retract.kind, crate::jingle::JmiKind::Retract);
    let why = retract.reason.as_ref().unwrap();
    assert_eq!(why.condition, ReasonCondition::Cancel);
    assert_eq!(why.text.as_deref(), Some(COMPLETED_ELSEWHERE_TEXT));
    assert_eq!(record(&out).status, 200);
    assert!(call.is_ended());

    // A device that accepted just too late has its session terminated.
    let mut call = answered_sip_call(t0);
    call.handle_fork_ended(t0, 200);
    let out = drain(&mut call);
    assert!(sip_actions(&out).is_empty(), "{out:?}");
    assert_eq!(jingles(&out)[0].action, Action::SessionTerminate);
    assert_eq!(
        jingles(&out)[0].reason.as_ref().unwrap().text.as_deref(),
        Some(COMPLETED_ELSEWHERE_TEXT)
    );

    // The fork's ring timeout, before any answer: timeout, no text.
    let mut call = sip_call(t0);
    drain(&mut call);
    call.handle_fork_ended(t0, 480);
    let out = drain(&mut call);
    assert!(sip_actions(&out).is_empty());
    assert_eq!(reason(jingles(&out)[0]), ReasonCondition::Timeout);
    assert_eq!(record(&out).reason, ReasonCondition::Timeout);
    // Once ended, nothing more.
    call.handle_fork_ended(t0, 200);
    assert!(drain(&mut call).is_empty());
}

#[test]
fn a_re_offer_that_drops_codecs_is_answered_with_the_ones_left() {
    let t0 = Instant::now();
    let mut call = sip_call(t0);
    drain(&mut call);
    let with_dtmf = raw_udp_content("198.51.100.9", 7000).replace(
        "</description>",
        "<payload-type id='101' name='telephone-event' clockrate='8000'/></description>",
    );
    call.handle_jingle(t0, &action(SID, "session-accept", &with_dtmf))
        .unwrap();
    drain(&mut call);
    let pcma_only = "v=0\r\no=- 1 2 IN IP4 192.0.2.55\r\ns=-\r\nc=IN IP4 192.0.2.55\r\nt=0 0\r\n\
                     m=audio 6000 RTP/AVP 0\r\n";
    call.handle_sip(
        t0,
        SipEvent::ReInvite {
            sdp: parse_sdp(pcma_only),
        },
    );
    let out = drain(&mut call);
    let [SipAction::AcceptReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("answer expected: {out:?}")
    };
    assert_eq!(sdp.media[0].formats, ["0"], "{sdp}");
    assert!(!sdp.to_string().contains("telephone-event"), "{sdp}");
    // Nothing in common: the stream is refused, the call goes on.
    let g722 = pcma_only
        .replace("o=- 1 2", "o=- 1 3")
        .replace("RTP/AVP 0", "RTP/AVP 9");
    call.handle_sip(
        t0,
        SipEvent::ReInvite {
            sdp: parse_sdp(&g722),
        },
    );
    let out = drain(&mut call);
    let [SipAction::AcceptReInvite { sdp }] = sip_actions(&out)[..] else {
        panic!("answer expected: {out:?}")
    };
    assert_eq!(
        (sdp.media[0].port, sdp.media[0].formats.clone()),
        (0, vec!["9".to_string()])
    );
}
