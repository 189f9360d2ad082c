//! The global route table in Redis: which cluster each resource of a user is connected to,
//! and where each cluster's link listener is.
//!
//! One hash per user, `tandem:{alice@example.test}:res`, field = resource, value =
//! `<cluster> <expires unix ms> <priority or ->`. The braces are a Redis Cluster hash tag,
//! so a user's keys live in one slot. A field is valid until its own expiry (a crashed
//! cluster's entries age out even while other resources keep the key alive); the owner
//! rewrites it every third of the TTL. Readers cache a user's entries briefly, and every
//! write publishes the user on `tandem:moved` so the other clusters drop their copy at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, Value};

/// Redis commands that take longer than this count as a failure: callers answer
/// `remote-server-timeout` instead of waiting.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a user's entries are served from the cache (invalidation usually comes first).
pub const CACHE_FOR: Duration = Duration::from_secs(2);
pub const MOVED_CHANNEL: &str = "tandem:moved";
const CLUSTERS_KEY: &str = "tandem:clusters";

/// Deletes a resource's field only if this cluster still owns it: a user who reconnected to
/// another cluster with the same resource must not lose the new entry.
const REMOVE_IF_OURS: &str = r"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. ' ' then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0";

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis failed a moment ago; not asked again yet")]
    Unavailable,
}

/// Where one resource of a user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub resource: String,
    pub cluster: String,
    /// The process in the cluster that holds the session (`host:pid`).
    pub node: String,
    /// Priority of its last available presence; `None` while unavailable.
    pub priority: Option<i8>,
    /// The session asked for the roster, so it gets roster pushes (RFC 6121 §2.1.6).
    pub interested: bool,
}

impl Location {
    /// `<cluster> <expires ms> <priority or -> <node> <r or ->`.
    fn encode(&self, expires_ms: u64) -> String {
        let priority = self.priority.map_or("-".to_string(), |p| p.to_string());
        let interested = if self.interested { "r" } else { "-" };
        format!(
            "{} {expires_ms} {priority} {} {interested}",
            self.cluster, self.node
        )
    }

    /// `None` for a malformed or expired value (another version's, or a dead cluster's).
    fn decode(resource: &str, value: &str, now_ms: u64) -> Option<Location> {
        let mut parts = value.split(' ');
        let cluster = parts.next()?;
        let expires: u64 = parts.next()?.parse().ok()?;
        let priority = match parts.next()? {
            "-" => None,
            p => Some(p.parse().ok()?),
        };
        let node = parts.next().unwrap_or_default();
        let interested = parts.next() == Some("r");
        (expires > now_ms && !cluster.is_empty()).then(|| Location {
            resource: resource.to_string(),
            cluster: cluster.to_string(),
            node: node.to_string(),
            priority,
            interested,
        })
    }
}

/// This process, as locations name it: `host:pid`.
pub fn this_node() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && !h.contains(' '))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "node".into());
    format!("{host}:{}", std::process::id())
}

/// What the registry says of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Registered and refreshed: its links connect here.
    Live(String),
    /// Its registration lapsed or it shut down: whatever points at it is stale.
    Gone,
    /// Not registered (yet): Redis may have restarted; wait and see.
    Unknown,
}

/// `<advertise> <expires unix ms>`.
fn liveness_of(value: &str, now_ms: u64) -> Liveness {
    match value.rsplit_once(' ') {
        Some((address, expires)) => match expires.parse::<u64>() {
            Ok(e) if e > now_ms => Liveness::Live(address.to_string()),
            Ok(_) => Liveness::Gone,
            Err(_) => Liveness::Unknown,
        },
        None => Liveness::Unknown,
    }
}

/// How long the cluster registry is served from the cache.
const REGISTRY_CACHE_FOR: Duration = Duration::from_secs(1);

/// A SIP address-of-record's bindings by cluster: field = contact, value =
/// `<cluster> <expires unix ms>`.
fn registration_key(aor: &str) -> String {
    format!("tandem:{{{aor}}}:reg")
}

/// Clusters with a trunk (`[sip] outbound_proxy`): field = cluster, value = expiry.
const TRUNKS_KEY: &str = "tandem:trunks";

fn user_key(bare: &str) -> String {
    format!("tandem:{{{bare}}}:res")
}

pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    async fn query<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T, DirectoryError> {
        let run = async {
            match self.clone() {
                Connection::Single(mut c) => cmd.query_async(&mut c).await,
                Connection::Cluster(mut c) => cmd.query_async(&mut c).await,
            }
        };
        tokio::time::timeout(COMMAND_TIMEOUT, run)
            .await
            .map_err(|_| DirectoryError::Timeout(COMMAND_TIMEOUT))?
            .map_err(DirectoryError::from)
    }

    async fn pipeline(&self, pipe: &Pipeline) -> Result<(), DirectoryError> {
        let run = async {
            match self.clone() {
                Connection::Single(mut c) => pipe.query_async::<Value>(&mut c).await,
                Connection::Cluster(mut c) => pipe.query_async::<Value>(&mut c).await,
            }
        };
        tokio::time::timeout(COMMAND_TIMEOUT, run)
            .await
            .map_err(|_| DirectoryError::Timeout(COMMAND_TIMEOUT))?
            .map(|_| ())
            .map_err(DirectoryError::from)
    }
}

pub struct Directory {
    connection: Connection,
    /// The first URL, for the invalidation subscription (PUBLISH reaches every node of a
    /// Redis Cluster, so one subscription sees every move).
    subscribe_url: String,
    cluster: String,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Vec<Location>)>>,
    /// The registry's raw values (liveness is judged against the clock when read).
    clusters: Mutex<Option<(Instant, HashMap<String, String>)>>,
    broken_until: Mutex<Option<Instant>>,
}

/// Locations written per pipeline.
const WRITE_CHUNK: usize = 1000;

/// After a failed command, Redis is not asked again for this long: callers fail at once
/// instead of each waiting out [`COMMAND_TIMEOUT`] (the SIP endpoint among them).
const BREAK_FOR: Duration = Duration::from_secs(1);

impl Directory {
    async fn query<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T, DirectoryError> {
        self.guarded(self.connection.query(cmd)).await
    }

    async fn pipeline(&self, pipe: &Pipeline) -> Result<(), DirectoryError> {
        self.guarded(self.connection.pipeline(pipe)).await
    }

    async fn guarded<T>(
        &self,
        command: impl std::future::Future<Output = Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        let broken_until = *self.broken_until.lock().unwrap_or_else(|p| p.into_inner());
        if broken_until.is_some_and(|until| Instant::now() < until) {
            return Err(DirectoryError::Unavailable);
        }
        let result = command.await;
        if result.is_err() {
            *self.broken_until.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(Instant::now() + BREAK_FOR);
        }
        result
    }

