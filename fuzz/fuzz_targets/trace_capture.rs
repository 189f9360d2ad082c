#![no_main]
//! Any bytes as a capture, in arbitrary read sizes: no panic, events only from what was
//! pushed, every problem names a packet no later than the last one read.
use libfuzzer_sys::fuzz_target;
use tandem_sip::trace::{CaptureDecoder, TraceEvent};

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else { return };
    // A valid pcap header in front half the time, so the decoder gets past the magic.
    let header: &[u8] = &[
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ];
    let input: Vec<u8> = if step & 1 == 0 { [header, rest].concat() } else { rest.to_vec() };
    let chunk = usize::from(step >> 1).max(1);
    let mut d = CaptureDecoder::new();
    let mut events = Vec::new();
    for piece in input.chunks(chunk) {
        d.push(piece);
        events.extend(std::iter::from_fn(|| d.poll()));
    }
    d.finish();
    events.extend(std::iter::from_fn(|| d.poll()));
    let mut last = 0;
    for e in &events {
        let packet = match e {
            TraceEvent::Message(m) => {
                assert!(m.bytes.len() <= input.len());
                m.packet
            }
            TraceEvent::Problem(p) => p.packet,
        };
        assert!(packet + 1 >= last, "events out of packet order");
        last = last.max(packet);
    }
});
