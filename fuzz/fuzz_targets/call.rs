//! Arbitrary sequences of SIP and Jingle events against one call, on a virtual clock: never
//! a panic, exactly one end record at most, nothing said after it, and no deadline left.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use tandem_translations::call::{Call, CallConfig, Output, SipEvent};
use tandem_translations::jingle::{parse, Jingle, JingleMessage, JinglePayload, JmiKind};
use tandem_translations::sdp::{SdpFragment, SessionDescription};

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.55\r\ns=-\r\nc=IN IP4 192.0.2.55\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
const HOLD: &str = "v=0\r\no=- 1 2 IN IP4 192.0.2.55\r\ns=-\r\nc=IN IP4 192.0.2.55\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=sendonly\r\n";
const RAW: &str = "<content creator='initiator' name='audio'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0' name='PCMU' clockrate='8000'/></description><transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'><candidate component='1' generation='0' id='c1' ip='198.51.100.9' port='7000'/></transport></content>";
const ICE: &str = "<content creator='initiator' name='audio'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0'/></description><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='abcd' pwd='asd88fgpdd777uzjYhagZg'><candidate component='1' foundation='1' generation='0' id='k1' ip='203.0.113.7' port='5000' priority='1' protocol='udp' type='host'/></transport></content>";

const VIDEO_LINE: &str = "m=video 6002 RTP/AVP 31\r\n";
const VIDEO: &str = "<content creator='initiator' name='video'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'><payload-type id='31' name='H261' clockrate='90000'/></description><transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'><candidate component='1' generation='0' id='v1' ip='198.51.100.9' port='7002'/></transport></content>";

fn jingle(action: &str, sid: &str, body: &str) -> Jingle {
    let xml = format!("<jingle xmlns='urn:xmpp:jingle:1' action='{action}' sid='{sid}'>{body}</jingle>");
    match parse(&xml).unwrap() {
        JinglePayload::Jingle(j) => j,
        JinglePayload::Message(_) => unreachable!(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, steps)) = data.split_first() else { return };
    let t0 = Instant::now();
    let mut now = t0;
    let config = CallConfig { sip_trickle: first & 2 != 0, ..CallConfig::default() };
    let sdp = |t: &str| SessionDescription::parse(t).unwrap();
    let mut call = if first & 4 != 0 {
        Call::from_sip_proposed(now, config, "s", "a@sip.example.test", &sdp(OFFER)).unwrap()
    } else if first & 1 == 0 {
        Call::from_sip(now, config, "s", "a@sip.example.test", "alice@example.test", &sdp(OFFER)).unwrap()
    } else {
        Call::from_jingle(now, config, jingle("session-initiate", "s", ICE)).unwrap()
    };
    let mut ended = 0;
    for &b in steps {
        let jmi = |kind: JmiKind| JingleMessage::new(kind, "s");
        match b % 33 {
            24 => _ = call.handle_jmi(now, "alice@example.test/a", &jmi(JmiKind::Ringing)),
            25 => _ = call.handle_jmi(now, "alice@example.test/a", &jmi(JmiKind::Proceed)),
            26 => _ = call.handle_jmi(now, "alice@example.test/b", &jmi(JmiKind::Reject)),
            27 => call.handle_sip(now, SipEvent::ReInvite { sdp: sdp(&format!("{OFFER}{VIDEO_LINE}")) }),
            28 => _ = call.handle_jingle(now, &jingle("content-add", "s", VIDEO)),
            29 => _ = call.handle_jingle(now, &jingle("content-accept", "s", VIDEO)),
            30 => _ = call.handle_jingle(now, &jingle("content-reject", "s", "<content creator='initiator' name='video'/>")),
            31 => _ = call.handle_jingle(now, &jingle("content-remove", "s", "<content creator='initiator' name='video'/>")),
            32 => call.handle_fork_ended(now, [200, 480, 487, 603][usize::from(b) % 4]),
            0 => _ = call.handle_jingle(now, &jingle("session-info", "s", "<ringing xmlns='urn:xmpp:jingle:apps:rtp:info:1'/>")),
            1 => _ = call.handle_jingle(now, &jingle("session-accept", "s", RAW)),
            2 => _ = call.handle_jingle(now, &jingle("session-terminate", "s", "<reason><busy/></reason>")),
            3 => _ = call.handle_jingle(now, &jingle("transport-info", "s", ICE)),
            4 => _ = call.handle_jingle(now, &jingle("session-info", "s", "<hold xmlns='urn:xmpp:jingle:apps:rtp:info:1'/>")),
            5 => _ = call.handle_jingle(now, &jingle("session-info", "s", "<active xmlns='urn:xmpp:jingle:apps:rtp:info:1'/>")),
            6 => _ = call.handle_jingle(now, &jingle("content-modify", "s", "<content creator='initiator' name='audio' senders='initiator'/>")),
            7 => _ = call.handle_jingle(now, &jingle("session-terminate", "other", "")),
            8 => call.handle_sip(now, SipEvent::Provisional { status: 180 }),
            9 => call.handle_sip(now, SipEvent::Provisional { status: 183 }),
            10 => call.handle_sip(now, SipEvent::Answered { sdp: sdp(OFFER) }),
            11 => call.handle_sip(now, SipEvent::Rejected { status: 400 + u16::from(b) }),
            12 => call.handle_sip(now, SipEvent::Cancelled),
            13 => call.handle_sip(now, SipEvent::Acked),
            14 => call.handle_sip(now, SipEvent::Bye { cause: Some(u16::from(b) * 3) }),
            15 => call.handle_sip(now, SipEvent::ReInvite { sdp: sdp(HOLD) }),
            16 => call.handle_sip(now, SipEvent::ReInviteAnswered { sdp: sdp(OFFER) }),
            17 => call.handle_sip(now, SipEvent::ReInviteRejected { status: 488 }),
            18 => call.handle_sip(now, SipEvent::Info {
                fragment: SdpFragment::parse("m=audio 9 RTP/AVP 0\r\na=ice-ufrag:abcd\r\n").unwrap(),
            }),
            19 => call.handle_sip(now, SipEvent::Failed),
            20 => call.handle_xmpp_gone(now),
            21 => now += Duration::from_millis(u64::from(b) * 7),
            22 => {
                if let Some(t) = call.poll_timeout() {
                    now = now.max(t);
                    call.handle_timeout(now);
                }
            }
            _ => now += Duration::from_secs(3600),
        }
        while let Some(out) = call.poll_output() {
            assert_eq!(ended, 0, "output after the end: {out:?}");
            if matches!(out, Output::Ended(_)) {
                ended += 1;
            }
        }
        if call.is_ended() {
            assert_eq!(call.poll_timeout(), None);
        }
    }
});
