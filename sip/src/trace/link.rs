//! One captured frame down to its UDP datagram or TCP segment (etherparse does the header
//! work), for the link types tcpdump and Wireshark write on Linux and BSD hosts.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};
use pcap_file::DataLink;

/// What a frame carries, as far as a SIP trace cares.
#[derive(Debug)]
pub(crate) enum Carried<'a> {
    Udp {
        source: SocketAddr,
        destination: SocketAddr,
        payload: &'a [u8],
    },
    Tcp {
        source: SocketAddr,
        destination: SocketAddr,
        sequence: u32,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: &'a [u8],
    },
    /// Neither UDP nor TCP over IP (ARP, ICMP, ...): not a problem, nothing to read.
    Nothing,
}

/// Decodes one frame of `link` type; `Err` says why it cannot be read.
pub(crate) fn decode(link: DataLink, frame: &[u8]) -> Result<Carried<'_>, String> {
    let sliced = match link {
        DataLink::ETHERNET => SlicedPacket::from_ethernet(frame),
        DataLink::LINUX_SLL => SlicedPacket::from_linux_sll(frame),
        DataLink::LINUX_SLL2 => {
            // 20-byte header, protocol type first (big-endian).
            let header = frame.get(..20).ok_or("truncated Linux SLL2 header")?;
            let ether_type = EtherType(u16::from_be_bytes([header[0], header[1]]));
            SlicedPacket::from_ether_type(ether_type, &frame[20..])
        }
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => SlicedPacket::from_ip(frame),
        // BSD loopback: a 4-byte address family, then the IP packet.
        DataLink::NULL | DataLink::LOOP => {
            SlicedPacket::from_ip(frame.get(4..).ok_or("truncated loopback header")?)
        }
        other => return Err(format!("link type {other:?} is not read")),
    };
    let sliced = sliced.map_err(|e| format!("undecodable frame: {e}"))?;
    let Some(net) = &sliced.net else {
        return Ok(Carried::Nothing);
    };
    let (source_ip, destination_ip, fragmented): (IpAddr, IpAddr, bool) = match net {
        NetSlice::Ipv4(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
            ip.payload().fragmented,
        ),
        NetSlice::Ipv6(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
            ip.payload().fragmented,
        ),
    };
    if fragmented {
        return Err("an IP fragment (fragment reassembly is not done; capture with a larger MTU or over TCP)".into());
    }
    Ok(match &sliced.transport {
        Some(TransportSlice::Udp(udp)) => Carried::Udp {
            source: SocketAddr::new(source_ip, udp.source_port()),
            destination: SocketAddr::new(destination_ip, udp.destination_port()),
            payload: udp.payload(),
        },
        Some(TransportSlice::Tcp(tcp)) => Carried::Tcp {
            source: SocketAddr::new(source_ip, tcp.source_port()),
            destination: SocketAddr::new(destination_ip, tcp.destination_port()),
            sequence: tcp.sequence_number(),
            syn: tcp.syn(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            payload: tcp.payload(),
        },
        _ => Carried::Nothing,
    })
}
