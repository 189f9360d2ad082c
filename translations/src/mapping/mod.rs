//! The rules SDP <-> Jingle translation is built from (`design/sdp-jingle-mapping.md` §1),
//! each a small pure function with its decision written into tests. The whole-document
//! translation (offer/answer in both directions) is assembled from these.

mod candidate;
mod direction;
mod error;
mod fmtp;
mod payload;
mod profile;
mod transport;

pub use candidate::{ice_candidate_from_sdp, sdp_candidate_from_ice};
pub use direction::{direction_from_senders, senders_from_direction, Role};
pub use error::MappingError;
pub use fmtp::{fmtp_from_parameters, implied_parameters, parameters_from_fmtp};
pub use payload::{media_lines_from_payload_types, payload_types_from_media};
pub use profile::{profile_of, Profile};
pub use transport::{media_transport_from_transport, transport_from_media, MediaTransport};
