//! pcap and pcapng captures (the pcap-file crate parses the records), read as they arrive:
//! [`CaptureDecoder::push`] what was read, [`CaptureDecoder::poll`] the events, and
//! [`CaptureDecoder::finish`] at the end of the file.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, PcapError, TsResolution};

use super::link::{decode, Carried};
use super::tcp::{Reassembler, Segment};
use super::{looks_like_sip, TraceEvent, TraceMessage, TraceProblem, TraceTransport};

/// A record larger than this is taken for a corrupt length, not buffered.
const MAX_RECORD: usize = 16 * 1024 * 1024;

/// The two capture formats, told apart by their first four bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap,
    PcapNg,
}

impl CaptureFormat {
    /// The format whose magic number `start` begins with.
    pub fn detect(start: &[u8]) -> Option<CaptureFormat> {
        match start.get(..4)? {
            [0xa1, 0xb2, 0xc3, 0xd4]
            | [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x4d, 0x3c, 0xb2, 0xa1] => Some(CaptureFormat::Pcap),
            [0x0a, 0x0d, 0x0d, 0x0a] => Some(CaptureFormat::PcapNg),
            _ => None,
        }
    }
}

enum State {
    Start,
    Pcap(PcapParser),
    PcapNg(PcapNgParser),
    /// Nothing more can be read (the reason was reported).
    Stopped,
}

/// Reads a capture into SIP messages and problems, in capture order.
pub struct CaptureDecoder {
    buf: Vec<u8>,
    state: State,
    /// Packets read so far (the number of the last one).
    packet: u64,
    last_time: Duration,
    tcp: Reassembler,
    /// Addresses that sent or received SIP over UDP: other payloads there are reported.
    sip_endpoints: HashSet<SocketAddr>,
    skipped: u64,
    out: VecDeque<TraceEvent>,
}

impl Default for CaptureDecoder {
    fn default() -> Self {
        CaptureDecoder::new()
    }
}

impl CaptureDecoder {
    pub fn new() -> CaptureDecoder {
        CaptureDecoder {
            buf: Vec::new(),
            state: State::Start,
            packet: 0,
            last_time: Duration::ZERO,
            tcp: Reassembler::default(),
            sip_endpoints: HashSet::new(),
            skipped: 0,
            out: VecDeque::new(),
        }
    }

    /// Packets that carried neither SIP nor anything wrong with SIP (RTP, DNS, ARP, ...).
    pub fn skipped_packets(&self) -> u64 {
        self.skipped
    }

    /// The next message or problem, once enough has been pushed.
    pub fn poll(&mut self) -> Option<TraceEvent> {
        self.out.pop_front()
    }

