//! Arbitrary text into the SDP parser. Whatever parses must serialise into SDP that parses
//! to the same session, and the typed attribute views must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_translations::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(sdp) = SessionDescription::parse(text) else { return };
    let _ = sdp.typed_attributes().count();
    for m in &sdp.media {
        let _ = (m.typed_attributes().count(), m.effective_direction(&sdp));
        let _ = m.effective_connection(&sdp);
    }
    let written = sdp.to_string();
    assert_eq!(
        SessionDescription::parse(&written).as_ref(),
        Ok(&sdp),
        "round trip of {written:?}"
    );
});
