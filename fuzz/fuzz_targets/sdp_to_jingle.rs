//! Arbitrary SDP through the SDP -> Jingle translation: never a panic, and what translates
//! must come back from Jingle as SDP that parses and translates to the same Jingle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_translations::jingle::Action;
use tandem_translations::mapping::{jingle_to_sdp, sdp_to_jingle, Role};
use tandem_translations::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(sdp) = SessionDescription::parse(text) else { return };
    for role in [Role::Initiator, Role::Responder] {
        let Ok(first) = sdp_to_jingle(&sdp, role, Action::SessionInitiate, "s", 0) else { continue };
        let Ok(written) = jingle_to_sdp(&first.jingle, role, 1) else { continue };
        let written = written.to_string();
        let reparsed = SessionDescription::parse(&written)
            .unwrap_or_else(|e| panic!("our SDP does not parse: {e}\n{written}"));
        let again = sdp_to_jingle(&reparsed, role, Action::SessionInitiate, "s", 0)
            .unwrap_or_else(|e| panic!("our SDP does not translate: {e}\n{written}"));
        assert_eq!(again.jingle, first.jingle, "{written}");
    }
});
