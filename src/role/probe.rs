//! One role check: the broker's own answer (required), the name-server cross-check and a slave's
//! lag (best-effort, each within its own share of the time limit), and in 5.x controller mode
//! the controller's word on who the master is (required for a master).
//!
//! What a check costs the broker is part of its design. The role needs one GET_BROKER_CONFIG (under
//! a millisecond of broker CPU on 4.9.6 and 5.5.0). GET_BROKER_RUNTIME_INFO is only needed for a
//! slave's lag, and a 5.5.0 broker spends ~58 ms of CPU building each answer (4.9.6: well under
//! one; `benches/footprint.sh`), so the lag is sampled on a cadence of its own:
//! [`crate::periodic::spaced_by_cost`].

use std::convert::Infallible;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Mutex;
use tokio::time::{timeout_at, Instant};

use crate::admin::{
    own_member, AdminError, BrokerAdmin, BrokerConfig, ControllerAdmin, DLedgerAdmin, DLedgerMember, DLedgerView,
    NamesrvAdmin, ReplicaInfo,
};
use crate::remoting::ClientOptions;

use super::Role;

/// What one successful check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    pub role: Role,
    pub broker_name: String,
    pub broker_id: u64,
    pub cluster: String,
    /// The address the broker registers with the name servers (brokerIP1:listenPort).
    pub registered_addr: String,
    pub dledger: bool,
    /// Whether the broker takes writes (its brokerPermission has the write bit): false while a
    /// scale-in drains the shard or preTerminate holds it. None when it did not say.
    pub writable: Option<bool>,
    /// The broker's release (`V4_9_6`, `V5_5_0`), from the version its answers carry.
    pub broker_version: Option<String>,
    pub namesrv_check: NamesrvCheck,
    /// The shard's master according to the name servers (for a slave).
    pub master_addr: Option<String>,
    pub commit_log_max_offset: Option<u64>,
    /// For a slave: master commitLogMaxOffset − ours, when both brokers answered.
    pub slave_lag_bytes: Option<u64>,
    /// For a slave whose lag was asked for and could not be had in its budget: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slave_lag_unavailable: Option<String>,
    /// For a slave: how old the lag sample above is (it is taken on its own cadence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slave_lag_age_ms: Option<u64>,
    /// 5.x controller mode: the shard as the controller sees it (None otherwise, or for a slave
    /// whose controller did not answer).
    pub controller: Option<ReplicaInfo>,
    /// 4.9.x DLedger mode: the term and leader as the broker's own DLedger member sees them
    /// (best-effort: None when it did not answer in its share of the time limit).
    pub dledger_view: Option<DLedgerView>,
    /// 5.x controller mode (the broker names its controllers), whether or not they answered.
    #[serde(skip)]
    pub controller_mode: bool,
}

impl Observation {
    /// The identity from the broker's config, with nothing else learned yet.
    fn bare(role: Role, broker_name: String, broker_id: u64, cluster: String, registered_addr: String) -> Observation {
        Observation {
            role,
            broker_name,
            broker_id,
            cluster,
            registered_addr,
            dledger: false,
            writable: None,
            broker_version: None,
            namesrv_check: NamesrvCheck::NotConfigured,
            master_addr: None,
            commit_log_max_offset: None,
            slave_lag_bytes: None,
            slave_lag_unavailable: None,
            slave_lag_age_ms: None,
            controller: None,
            dledger_view: None,
            controller_mode: false,
        }
    }

