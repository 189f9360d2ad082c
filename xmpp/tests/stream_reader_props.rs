//! Property tests of the stream reader: any split of the input gives the same result, and no
//! input makes it panic or exceed its limits.

use proptest::prelude::*;
use tandem_xmpp::stream::{ReaderLimits, StreamEvent, StreamReader};
use tandem_xmpp::Element;

const HEADER: &str = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='x' version='1.0'>";

fn run(chunks: &[&[u8]], limits: ReaderLimits) -> (Vec<StreamEvent>, Option<String>) {
    let mut reader = StreamReader::new(limits);
    let mut events = Vec::new();
    for chunk in chunks {
        let result = reader.push(chunk);
        while let Some(e) = reader.poll_event() {
            events.push(e);
        }
        if let Err(e) = result {
            return (events, Some(e.condition.to_string()));
        }
    }
    (events, None)
}

fn arb_element(depth: u32) -> impl Strategy<Value = Element> {
    let leaf = (
        "[a-z]{1,8}",
        "[ -~]{0,20}",
        proptest::option::of("[ -~]{0,12}"),
    )
        .prop_map(|(name, text, attr)| {
            let mut e = Element::new(name, "jabber:client").with_text(text);
            if let Some(a) = attr {
                e.set_attr("id", a);
            }
            e
        });
    leaf.prop_recursive(depth, 32, 4, |inner| {
        ("[a-z]{1,8}", prop::collection::vec(inner, 0..4)).prop_map(|(name, children)| {
            let mut e = Element::new(name, "urn:test");
            for c in children {
                e.push_child(c);
            }
            e
        })
    })
}

proptest! {
    #[test]
    fn serialised_elements_round_trip_through_any_split(
        elements in prop::collection::vec(arb_element(4), 1..5),
        cut_points in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut input = HEADER.to_string();
        for e in &elements {
            input.push_str(&e.to_xml_in("jabber:client"));
        }
        let bytes = input.as_bytes();
        let mut cuts: Vec<usize> = cut_points.iter().map(|i| i.index(bytes.len())).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for c in cuts {
            chunks.push(&bytes[last..c]);
            last = c;
        }
        chunks.push(&bytes[last..]);
        let (whole, err) = run(&[bytes], ReaderLimits::default());
        prop_assert_eq!(err, None);
        let (pieces, err) = run(&chunks, ReaderLimits::default());
        prop_assert_eq!(err, None);
        prop_assert_eq!(&whole, &pieces);
        let read: Vec<&Element> = whole.iter().filter_map(|e| match e { StreamEvent::Element(e) => Some(e), _ => None }).collect();
        prop_assert_eq!(read.len(), elements.len());
        for (got, want) in read.iter().zip(&elements) {
            prop_assert_eq!(*got, want);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut input = HEADER.as_bytes().to_vec();
        input.extend_from_slice(&data);
        let _ = run(&[&input], ReaderLimits { max_stanza_size: 512, max_depth: 8 });
    }

    #[test]
    fn no_stanza_over_the_limit_is_ever_emitted(body_len in 0usize..3000, limit in 200usize..2000) {
        let input = format!("{HEADER}<message><body>{}</body></message>", "x".repeat(body_len));
        let (events, err) = run(&[input.as_bytes()], ReaderLimits { max_stanza_size: limit, max_depth: 8 });
        let wire = body_len + "<message><body></body></message>".len();
        if wire > limit {
            prop_assert_eq!(err.as_deref(), Some("policy-violation"));
            prop_assert!(!events.iter().any(|e| matches!(e, StreamEvent::Element(_))));
        } else {
            prop_assert_eq!(err, None);
        }
    }
}
