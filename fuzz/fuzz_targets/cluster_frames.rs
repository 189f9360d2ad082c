//! The inter-cluster link decoder (`src/cluster/envelope.rs`) on arbitrary bytes fed in
//! arbitrary chunks: errors, never panics; and every frame it yields encodes back to a frame
//! that decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/cluster/envelope.rs"]
#[allow(dead_code)]
mod envelope;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, bytes)) = data.split_first() else {
        return;
    };
    let mut decoder = envelope::Decoder::default();
    for piece in bytes.chunks(usize::from(chunk).max(1)) {
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    let mut wire = Vec::new();
                    envelope::encode(&frame, &mut wire);
                    let mut again = envelope::Decoder::default();
                    again.push(&wire);
                    assert_eq!(again.next_frame().unwrap(), Some(frame));
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
