//! The running server: listeners, per-connection tasks and the shared state they route through.

mod client_cert;
mod connection;
mod listener;
pub mod mailbox;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tandem_xmpp::c2s::{LivenessConfig, SessionConfig};
use tandem_xmpp::router::{LocalRouteTable, RouteTable};
use tandem_xmpp::sasl::ExternalMode;
use tandem_xmpp::stream::{ReaderLimits, StreamErrorCondition};
use tandem_xmpp::Element;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::storage::Storage;
use crate::tls::TlsConfigs;

/// What a session task can be told by others.
#[derive(Debug)]
pub enum SessionCommand {
    /// Write this stanza to the client (boxed: queued commands stay pointer-sized).
    Deliver(Box<Element>),
    /// Close the stream with this error (e.g. `conflict` when a newer session took the resource).
    Evict(StreamErrorCondition),
}

/// How the router reaches one session.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    pub id: u64,
    mailbox: Arc<mailbox::Mailbox>,
}

impl SessionHandle {
    /// A session with no connection behind it (`tandem replay`'s scripted XMPP users):
    /// what is delivered to it waits in the returned mailbox.
    pub fn detached(shared: &Shared) -> (SessionHandle, Arc<mailbox::Mailbox>) {
        let mailbox = Arc::new(mailbox::Mailbox::default());
        let handle = SessionHandle {
            id: shared.next_session_id(),
            mailbox: mailbox.clone(),
        };
        (handle, mailbox)
    }

    /// Queues a stanza; false if the session is already gone.
    pub fn deliver(&self, stanza: Element) -> bool {
        self.mailbox.send(SessionCommand::Deliver(Box::new(stanza)))
    }

    pub fn evict(&self, condition: StreamErrorCondition) {
        self.mailbox.send(SessionCommand::Evict(condition));
    }
}

/// Where stanzas for the SIP gateway domain go: the SIP endpoint task, which owns the calls.
pub struct GatewayLink {
    /// `[gateway] sip_domain`.
    pub domain: String,
    stanzas: tokio::sync::mpsc::Sender<Element>,
    /// Local accounts the bridge answers for while their registered phone is in a call
    /// (they have no XMPP session; their caller's Jingle requests go to the bridge).
    speaking_for: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl GatewayLink {
    /// Whether `jid` is a SIP address behind the gateway (or the gateway itself), or a local
    /// account whose phone is in a bridged call.
    pub fn serves(&self, jid: &jid::Jid) -> bool {
        jid.domain().as_str() == self.domain
            || self
                .speaking_for
                .lock()
                .map(|s| s.contains(jid.to_bare().as_str()))
                .unwrap_or(false)
    }

    /// The bridge answers for `bare` (a local account on its phone) until [`Self::release`].
    pub fn speak_for(&self, bare: &str) {
        if let Ok(mut s) = self.speaking_for.lock() {
            s.insert(bare.to_owned());
        }
    }

    pub fn release(&self, bare: &str) {
        if let Ok(mut s) = self.speaking_for.lock() {
            s.remove(bare);
        }
    }

    /// Hands a stanza to the bridge; false when it is gone or overloaded.
    pub fn send(&self, stanza: Element) -> bool {
        self.stanzas.try_send(stanza).is_ok()
    }
}

/// State every connection task shares.
pub struct Shared {
    pub domain: String,
    pub storage: Storage,
    pub routes: Arc<dyn RouteTable<SessionHandle>>,
    /// Itself, for work that must outlive the caller's borrow (spawned forwarding).
    me: std::sync::Weak<Shared>,
    /// `[cluster]`: the other clusters and the global route table.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    pub tls: TlsConfigs,
    /// Serialises roster read-modify-write per user.
    pub user_locks: crate::im::locks::UserLocks,
    /// The SIP <-> Jingle bridge, when `[gateway] sip_domain` is set and SIP listens.
    pub gateway: Option<GatewayLink>,
    pub metrics: Arc<crate::metrics::Metrics>,
    starttls_session: Arc<SessionConfig>,
    direct_tls_session: Arc<SessionConfig>,
    next_session_id: AtomicU64,
}

impl Shared {
    /// The session configuration of STARTTLS listeners (`true`) or direct TLS ones.
    pub fn session_config(&self, starttls_available: bool) -> Arc<SessionConfig> {
        if starttls_available {
            self.starttls_session.clone()
        } else {
            self.direct_tls_session.clone()
        }
    }

    pub fn me(&self) -> Option<Arc<Shared>> {
        self.me.upgrade()
    }

    pub fn next_session_id(&self) -> u64 {
        self.next_session_id.fetch_add(1, Ordering::Relaxed)
    }
}

fn session_config(
    domain: &str,
    limits: ReaderLimits,
    require_encryption: bool,
    starttls_available: bool,
    external: Option<tandem_xmpp::c2s::ExternalPolicy>,
) -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        domain: domain.to_owned(),
        starttls_available,
        require_encryption,
        external,
        limits,
        max_auth_attempts: 3,
        liveness: LivenessConfig::default(),
    })
}

/// A started server: its bound addresses and a way to stop it.
pub struct RunningServer {
    shutdown: watch::Sender<bool>,
    tracker: TaskTracker,
    storage: Storage,
}

