//! Golden translations of every corpus sample (`fixtures/sdp`, `fixtures/jingle`): what
//! tandem produces is compared with a file under `fixtures/golden/` that was reviewed by
//! hand against the XEP/RFC text (see `fixtures/golden/README.md`).
//!
//! `TANDEM_UPDATE_GOLDEN=1 cargo test -p tandem-translations --test golden` rewrites them;
//! review the diff before committing.

use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use tandem_translations::errors::{
    jingle_reason_to_sip_status, reason_header, JingleReason, Target,
};
use tandem_translations::jingle::{self, Action, Jingle, JinglePayload};
use tandem_translations::mapping::{
    jingle_changes, jingle_to_sdp, sdp_to_jingle, sdpfrag_from_transport_info, Role,
};
use tandem_translations::sdp::SessionDescription;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Who wrote each SDP sample and what it is in Jingle terms. Offers are the initiator's
/// session-initiate; answers the responder's session-accept (the Jitsi sample is Chrome's
/// answer: `a=setup:passive`, recvonly). RFC 4317's second offers come from Bob, who
/// answered the first: they are the responder's changes to the session before them, which
/// the RFC describes in words and is rebuilt here from the sample itself.
struct SdpContext {
    role: Role,
    action: Action,
    previous: Option<String>,
}

fn sdp_context(file: &str, text: &str) -> SdpContext {
    let answer = |previous| SdpContext {
        role: Role::Responder,
        action: Action::SessionAccept,
        previous,
    };
    match file {
        // §3.2: Bob holds the first stream (sendrecv until now); the telephone-event stream
        // stays recvonly.
        "rfc4317_3.2_hold_two_streams_reoffer.sdp" => {
            answer(Some(text.replacen("a=sendonly\n", "", 1)))
        }
        // §4.1: Bob's media server adds the second stream to a one-stream call.
        "rfc4317_4.1_second_audio_stream_added_recvonly.sdp" => {
            answer(Some(text[..text.rfind("m=audio").unwrap()].to_string()))
        }
        "jitsi_chrome_recvonly.sdp" => answer(None),
        _ if file.contains("answer") => answer(None),
        _ => SdpContext {
            role: Role::Initiator,
            action: Action::SessionInitiate,
            previous: None,
        },
    }
}

/// Jingle samples with no translation of their own at this layer, and why. A new corpus
/// file must be added here or get a golden: nothing is skipped silently.
const NOT_TRANSLATED: &[(&str, &str)] = &[
    ("xep0166_session_initiate_stub.xml", "an example stub: empty description and transport"),
    ("xep0167_session_info_hold.xml", "session-info: the call engine sends a re-INVITE (issue 5)"),
    ("xep0167_session_info_mute.xml", "session-info mute is informational; SIP has no equivalent"),
    ("xep0167_session_info_ringing.xml", "session-info: the call engine maps it to 180 (issue 5)"),
    ("xep0167_content_reject.xml", "content-reject of an ice-udp:0 (obsolete namespace) transport"),
    ("xep0167_content_modify_senders.xml", "content-modify: the engine re-offers the call's description with the new direction (issue 5)"),
    ("xep0176_transport_accept.xml", "transport-accept: the engine answers the re-INVITE it sent for the replaced transport (issue 5)"),
    ("xep0176_transport_replace_rawudp.xml", "transport-replace: the engine re-offers the call's description over the new transport (issue 5)"),
    ("xep0294_rtp_hdrext_offer.xml", "a bare <description> fragment, not a <jingle>"),
    ("xep0339_ssrc_group_fragment.xml", "a bare <content> fragment, not a <jingle>"),
    ("xep0353_finish.xml", "JMI: signalling for the call engine, no session description"),
    ("xep0353_proceed.xml", "JMI: signalling for the call engine, no session description"),
    ("xep0353_propose.xml", "JMI: signalling for the call engine, no session description"),
    ("xep0353_reject.xml", "JMI: signalling for the call engine, no session description"),
];

// The XEP-0293 example closes <jingle> too early (see fixtures/jingle/README.md).
const XEP0293_TYPO: &str = "<jingle xmlns='urn:xmpp:jingle:1'>\n    action=";
const XEP0293_FIXED: &str = "<jingle xmlns='urn:xmpp:jingle:1'\n    action=";

fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(ext))
        .collect();
    names.sort();
    names
}

/// One element per line, indented: reviewable by eye, compared byte for byte.
fn indent(xml: &str) -> String {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut writer = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    loop {
        match reader.read_event().unwrap() {
            Event::Eof => break,
            event => writer.write_event(event).unwrap(),
        }
    }
    String::from_utf8(writer.into_inner()).unwrap() + "\n"
}

/// Compare with (or, when updating, write) the golden file; returns a mismatch message.
fn check(golden: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("TANDEM_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(golden, actual).unwrap();
        return None;
    }
    let expected = match std::fs::read_to_string(golden) {
        Ok(e) => e,
        Err(e) => return Some(format!("{}: {e}", golden.display())),
    };
    if expected == actual {
        return None;
    }
    let first = expected
        .lines()
        .zip(actual.lines())
        .position(|(e, a)| e != a)
        .unwrap_or(expected.lines().count().min(actual.lines().count()));
    Some(format!(
        "{} differs from line {}:\n  expected: {:?}\n  actual:   {:?}",
        golden.display(),
        first + 1,
        expected.lines().nth(first).unwrap_or("<end>"),
        actual.lines().nth(first).unwrap_or("<end>"),
    ))
}

