//! A trace file as a stream of [`TraceEvent`]s: a capture (pcap, pcapng) or the text
//! format, told apart by the first bytes, read in chunks so a long capture never sits in
//! memory whole.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use tandem_sip::trace::{text::TextDecoder, CaptureDecoder, CaptureFormat, TraceEvent};

const CHUNK: usize = 64 * 1024;

enum Decoder {
    Capture(CaptureDecoder),
    Text(TextDecoder),
}

/// Reads one trace file.
pub struct TraceSource {
    file: Option<File>,
    decoder: Decoder,
    /// Undecoded UTF-8 tail of a text trace (a character split across reads).
    pending_utf8: Vec<u8>,
    ready: VecDeque<TraceEvent>,
    /// Bytes read so far, and the file's size (for progress).
    pub read_bytes: u64,
    pub total_bytes: u64,
}

impl TraceSource {
    pub fn open(path: &Path) -> Result<TraceSource> {
        let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut start = vec![0u8; CHUNK];
        let n = read_some(&mut file, &mut start)?;
        start.truncate(n);
        let mut source = TraceSource {
            file: Some(file),
            decoder: match CaptureFormat::detect(&start) {
                Some(_) => Decoder::Capture(CaptureDecoder::new()),
                None => Decoder::Text(TextDecoder::new()),
            },
            pending_utf8: Vec::new(),
            ready: VecDeque::new(),
            read_bytes: 0,
            total_bytes,
        };
        source.feed(&start);
        if n == 0 {
            source.end();
        }
        Ok(source)
    }

    /// The next message, with the problems met on the way added to `problems`.
    pub fn next_message(
        &mut self,
        problems: &mut Vec<tandem_sip::trace::TraceProblem>,
    ) -> Result<Option<tandem_sip::trace::TraceMessage>> {
        for event in self.by_ref() {
            match event? {
                TraceEvent::Message(m) => return Ok(Some(m)),
                TraceEvent::Problem(p) => problems.push(p),
            }
        }
        Ok(None)
    }

    /// Packets that were neither SIP nor a SIP problem (captures only).
    pub fn skipped_packets(&self) -> u64 {
        match &self.decoder {
            Decoder::Capture(c) => c.skipped_packets(),
            Decoder::Text(_) => 0,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.read_bytes += bytes.len() as u64;
        match &mut self.decoder {
            Decoder::Capture(c) => {
                c.push(bytes);
                self.ready.extend(std::iter::from_fn(|| c.poll()));
            }
            Decoder::Text(t) => {
                self.pending_utf8.extend_from_slice(bytes);
                let valid = match std::str::from_utf8(&self.pending_utf8) {
                    Ok(s) => s.len(),
                    Err(e) if e.error_len().is_none() => e.valid_up_to(),
                    // Not UTF-8 at all: read what is, lossily (the parser reports the rest).
                    Err(_) => self.pending_utf8.len(),
                };
                let chunk: Vec<u8> = self.pending_utf8.drain(..valid).collect();
                t.push(&String::from_utf8_lossy(&chunk));
                self.ready.extend(std::iter::from_fn(|| t.poll()));
            }
        }
    }

    fn end(&mut self) {
        self.file = None;
        match &mut self.decoder {
            Decoder::Capture(c) => {
                c.finish();
                self.ready.extend(std::iter::from_fn(|| c.poll()));
            }
            Decoder::Text(t) => {
                let rest = std::mem::take(&mut self.pending_utf8);
                t.push(&String::from_utf8_lossy(&rest));
                t.finish();
                self.ready.extend(std::iter::from_fn(|| t.poll()));
            }
        }
    }
}

impl Iterator for TraceSource {
    type Item = Result<TraceEvent>;

    fn next(&mut self) -> Option<Result<TraceEvent>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(event));
            }
            let file = self.file.as_mut()?;
            let mut buf = vec![0u8; CHUNK];
            match read_some(file, &mut buf) {
                Ok(0) => self.end(),
                Ok(n) => self.feed(&buf[..n]),
                Err(e) => {
                    self.file = None;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn read_some(file: &mut File, buf: &mut [u8]) -> Result<usize> {
    loop {
        match file.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading the trace"),
        }
    }
}
