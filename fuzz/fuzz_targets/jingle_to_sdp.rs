//! Arbitrary Jingle through the Jingle -> SDP translation: never a panic, and the SDP
//! written must be valid (it goes to SIP peers that nobody here controls).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_translations::jingle::{parse, JinglePayload};
use tandem_translations::mapping::{jingle_to_sdp, Role};
use tandem_translations::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(JinglePayload::Jingle(jingle)) = parse(text) else { return };
    for role in [Role::Initiator, Role::Responder] {
        let Ok(sdp) = jingle_to_sdp(&jingle, role, 1) else { continue };
        let written = sdp.to_string();
        if let Err(e) = SessionDescription::parse(&written) {
            panic!("our SDP does not parse: {e}\n{written}");
        }
    }
});
