//! What crosses a link between clusters, and how it is framed. Sans-IO: bytes in, frames
//! out. A frame is a 4-byte big-endian length and a JSON body; JSON keeps the wire readable
//! in a capture, and a stanza's XML dominates the size anyway.

use serde::{Deserialize, Serialize};

/// A frame larger than this is a protocol error (a stanza is capped far below it).
pub const MAX_FRAME: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Frame {
    /// First frame from the connecting side. `incarnation` changes on every start of the
    /// sending cluster, so the receiver knows when ids start again from 1.
    Hello {
        cluster: String,
        incarnation: u64,
    },
    /// The receiver's answer: the last id it took from this incarnation (0: none), so the
    /// sender resends only what is after it.
    Welcome {
        cluster: String,
        received: u64,
    },
    Envelope(Envelope),
    /// Everything up to and including `id` was taken.
    Ack {
        id: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Per link and incarnation, from 1, in sending order.
    pub id: u64,
    /// The cluster the stanza entered the system at.
    pub origin: String,
    /// Clusters it has crossed so far; over `max_hops` it is dropped.
    pub hops: u8,
    pub payload: Payload,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "p", rename_all = "snake_case")]
pub enum Payload {
    /// A stanza (XML, in the jabber:client namespace) and who should get it here.
    Stanza { xml: String, target: Target },
    /// The full JID was bound in the sending cluster: the session here must go, with a
    /// `conflict` stream error (RFC 6120 §7.7.2.2, newest wins across the domain).
    Evict { jid: String },
}

/// What the receiving cluster does with a forwarded stanza.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", content = "jids", rename_all = "snake_case")]
pub enum Target {
    /// These resources, which the sender saw here. Any that left: the stanza is routed
    /// again from here (the user moved), as long as none of the others got it.
    Resources(Vec<String>),
    /// One of several copies of a message to an account, for these resources here; other
    /// clusters (or the sender's) got the others. If they all left, it is kept in offline
    /// storage rather than routed again, which would reach the other copies' resources twice.
    Copies(Vec<String>),
    /// Route it as a stanza from a local user would be, but only to sessions of this
    /// cluster (presence and its probes, which the sender fans out per cluster itself).
    LocalOnly,
    /// For the SIP gateway of the receiving cluster, which owns the call it belongs to.
    Gateway,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("malformed frame: {0}")]
    Malformed(String),
}

/// Appends `frame`, length first.
pub fn encode(frame: &Frame, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    // Serialising these types into a Vec cannot fail: no maps with non-string keys.
    serde_json::to_writer(&mut *out, frame).expect("frame serialises");
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Collects bytes as they arrive and yields whole frames.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    start: usize,
}

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Whether a whole frame (or a header announcing an oversized one) is buffered.
    pub fn has_frame(&self) -> bool {
        let pending = &self.buf[self.start..];
        match pending.get(..4) {
            Some(h) => {
                let len = u32::from_be_bytes(h.try_into().expect("4 bytes")) as usize;
                len > MAX_FRAME || pending.len() >= 4 + len
            }
            None => false,
        }
    }

    /// The next whole frame, `Ok(None)` until one is complete. After an error the link is
    /// closed: the stream can no longer be framed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let pending = &self.buf[self.start..];
        let Some(header) = pending.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(header.try_into().expect("4 bytes")) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::TooLarge(len));
        }
        let Some(body) = pending.get(4..4 + len) else {
            return Ok(None);
        };
        let frame =
            serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))?;
        self.start += 4 + len;
        if self.start > 64 * 1024 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stanza(id: u64, xml: &str) -> Frame {
        Frame::Envelope(Envelope {
            id,
            origin: "eu-1".into(),
            hops: 1,
            payload: Payload::Stanza {
                xml: xml.into(),
                target: Target::Resources(vec!["bob@example.test/phone".into()]),
            },
        })
    }

    #[test]
    fn frames_come_out_as_they_went_in_whatever_the_chunking() {
        let frames = vec![
            Frame::Hello {
                cluster: "eu-1".into(),
                incarnation: 7,
            },
            stanza(
                1,
                "<message to='bob@example.test'><body>hi</body></message>",
            ),
            Frame::Ack { id: 1 },
        ];
        let mut wire = Vec::new();
        for f in &frames {
            encode(f, &mut wire);
        }
        for chunk in [1, 3, 7, wire.len()] {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                d.push(piece);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got, frames, "chunks of {chunk}");
        }
    }

    #[test]
    fn an_oversized_or_garbled_frame_is_an_error_not_a_panic() {
        let mut d = Decoder::default();
        d.push(&u32::MAX.to_be_bytes());
        assert_eq!(d.next_frame(), Err(FrameError::TooLarge(u32::MAX as usize)));
        let mut d = Decoder::default();
        d.push(&[0, 0, 0, 3, b'{', b'x', b'}']);
        assert!(matches!(d.next_frame(), Err(FrameError::Malformed(_))));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut d = Decoder::default();
            d.push(&bytes);
            while let Ok(Some(_)) = d.next_frame() {}
        }

        #[test]
        fn stanzas_round_trip(id in 1u64.., xml in ".{0,200}", cut in 0usize..300) {
            let frame = stanza(id, &xml);
            let mut wire = Vec::new();
            encode(&frame, &mut wire);
            let cut = cut.min(wire.len());
            let mut d = Decoder::default();
            d.push(&wire[..cut]);
            let early = d.next_frame().unwrap();
            d.push(&wire[cut..]);
            let got = match early { Some(f) => f, None => d.next_frame().unwrap().unwrap() };
            prop_assert_eq!(got, frame);
        }
    }
}