    /// The number KubeBlocks >= 1.2 orders role events by, printed after the role (`<role> <version>`,
    /// `controllers/workloads/role_event_handler.go` `parseRoleProbeOutput`): per pod it takes a
    /// versioned answer only when the version is greater than the last one it took, and a peer's
    /// exclusive role only when newer. DLedger's term and the controller's master epoch grow with
    /// every election, so a stale `master` can never overwrite a newer `slave`. `Ok(None)`: a plain
    /// master/slave shard has no such number, and the role goes alone. `Err`: the shard has one, but
    /// this check could not learn it (a role printed without it would be refused after a versioned
    /// one anyway, so the probe fails instead).
    pub fn role_version(&self) -> Result<Option<u64>, String> {
        let known = |v: Option<i64>, what: &str| {
            v.and_then(|v| u64::try_from(v).ok()).map(Some).ok_or_else(|| format!("the {what} is unknown"))
        };
        if self.dledger {
            known(self.dledger_view.as_ref().and_then(|d| d.term), "DLedger term")
        } else if self.controller_mode {
            known(self.controller.as_ref().and_then(|c| c.master_epoch), "controller's master epoch")
        } else {
            Ok(None)
        }
    }
}

/// The name-server cross-check's outcome. Only a contradiction makes the role unknown: an
/// unreachable name server or a broker not registered yet does not change what the broker says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "result", content = "detail")]
pub enum NamesrvCheck {
    NotConfigured,
    Confirmed,
    NotRegistered,
    Unavailable(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("cannot ask the broker: {0}")]
    Broker(AdminError),
    #[error("the broker's config has no usable {key} ({value:?})")]
    BadConfig { key: &'static str, value: String },
    #[error("the broker contradicts itself: brokerRole={role} with brokerId={id}")]
    Inconsistent { role: String, id: u64 },
    #[error("the name servers disagree with the broker: {0}")]
    Conflict(String),
    #[error("the broker says master, but the controller {0}")]
    NotElected(String),
    #[error("the broker says master in controller mode, and its controller cannot confirm it: {0}")]
    Controller(AdminError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// KubeBlocks >= 1.2 was asked for the role's version, and it could not be had.
    #[error("the role's version (for KubeBlocks >= 1.2) cannot be told: {0}")]
    NoVersion(String),
}

impl RoleError {
    /// A stable label (logs, metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            RoleError::Broker(e) => e.kind(),
            RoleError::BadConfig { .. } => "bad_config",
            RoleError::Inconsistent { .. } => "inconsistent",
            RoleError::Conflict(_) => "namesrv_conflict",
            RoleError::NotElected(_) => "controller_conflict",
            RoleError::Controller(_) => "controller_unavailable",
            RoleError::Timeout(_) => "timeout",
            RoleError::NoVersion(_) => "no_version",
        }
    }
}

pub struct RoleProbe {
    broker: BrokerAdmin,
    namesrv: Option<NamesrvAdmin>,
    opts: ClientOptions,
    /// Client for the shard's master, by its address (slave lag).
    master: Kept<String, BrokerAdmin>,
    /// 5.x controller mode: the controllers the broker names, by its `controllerAddr`.
    controller: Kept<String, ControllerAdmin>,
    /// DLedger mode: the broker's own DLedger member, as its config names it.
    dledger: Kept<DLedgerMember, DLedgerAdmin>,
    /// A slave's latest lag sample, reused until the next one is due.
    lag: SyncMutex<Option<LagSample>>,
    /// The oldest a lag sample may be before a new one is taken, however much it costs.
    lag_max_age: Duration,
}

/// A slave's lag, as both brokers' runtime info gave it at one moment.
#[derive(Debug, Clone)]
struct LagSample {
    /// The master it was measured against: a failover makes the sample moot.
    master: Option<String>,
    taken: Instant,
    next_due: Instant,
    /// How long the sample took (the next one is spaced by the faster of the last two: the first
    /// on a new connection includes the connect, and a young broker's JIT).
    took: Duration,
    /// The slave's own commitLogMaxOffset.
    mine: Option<u64>,
    lag: Result<u64, String>,
}

/// However slow the answers, a lag sample is never older than this by default (`--lag-max-age`).
pub const LAG_MAX_AGE: Duration = Duration::from_secs(60);

/// A client kept across checks while what it was made for stays the same (one connection, not
/// one per check); a new key replaces it.
struct Kept<K, T>(Mutex<Option<(K, Arc<T>)>>);

