//! Round-trip properties on generated inputs (issue 4): SDP -> Jingle -> SDP -> Jingle gives
//! the same Jingle, and Jingle -> SDP -> Jingle keeps what both sides can say: codecs and
//! their parameters, feedback, candidates, fingerprints, directions, groups and sources.

use proptest::prelude::*;
use tandem_translations::jingle::CandidateType;
use tandem_translations::jingle::{
    Action, Content, Creator, Description, Fingerprint, Group, IceCandidate, IceUdpTransport,
    Jingle, MsidStream, Parameter, PayloadType, RtcpFb, RtpDescription, RtpHdrext, SdpAttribute,
    Senders, Setup, Source, SourceParameter, Transport,
};
use tandem_translations::mapping::{implied_parameters, jingle_to_sdp, sdp_to_jingle, Role};
use tandem_translations::sdp::SessionDescription;

// ---------- generated SDP ----------

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Initiator), Just(Role::Responder)]
}

fn direction() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::of(prop::sample::select(vec![
        "sendrecv", "sendonly", "recvonly", "inactive",
    ]))
}

fn ipv4() -> impl Strategy<Value = String> {
    (1u8..=223, any::<u8>(), any::<u8>(), 1u8..=254)
        .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}"))
}

fn candidate_line() -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9+/]{1,10}",
        1u16..=2,
        prop::bool::ANY,
        1u32..(1 << 31),
        ipv4(),
        1u16..,
        prop::sample::select(vec!["host", "srflx", "relay", "prflx"]),
        prop::option::of(0u32..5),
    )
        .prop_map(
            |(foundation, component, tcp, priority, ip, port, typ, generation)| {
                let mut line = format!(
                    "a=candidate:{foundation} {component} {} {priority} {ip} {port} typ {typ}",
                    if tcp { "tcp" } else { "udp" }
                );
                if typ != "host" {
                    line.push_str(" raddr 10.0.0.1 rport 9");
                }
                if tcp {
                    line.push_str(" tcptype active");
                }
                if let Some(g) = generation {
                    line.push_str(&format!(" generation {g}"));
                }
                line + "\r\n"
            },
        )
}

/// One m-line: a random codec set with fmtp/rtcp-fb/ptime, direction, and either ICE with
/// DTLS or a plain phone's c=/port (Raw UDP), sometimes SDES, ssrc and extmap.
fn media(index: usize) -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["audio", "video"]),
        1024u16..,
        prop::sample::subsequence(
            vec![
                ("0", None),
                ("8", None),
                ("18", Some("G729/8000")),
                ("96", Some("opus/48000/2")),
                ("97", Some("VP8/90000")),
                ("101", Some("telephone-event/8000")),
                ("110", Some("H264/90000")),
            ],
            1..5,
        ),
        prop::option::of("[a-z]{1,6}=[0-9]{1,4}"),
        prop::option::of(prop::sample::select(vec!["nack", "nack pli", "ccm fir", "goog-remb"])),
        prop::option::of(prop::sample::select(vec![10u32, 20, 30])),
        direction(),
        prop::bool::ANY,
        prop::collection::vec(candidate_line(), 0..4),
        prop::option::of((any::<u32>(), "[a-zA-Z0-9]{4,12}")),
        (prop::bool::ANY, prop::bool::ANY, extras()),
    )
        .prop_map(
            move |(kind, port, pts, fmtp, fb, ptime, dir, ice, cands, ssrc, (sdes, mux, extras))| {
                let formats: Vec<&str> = pts.iter().map(|(pt, _)| *pt).collect();
                let proto = match (ice, sdes) {
                    (true, _) => "UDP/TLS/RTP/SAVPF",
                    (false, true) => "RTP/SAVP",
                    (false, false) => "RTP/AVP",
                };
                let mut m = format!("m={kind} {port} {proto} {}\r\n", formats.join(" "));
                m.push_str(&format!("c=IN IP4 192.0.2.{}\r\n", index + 1));
                for (pt, map) in &pts {
                    if let Some(map) = map {
                        m.push_str(&format!("a=rtpmap:{pt} {map}\r\n"));
                    }
                }
                if let (Some(f), Some((pt, _))) = (&fmtp, pts.iter().find(|(pt, _)| *pt == "96")) {
                    m.push_str(&format!("a=fmtp:{pt} {f}\r\n"));
                }
                if let (Some(fb), true) = (fb, ice) {
                    m.push_str(&format!("a=rtcp-fb:{} {fb}\r\n", formats[0]));
                }
                if let Some(p) = ptime {
                    m.push_str(&format!("a=ptime:{p}\r\n"));
                }
                if let Some(d) = dir {
                    m.push_str(&format!("a={d}\r\n"));
                }
                if mux {
                    m.push_str("a=rtcp-mux\r\n");
                }
                if ice {
                    m.push_str(&format!("a=mid:m{index}\r\na=ice-ufrag:uf{index}x\r\n"));
                    m.push_str("a=ice-pwd:asd88fgpdd777uzjYhagZg\r\n");
                    m.push_str("a=fingerprint:sha-256 02:1A:CC:54:27:AB:EB:9C\r\na=setup:actpass\r\n");
                    cands.iter().for_each(|c| m.push_str(c));
                } else if sdes {
                    m.push_str("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32\r\n");
                }
                m.push_str(&extras);
                if ice && cands.len() > 1 {
                    m.push_str("a=end-of-candidates\r\n");
                }
                if let Some((id, cname)) = ssrc {
                    m.push_str(&format!("a=ssrc:{id} cname:{cname}\r\na=ssrc:{id} msid:s t\r\n"));
                }
                m
            },
        )
}

