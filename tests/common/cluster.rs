//! Several tandem clusters of one domain for a test: a private redis-server, one shared
//! SQLite database, link certificates from the test CA naming each cluster.
#![allow(dead_code)]

use std::path::PathBuf;

use crate::common::{self, Server, DOMAIN, STEP};
use crate::redis::{Redis, RedisCluster};

/// Redis, the shared database and the cluster certificates of one test.
pub struct Deployment {
    pub redis: Redis,
    /// When set, the clusters use this Redis Cluster instead of `redis`.
    pub redis_cluster: Option<RedisCluster>,
    dir: tempfile::TempDir,
}

impl Deployment {
    pub fn new() -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), &common::ca().cert_pem).unwrap();
        Deployment {
            redis: Redis::start(),
            redis_cluster: None,
            dir,
        }
    }

    /// [`Self::new`], the clusters sharing a three-node Redis Cluster.
    pub fn with_redis_cluster() -> Deployment {
        Deployment {
            redis_cluster: Some(RedisCluster::start()),
            ..Deployment::new()
        }
    }

    /// The `[cluster] redis` value.
    fn redis_setting(&self) -> String {
        match &self.redis_cluster {
            Some(c) => format!(
                "[{}]",
                c.urls()
                    .iter()
                    .map(|u| format!("\"{u}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!("\"{}\"", self.redis.url()),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("shared.db")
    }

    /// A tandem running as cluster `name`, its link certificate naming it.
    pub fn cluster(&self, name: &str) -> Server {
        self.cluster_advertising(name, "127.0.0.1:0")
    }

    /// [`Self::cluster`], telling the others to connect to `advertise` (a proxy).
    pub fn cluster_advertising(&self, name: &str, advertise: &str) -> Server {
        self.cluster_with(name, advertise, "", "")
    }

    /// [`Self::cluster_advertising`] with `sip` in `[sip]` and `extra` sections after it.
    pub fn cluster_with(&self, name: &str, advertise: &str, sip: &str, extra: &str) -> Server {
        let (cert, key) = common::ca().issue_cert(&[name]);
        let path = |ext: &str| self.dir.path().join(format!("{name}.{ext}"));
        std::fs::write(path("pem"), cert).unwrap();
        std::fs::write(path("key"), key).unwrap();
        let config = format!(
            "\n[storage]\nurl = \"sqlite://{db}\"\n\
             [cluster]\nname = \"{name}\"\nredis = {redis}\n\
             listen = \"127.0.0.1:0\"\nadvertise = \"{advertise}\"\n\
             ca = \"{ca}\"\ncert = \"{cert}\"\nkey = \"{key}\"\nlocation_ttl = 6\n{extra}",
            db = self.db().display(),
            redis = self.redis_setting(),
            ca = self.dir.path().join("ca.pem").display(),
            cert = path("pem").display(),
            key = path("key").display(),
        );
        let server = Server::start_with(sip, &config);
        server.wait_for_log("cluster links listening", STEP);
        server
    }

    /// Waits until Redis says `user`'s resource is available at `cluster`.
    pub fn wait_available(&self, user: &str, cluster: &str) {
        let key = format!("tandem:{{{user}@{DOMAIN}}}:res");
        let there = |out: &str| {
            out.lines()
                .any(|l| location_at(l, cluster).is_some_and(|priority| priority != "-"))
        };
        let Some(redis_cluster) = &self.redis_cluster else {
            self.redis
                .wait_for(&["HGETALL", &key], &format!("{user} at {cluster}"), there);
            return;
        };
        let deadline = std::time::Instant::now() + STEP;
        while !redis_cluster
            .cli(&["HGETALL", &key])
            .is_some_and(|o| there(&o))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{user} never showed at {cluster}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// The priority field of a location value (`<cluster> <expires> <priority> <node> <flags>`)
/// when it is at `cluster`; `-` while the session is unavailable.
pub fn location_at<'v>(value: &'v str, cluster: &str) -> Option<&'v str> {
    let mut fields = value.split(' ');
    (fields.next()? == cluster).then_some(())?;
    fields.nth(1)
}