impl<K: PartialEq + Clone, T> Kept<K, T> {
    fn new() -> Self {
        Kept(Mutex::new(None))
    }

    async fn get<E>(&self, key: &K, make: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
        let mut slot = self.0.lock().await;
        match slot.as_ref() {
            Some((k, kept)) if k == key => Ok(kept.clone()),
            _ => {
                let made = Arc::new(make()?);
                *slot = Some((key.clone(), made.clone()));
                Ok(made)
            }
        }
    }
}

impl RoleProbe {
    pub fn new(broker: &str, namesrv: Option<&str>, opts: ClientOptions) -> Result<RoleProbe, AdminError> {
        let namesrv = namesrv.map(|n| NamesrvAdmin::new(n, opts.clone())).transpose()?;
        Ok(RoleProbe {
            broker: BrokerAdmin::new(broker, opts.clone()),
            namesrv,
            opts,
            master: Kept::new(),
            controller: Kept::new(),
            dledger: Kept::new(),
            lag: SyncMutex::new(None),
            lag_max_age: LAG_MAX_AGE,
        })
    }

    /// A lag sample is never reused for longer than `max_age` (the default is [`LAG_MAX_AGE`]).
    pub fn with_lag_max_age(mut self, max_age: Duration) -> RoleProbe {
        self.lag_max_age = max_age;
        self
    }

    pub fn broker_addr(&self) -> &str {
        self.broker.addr()
    }

    /// One check, bounded by `limit` as a whole. The broker's own answer is required and may use
    /// all of it. The name-server cross-check and (with `with_lag`) a slave's lag behind its
    /// master are best-effort, each within its own share of `limit`: a silent name server or a
    /// hung master makes them "unavailable", never a failed role.
    pub async fn check(&self, limit: Duration, with_lag: bool) -> Result<Observation, RoleError> {
        let started = Instant::now();
        let deadline = started + limit;
        let namesrv_budget = limit.mul_f64(BEST_EFFORT_SHARE);
        let cluster_info = async {
            let ns = self.namesrv.as_ref()?;
            let answer = timeout_at(started + namesrv_budget, ns.cluster_info()).await;
            Some(answer.map_err(|_| format!("no name server answered within {namesrv_budget:?}")))
        };
        // The config alone tells the role, and its answer proves the broker's admin path works.
        let (config, cluster_info) = tokio::join!(timeout_at(deadline, self.broker.config()), cluster_info);
        let config = config.map_err(|_| RoleError::Timeout(limit))?;
        let controllers = config.as_ref().ok().and_then(controller_addrs);
        let dledger_member = config.as_ref().ok().and_then(own_member);
        let mut obs = observe(config, cluster_info)?;
        obs.broker_version = self.broker.version().map(|v| v.name());
        obs.controller_mode = controllers.is_some();
        if let Some(addrs) = controllers {
            self.controller_check(&mut obs, &addrs, deadline).await?;
        }
        if let Some(member) = dledger_member {
            let share = deadline.min(Instant::now() + limit.mul_f64(BEST_EFFORT_SHARE));
            obs.dledger_view = timeout_at(share, self.dledger_view(&member)).await.ok().flatten();
        }
        if with_lag && obs.role == Role::Slave {
            let lag_deadline = deadline.min(Instant::now() + limit.mul_f64(BEST_EFFORT_SHARE));
            self.fill_lag(&mut obs, lag_deadline).await;
        } else {
            *self.lock_lag() = None;
        }
        Ok(obs)
    }

