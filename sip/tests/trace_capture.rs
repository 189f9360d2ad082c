//! Captures built here with etherparse's packet builder and pcap-file's writers (both
//! independent of our decoder), read back by `tandem_sip::trace::CaptureDecoder`.

use std::borrow::Cow;
use std::time::Duration;

use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use tandem_sip::trace::{CaptureDecoder, TraceEvent, TraceMessage, TraceTransport};

const A: [u8; 4] = [192, 0, 2, 10];
const B: [u8; 4] = [192, 0, 2, 20];

fn invite(call: &str) -> Vec<u8> {
    let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    format!(
        "INVITE sip:alice@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK{call}\r\n\
         From: <sip:bob@example.test>;tag=1\r\nTo: <sip:alice@example.test>\r\nCall-ID: {call}\r\n\
         CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const TRYING: &[u8] = b"SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKx\r\n\
    From: <sip:bob@example.test>;tag=1\r\nTo: <sip:alice@example.test>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

fn udp(from: [u8; 4], to: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(from, to, 64)
        .udp(sport, dport);
    let mut frame = Vec::new();
    builder.write(&mut frame, payload).unwrap();
    frame
}

enum Flag {
    Syn,
    Fin,
    None,
}

fn tcp(seq: u32, flag: Flag, payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(A, B, 64)
        .tcp(40000, 5060, seq, 65535);
    let builder = match flag {
        Flag::Syn => builder.syn(),
        Flag::Fin => builder.fin(),
        Flag::None => builder.psh(),
    };
    let mut frame = Vec::new();
    builder.write(&mut frame, payload).unwrap();
    frame
}

fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = PcapWriter::new(Vec::new()).unwrap();
    for (i, frame) in frames.iter().enumerate() {
        let time = Duration::from_millis(1_700_000_000_000 + 10 * i as u64);
        writer
            .write_packet(&PcapPacket::new(time, frame.len() as u32, frame))
            .unwrap();
    }
    writer.into_writer()
}

/// Decodes `bytes` fed in `chunk`-sized reads.
fn decode(bytes: &[u8], chunk: usize) -> (Vec<TraceEvent>, u64) {
    let mut d = CaptureDecoder::new();
    let mut events = Vec::new();
    for piece in bytes.chunks(chunk) {
        d.push(piece);
        events.extend(std::iter::from_fn(|| d.poll()));
    }
    d.finish();
    events.extend(std::iter::from_fn(|| d.poll()));
    (events, d.skipped_packets())
}

fn messages(events: &[TraceEvent]) -> Vec<&TraceMessage> {
    events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Message(m) => Some(m),
            TraceEvent::Problem(_) => None,
        })
        .collect()
}

fn problems(events: &[TraceEvent]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Problem(p) => Some((p.packet, p.what.clone())),
            TraceEvent::Message(_) => None,
        })
        .collect()
}

#[test]
fn udp_sip_is_found_on_any_port_and_other_traffic_is_counted() {
    let rtp = [0x80u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff];
    let capture = pcap(&[
        udp(A, B, 5062, 15060, &invite("c1")),
        udp(A, B, 4000, 4002, &rtp),
        udp(B, A, 15060, 5062, TRYING),
        udp(B, A, 15060, 5062, b"\r\n\r\n"),
    ]);
    for chunk in [1, 7, 100, capture.len()] {
        let (events, skipped) = decode(&capture, chunk);
        assert!(problems(&events).is_empty(), "{events:?}");
        let got = messages(&events);
        assert_eq!(got.len(), 2, "chunk {chunk}");
        assert_eq!(got[0].packet, 1);
        assert_eq!(got[0].bytes, invite("c1"));
        assert_eq!(got[0].source, "192.0.2.10:5062".parse().unwrap());
        assert_eq!(got[0].destination, "192.0.2.20:15060".parse().unwrap());
        assert_eq!(got[0].transport, TraceTransport::Udp);
        assert_eq!(got[0].time, Duration::from_millis(1_700_000_000_000));
        assert_eq!(got[1].packet, 3);
        assert_eq!(got[1].time, Duration::from_millis(1_700_000_000_020));
        assert_eq!(skipped, 2, "RTP and the keep-alive");
    }
}

