//! The rules SDP <-> Jingle translation is built from (`design/sdp-jingle-mapping.md` §1),
//! each a small pure function with its decision written into tests. The whole-document
//! translation (offer/answer in both directions) is assembled from these.

mod candidate;
mod carried;
mod description;
mod direction;
mod error;
mod fmtp;
mod payload;
mod profile;
mod renegotiation;
mod session;
mod transport;
mod trickle;

pub use candidate::{ice_candidate_from_sdp, sdp_candidate_from_ice};
pub use description::{
    description_from_media, media_description_from_description, MediaDescription,
};
pub use direction::{direction_from_senders, senders_from_direction, Role};
pub use error::MappingError;
pub use fmtp::{fmtp_from_parameters, implied_parameters, parameters_from_fmtp};
pub use payload::{media_lines_from_payload_types, payload_types_from_media};
pub use profile::{profile_of, Profile};
pub use renegotiation::jingle_changes;
pub use session::{jingle_to_sdp, sdp_to_jingle, sdp_to_jingle_typed, SdpToJingle};
pub use transport::{media_transport_from_transport, transport_from_media, MediaTransport};
pub use trickle::{sdpfrag_from_transport_info, transport_info_from_sdpfrag};

/// FNV-1a: deterministic across runs and Rust versions (std's hasher promises neither), for
/// identifiers that must stay the same when the same thing is translated again.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod test_support {
    use crate::sdp::SessionDescription;

    /// A valid SDP session around `body` (its m-lines and attributes).
    pub fn session(body: &str) -> SessionDescription {
        SessionDescription::parse(&format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{body}"
        ))
        .unwrap()
    }
}