    fn lock_lag(&self) -> std::sync::MutexGuard<'_, Option<LagSample>> {
        self.lag.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The slave's lag from the latest sample, or from a new one when it is due (or was taken
    /// against another master).
    async fn fill_lag(&self, obs: &mut Observation, deadline: Instant) {
        let now = Instant::now();
        let last = self.lock_lag().clone().filter(|s| s.master == obs.master_addr);
        let sample = match last {
            Some(sample) if now < sample.next_due => sample,
            last => {
                let sample = self.sample_lag(obs.master_addr.clone(), deadline, last.map(|s| s.took)).await;
                *self.lock_lag() = Some(sample.clone());
                sample
            }
        };
        obs.commit_log_max_offset = sample.mine;
        match sample.lag {
            Ok(lag) => obs.slave_lag_bytes = Some(lag),
            Err(why) => obs.slave_lag_unavailable = Some(why),
        }
        obs.slave_lag_age_ms = Some(Instant::now().saturating_duration_since(sample.taken).as_millis() as u64);
    }

    /// Both brokers' commitLogMaxOffset, asked at once. A failed sample is due again at the next
    /// check (as before sampling had a cadence); a good one as its cost allows ([`lag_spacing`]).
    async fn sample_lag(
        &self,
        master_addr: Option<String>,
        deadline: Instant,
        last_took: Option<Duration>,
    ) -> LagSample {
        let taken = Instant::now();
        let mine = commit_log_max_offset(&self.broker, "the broker");
        let theirs = self.master_offset(master_addr.as_deref());
        let answer = timeout_at(deadline, async { tokio::join!(mine, theirs) }).await;
        let took = taken.elapsed();
        let (mine, lag) = match answer {
            // The master's failure is named first: it is the usual one (a hung or moved master).
            Ok((mine, theirs)) => {
                let lag = theirs.and_then(|t| mine.clone().map(|m| t.saturating_sub(m)));
                (mine.ok(), lag)
            }
            Err(_) => (
                None,
                Err(format!("the master {} did not answer within {took:?}", master_addr.as_deref().unwrap_or("?"))),
            ),
        };
        let spacing = lag_spacing(took, last_took, lag.is_ok(), self.lag_max_age);
        LagSample { master: master_addr, taken, next_due: taken + spacing, took, mine, lag }
    }

    /// 5.x controller mode. A broker learns that it was demoted only when it next asks its
    /// controller (a paused old master resumes still saying master), so a master must be the
    /// one the controller elected, within the check's deadline. A slave's answer stands; what
    /// the controller says is shown when it answers.
    async fn controller_check(&self, obs: &mut Observation, addrs: &str, deadline: Instant) -> Result<(), RoleError> {
        let controller = self
            .controller
            .get(&addrs.to_string(), || ControllerAdmin::new(addrs, self.opts.clone()))
            .await
            .map_err(RoleError::Controller)?;
        let answer = timeout_at(deadline, controller.replica_info(&obs.broker_name)).await;
        let info = match (answer, obs.role) {
            (Ok(Ok(info)), _) => info,
            (_, Role::Slave) => return Ok(()),
            (Ok(Err(e)), Role::Master) => return Err(RoleError::Controller(e)),
            (Err(_), Role::Master) => {
                return Err(RoleError::Controller(AdminError::AllControllersFailed(Vec::new())));
            }
        };
        not_elected(obs, &info).map_or(Ok(()), |why| Err(RoleError::NotElected(format!("at {addrs} {why}"))))?;
        obs.controller = Some(info);
        Ok(())
    }

    /// The term and leader as the broker's DLedger member sees them; None when it does not answer.
    async fn dledger_view(&self, member: &DLedgerMember) -> Option<DLedgerView> {
        let admin = self.dledger.get(member, || Ok::<_, Infallible>(DLedgerAdmin::new(member, self.opts.clone())));
        let Ok(admin) = admin.await;
        admin.view().await.map_err(|e| tracing::debug!(error = %e, "DLedger metadata unavailable")).ok()
    }

    /// The master's commitLogMaxOffset (its runtime info).
    async fn master_offset(&self, master_addr: Option<&str>) -> Result<u64, String> {
        let master_addr = master_addr.ok_or("the name servers name no master for the shard")?.to_string();
        let master =
            self.master.get(&master_addr, || Ok::<_, Infallible>(BrokerAdmin::new(&master_addr, self.opts.clone())));
        let Ok(master) = master.await;
        commit_log_max_offset(&master, "the master").await
    }
}