    /// More bytes of the capture.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        let mut used = 0;
        loop {
            let rest = &self.buf[used..];
            let step = match &mut self.state {
                State::Stopped => {
                    used = self.buf.len();
                    break;
                }
                State::Start => {
                    if rest.len() < 4 {
                        break;
                    }
                    match CaptureFormat::detect(rest) {
                        Some(CaptureFormat::Pcap) => PcapParser::new(rest)
                            .map(|(left, p)| (rest.len() - left.len(), Some(State::Pcap(p)))),
                        Some(CaptureFormat::PcapNg) => PcapNgParser::new(rest)
                            .map(|(left, p)| (rest.len() - left.len(), Some(State::PcapNg(p)))),
                        None => Err(PcapError::InvalidField(
                            "not a pcap or pcapng capture (unknown magic number)",
                        )),
                    }
                }
                State::Pcap(parser) => {
                    let header = parser.header();
                    // Raw records: one whose lengths disagree with the header (a capture
                    // made with a short snaplen) is reported and skipped, not the end.
                    parser.next_raw_packet(rest).map(|(left, raw)| {
                        self.packet += 1;
                        let time = match header.ts_resolution {
                            TsResolution::MicroSecond => Duration::new(
                                u64::from(raw.ts_sec),
                                raw.ts_frac.min(999_999) * 1000,
                            ),
                            TsResolution::NanoSecond => {
                                Duration::new(u64::from(raw.ts_sec), raw.ts_frac.min(999_999_999))
                            }
                        };
                        self.last_time = time;
                        let mut frames = Frames {
                            packet: self.packet,
                            time,
                            tcp: &mut self.tcp,
                            sip_endpoints: &mut self.sip_endpoints,
                            skipped: &mut self.skipped,
                            out: &mut self.out,
                        };
                        if raw.incl_len > header.snaplen.max(65_535) {
                            frames.problem(format!(
                                "a record of {} bytes, more than the capture's snaplen; skipped",
                                raw.incl_len
                            ));
                        } else if raw.incl_len < raw.orig_len {
                            frames.problem(format!(
                                "cut short by the capture ({} of {} bytes kept); skipped",
                                raw.incl_len, raw.orig_len
                            ));
                        } else {
                            frame(&mut frames, header.datalink, &raw.data);
                        }
                        (rest.len() - left.len(), None)
                    })
                }
                State::PcapNg(parser) => parser.next_block(rest).map(|(left, block)| {
                    let packet = match &block {
                        Block::EnhancedPacket(p) => {
                            let interface = parser.interfaces().get(p.interface_id as usize);
                            let time = interface.map_or(p.timestamp, |i| {
                                scaled(p.timestamp.as_nanos() as u64, resolution(&i.options))
                            });
                            Some((interface.map(|i| i.linktype), time, &p.data))
                        }
                        Block::SimplePacket(p) => Some((
                            parser.interfaces().first().map(|i| i.linktype),
                            self.last_time,
                            &p.data,
                        )),
                        _ => None,
                    };
                    if let Some((link, time, data)) = packet {
                        self.packet += 1;
                        self.last_time = time;
                        let mut frames = Frames {
                            packet: self.packet,
                            time,
                            tcp: &mut self.tcp,
                            sip_endpoints: &mut self.sip_endpoints,
                            skipped: &mut self.skipped,
                            out: &mut self.out,
                        };
                        let cut = match &block {
                            Block::EnhancedPacket(p) => {
                                (p.data.len() as u64) < u64::from(p.original_len)
                            }
                            Block::SimplePacket(p) => {
                                (p.data.len() as u64) < u64::from(p.original_len)
                            }
                            _ => false,
                        };
                        match link {
                            _ if cut => {
                                frames.problem("cut short by the capture (snaplen); skipped".into())
                            }
                            Some(link) => frame(&mut frames, link, data),
                            None => frames.problem(
                                "a packet on an interface the capture never described".into(),
                            ),
                        }
                    }
                    (rest.len() - left.len(), None)
                }),
            };
            match step {
                Ok((n, next)) => {
                    used += n;
                    if let Some(next) = next {
                        self.state = next;
                    }
                }
                Err(PcapError::IncompleteBuffer) => {
                    if rest.len() > MAX_RECORD {
                        self.stop(format!(
                            "a record longer than {} MiB: the capture is corrupt from here",
                            MAX_RECORD >> 20
                        ));
                        used = self.buf.len();
                    }
                    break;
                }
                Err(e) => {
                    self.stop(format!("{e}; the rest of the capture is not read"));
                    used = self.buf.len();
                    break;
                }
            }
        }
        self.buf.drain(..used);
    }

    /// The end of the capture: whatever is left is a truncated record.
    pub fn finish(&mut self) {
        let stopped = matches!(self.state, State::Stopped);
        if !self.buf.is_empty() && !stopped {
            let what = match self.state {
                State::Start => "not a pcap or pcapng capture (too short)".to_string(),
                _ => format!(
                    "truncated: the capture ends inside this record ({} bytes of it)",
                    self.buf.len()
                ),
            };
            self.out.push_back(TraceEvent::Problem(TraceProblem {
                packet: self.packet + 1,
                what,
            }));
        }
        self.buf.clear();
        self.state = State::Stopped;
    }

    fn stop(&mut self, what: String) {
        self.out.push_back(TraceEvent::Problem(TraceProblem {
            packet: self.packet + 1,
            what,
        }));
        self.state = State::Stopped;
    }
}

