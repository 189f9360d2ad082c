//! A private `redis-server` on a free loopback port (installed by
//! scripts/install-test-peers.sh), stopped when dropped.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// `--cluster-enabled yes`: a node of a Redis Cluster.
    cluster_node: bool,
}

impl Redis {
    pub fn start() -> Redis {
        Redis::launch(false)
    }

    fn launch(cluster_node: bool) -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Redis {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
            cluster_node,
        };
        redis.spawn();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .args(if self.cluster_node {
                &["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"][..]
            } else {
                &[][..]
            })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (run scripts/install-test-peers.sh)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["PING"]).as_deref() != Some("PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs a command with redis-cli; its output, or `None` when it failed.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        redis_cli(&["-p", &self.port.to_string()], args)
    }

    /// Kills the server (no clean shutdown, as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Waits until `check` holds for the output of `args`.
    pub fn wait_for(&self, args: &[&str], what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(out) = self.cli(args).filter(|o| check(o)) {
                return out;
            }
            assert!(Instant::now() < deadline, "redis never showed {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of three masters (no replicas) on free loopback ports.
pub struct RedisCluster {
    pub nodes: Vec<Redis>,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let nodes: Vec<Redis> = (0..3).map(|_| Redis::launch(true)).collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli");
        assert!(status.success(), "redis-cli --cluster create failed");
        for n in &nodes {
            n.wait_for(&["CLUSTER", "INFO"], "cluster_state:ok", |o| {
                o.contains("cluster_state:ok")
            });
        }
        RedisCluster { nodes }
    }

    /// The seed URLs, as `[cluster] redis` takes them.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Redis::url).collect()
    }

    /// Runs a command against the cluster (`-c`: follows redirections).
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        redis_cli(&["-c", "-p", &self.nodes[0].port.to_string()], args)
    }
}

/// redis-cli with `options`, then the command `args`: its output, or `None` when it failed.
fn redis_cli(options: &[&str], args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(options)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.starts_with("Could not connect"))
}