fn sdp_golden(file: &str) -> String {
    let text = std::fs::read_to_string(root().join("sdp").join(file)).unwrap();
    let context = sdp_context(file, &text);
    let translate = |text: &str| {
        let sdp = SessionDescription::parse(text).unwrap();
        sdp_to_jingle(&sdp, context.role, context.action, "golden", 0).unwrap()
    };
    let t = translate(&text);
    let Some(previous) = &context.previous else {
        let mut out = format!(
            "<!-- {file}: written by the {:?}, as {} -->\n",
            context.role,
            context.action.as_str()
        );
        for name in &t.rejected {
            out.push_str(&format!(
                "<!-- m-line {name:?}: port 0, rejected (no content) -->\n"
            ));
        }
        return out + &indent(&t.jingle.to_xml());
    };
    let before = translate(previous).jingle;
    let mut out = format!(
        "<!-- {file}: a re-offer by the {:?}, as the Jingle actions that change the session -->\n",
        context.role
    );
    for change in jingle_changes(&before, &t.jingle, context.role) {
        out.push_str(&indent(&change.to_xml()));
    }
    out
}

/// The SIP side of a Jingle sample: SDP for session descriptions, an sdpfrag for
/// transport-info, status and Reason header for session-terminate.
/// The XEP-0176 examples are one session: its session-initiate is the description the
/// transport-info examples trickle into (restarts and nominations need a new offer).
fn xep0176_session() -> SessionDescription {
    let text = std::fs::read_to_string(
        root().join("jingle/xep0176_session_initiate_iceudp_candidates.xml"),
    )
    .unwrap();
    let Ok(JinglePayload::Jingle(j)) = jingle::parse(&text) else {
        panic!("xep0176 session-initiate")
    };
    jingle_to_sdp(&j, Role::Initiator, 1).unwrap()
}

fn jingle_golden(j: &Jingle) -> Result<String, String> {
    let author = match j.action {
        Action::SessionAccept | Action::ContentAccept | Action::TransportAccept => Role::Responder,
        _ => Role::Initiator,
    };
    match j.action {
        Action::TransportInfo => sdpfrag_from_transport_info(j, Some(&xep0176_session()))
            .map(|f| f.to_string())
            .map_err(|e| e.to_string()),
        Action::SessionTerminate => {
            let reason = j
                .reason
                .as_ref()
                .ok_or("session-terminate without reason")?;
            let condition =
                JingleReason::parse(reason.condition.as_str()).ok_or("unknown reason condition")?;
            let status = jingle_reason_to_sip_status(condition, Target::FullJid);
            let text = reason.text.as_deref().unwrap_or(condition.as_str());
            Ok(format!(
                "before answer: final response {status}\n\
                 after answer: BYE with Reason: {}\n",
                reason_header(status, text)
            ))
        }
        _ => jingle_to_sdp(j, author, 1)
            .map(|s| s.to_string())
            .map_err(|e| e.to_string()),
    }
}

#[test]
fn every_sdp_sample_translates_to_its_golden_jingle() {
    let mut failures = Vec::new();
    let sdp_files = files("sdp", ".sdp");
    assert!(
        sdp_files.len() >= 15,
        "corpus SDP files: {}",
        sdp_files.len()
    );
    for file in &sdp_files {
        let golden = root()
            .join("golden/sdp-to-jingle")
            .join(file.replace(".sdp", ".xml"));
        failures.extend(check(&golden, &sdp_golden(file)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_jingle_sample_translates_to_its_golden_sip_side() {
    let mut failures = Vec::new();
    let mut translated = 0;
    for file in files("jingle", ".xml") {
        if NOT_TRANSLATED.iter().any(|(f, _)| *f == file) {
            continue;
        }
        let text = std::fs::read_to_string(root().join("jingle").join(&file))
            .unwrap()
            .replace(XEP0293_TYPO, XEP0293_FIXED);
        let j = match jingle::parse(&text) {
            Ok(JinglePayload::Jingle(j)) => j,
            other => panic!("{file}: not a <jingle> and not listed as untranslated: {other:?}"),
        };
        // An error is a translation too (a value SDP cannot carry): it is golden text.
        let actual = match jingle_golden(&j) {
            Ok(sip) => format!("; {file}: {}\n{sip}", j.action.as_str()),
            Err(e) => format!("; {file}: {}\nrefused: {e}\n", j.action.as_str()),
        };
        let golden = root()
            .join("golden/jingle-to-sip")
            .join(file.replace(".xml", ".txt"));
        failures.extend(check(&golden, &actual));
        translated += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(translated >= 20, "translated Jingle samples: {translated}");
}

/// Every golden Jingle goes back to SDP, and that SDP translates to the same Jingle: the
/// goldens themselves obey the round-trip rule.
#[test]
fn golden_jingle_round_trips_through_sdp() {
    for file in files("sdp", ".sdp") {
        let text = std::fs::read_to_string(root().join("sdp").join(&file)).unwrap();
        let SdpContext {
            role,
            action,
            previous,
        } = sdp_context(&file, &text);
        if previous.is_some() {
            continue; // a list of changes, not one description
        }
        let golden = std::fs::read_to_string(
            root()
                .join("golden/sdp-to-jingle")
                .join(file.replace(".sdp", ".xml")),
        )
        .unwrap();
        let xml: String = golden.lines().filter(|l| !l.starts_with("<!--")).collect();
        let Ok(JinglePayload::Jingle(j)) = jingle::parse(&xml) else {
            panic!("{file}: golden does not parse")
        };
        let sdp = jingle_to_sdp(&j, role, 1).unwrap();
        let again = sdp_to_jingle(&sdp, role, action, "golden", 0)
            .unwrap()
            .jingle;
        assert_eq!(again, j, "{file}\n{sdp}");
    }
}
