//! Differential: the fast XML reader Jingle parsing tries first must never accept what the
//! full quick-xml reader refuses, nor read anything differently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_translations::jingle::fast_reader_agrees_with_full_reader;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(difference) = fast_reader_agrees_with_full_reader(text) {
        panic!("{difference}\ninput: {text:?}");
    }
});
