//! Translations per second, both ways: a SIP phone offer and a WebRTC offer (BUNDLE,
//! audio + video, ICE candidates, DTLS), from the fixtures. Parsing is included: a gateway
//! receives text and sends text. `cargo bench -p tandem-translations --bench translate`.

use divan::{black_box, Bencher};
use tandem_translations::jingle::{self, Action, JinglePayload};
use tandem_translations::mapping::{jingle_to_sdp, sdp_to_jingle, sdp_to_jingle_typed, Role};
use tandem_translations::sdp::SessionDescription;

const PHONE: &str = include_str!("../../fixtures/sdp/sip_phone_pcmu_pcma_dtmf.sdp");
const WEBRTC: &str = include_str!("../../fixtures/sdp/webrtc_chrome_offer_bundle.sdp");
const WEBRTC10: &str = include_str!("../../fixtures/bench/webrtc_offer_10_candidates.sdp");

fn main() {
    divan::main();
}

fn to_jingle_xml(sdp: &str) -> String {
    let (sdp, typed) = SessionDescription::parse_typed(sdp).unwrap();
    let t = sdp_to_jingle_typed(
        &sdp,
        &typed,
        Role::Initiator,
        Action::SessionInitiate,
        "sid",
        0,
    )
    .unwrap();
    t.jingle.to_xml()
}

fn to_sdp_text(xml: &str) -> String {
    let JinglePayload::Jingle(j) = jingle::parse(xml).unwrap() else {
        panic!("not jingle")
    };
    jingle_to_sdp(&j, Role::Initiator, 1).unwrap().to_string()
}

fn fixture(name: &str) -> &'static str {
    match name {
        "phone" => PHONE,
        "webrtc10" => WEBRTC10,
        _ => WEBRTC,
    }
}

#[divan::bench(args = ["phone", "webrtc", "webrtc10"])]
fn sdp_to_jingle_xml(bencher: Bencher, name: &str) {
    let sdp = fixture(name);
    bencher.bench(|| to_jingle_xml(black_box(sdp)));
}

#[divan::bench(args = ["phone", "webrtc", "webrtc10"])]
fn jingle_xml_to_sdp(bencher: Bencher, name: &str) {
    let xml = to_jingle_xml(fixture(name));
    bencher.bench(|| to_sdp_text(black_box(&xml)));
}

/// The parts of `sdp_to_jingle_xml`, to see where its time goes.
#[divan::bench(args = ["phone", "webrtc", "webrtc10"])]
fn parts_sdp_parse(bencher: Bencher, name: &str) {
    let sdp = fixture(name);
    bencher.bench(|| SessionDescription::parse(black_box(sdp)).unwrap());
}

#[divan::bench(args = ["phone", "webrtc", "webrtc10"])]
fn parts_mapping_only(bencher: Bencher, name: &str) {
    let sdp = SessionDescription::parse(fixture(name)).unwrap();
    bencher.bench(|| {
        sdp_to_jingle(
            black_box(&sdp),
            Role::Initiator,
            Action::SessionInitiate,
            "sid",
            0,
        )
        .unwrap()
    });
}

#[divan::bench(args = ["phone", "webrtc", "webrtc10"])]
fn parts_jingle_write(bencher: Bencher, name: &str) {
    let sdp = SessionDescription::parse(fixture(name)).unwrap();
    let j = sdp_to_jingle(&sdp, Role::Initiator, Action::SessionInitiate, "sid", 0)
        .unwrap()
        .jingle;
    bencher.bench(|| black_box(&j).to_xml());
}

/// The XML-reading part of `jingle_xml_to_sdp`: `jingle::parse` of the written XML.
#[divan::bench(args = ["phone", "webrtc", "webrtc10"])]
fn parts_jingle_parse(bencher: Bencher, name: &str) {
    let xml = to_jingle_xml(fixture(name));
    bencher.bench(|| jingle::parse(black_box(&xml)).unwrap());
}

/// Typing every attribute once (what parse does to validate and the mapping does again).
#[divan::bench(args = ["phone", "webrtc", "webrtc10"])]
fn parts_sdp_typed(bencher: Bencher, name: &str) {
    let sdp = SessionDescription::parse(fixture(name)).unwrap();
    bencher.bench(|| {
        let top: Vec<_> = black_box(&sdp).typed_attributes().collect();
        let media: Vec<Vec<_>> = sdp
            .media
            .iter()
            .map(|m| m.typed_attributes().collect())
            .collect();
        (top, media)
    });
}

/// SDP model -> text.
#[divan::bench(args = ["phone", "webrtc", "webrtc10"])]
fn parts_sdp_write(bencher: Bencher, name: &str) {
    let sdp = SessionDescription::parse(fixture(name)).unwrap();
    bencher.bench(|| black_box(&sdp).to_string());
}

/// Jingle model -> SDP model (mapping, control-character check and the validating re-parse).
#[divan::bench(args = ["phone", "webrtc", "webrtc10"])]
fn parts_jingle_to_sdp_model(bencher: Bencher, name: &str) {
    let JinglePayload::Jingle(j) = jingle::parse(&to_jingle_xml(fixture(name))).unwrap() else {
        panic!("not jingle")
    };
    bencher.bench(|| jingle_to_sdp(black_box(&j), Role::Initiator, 1).unwrap());
}
