//! Arbitrary text into the trickle-ICE sdpfrag parser (RFC 8840); round trip as for SDP.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_translations::sdp::SdpFragment;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(fragment) = SdpFragment::parse(text) else { return };
    let written = fragment.to_string();
    assert_eq!(
        SdpFragment::parse(&written).as_ref(),
        Ok(&fragment),
        "round trip of {written:?}"
    );
});
