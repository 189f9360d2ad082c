#![allow(dead_code)]
//! kamailio (Debian package) as a SIP trunk on loopback: a stateful, record-routing proxy
//! that sends every new call to one next hop (a phone) and routes in-dialog requests by
//! their Route headers.

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

// The test crate includes `common/peer_log.rs` once as `peer_log`.
use super::peer_log::PeerLog;

pub struct Kamailio {
    dir: tempfile::TempDir,
    child: Child,
    /// Where the trunk listens (UDP).
    pub port: u16,
}

impl Kamailio {
    /// Starts a trunk that forwards new INVITEs to `127.0.0.1:next_hop_port`. `None` when
    /// kamailio is not installed; with `TANDEM_REQUIRE_PEERS=1` that is a failure.
    pub fn start(next_hop_port: u16) -> Option<Kamailio> {
        Self::start_with_password(next_hop_port, None)
    }

    /// [`Kamailio::start`], challenging every new INVITE (407) unless it carries digest
    /// credentials for `password` (any user name, realm = the To domain).
    pub fn start_with_password(next_hop_port: u16, password: Option<&str>) -> Option<Kamailio> {
        if Command::new("kamailio")
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                std::env::var_os("TANDEM_REQUIRE_PEERS").is_none(),
                "kamailio is required: run scripts/install-test-peers.sh"
            );
            eprintln!("skipping: kamailio is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let auth = match password {
            Some(pw) => format!(
                "if (is_method(\"INVITE\")) {{ if (!pv_proxy_authenticate(\"$td\", \"{pw}\", \"0\")) {{ \
                 xlog(\"L_INFO\", \"trunk: challenging $rm\\n\"); proxy_challenge(\"$td\", \"0\"); exit; }} \
                 xlog(\"L_INFO\", \"trunk: authenticated $fU\\n\"); consume_credentials(); }}\n"
            ),
            None => String::new(),
        };
        let config = format!(
            "#!KAMAILIO\n\
             listen=udp:127.0.0.1:{port}\n\
             children=2\n\
             debug=2\n\
             disable_tcp=yes\n\
             mpath=\"/usr/lib/x86_64-linux-gnu/kamailio/modules/\"\n\
             loadmodule \"tm.so\"\n\
             loadmodule \"sl.so\"\n\
             loadmodule \"rr.so\"\n\
             loadmodule \"pv.so\"\n\
             loadmodule \"maxfwd.so\"\n\
             loadmodule \"siputils.so\"\n\
             loadmodule \"xlog.so\"\n\
             loadmodule \"textops.so\"\n\
             loadmodule \"auth.so\"\n\
             request_route {{\n\
               if (!mf_process_maxfwd_header(\"10\")) {{ sl_send_reply(\"483\", \"Too Many Hops\"); exit; }}\n\
               if (has_totag()) {{\n\
                 if (loose_route()) {{ t_relay(); exit; }}\n\
                 if (is_method(\"ACK\")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}\n\
                 sl_send_reply(\"404\", \"Not here\"); exit;\n\
               }}\n\
               if (is_method(\"CANCEL\")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}\n\
               {auth}\
               xlog(\"L_INFO\", \"trunk: $rm $ru from $si:$sp\\n\");\n\
               record_route();\n\
               $du = \"sip:127.0.0.1:{next_hop_port}\";\n\
               t_relay();\n\
             }}\n"
        );
        let cfg = dir.path().join("kamailio.cfg");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new("kamailio")
            .arg("-f")
            .arg(&cfg)
            .args(["-DD", "-E", "-e", "-w"])
            .arg(dir.path())
            .args(["-P"])
            .arg(dir.path().join("kamailio.pid"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting kamailio");
        let trunk = Kamailio { dir, child, port };
        trunk.wait_for("Listening on", Duration::from_secs(10));
        // The listing comes before the workers start; give them a moment.
        std::thread::sleep(Duration::from_millis(300));
        Some(trunk)
    }

    fn log_file(&self) -> PeerLog {
        PeerLog {
            path: self.dir.path().join("log"),
            peer: "kamailio",
        }
    }

    pub fn log(&self) -> String {
        self.log_file().read()
    }

    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.log_file().wait_for(needle, timeout)
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
