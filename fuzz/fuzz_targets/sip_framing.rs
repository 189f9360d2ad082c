//! Arbitrary bytes into the SIP stream framer, cut at points taken from the input: the
//! messages and the error must not depend on where the stream was cut, and every frame goes
//! through the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_sip::message::{parse, FramerConfig, KeepAlive, StreamFramer};

fn run(
    pieces: &[&[u8]],
) -> (
    Vec<Result<Vec<u8>, tandem_sip::message::FramingError>>,
    usize,
) {
    let mut framer = StreamFramer::new(FramerConfig {
        max_header_bytes: 2048,
        max_body_bytes: 2048,
    });
    let mut out = Vec::new();
    let mut pings = 0;
    for p in pieces {
        framer.push(p);
        while let Some(m) = framer.next_message() {
            out.push(m);
        }
        while let Some(k) = framer.poll_keepalive() {
            pings += usize::from(k == KeepAlive::Ping);
        }
    }
    (out, pings)
}

fuzz_target!(|data: &[u8]| {
    let (cuts, stream) = data.split_at(data.len().min(2));
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&c| c as usize % (stream.len() + 1))
        .collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut last = 0;
    for p in points {
        pieces.push(&stream[last..p]);
        last = p;
    }
    pieces.push(&stream[last..]);
    let (whole, _) = run(&[stream]);
    let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
    let (split, _) = run(&pieces);
    let (single, _) = run(&bytewise);
    assert_eq!(whole, split);
    assert_eq!(whole, single);
    for frame in whole.iter().flatten() {
        let _ = parse(frame);
    }
});