/// A broker's commitLogMaxOffset, from its runtime info; the error says whose and why.
async fn commit_log_max_offset(admin: &BrokerAdmin, whose: &str) -> Result<u64, String> {
    let info = admin.runtime_info().await.map_err(|e| e.to_string())?;
    info.get("commitLogMaxOffset")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{whose} reported no commitLogMaxOffset"))
}

/// How long a lag sample that took `took` is reused: a failed one not at all (the next check asks
/// again), a good one as long as its cost allows ([`crate::periodic::spaced_by_cost`]), at most
/// `max_age`.
fn lag_spacing(took: Duration, last_took: Option<Duration>, ok: bool, max_age: Duration) -> Duration {
    if ok {
        crate::periodic::spaced_by_cost(took, last_took, max_age)
    } else {
        Duration::ZERO
    }
}

/// The best-effort parts of a check (name-server cross-check, slave lag) each get this share of
/// the check's time limit.
const BEST_EFFORT_SHARE: f64 = 0.5;

/// The observation from the broker's config and, when asked, the name servers'.
fn observe(
    config: Result<BrokerConfig, AdminError>,
    cluster_info: Option<Result<Result<crate::admin::ClusterInfo, AdminError>, String>>,
) -> Result<Observation, RoleError> {
    let config = config.map_err(RoleError::Broker)?;
    let id = parse_id(&config)?;
    let role = role_of(&config, id)?;
    let registered_addr = registered_addr(&config);
    let broker_name = config.get("brokerName").cloned().unwrap_or_default();
    let cluster = config.get("brokerClusterName").cloned().unwrap_or_default();
    let mut obs = Observation {
        dledger: config.get("enableDLegerCommitLog").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        writable: crate::admin::write_permission(&config),
        ..Observation::bare(role, broker_name, id, cluster, registered_addr)
    };
    match cluster_info {
        None => {}
        Some(Err(timed_out)) => obs.namesrv_check = NamesrvCheck::Unavailable(timed_out),
        Some(Ok(Err(e))) => obs.namesrv_check = NamesrvCheck::Unavailable(e.to_string()),
        Some(Ok(Ok(info))) => {
            let shard = info.brokers.get(&obs.broker_name);
            obs.master_addr = info.master_of(&obs.broker_name).ok().map(str::to_string);
            obs.namesrv_check = cross_check(&obs, shard.map(|s| &s.addrs))?;
        }
    }
    Ok(obs)
}

/// Why a broker that says master is not the controller's elected master (None: it is, or it
/// does not say master).
fn not_elected(obs: &Observation, info: &ReplicaInfo) -> Option<String> {
    if obs.role != Role::Master || info.master_addr.as_deref() == Some(obs.registered_addr.as_str()) {
        return None;
    }
    Some(format!(
        "names {} (epoch {}) as the master of {}; this broker registers as {}",
        info.master_addr.as_deref().unwrap_or("no master"),
        info.master_epoch.unwrap_or(0),
        obs.broker_name,
        obs.registered_addr
    ))
}

/// The broker's controllers when it runs in 5.x controller mode (`enableControllerMode`).
fn controller_addrs(config: &BrokerConfig) -> Option<String> {
    let on = config.get("enableControllerMode").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    on.then(|| config.get("controllerAddr").cloned().unwrap_or_default())
}

fn parse_id(config: &BrokerConfig) -> Result<u64, RoleError> {
    let raw = config.get("brokerId").cloned().unwrap_or_default();
    raw.trim().parse().map_err(|_| RoleError::BadConfig { key: "brokerId", value: raw })
}