impl RunningServer {
    /// Binds every listener and starts accepting. Ports of 0 are resolved in the result.
    pub async fn start(config: &Config) -> Result<RunningServer> {
        std::fs::create_dir_all(&config.server.data_dir)
            .with_context(|| format!("creating data dir {}", config.server.data_dir.display()))?;
        let client_ca = config.tls.client_ca.as_ref().map(|ca| config.resolve(ca));
        let crls: Vec<_> = config.tls.crl.iter().map(|c| config.resolve(c)).collect();
        let client_auth = client_ca
            .as_deref()
            .map(|ca| crate::tls::ClientAuth { ca, crls: &crls });
        let tls = crate::tls::load_or_generate(
            &config.cert_path(),
            &config.key_path(),
            &config.server.domain,
            client_auth,
        )?;
        let storage = Storage::open(&config.storage().connection_url())
            .await
            .with_context(|| format!("opening storage {}", config.storage()))?;
        let metrics = crate::metrics::Metrics::new();
        let cluster = crate::cluster::Cluster::new(config, metrics.clone()).await?;
        let (routes, updates): (Arc<dyn RouteTable<SessionHandle>>, _) = match &cluster {
            Some(_) => {
                let (table, updates) = crate::cluster::routes::GlobalRouteTable::new();
                (Arc::new(table), Some(updates))
            }
            None => (Arc::new(LocalRouteTable::default()), None),
        };
        let (shared, gateway_rx) = build_shared(
            config,
            storage.clone(),
            tls,
            Parts {
                metrics,
                routes,
                cluster: cluster.clone(),
            },
        );
        let (shutdown, shutdown_rx) = watch::channel(false);
        let tracker = TaskTracker::new();
        if let (Some(cluster), Some(updates)) = (&cluster, updates) {
            cluster
                .run(shared.clone(), updates, &tracker, shutdown_rx.clone())
                .await?;
        }
        for (addrs, direct_tls) in [
            (&config.xmpp.listen, false),
            (&config.xmpp.tls_listen, true),
        ] {
            for addr in addrs {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding c2s listener {addr}"))?;
                let local = listener.local_addr()?;
                tracing::info!(addr = %local, direct_tls, "c2s listening");
                tracker.spawn(listener::accept_loop(
                    listener,
                    direct_tls,
                    shared.clone(),
                    shutdown_rx.clone(),
                    tracker.clone(),
                ));
            }
        }
        if let Some(addr) = config.metrics.listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding metrics listener {addr}"))?;
            tracing::info!(addr = %listener.local_addr()?, "metrics listening");
            tracker.spawn(crate::metrics::serve(
                listener,
                shared.metrics.clone(),
                shutdown_rx.clone(),
            ));
        }
        crate::sip::start(
            config,
            storage.clone(),
            shared.tls.starttls.clone(),
            shared.clone(),
            gateway_rx,
            shutdown_rx.clone(),
            &tracker,
        )
        .await?;
        Ok(RunningServer {
            shutdown,
            tracker,
            storage,
        })
    }

    /// Closes every stream with `system-shutdown`, waits for the sessions to finish (bounded),
    /// then closes storage.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.tracker.close();
        if tokio::time::timeout(Duration::from_secs(10), self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some sessions did not close within 10 s");
        }
        self.storage.close().await;
    }
}

/// Session ids only need to be unique per process; starting from the clock keeps stream ids
/// distinct across restarts too.
/// The state every session shares, and the receiving end of the gateway link (what XMPP
/// users send to the gateway domain, for the SIP endpoint).
/// What `build_shared` takes ready-made: shared with the cluster, or chosen by it.
pub struct Parts {
    pub metrics: Arc<crate::metrics::Metrics>,
    pub routes: Arc<dyn RouteTable<SessionHandle>>,
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}

impl Parts {
    /// One cluster, routes in memory.
    pub fn standalone() -> Parts {
        Parts {
            metrics: crate::metrics::Metrics::new(),
            routes: Arc::new(LocalRouteTable::default()),
            cluster: None,
        }
    }
}

pub fn build_shared(
    config: &Config,
    storage: Storage,
    tls: TlsConfigs,
    parts: Parts,
) -> (Arc<Shared>, tokio::sync::mpsc::Receiver<Element>) {
    let limits = ReaderLimits {
        max_stanza_size: config.xmpp.max_stanza_size,
        max_depth: config.xmpp.max_depth,
    };
    let domain = &config.server.domain;
    let require_encryption = config.xmpp.require_encryption;
    // Certificate logins exist only where client certificates are asked for.
    let external = config
        .tls
        .client_ca
        .as_ref()
        .map(|_| tandem_xmpp::c2s::ExternalPolicy {
            modes: config
                .xmpp
                .sasl_external
                .modes
                .iter()
                .map(|m| {
                    if m == "common_name" {
                        ExternalMode::CommonName
                    } else {
                        ExternalMode::Standard
                    }
                })
                .collect(),
            auto_create: config.xmpp.sasl_external.auto_create,
        });
    let (gateway_tx, gateway_rx) = tokio::sync::mpsc::channel(1024);
    let shared = Arc::new_cyclic(|me| Shared {
        me: me.clone(),
        domain: config.server.domain.clone(),
        storage,
        routes: parts.routes,
        cluster: parts.cluster,
        tls,
        user_locks: Default::default(),
        gateway: match &config.gateway.sip_domain {
            Some(domain) if !config.sip.listen.is_empty() => Some(GatewayLink {
                domain: domain.clone(),
                stanzas: gateway_tx,
                speaking_for: Default::default(),
            }),
            _ => None,
        },
        metrics: parts.metrics,
        starttls_session: session_config(
            domain,
            limits,
            require_encryption,
            true,
            external.clone(),
        ),
        direct_tls_session: session_config(domain, limits, require_encryption, false, external),
        next_session_id: AtomicU64::new(seed_session_ids()),
    });
    (shared, gateway_rx)
}

fn seed_session_ids() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(1)
        << 8
}
