//! Arbitrary text into the Jingle/JMI parser. Whatever parses must write XML that parses to
//! the same payload (the model is lossless, unknown children included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_translations::jingle::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(payload) = parse(text) else { return };
    let written = payload.to_xml();
    assert_eq!(parse(&written).as_ref(), Ok(&payload), "round trip of {written:?}");
});