fn role_of(config: &BrokerConfig, id: u64) -> Result<Role, RoleError> {
    let raw = config.get("brokerRole").cloned().unwrap_or_default();
    let role = match raw.trim() {
        "ASYNC_MASTER" | "SYNC_MASTER" => Role::Master,
        "SLAVE" => Role::Slave,
        _ => return Err(RoleError::BadConfig { key: "brokerRole", value: raw }),
    };
    // A master is brokerId 0 and a slave is not: anything else is a half-applied change.
    if (role == Role::Master) != (id == 0) {
        return Err(RoleError::Inconsistent { role: raw, id });
    }
    Ok(role)
}

fn registered_addr(config: &BrokerConfig) -> String {
    let ip = config.get("brokerIP1").map(String::as_str).unwrap_or("");
    let port = config.get("listenPort").map(String::as_str).unwrap_or("10911");
    format!("{ip}:{port}")
}

fn cross_check(
    obs: &Observation,
    shard: Option<&std::collections::BTreeMap<u64, String>>,
) -> Result<NamesrvCheck, RoleError> {
    let Some(addrs) = shard else {
        return Ok(NamesrvCheck::NotRegistered);
    };
    let me = &obs.registered_addr;
    if addrs.get(&obs.broker_id) == Some(me) {
        return Ok(NamesrvCheck::Confirmed);
    }
    if let Some((other_id, _)) = addrs.iter().find(|(_, a)| *a == me) {
        return Err(RoleError::Conflict(format!(
            "{me} is registered as brokerId {other_id} of {}, but the broker says brokerId {}",
            obs.broker_name, obs.broker_id
        )));
    }
    if obs.role == Role::Master {
        if let Some(other) = addrs.get(&0) {
            return Err(RoleError::Conflict(format!(
                "{other} is registered as the master (brokerId 0) of {}, not {me}",
                obs.broker_name
            )));
        }
    }
    Ok(NamesrvCheck::NotRegistered)
}