/// Lines with no XEP or with non-standard encodings: header extensions with a direction,
/// rtcp-rsize, a media-level msid, and attributes only the carrier keeps.
fn extras() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "a=extmap:1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n",
            "a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:mid\r\n",
            "a=rtcp-rsize\r\n",
            "a=msid:stream track\r\n",
            "a=x-vendor:42\r\n",
            "a=label:1\r\n",
            "a=rid:1 send\r\n",
        ]),
        0..4,
    )
    .prop_map(|lines| {
        let mut seen = Vec::new();
        for l in lines {
            if !seen.contains(&l) {
                seen.push(l);
            }
        }
        seen.concat()
    })
}

fn sdp() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(any::<u8>(), 1..4),
        direction(),
        prop::bool::ANY,
    )
        .prop_flat_map(|(shape, session_dir, bundle)| {
            let sections: Vec<_> = (0..shape.len()).map(media).collect();
            sections.prop_map(move |ms| {
                let mut s = String::from("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n");
                if bundle {
                    let mids: Vec<String> = (0..ms.len()).map(|i| format!("m{i}")).collect();
                    s.push_str(&format!("a=group:BUNDLE {}\r\n", mids.join(" ")));
                }
                if let Some(d) = session_dir {
                    s.push_str(&format!("a={d}\r\n"));
                }
                if shape[0] % 3 == 0 {
                    s.push_str("a=ice-lite\r\na=msid-semantic: WMS *\r\n");
                }
                s + &ms.concat()
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sdp_to_jingle_to_sdp_to_jingle_is_stable(text in sdp(), author in role()) {
        let sdp = SessionDescription::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let first = sdp_to_jingle(&sdp, author, Action::SessionInitiate, "s", 0)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?
            .jingle;
        let written = jingle_to_sdp(&first, author, 1)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?
            .to_string();
        let reparsed = SessionDescription::parse(&written)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{written}")))?;
        let again = sdp_to_jingle(&reparsed, author, Action::SessionInitiate, "s", 0).unwrap().jingle;
        prop_assert_eq!(&again, &first, "{}\n->\n{}", text, written);
        // Directions survive as SDP says them, per m-line, role-aware both ways.
        for (m, c) in sdp.media.iter().zip(&first.contents) {
            let back = reparsed.media.iter().find(|r| r.mid().as_deref() == Some(c.name.as_str()) || r.mid().is_none());
            prop_assert_eq!(back.map(|b| b.effective_direction(&reparsed)), Some(m.effective_direction(&sdp)));
        }
    }
}

// ---------- generated Jingle ----------

fn senders() -> impl Strategy<Value = Option<Senders>> {
    prop::option::of(prop::sample::select(vec![
        Senders::Initiator,
        Senders::Responder,
        Senders::None,
    ]))
}

fn payload_types() -> impl Strategy<Value = Vec<PayloadType>> {
    prop::collection::btree_map(
        96u8..=127,
        (
            prop::sample::select(vec!["opus", "VP8", "H264", "speex", "telephone-event"]),
            prop::sample::select(vec![8000u32, 16000, 48000, 90000]),
            prop::option::of(2u8..=2),
            prop::collection::btree_map("[a-z][a-z-]{0,8}", "[a-z0-9]{1,6}", 0..3),
            prop::collection::vec(
                prop::sample::select(vec![
                    ("nack", None),
                    ("nack", Some("pli")),
                    ("ccm", Some("fir")),
                ]),
                0..2,
            ),
        ),
        1..4,
    )
    .prop_map(|pts| {
        pts.into_iter()
            .map(
                |(id, (name, clockrate, channels, params, fbs))| PayloadType {
                    id,
                    name: Some(name.to_string()),
                    clockrate: Some(clockrate),
                    channels,
                    parameters: params
                        .into_iter()
                        .map(|(name, value)| Parameter { name, value })
                        .collect(),
                    rtcp_fbs: dedup_fbs(fbs),
                    ..Default::default()
                },
            )
            .collect()
    })
}

fn dedup_fbs(fbs: Vec<(&str, Option<&str>)>) -> Vec<RtcpFb> {
    let mut out: Vec<RtcpFb> = Vec::new();
    for (t, s) in fbs {
        if !out
            .iter()
            .any(|f| f.fb_type == t && f.subtype.as_deref() == s)
        {
            out.push(RtcpFb {
                fb_type: t.into(),
                subtype: s.map(str::to_string),
                unknown_attrs: Vec::new(),
                unknown: Vec::new(),
            });
        }
    }
    out
}

fn ice_candidate() -> impl Strategy<Value = IceCandidate> {
    (
        "[a-zA-Z0-9]{1,8}",
        1u8..=2,
        0u32..3,
        ipv4(),
        1u16..,
        1u32..(1 << 31),
        prop::sample::select(vec![
            CandidateType::Host,
            CandidateType::Srflx,
            CandidateType::Relay,
        ]),
        prop::option::of(0u32..3),
    )
        .prop_map(
            |(foundation, component, generation, ip, port, priority, typ, network)| IceCandidate {
                component,
                foundation,
                generation,
                id: "any-id".into(),
                ip,
                port,
                priority: u64::from(priority),
                protocol: "udp".into(),
                rel_addr: (typ != CandidateType::Host).then(|| "10.0.0.1".into()),
                rel_port: (typ != CandidateType::Host).then_some(9),
                candidate_type: typ,
                network,
                tcptype: None,
                unknown_attrs: Vec::new(),
                unknown: Vec::new(),
            },
        )
}

fn content(index: usize) -> impl Strategy<Value = Content> {
    (
        prop::sample::select(vec!["audio", "video"]),
        payload_types(),
        senders(),
        prop::collection::vec(ice_candidate(), 0..4),
        prop::sample::select(vec![Setup::Actpass, Setup::Active, Setup::Passive]),
        prop::bool::ANY,
        prop::option::of(any::<u32>()),
        (
            senders(),
            prop::bool::ANY,
            prop::bool::ANY,
            prop::option::of("[a-z]{1,8}"),
        ),
    )
        .prop_map(
            move |(
                media,
                pts,
                senders,
                candidates,
                setup,
                mux,
                ssrc,
                (hdrext_senders, rsize, gathered, carried),
            )| {
                let mut c = Content::new(Creator::Initiator, format!("c{index}"));
                c.senders = senders;
                let mut d = RtpDescription {
                    media: media.into(),
                    payload_types: pts,
                    rtcp_mux: mux,
                    ..Default::default()
                };
                d.hdrexts.push(RtpHdrext {
                    id: 1,
                    uri: "urn:ietf:params:rtp-hdrext:ssrc-audio-level".into(),
                    senders: hdrext_senders,
                    parameters: Vec::new(),
                    unknown_attrs: Vec::new(),
                    unknown: Vec::new(),
                });
                d.rtcp_reduced_size = rsize;
                if let Some(name) = &carried {
                    d.streams.push(MsidStream {
                        id: name.clone(),
                        track: None,
                    });
                    c.sdp_attributes.push(SdpAttribute {
                        name: format!("x-{name}"),
                        value: Some("1".into()),
                        session_level: false,
                    });
                }
                if let Some(ssrc) = ssrc {
                    d.sources.push(Source {
                        ssrc,
                        parameters: vec![SourceParameter {
                            name: "cname".into(),
                            value: Some("x".into()),
                        }],
                        unknown_attrs: Vec::new(),
                        unknown: Vec::new(),
                    });
                }
                c.description = Some(Description::Rtp(Box::new(d)));
                c.transport = Some(Transport::IceUdp(IceUdpTransport {
                    ufrag: Some(format!("uf{index}x")),
                    pwd: Some("asd88fgpdd777uzjYhagZg".into()),
                    candidates,
                    gathering_complete: gathered,
                    fingerprints: vec![Fingerprint {
                        hash: "sha-256".into(),
                        setup,
                        value: "02:1A:CC:54".into(),
                        unknown_attrs: Vec::new(),
                        unknown: Vec::new(),
                    }],
                    ..Default::default()
                }));
                c
            },
        )
}

fn jingle() -> impl Strategy<Value = Jingle> {
    (1usize..4, prop::bool::ANY).prop_flat_map(|(n, bundle)| {
        let contents: Vec<_> = (0..n).map(content).collect();
        contents.prop_map(move |contents| {
            let mut j = Jingle::new(Action::SessionInitiate, "sid");
            if bundle {
                j.groups.push(Group {
                    semantics: "BUNDLE".into(),
                    contents: contents.iter().map(|c| c.name.clone()).collect(),
                    unknown_attrs: Vec::new(),
                    unknown: Vec::new(),
                });
            }
            j.contents = contents;
            j
        })
    })
}

/// What both sides can say: the candidate `id` is Jingle-only (SDP has none; it is
/// synthesised on the way back), and parameters a format implies (telephone-event's
/// `events` 0-15, RFC 4733 §2.4.1) are made explicit; everything else must survive.
fn semantic(mut j: Jingle) -> Jingle {
    for c in &mut j.contents {
        if let Some(Description::Rtp(d)) = &mut c.description {
            for pt in &mut d.payload_types {
                if pt.parameters.is_empty() {
                    pt.parameters = implied_parameters(pt.name.as_deref().unwrap_or(""));
                }
            }
        }
        if let Some(Transport::IceUdp(ice)) = &mut c.transport {
            for cand in &mut ice.candidates {
                cand.id = String::new();
            }
        }
    }
    j
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn jingle_to_sdp_to_jingle_keeps_what_sdp_can_say(j in jingle(), author in role()) {
        let sdp = jingle_to_sdp(&j, author, 1).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let text = sdp.to_string();
        let reparsed = SessionDescription::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let back = sdp_to_jingle(&reparsed, author, Action::SessionInitiate, "sid", 0)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?
            .jingle;
        prop_assert_eq!(semantic(back), semantic(j), "{}", text);
    }
}