    /// Connects lazily: Redis being down at startup is survivable, like later.
    pub async fn connect(
        urls: &[String],
        cluster: &str,
        ttl: Duration,
    ) -> Result<Directory, DirectoryError> {
        let connection = if urls.len() == 1 {
            let client = redis::Client::open(urls[0].as_str())?;
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(COMMAND_TIMEOUT))
                .set_response_timeout(Some(COMMAND_TIMEOUT))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(2));
            Connection::Single(ConnectionManager::new_lazy_with_config(client, config)?)
        } else {
            let client = redis::cluster::ClusterClient::builder(urls.iter().map(String::as_str))
                .connection_timeout(COMMAND_TIMEOUT)
                .response_timeout(COMMAND_TIMEOUT)
                .retries(1)
                .build()?;
            let connect = client.get_async_connection();
            Connection::Cluster(
                tokio::time::timeout(COMMAND_TIMEOUT * 4, connect)
                    .await
                    .map_err(|_| DirectoryError::Timeout(COMMAND_TIMEOUT * 4))??,
            )
        };
        Ok(Directory {
            connection,
            subscribe_url: urls[0].clone(),
            cluster: cluster.to_string(),
            ttl,
            cache: Mutex::new(HashMap::new()),
            clusters: Mutex::new(None),
            broken_until: Mutex::new(None),
        })
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// How long an entry lives unless rewritten.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Every live resource of `bare`, in whichever cluster.
    pub async fn locate(&self, bare: &str) -> Result<Vec<Location>, DirectoryError> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(bare)
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(_, entries)| entries.clone());
        let mut entries = match cached {
            Some(entries) => entries,
            None => {
                let fields: HashMap<String, String> = self
                    .query(redis::cmd("HGETALL").arg(user_key(bare)))
                    .await?;
                let now = unix_ms();
                let mut entries: Vec<Location> = fields
                    .iter()
                    .filter_map(|(resource, value)| Location::decode(resource, value, now))
                    .collect();
                entries.sort_by(|a, b| a.resource.cmp(&b.resource));
                self.cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(bare.to_string(), (Instant::now(), entries.clone()));
                entries
            }
        };
        // A dead cluster's entries outlive it until they lapse; they point nowhere.
        let registry = self.registry().await?;
        entries.retain(|l| !matches!(registry.get(&l.cluster), Some(Liveness::Gone)));
        Ok(entries)
    }

    /// The cluster holding `bare`/`resource` now, if any (asked of Redis, not the cache).
    pub async fn owner(
        &self,
        bare: &str,
        resource: &str,
    ) -> Result<Option<String>, DirectoryError> {
        let value: Option<String> = self
            .query(redis::cmd("HGET").arg(user_key(bare)).arg(resource))
            .await?;
        Ok(value
            .and_then(|v| Location::decode(resource, &v, unix_ms()))
            .map(|l| l.cluster))
    }

    /// Forgets the cached entries of `bare` (another cluster moved it).
    pub fn invalidate(&self, bare: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(bare);
    }

    /// Writes (or refreshes) local resources, then tells the other clusters which users
    /// changed when `announce` (a refresh of unchanged entries does not).
    pub async fn put(
        &self,
        entries: &[(String, Location)],
        announce: bool,
    ) -> Result<(), DirectoryError> {
        if entries.is_empty() {
            return Ok(());
        }
        let expires = unix_ms() + self.ttl.as_millis() as u64;
        let write = |pipe: &mut Pipeline, bare: &str, location: &Location| {
            let key = user_key(bare);
            pipe.cmd("HSET")
                .arg(&key)
                .arg(&location.resource)
                .arg(location.encode(expires))
                .ignore();
            pipe.cmd("PEXPIRE")
                .arg(&key)
                .arg(self.ttl.as_millis() as u64)
                .ignore();
        };
        for (bare, _) in entries {
            self.invalidate(bare);
        }
        match &self.connection {
            // In chunks, so each pipeline finishes well within the command timeout however
            // many sessions this cluster has.
            Connection::Single(_) => {
                for chunk in entries.chunks(WRITE_CHUNK) {
                    let mut pipe = redis::pipe();
                    for (bare, location) in chunk {
                        write(&mut pipe, bare, location);
                    }
                    self.pipeline(&pipe).await?;
                }
            }
            // A Redis Cluster pipeline must stay within one slot: one per user, at once.
            Connection::Cluster(_) => {
                let pipes: Vec<Pipeline> = entries
                    .iter()
                    .map(|(bare, location)| {
                        let mut pipe = redis::pipe();
                        write(&mut pipe, bare, location);
                        pipe
                    })
                    .collect();
                for chunk in pipes.chunks(WRITE_CHUNK) {
                    let writes = chunk.iter().map(|p| self.pipeline(p));
                    for written in futures_util::future::join_all(writes).await {
                        written?;
                    }
                }
            }
        }
        if announce {
            for chunk in entries.chunks(WRITE_CHUNK) {
                let mut announcements = redis::pipe();
                for (bare, _) in chunk {
                    announcements
                        .cmd("PUBLISH")
                        .arg(MOVED_CHANNEL)
                        .arg(bare)
                        .ignore();
                }
                self.pipeline(&announcements).await?;
            }
        }
        Ok(())
    }

    /// Removes a resource this cluster owns.
    pub async fn remove(&self, bare: &str, resource: &str) -> Result<(), DirectoryError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(REMOVE_IF_OURS)
            .arg(1)
            .arg(user_key(bare))
            .arg(resource)
            .arg(&self.cluster);
        let _: i64 = self.query(&cmd).await?;
        self.invalidate(bare);
        let _: i64 = self
            .query(redis::cmd("PUBLISH").arg(MOVED_CHANNEL).arg(bare))
            .await?;
        Ok(())
    }

    /// Publishes where this cluster's links connect.
    /// Publishes where this cluster's links connect, with an expiry: rewritten with the
    /// locations, so a cluster that died stops counting once it passes.
    pub async fn register(&self, advertise: &str) -> Result<(), DirectoryError> {
        let expires = unix_ms() + self.ttl.as_millis() as u64;
        let _: i64 = self
            .query(
                redis::cmd("HSET")
                    .arg(CLUSTERS_KEY)
                    .arg(&self.cluster)
                    .arg(format!("{advertise} {expires}")),
            )
            .await?;
        Ok(())
    }

    /// Records that `contacts` of `aor` registered here (until `expires_at`, unix seconds)
    /// and that `removed` no longer are.
    pub async fn put_registrations(
        &self,
        aor: &str,
        contacts: &[(String, u64)],
        removed: &[String],
    ) -> Result<(), DirectoryError> {
        let key = registration_key(aor);
        let mut pipe = redis::pipe();
        let mut longest = 0;
        for (contact, expires_at) in contacts {
            let expires_ms = expires_at.saturating_mul(1000);
            longest = longest.max(expires_ms);
            pipe.cmd("HSET")
                .arg(&key)
                .arg(contact)
                .arg(format!("{} {expires_ms}", self.cluster))
                .ignore();
        }
        for contact in removed {
            pipe.cmd("HDEL").arg(&key).arg(contact).ignore();
        }
        if longest > 0 {
            pipe.cmd("PEXPIREAT")
                .arg(&key)
                .arg(longest)
                .arg("GT")
                .ignore();
            // A key without an expiry yet takes this one (GT alone never sets a first one).
            pipe.cmd("PEXPIREAT")
                .arg(&key)
                .arg(longest)
                .arg("NX")
                .ignore();
        }
        self.pipeline(&pipe).await
    }

    /// The live clusters where `aor` has unexpired bindings.
    pub async fn registration_clusters(&self, aor: &str) -> Result<Vec<String>, DirectoryError> {
        let fields: HashMap<String, String> = self
            .query(redis::cmd("HGETALL").arg(registration_key(aor)))
            .await?;
        let registry = self.registry().await?;
        let now = unix_ms();
        let mut clusters: Vec<String> = fields
            .values()
            .filter_map(|v| {
                let (cluster, expires) = v.split_once(' ')?;
                (expires.parse::<u64>().ok()? > now).then(|| cluster.to_string())
            })
            .filter(|c| !matches!(registry.get(c), Some(Liveness::Gone)))
            .collect();
        clusters.sort();
        clusters.dedup();
        Ok(clusters)
    }

    /// Says this cluster has a trunk, until the next refresh is due.
    pub async fn register_trunk(&self) -> Result<(), DirectoryError> {
        let expires = unix_ms() + self.ttl.as_millis() as u64;
        let _: i64 = self
            .query(
                redis::cmd("HSET")
                    .arg(TRUNKS_KEY)
                    .arg(&self.cluster)
                    .arg(expires),
            )
            .await?;
        Ok(())
    }

    /// A live cluster other than this one that has a trunk.
    pub async fn trunk_cluster(&self) -> Result<Option<String>, DirectoryError> {
        let trunks: HashMap<String, u64> =
            self.query(redis::cmd("HGETALL").arg(TRUNKS_KEY)).await?;
        let now = unix_ms();
        let mut live: Vec<String> = trunks
            .into_iter()
            .filter(|(c, expires)| *expires > now && *c != self.cluster)
            .map(|(c, _)| c)
            .collect();
        live.sort();
        Ok(live.into_iter().next())
    }

    /// Takes this cluster out (a clean shutdown): the others stop counting on it at once.
    /// A lapsed entry rather than none: a missing one means "not known yet" (Redis was
    /// restarted and the cluster has not written itself again).
    pub async fn unregister(&self) -> Result<(), DirectoryError> {
        let _: i64 = self
            .query(
                redis::cmd("HSET")
                    .arg(CLUSTERS_KEY)
                    .arg(&self.cluster)
                    .arg("- 0"),
            )
            .await?;
        Ok(())
    }

    /// Whether another cluster is alive, and where its links connect.
    pub async fn liveness(&self, cluster: &str) -> Result<Liveness, DirectoryError> {
        let cached = self.registry().await?.remove(cluster);
        if let Some(known) = cached.filter(|l| *l != Liveness::Unknown) {
            return Ok(known);
        }
        // Not in the cached copy: it may have registered since; ask Redis itself.
        let value: Option<String> = self
            .query(redis::cmd("HGET").arg(CLUSTERS_KEY).arg(cluster))
            .await?;
        Ok(value.map_or(Liveness::Unknown, |v| liveness_of(&v, unix_ms())))
    }

    /// Whether the last look at the registry saw `cluster` alive (no Redis round trip).
    pub fn known_live(&self, cluster: &str) -> bool {
        let clusters = self.clusters.lock().unwrap_or_else(|p| p.into_inner());
        let now = unix_ms();
        clusters.as_ref().is_some_and(|(_, all)| {
            all.get(cluster)
                .is_some_and(|v| matches!(liveness_of(v, now), Liveness::Live(_)))
        })
    }

    /// Reads the registry again (the periodic refresh keeps [`Self::known_live`] current).
    pub async fn refresh_registry(&self) -> Result<(), DirectoryError> {
        *self.clusters.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.registry().await.map(|_| ())
    }

    /// Every cluster's registration, briefly cached.
    async fn registry(&self) -> Result<HashMap<String, Liveness>, DirectoryError> {
        let cached = self
            .clusters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(at, _)| at.elapsed() < REGISTRY_CACHE_FOR)
            .map(|(_, raw)| raw.clone());
        let raw = match cached {
            Some(raw) => raw,
            None => {
                let raw: HashMap<String, String> =
                    self.query(redis::cmd("HGETALL").arg(CLUSTERS_KEY)).await?;
                *self.clusters.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((Instant::now(), raw.clone()));
                raw
            }
        };
        let now = unix_ms();
        Ok(raw
            .into_iter()
            .map(|(name, value)| {
                let liveness = liveness_of(&value, now);
                (name, liveness)
            })
            .collect())
    }

    /// Drops cache entries as other clusters announce moves, for as long as it runs;
    /// resubscribes after Redis comes back (clearing the cache, which missed moves meanwhile).
    pub async fn follow_moves(&self) {
        use futures_util::StreamExt;
        let mut backoff = Duration::from_millis(100);
        loop {
            let subscribed = async {
                let client = redis::Client::open(self.subscribe_url.as_str())?;
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(MOVED_CHANNEL).await?;
                Ok::<_, RedisError>(pubsub)
            };
            match tokio::time::timeout(COMMAND_TIMEOUT * 2, subscribed).await {
                Ok(Ok(mut pubsub)) => {
                    backoff = Duration::from_millis(100);
                    self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        if let Ok(bare) = message.get_payload::<String>() {
                            self.invalidate(&bare);
                        }
                    }
                    tracing::warn!("lost the Redis subscription to moves; reconnecting");
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "cannot subscribe to moves yet"),
                Err(_) => tracing::debug!("subscribing to moves timed out"),
            }
            self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_values_round_trip_and_expire() {
        let l = Location {
            resource: "phone".into(),
            cluster: "eu-1".into(),
            node: "host-a:42".into(),
            priority: Some(-3),
            interested: true,
        };
        assert_eq!(
            Location::decode("phone", &l.encode(2000), 1000),
            Some(l.clone())
        );
        assert_eq!(Location::decode("phone", &l.encode(2000), 2000), None);
        let away = Location {
            priority: None,
            interested: false,
            ..l
        };
        assert_eq!(Location::decode("phone", &away.encode(9), 1), Some(away));
        for bad in ["", "eu-1", "eu-1 x -", "eu-1 5 high", " 5 -"] {
            assert_eq!(Location::decode("r", bad, 1), None, "{bad:?}");
        }
    }

    #[test]
    fn a_cluster_registration_lapses() {
        assert_eq!(
            liveness_of("127.0.0.1:5280 2000", 1000),
            Liveness::Live("127.0.0.1:5280".into())
        );
        assert_eq!(liveness_of("127.0.0.1:5280 2000", 2000), Liveness::Gone);
        assert_eq!(liveness_of("- 0", 1), Liveness::Gone, "a clean shutdown");
        assert_eq!(liveness_of("127.0.0.1:5280", 1), Liveness::Unknown);
    }

    #[test]
    fn a_users_keys_share_one_redis_cluster_slot() {
        assert_eq!(
            user_key("alice@example.test"),
            "tandem:{alice@example.test}:res"
        );
    }
}