#[cfg(test)]
impl Observation {
    /// A plain (non-DLedger, non-controller) writable broker's observation, for unit tests.
    pub(crate) fn for_test(role: Role, id: u64, addr: &str) -> Observation {
        Observation { writable: Some(true), ..Observation::bare(role, "b".into(), id, "c".into(), addr.into()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BrokerConfig {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn roles_from_config() {
        let c = config(&[("brokerRole", "SYNC_MASTER"), ("brokerId", "0")]);
        assert_eq!(role_of(&c, parse_id(&c).unwrap()).unwrap(), Role::Master);
        let c = config(&[("brokerRole", "SLAVE"), ("brokerId", "2")]);
        assert_eq!(role_of(&c, 2).unwrap(), Role::Slave);
        assert!(matches!(role_of(&config(&[("brokerRole", "SLAVE")]), 0), Err(RoleError::Inconsistent { .. })));
        assert!(matches!(role_of(&config(&[("brokerRole", "ASYNC_MASTER")]), 1), Err(RoleError::Inconsistent { .. })));
        assert!(matches!(role_of(&config(&[("brokerRole", "LEADER")]), 0), Err(RoleError::BadConfig { .. })));
        assert!(parse_id(&config(&[("brokerId", "x")])).is_err());
        assert!(parse_id(&config(&[])).is_err());
    }

    #[test]
    fn in_controller_mode_only_the_elected_master_is_master() {
        let info = |addr: Option<&str>| ReplicaInfo {
            master_addr: addr.map(str::to_string),
            master_broker_id: Some(1),
            master_epoch: Some(3),
            sync_state_set: vec![1, 2],
        };
        let old = obs(Role::Master, 0, "10.0.0.1:10911");
        assert_eq!(not_elected(&old, &info(Some("10.0.0.1:10911"))), None);
        let why = not_elected(&old, &info(Some("10.0.0.2:10911"))).unwrap();
        assert!(why.contains("names 10.0.0.2:10911 (epoch 3)"), "{why}");
        assert!(not_elected(&old, &info(None)).unwrap().contains("no master"));
        assert_eq!(not_elected(&obs(Role::Slave, 2, "10.0.0.1:10911"), &info(Some("10.0.0.2:10911"))), None);
    }

    fn obs(role: Role, id: u64, addr: &str) -> Observation {
        Observation::for_test(role, id, addr)
    }

    #[test]
    fn the_role_version_is_the_term_or_the_epoch_and_never_made_up() {
        let plain = obs(Role::Master, 0, "10.0.0.1:10911");
        assert_eq!(plain.role_version(), Ok(None), "a plain master/slave shard has no version");
        let mut dledger = Observation { dledger: true, ..plain.clone() };
        assert!(dledger.role_version().unwrap_err().contains("DLedger term"));
        dledger.dledger_view = Some(DLedgerView { term: Some(7), leader_id: None, leader_addr: None });
        assert_eq!(dledger.role_version(), Ok(Some(7)));
        let mut controlled = Observation { controller_mode: true, ..plain };
        assert!(controlled.role_version().unwrap_err().contains("master epoch"), "a slave whose controller is silent");
        controlled.controller = Some(ReplicaInfo {
            master_addr: None,
            master_broker_id: None,
            master_epoch: Some(-1),
            sync_state_set: vec![],
        });
        assert!(controlled.role_version().is_err(), "a negative epoch is not a version");
        controlled.controller.as_mut().unwrap().master_epoch = Some(4);
        assert_eq!(controlled.role_version(), Ok(Some(4)));
    }

    #[test]
    fn the_lag_is_asked_for_in_proportion_to_what_it_costs() {
        let (ms, max) = (Duration::from_millis, LAG_MAX_AGE);
        assert_eq!(lag_spacing(ms(1), Some(ms(2)), true, max), ms(400), "4.9.6: about every check at the 1 s default");
        assert_eq!(lag_spacing(ms(65), Some(ms(70)), true, max), ms(26_000), "5.5.0: its runtime info takes ~65 ms");
        assert_eq!(lag_spacing(ms(40), Some(ms(2)), true, max), ms(800), "one slow answer does not stretch it");
        assert_eq!(lag_spacing(ms(40), None, true, max), Duration::ZERO, "the first sample paid for the connect");
        assert_eq!(
            lag_spacing(ms(500), Some(ms(2)), false, max),
            Duration::ZERO,
            "a failure is retried at the next check"
        );
        assert_eq!(
            lag_spacing(Duration::from_secs(5), Some(Duration::from_secs(5)), true, max),
            max,
            "never older than --lag-max-age"
        );
    }

    #[test]
    fn name_server_cross_check() {
        let addrs = |v: &[(u64, &str)]| v.iter().map(|(i, a)| (*i, a.to_string())).collect();
        let two = addrs(&[(0, "10.0.0.1:10911"), (1, "10.0.0.2:10911")]);
        assert_eq!(cross_check(&obs(Role::Master, 0, "10.0.0.1:10911"), Some(&two)).unwrap(), NamesrvCheck::Confirmed);
        assert_eq!(cross_check(&obs(Role::Slave, 1, "10.0.0.2:10911"), Some(&two)).unwrap(), NamesrvCheck::Confirmed);
        // The broker claims master, the name servers have it as a slave.
        assert!(cross_check(&obs(Role::Master, 0, "10.0.0.2:10911"), Some(&two)).is_err());
        // Another broker is registered as this shard's master.
        assert!(cross_check(&obs(Role::Master, 0, "10.0.0.9:10911"), Some(&two)).is_err());
        // Not registered (yet): the broker's word stands.
        assert_eq!(
            cross_check(&obs(Role::Slave, 2, "10.0.0.9:10911"), Some(&two)).unwrap(),
            NamesrvCheck::NotRegistered
        );
        assert_eq!(cross_check(&obs(Role::Master, 0, "x:1"), None).unwrap(), NamesrvCheck::NotRegistered);
    }
}
