//! `a=candidate` <-> XEP-0176 `<candidate>`.
//!
//! Jingle requires `id` and `generation`, which SDP lacks (gotcha 3 of the mapping doc).
//! The id is derived from what identifies the candidate, so a re-offer carrying the same
//! candidate yields the same id; the generation is the caller's ICE generation (bumped on
//! an ICE restart) unless the SDP states one. `network-id` maps to @network; other
//! extensions (network-cost, ufrag, ...) ride along as extra attributes and come back.

use super::MappingError;
use crate::jingle::{CandidateType, IceCandidate};
use crate::sdp::Candidate;

const NETWORK_ID: &str = "network-id";

/// SDP candidate -> Jingle candidate, in ICE generation `generation`.
pub fn ice_candidate_from_sdp(
    c: &Candidate,
    generation: u32,
) -> Result<IceCandidate, MappingError> {
    let component = u8::try_from(c.component)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| MappingError::ComponentOutOfRange {
            foundation: c.foundation.clone(),
            component: c.component,
        })?;
    let candidate_type: CandidateType =
        c.typ
            .to_ascii_lowercase()
            .parse()
            .map_err(|()| MappingError::UnknownCandidateType {
                foundation: c.foundation.clone(),
                typ: c.typ.clone(),
            })?;
    let protocol = c.transport.to_ascii_lowercase();
    let network = c
        .extensions
        .iter()
        .find(|(k, _)| k == NETWORK_ID)
        .and_then(|(_, v)| v.parse().ok());
    let unknown_attrs = c
        .extensions
        .iter()
        .filter(|(k, v)| !(k == NETWORK_ID && v.parse::<u32>().is_ok()))
        .cloned()
        .collect();
    let (rel_addr, rel_port) =
        related_address(candidate_type, &c.address, c.raddr.as_ref(), c.rport);
    Ok(IceCandidate {
        component,
        id: stable_id(
            &c.foundation,
            component,
            &protocol,
            &c.address,
            c.port,
            candidate_type,
        ),
        foundation: c.foundation.clone(),
        generation: c.generation.unwrap_or(generation),
        ip: c.address.clone(),
        port: c.port,
        priority: u64::from(c.priority),
        protocol,
        candidate_type,
        rel_addr,
        rel_port,
        network,
        tcptype: c.tcptype.clone(),
        unknown_attrs,
        unknown: Vec::new(),
    })
}

/// Jingle candidate -> SDP candidate (the id has no SDP form and is dropped; a peer
/// re-sending the candidate gets the same id back from [`ice_candidate_from_sdp`] only if it
/// was one we made).
pub fn sdp_candidate_from_ice(c: &IceCandidate) -> Result<Candidate, MappingError> {
    let priority = u32::try_from(c.priority)
        .ok()
        .filter(|p| (1..=MAX_PRIORITY).contains(p))
        .ok_or_else(|| MappingError::PriorityOutOfRange {
            id: c.id.clone(),
            priority: c.priority,
        })?;
    let (raddr, rport) = related_address(c.candidate_type, &c.ip, c.rel_addr.as_ref(), c.rel_port);
    let mut extensions = Vec::new();
    if let Some(network) = c.network {
        extensions.push((NETWORK_ID.to_string(), network.to_string()));
    }
    extensions.extend(c.unknown_attrs.iter().cloned());
    Ok(Candidate {
        foundation: c.foundation.clone(),
        component: u16::from(c.component),
        transport: c.protocol.clone(),
        priority,
        address: c.ip.clone(),
        port: c.port,
        typ: c.candidate_type.as_str().to_string(),
        raddr,
        rport,
        tcptype: c.tcptype.clone(),
        generation: Some(c.generation),
        extensions,
    })
}

/// RFC 8839 §5.1: srflx, prflx and relay candidates MUST carry raddr and rport. One that
/// lacks either gets the privacy form (the unspecified address, discard port 9) for it,
/// the same way in both directions so a translation reads back as itself (the
/// sdp_to_jingle fuzz target found a raddr without rport changing on the way back).
fn related_address(
    typ: CandidateType,
    ip: &str,
    addr: Option<&String>,
    port: Option<u16>,
) -> (Option<String>, Option<u16>) {
    if typ == CandidateType::Host {
        return (addr.cloned(), port);
    }
    let unspecified = if ip.contains(':') { "::" } else { "0.0.0.0" };
    (
        Some(addr.cloned().unwrap_or_else(|| unspecified.into())),
        Some(port.unwrap_or(9)),
    )
}

