//! Arbitrary trickle fragments through sdpfrag -> transport-info -> sdpfrag: never a panic,
//! and what translates must come back as a fragment that gives the same transport-info.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_translations::mapping::{sdpfrag_from_transport_info, transport_info_from_sdpfrag};
use tandem_translations::sdp::SdpFragment;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(fragment) = SdpFragment::parse(text) else { return };
    let Ok(first) = transport_info_from_sdpfrag(&fragment, None, "s", 0) else { return };
    let written = sdpfrag_from_transport_info(&first, None)
        .unwrap_or_else(|e| panic!("our transport-info does not go back: {e}"));
    let again = transport_info_from_sdpfrag(&written, None, "s", 0)
        .unwrap_or_else(|e| panic!("our fragment does not translate: {e}\n{written}"));
    assert_eq!(again, first, "{written}");
});