#[test]
fn tcp_streams_are_reassembled_in_order_whatever_the_segments() {
    let one = invite("t1");
    let two = invite("t2");
    let stream: Vec<u8> = [one.clone(), two.clone()].concat();
    let isn = 1000u32;
    let cut = [0, 100, 101, 250, one.len() + 40, stream.len()];
    let segment = |i: usize| {
        tcp(
            isn + 1 + cut[i] as u32,
            Flag::None,
            &stream[cut[i]..cut[i + 1]],
        )
    };
    let frames = vec![
        tcp(isn, Flag::Syn, b""),
        segment(0),
        segment(2), // early: held
        segment(1),
        segment(1), // a retransmission
        segment(3),
        segment(4),
        tcp(isn + 1 + stream.len() as u32, Flag::Fin, b""),
    ];
    let (events, _) = decode(&pcap(&frames), 13);
    assert!(problems(&events).is_empty(), "{events:?}");
    let got = messages(&events);
    assert_eq!(got.len(), 2, "{events:?}");
    assert_eq!(got[0].bytes, one);
    assert_eq!(
        got[0].packet, 6,
        "completed by the segment that arrived 6th"
    );
    assert_eq!(got[1].bytes, two);
    assert_eq!(got[1].packet, 7);
    assert_eq!(got[1].transport, TraceTransport::Tcp);
}

#[test]
fn a_stream_caught_mid_connection_and_a_non_sip_stream() {
    let capture = pcap(&[tcp(77, Flag::None, &invite("mid")), {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(B, A, 64)
            .tcp(443, 40001, 5, 100)
            .psh();
        let mut f = Vec::new();
        b.write(&mut f, b"\x16\x03\x01 not sip").unwrap();
        f
    }]);
    let (events, _) = decode(&capture, 64);
    assert_eq!(messages(&events).len(), 1);
    let p = problems(&events);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].0, 2);
    assert!(p[0].1.contains("not SIP"), "{p:?}");
}

#[test]
fn a_truncated_capture_keeps_what_came_before_and_names_the_packet() {
    let capture = pcap(&[
        udp(A, B, 5060, 5060, &invite("a")),
        udp(A, B, 5060, 5060, &invite("b")),
    ]);
    let cut = &capture[..capture.len() - 30];
    let (events, _) = decode(cut, 50);
    assert_eq!(messages(&events).len(), 1);
    let p = problems(&events);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, 2);
    assert!(p[0].1.contains("truncated"), "{p:?}");
    // Not a capture at all.
    let (events, _) = decode(b"hello, this is not a capture", 5);
    assert_eq!(problems(&events).len(), 1, "{events:?}");
    let (events, _) = decode(b"\x0a\x0d", 5);
    assert_eq!(problems(&events).len(), 1, "{events:?}");
}

#[test]
fn garbage_between_sip_endpoints_is_reported_and_skipped() {
    let capture = pcap(&[
        udp(A, B, 5060, 5060, &invite("g")),
        udp(B, A, 5060, 5060, b"\x00\x01garbage that is not sip"),
        udp(B, A, 5060, 5060, TRYING),
    ]);
    let (events, _) = decode(&capture, 1000);
    assert_eq!(messages(&events).len(), 2);
    assert_eq!(
        problems(&events).iter().map(|p| p.0).collect::<Vec<_>>(),
        [2]
    );
}