/// RFC 8839 §5.1: priorities are 1 to 2^31-1.
const MAX_PRIORITY: u32 = (1 << 31) - 1;

/// A hash of the identifying fields, short enough for an XML attribute.
fn stable_id(
    foundation: &str,
    component: u8,
    protocol: &str,
    ip: &str,
    port: u16,
    typ: CandidateType,
) -> String {
    let key = format!(
        "{foundation} {component} {protocol} {ip} {port} {}",
        typ.as_str()
    );
    format!("c{:016x}", super::fnv1a(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdp(line: &str) -> Candidate {
        Candidate::parse(line).unwrap()
    }

    #[test]
    fn chrome_candidate_maps_with_a_stable_id_and_back() {
        let line = "842163049 1 udp 1677729535 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998 generation 0 network-id 1 network-cost 10";
        let c = sdp(line);
        let j = ice_candidate_from_sdp(&c, 0).unwrap();
        assert_eq!(j.candidate_type, CandidateType::Srflx);
        assert_eq!((j.component, j.port, j.priority), (1, 45664, 1677729535));
        assert_eq!(j.rel_addr.as_deref(), Some("10.0.1.1"));
        assert_eq!(j.network, Some(1));
        assert_eq!(
            j.unknown_attrs,
            [("network-cost".to_string(), "10".to_string())]
        );
        // The same candidate in a re-offer gets the same id; another candidate does not.
        assert_eq!(ice_candidate_from_sdp(&sdp(line), 0).unwrap().id, j.id);
        let other = sdp("1 1 udp 2130706431 10.0.1.1 8998 typ host");
        assert_ne!(ice_candidate_from_sdp(&other, 0).unwrap().id, j.id);
        assert_eq!(sdp_candidate_from_ice(&j).unwrap(), c);
    }

    #[test]
    fn generation_is_the_callers_unless_the_sdp_states_one() {
        let plain = sdp("1 1 UDP 2130706431 10.0.1.1 8998 typ host");
        let j = ice_candidate_from_sdp(&plain, 3).unwrap();
        assert_eq!(j.generation, 3);
        assert_eq!(j.protocol, "udp");
        let stated = sdp("1 1 udp 2130706431 10.0.1.1 8998 typ host generation 1");
        assert_eq!(ice_candidate_from_sdp(&stated, 3).unwrap().generation, 1);
    }

    #[test]
    fn untranslatable_candidates_are_named_errors() {
        let big = sdp("1 300 udp 1 10.0.1.1 8998 typ host");
        assert!(matches!(
            ice_candidate_from_sdp(&big, 0),
            Err(MappingError::ComponentOutOfRange { component: 300, .. })
        ));
        let odd = sdp("1 1 udp 1 10.0.1.1 8998 typ xyz");
        assert!(matches!(
            ice_candidate_from_sdp(&odd, 0),
            Err(MappingError::UnknownCandidateType { .. })
        ));
        let mut j = ice_candidate_from_sdp(&sdp("1 1 udp 1 10.0.1.1 8998 typ host"), 0).unwrap();
        j.priority = u64::from(u32::MAX) + 1;
        assert!(matches!(
            sdp_candidate_from_ice(&j),
            Err(MappingError::PriorityOutOfRange { .. })
        ));
    }

    #[test]
    fn a_related_address_without_its_port_gets_the_privacy_port_both_ways() {
        let c = sdp("1 1 udp 1686052607 198.51.100.7 54321 typ srflx raddr 192.0.2.10");
        let j = ice_candidate_from_sdp(&c, 0).unwrap();
        assert_eq!(
            (j.rel_addr.as_deref(), j.rel_port),
            (Some("192.0.2.10"), Some(9))
        );
        let back = sdp_candidate_from_ice(&j).unwrap();
        assert_eq!(ice_candidate_from_sdp(&back, 0).unwrap(), j);
    }
}