/// if_tsresol (pcapng §4.2): 10^-n seconds, or 2^-n with the top bit set; µs by default.
fn resolution(options: &[InterfaceDescriptionOption<'_>]) -> u8 {
    options
        .iter()
        .find_map(|o| match o {
            InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
            _ => None,
        })
        .unwrap_or(6)
}

/// pcap-file hands pcapng timestamps over as nanoseconds whatever the unit: rescale.
fn scaled(units: u64, resolution: u8) -> Duration {
    if resolution & 0x80 != 0 {
        let shift = u32::from(resolution & 0x7f).min(63);
        let per_second = 1u64 << shift;
        let nanos =
            (u128::from(units % per_second) * 1_000_000_000 / u128::from(per_second)) as u32;
        Duration::new(units / per_second, nanos)
    } else {
        match 10u64.checked_pow(u32::from(resolution)) {
            Some(per_second) if resolution <= 9 => {
                let nanos = (units % per_second) * (1_000_000_000 / per_second);
                Duration::new(units / per_second, nanos as u32)
            }
            // Finer than ns: truncated to ns.
            Some(per_second) => Duration::from_nanos(
                (u128::from(units) * 1_000_000_000 / u128::from(per_second)) as u64,
            ),
            None => Duration::ZERO,
        }
    }
}

/// What one frame's reading may touch.
struct Frames<'a> {
    packet: u64,
    time: Duration,
    tcp: &'a mut Reassembler,
    sip_endpoints: &'a mut HashSet<SocketAddr>,
    skipped: &'a mut u64,
    out: &'a mut VecDeque<TraceEvent>,
}

impl Frames<'_> {
    fn problem(&mut self, what: String) {
        self.out.push_back(TraceEvent::Problem(TraceProblem {
            packet: self.packet,
            what,
        }));
    }
}

fn frame(f: &mut Frames<'_>, link: DataLink, data: &[u8]) {
    match decode(link, data) {
        Err(what) => f.problem(what),
        Ok(Carried::Nothing) => *f.skipped += 1,
        Ok(Carried::Udp {
            source,
            destination,
            payload,
        }) => {
            if looks_like_sip(payload) {
                f.sip_endpoints.insert(source);
                f.sip_endpoints.insert(destination);
                f.out.push_back(TraceEvent::Message(TraceMessage {
                    packet: f.packet,
                    time: f.time,
                    transport: TraceTransport::Udp,
                    source,
                    destination,
                    bytes: payload.to_vec(),
                }));
            } else if payload.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
                // RFC 5626 keep-alives (and empty datagrams).
                *f.skipped += 1;
            } else if f.sip_endpoints.contains(&source) && f.sip_endpoints.contains(&destination) {
                f.problem(format!(
                    "{source} -> {destination}: a UDP datagram between SIP endpoints that is not SIP; skipped"
                ));
            } else {
                *f.skipped += 1;
            }
        }
        Ok(Carried::Tcp {
            source,
            destination,
            sequence,
            syn,
            fin,
            rst,
            payload,
        }) => f.tcp.segment(
            Segment {
                packet: f.packet,
                time: f.time,
                source,
                destination,
                sequence,
                syn,
                fin,
                rst,
                payload,
            },
            f.out,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcapng_timestamps_follow_the_interface_resolution() {
        assert_eq!(scaled(1_500_000, 6), Duration::from_millis(1500));
        assert_eq!(scaled(1_500_000_000, 9), Duration::from_millis(1500));
        assert_eq!(scaled(3, 0x81), Duration::from_millis(1500));
        assert_eq!(scaled(15, 1), Duration::from_millis(1500));
        assert_eq!(
            scaled(5, 20),
            Duration::ZERO,
            "10^20 per second does not fit"
        );
        assert_eq!(scaled(12, 10), Duration::from_nanos(1));
    }
}
