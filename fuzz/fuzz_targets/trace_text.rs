#![no_main]
//! Any text as a text trace, in arbitrary read sizes: no panic, and every message read
//! back from what `write_block` writes is the same message.
use libfuzzer_sys::fuzz_target;
use tandem_sip::trace::text::{write_block, TextDecoder};
use tandem_sip::trace::TraceEvent;

fn read(text: &str, chunk: usize) -> Vec<TraceEvent> {
    let mut d = TextDecoder::new();
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(chunk) {
        d.push(&piece.iter().collect::<String>());
        out.extend(std::iter::from_fn(|| d.poll()));
    }
    d.finish();
    out.extend(std::iter::from_fn(|| d.poll()));
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let events = read(text, usize::from(step).max(1));
    let messages: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Message(m) => Some(m.clone()),
            TraceEvent::Problem(_) => None,
        })
        .collect();
    let mut written = String::new();
    for m in &messages {
        write_block(&mut written, m);
    }
    let again: Vec<_> = read(&written, 64)
        .into_iter()
        .filter_map(|e| match e {
            TraceEvent::Message(m) => Some(m),
            TraceEvent::Problem(p) => panic!("what we wrote does not read back: {p}\n{written}"),
        })
        .collect();
    assert_eq!(again, messages, "{written}");
});
