#![allow(dead_code)]
//! baresip, a real SIP phone (Debian package), run headless on loopback.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

// The test crate includes `common/peer_log.rs` once as `peer_log`.
use super::peer_log::PeerLog;

pub struct Baresip {
    dir: tempfile::TempDir,
    child: Child,
    /// The port baresip's SIP stack listens on.
    pub sip_port: u16,
    console_port: u16,
}

/// Ten seconds of a 440 Hz tone, 8 kHz mono 16-bit PCM: what baresip's aufile source reads
/// (it refuses anything but a RIFF/WAVE file), so calls carry real audio.
fn tone_wav() -> Vec<u8> {
    const RATE: u32 = 8000;
    let samples: Vec<i16> = (0..RATE * 10)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            ((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16
        })
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        wav.extend_from_slice(&s.to_le_bytes());
    }
    wav
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port free for both UDP and TCP (baresip listens on both, `sip_transports udp,tcp`).
fn free_sip_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Baresip {
    /// Starts baresip with one account line (`<sip:user@domain>;auth_pass=...;outbound=...`).
    /// `None` when baresip is not installed; with `TANDEM_REQUIRE_PEERS=1` that is a failure.
    pub fn start(account: &str) -> Option<Baresip> {
        if Command::new("baresip")
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                std::env::var_os("TANDEM_REQUIRE_PEERS").is_none(),
                "baresip is required: run scripts/install-test-peers.sh"
            );
            eprintln!(
                "skipping: baresip is not installed (scripts/install-test-peers.sh installs it)"
            );
            return None;
        }
        // A port picked free can be taken again before baresip binds it (other tests run
        // beside this one): then it is started again on other ports.
        for _ in 0..5 {
            if let Some(phone) = Baresip::launch(account) {
                return Some(phone);
            }
        }
        panic!("baresip could not bind its ports in 5 attempts");
    }

    fn launch(account: &str) -> Option<Baresip> {
        let dir = tempfile::tempdir().unwrap();
        let sip_port = free_sip_port();
        let console_port = free_udp_port();
        let tone = dir.path().join("tone.wav");
        std::fs::write(&tone, tone_wav()).unwrap();
        let tone = tone.display();
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{sip_port}\n\
             sip_transports udp,tcp\n\
             net_interface 127.0.0.1\n\
             audio_player aubridge,x\n\
             audio_source aufile,{tone}\n\
             audio_alert aufile,/dev/null\n\
             rtp_ports 20000-20100\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module aubridge.so\n\
             module aufile.so\n\
             module cons.so\n\
             cons_listen 127.0.0.1:{console_port}\n\
             module_app account.so\n\
             module_app menu.so\n"
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        std::fs::write(dir.path().join("accounts"), format!("{account}\n")).unwrap();
        std::fs::write(dir.path().join("contacts"), "").unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        // Line-buffered: a phone that dies mid-test still leaves its log behind.
        let child = Command::new("stdbuf")
            .args(["-oL", "-eL", "baresip"])
            .arg("-f")
            .arg(dir.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting baresip");
        let phone = Baresip {
            dir,
            child,
            sip_port,
            console_port,
        };
        // Console commands sent before this line are lost (slow starts under parallel tests).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let log = phone.log();
            if log.contains("baresip is ready") {
                return Some(phone);
            }
            if log.contains("Address already in use") {
                return None;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "baresip never logged \"baresip is ready\"; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    fn log_file(&self) -> PeerLog {
        PeerLog {
            path: self.log_path(),
            peer: "baresip",
        }
    }

    /// Everything baresip printed so far.
    pub fn log(&self) -> String {
        self.log_file().read()
    }

    /// Waits until the log contains `needle`; panics with the log after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.log_file().wait_for(needle, timeout)
    }

    /// Sends a console command (e.g. `/dial sip:alice@example.test`) to the cons module.
    /// Sent as one UDP datagram: over TCP, closing right after the write made baresip 1.0
    /// echo into a closed socket and drop the command.
    pub fn command(&self, command: &str) {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("console socket");
        socket
            .send_to(
                format!("{command}\n").as_bytes(),
                ("127.0.0.1", self.console_port),
            )
            .expect("baresip console");
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