#[test]
fn pcapng_with_nanosecond_timestamps() {
    let mut writer = PcapNgWriter::new(Vec::new()).unwrap();
    let mut interface = InterfaceDescriptionBlock::new(DataLink::ETHERNET, 65535);
    interface
        .options
        .push(InterfaceDescriptionOption::IfTsResol(9));
    writer.write_pcapng_block(interface).unwrap();
    let frame = udp(A, B, 5060, 5060, &invite("ng"));
    // pcap-file writes the raw timestamp units it is given as nanoseconds.
    let units = 1_700_000_000_123_456_789u64;
    writer
        .write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(units),
            original_len: frame.len() as u32,
            data: Cow::Borrowed(&frame),
            options: Vec::new(),
        })
        .unwrap();
    let mut bytes = writer.into_inner();
    // The start of another enhanced packet block, cut short.
    bytes.extend_from_slice(&[6, 0, 0, 0, 200, 0, 0, 0, 1, 2]);
    let (events, _) = decode(&bytes, 17);
    let got = messages(&events);
    assert_eq!(got.len(), 1, "{events:?}");
    assert_eq!(got[0].time, Duration::new(1_700_000_000, 123_456_789));
    assert_eq!(got[0].bytes, invite("ng"));
    let p = problems(&events);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].0, 2);
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use tandem_sip::trace::text::{write_block, TextDecoder};

    fn sip_message() -> impl Strategy<Value = Vec<u8>> {
        ("[a-z0-9]{1,12}", "[ -~]{0,60}").prop_map(|(call, body)| {
            let body = if body.is_empty() { String::new() } else { format!("{body}\r\n") };
            format!(
                "OPTIONS sip:x@example.test SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK{call}\r\nCall-ID: {call}\r\nCSeq: 1 OPTIONS\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        })
    }

    proptest! {
        /// Whatever the read sizes, and over UDP or split across TCP segments, a capture
        /// gives back exactly the messages put in it, in order.
        #[test]
        fn captures_give_back_what_they_hold(
            messages in proptest::collection::vec(sip_message(), 1..8),
            chunk in 1usize..300,
            segment in 1usize..200,
        ) {
            let udp_frames: Vec<Vec<u8>> = messages.iter().map(|m| udp(A, B, 5060, 5060, m)).collect();
            let (events, _) = decode(&pcap(&udp_frames), chunk);
            let got: Vec<Vec<u8>> = messages_of(&events);
            prop_assert_eq!(&got, &messages);

            let stream: Vec<u8> = messages.concat();
            let mut frames = vec![tcp(9, Flag::Syn, b"")];
            for (i, piece) in stream.chunks(segment).enumerate() {
                frames.push(tcp(10 + (i * segment) as u32, Flag::None, piece));
            }
            let (events, _) = decode(&pcap(&frames), chunk);
            prop_assert!(problems(&events).is_empty(), "{:?}", events);
            prop_assert_eq!(messages_of(&events), messages);
        }

        /// The text format reads back what it writes.
        #[test]
        fn text_blocks_round_trip(messages in proptest::collection::vec(sip_message(), 1..8), chunk in 1usize..100) {
            let mut text = String::new();
            for (i, m) in messages.iter().enumerate() {
                write_block(&mut text, &TraceMessage {
                    packet: i as u64 + 1,
                    time: Duration::from_micros(1_000 * i as u64),
                    transport: TraceTransport::Udp,
                    source: "192.0.2.1:5060".parse().unwrap(),
                    destination: "[2001:db8::2]:5080".parse().unwrap(),
                    bytes: m.clone(),
                });
            }
            let mut d = TextDecoder::new();
            let mut events = Vec::new();
            let chars: Vec<char> = text.chars().collect();
            for piece in chars.chunks(chunk) {
                d.push(&piece.iter().collect::<String>());
                events.extend(std::iter::from_fn(|| d.poll()));
            }
            d.finish();
            events.extend(std::iter::from_fn(|| d.poll()));
            prop_assert_eq!(messages_of(&events), messages);
        }
    }

    fn messages_of(events: &[TraceEvent]) -> Vec<Vec<u8>> {
        messages(events)
            .into_iter()
            .map(|m| m.bytes.clone())
            .collect()
    }
}

#[test]
fn sequence_numbers_wrapping_past_2_32_keep_their_order() {
    let stream = [invite("w1"), invite("w2")].concat();
    let isn = u32::MAX - 150;
    let at = |offset: usize| isn.wrapping_add(1).wrapping_add(offset as u32);
    let cut = [0usize, 120, 260, stream.len()];
    let frames = vec![
        tcp(isn, Flag::Syn, b""),
        // Both early: one just before the wrap, one after it.
        tcp(at(cut[1]), Flag::None, &stream[cut[1]..cut[2]]),
        tcp(at(cut[2]), Flag::None, &stream[cut[2]..cut[3]]),
        tcp(at(cut[2]), Flag::None, &stream[cut[2]..cut[3]]), // retransmitted while held
        tcp(at(0), Flag::None, &stream[..cut[1]]),
    ];
    let (events, _) = decode(&pcap(&frames), 64);
    assert!(problems(&events).is_empty(), "{events:?}");
    let got: Vec<_> = messages(&events).iter().map(|m| m.bytes.clone()).collect();
    assert_eq!(got, [invite("w1"), invite("w2")]);
}

#[test]
fn data_on_the_syn_is_not_lost() {
    let (events, _) = decode(&pcap(&[tcp(500, Flag::Syn, &invite("tfo"))]), 64);
    assert!(problems(&events).is_empty(), "{events:?}");
    assert_eq!(messages(&events)[0].bytes, invite("tfo"));
}

#[test]
fn a_record_cut_short_by_the_snaplen_is_skipped_and_reading_goes_on() {
    let mut writer = PcapWriter::new(Vec::new()).unwrap();
    let whole = udp(A, B, 5060, 5060, &invite("s1"));
    let next = udp(A, B, 5060, 5060, &invite("s2"));
    let t = Duration::from_secs(1_700_000_000);
    writer
        .write_packet(&PcapPacket::new(t, whole.len() as u32, &whole[..200]))
        .unwrap();
    writer
        .write_packet(&PcapPacket::new(t, next.len() as u32, &next))
        .unwrap();
    let (events, _) = decode(&writer.into_writer(), 100);
    let p = problems(&events);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].0, 1);
    assert!(p[0].1.contains("cut short"), "{p:?}");
    let got = messages(&events);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].packet, 2);
    assert_eq!(got[0].bytes, invite("s2"));
}
