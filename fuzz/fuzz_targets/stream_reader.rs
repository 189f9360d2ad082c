//! Arbitrary bytes, split at an arbitrary point, into the XML stream reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_xmpp::stream::{ReaderLimits, StreamReader};

fuzz_target!(|data: &[u8]| {
    let mut reader = StreamReader::new(ReaderLimits { max_stanza_size: 4096, max_depth: 16 });
    let split = data.first().map(|b| *b as usize % (data.len().max(1))).unwrap_or(0);
    for chunk in [&data[..split], &data[split..]] {
        let failed = reader.push(chunk).is_err();
        while reader.poll_event().is_some() {}
        if failed {
            break;
        }
    }
});
