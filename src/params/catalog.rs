//! Every broker parameter of the addon's schema (`tests/data/rocketmq-params.tsv`, copied from
//! the addon's cue schema and effect-scope list), with what RocketMQ 4.9.6 really does with it.
//!
//! The first five columns mirror the TSV (a test checks they agree row by row). The rest was
//! read from the 4.9.6 source (`MixAll.properties2Object` setters; every getter call site in
//! broker/store/common/remoting) and is recorded in README ("What 4.9.6 does with each
//! parameter").

/// The schema's type (what KubeBlocks' cue says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaType {
    Int,
    Bool,
    Str,
}

/// KubeBlocks' classification: dynamic parameters go through the reconfigure action,
/// static (immutable) ones through a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Dyn,
    Static,
}

/// The Java setter's parameter type, which is what the broker parses the value as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JavaType {
    JInt,
    JLong,
    JBool,
    JStr,
    /// A `String` setter that maps onto a Java enum (`valueOf`: exact, case-sensitive names).
    JEnum,
    /// A `double` or `float` setter (5.x has a few).
    JFloat,
    /// 4.9.6 has no setter for this key: an update is silently ignored.
    JNone,
}

/// What 4.9.6 does with a new value sent through UPDATE_BROKER_CONFIG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Read on each use (request handler or service loop): takes effect at once.
    Live,
    /// Read only while the broker starts: stored and persisted, effective after a restart.
    Startup,
    /// Stored but never read anywhere in 4.9.6.
    Unused,
    /// Changing it on a running broker breaks it or changes its identity half-way: never sent live.
    Hazardous,
    /// No such setting in 4.9.6 (another version's key or a typo in the schema).
    Absent,
    /// 5.x: the broker takes and stores it (read back to verify), but what it does on a running
    /// broker has not been verified on that release: never claimed live.
    Unverified,
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Serialized as its label (`live`, `persisted-only`, ...), as `/status` and `--json` show it.
impl serde::Serialize for Effect {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

impl Effect {
    pub fn label(self) -> &'static str {
        match self {
            Effect::Live => "live",
            Effect::Startup => "persisted-only",
            Effect::Unused => "unused",
            Effect::Hazardous => "hazardous",
            Effect::Absent => "absent",
            Effect::Unverified => "unverified",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub schema: SchemaType,
    pub default: &'static str,
    pub scope: Scope,
    pub java: JavaType,
    pub effect: Effect,
    /// The TSV's constraint column (free text).
    pub constraint: &'static str,
    /// Inclusive bounds we enforce on top of the Java type.
    pub range: Option<(i64, i64)>,
    /// Why, for hazardous and absent parameters and for our extra checks.
    pub note: &'static str,
    /// True for keys 4.9.6 has that are not in the addon's schema.
    pub extra: bool,
}

impl Param {
    const fn constraint(mut self, c: &'static str) -> Param {
        self.constraint = c;
        self
    }
    const fn range(mut self, lo: i64, hi: i64) -> Param {
        self.range = Some((lo, hi));
        self
    }
    const fn note(mut self, n: &'static str) -> Param {
        self.note = n;
        self
    }

    /// The values a `JEnum` parameter accepts.
    pub fn enum_values(&self) -> &'static [&'static str] {
        match self.name {
            "brokerRole" => &["ASYNC_MASTER", "SYNC_MASTER", "SLAVE"],
            "flushDiskType" => &["ASYNC_FLUSH", "SYNC_FLUSH"],
            _ => &[],
        }
    }

    /// The list this 4.9.6 parameter is in in the shipped ParametersDefinitions
    /// (`deploy/kubeblocks/*/parameters.yaml`; `tests/deploy.rs` keeps the files equal to it):
    /// `dynamic` only where 4.9.6 really applies a live change and the reloader sends it,
    /// `immutable` for the addon's static identity keys, `static` (a restart) for the rest, and
    /// `-` for a key 4.9.6 lacks (not listed).
    pub fn shipped_scope(&self) -> &'static str {
        if self.effect == Effect::Absent {
            "-"
        } else if self.effect == Effect::Live && self.sendable() {
            "dynamic"
        } else if self.scope == Scope::Static && !self.extra {
            "immutable"
        } else {
            "static"
        }
    }

    /// The addon's own KubeBlocks scope for this parameter (its effect-scope list).
    pub fn addon_scope(&self) -> &'static str {
        if self.scope == Scope::Dyn {
            "dynamic"
        } else {
            "static"
        }
    }

    /// Whether the reloader may send a changed value to a running broker: only parameters
    /// KubeBlocks calls dynamic, that 4.9.6 has, and that are safe to change live.
    pub fn sendable(&self) -> bool {
        self.scope == Scope::Dyn
            && matches!(self.effect, Effect::Live | Effect::Startup | Effect::Unused | Effect::Unverified)
    }
}

const fn p(
    name: &'static str,
    schema: SchemaType,
    default: &'static str,
    scope: Scope,
    java: JavaType,
    effect: Effect,
) -> Param {
    Param { name, schema, default, scope, java, effect, constraint: "", range: None, note: "", extra: false }
}

/// A 4.9.6 setting outside the addon's schema; managed as static (never sent live).
const fn x(name: &'static str, java: JavaType, note: &'static str) -> Param {
    let schema = if matches!(java, JavaType::JBool) { SchemaType::Bool } else { SchemaType::Str };
    Param { extra: true, note, ..p(name, schema, "", Scope::Static, java, Effect::Startup) }
}

use Effect::*;
use JavaType::*;
use SchemaType::*;
use Scope::*;

const IDENTITY: &str = "read live for name-server registration but bound at startup elsewhere: the broker would register a changed identity";

/// The addon's 177 parameters, in the TSV's order.
pub static CATALOG: &[Param] = &[
    p("accessMessageInMemoryMaxRatio", Int, "40", Dyn, JInt, Live).range(0, 100).note("a percentage"),
    p("aclEnable", Bool, "false", Static, JBool, Startup),
    p("adminBrokerThreadPoolNums", Int, "16", Dyn, JInt, Startup),
    p("autoCreateSubscriptionGroup", Bool, "true", Dyn, JBool, Live),
    p("autoCreateTopicEnable", Bool, "true", Dyn, JBool, Live),
    p("autoDeleteUnusedStats", Bool, "true", Dyn, JBool, Live),
    p("autoMessageVersionOnTopicLen", Bool, "true", Dyn, JNone, Absent).note("a 5.x option: 4.9.6 has no such setting"),
    p("bitMapLengthConsumeQueueExt", Int, "112", Dyn, JInt, Startup),
    p("brokerClusterName", Str, "", Static, JStr, Hazardous).note(IDENTITY),
    p("brokerFastFailureEnable", Bool, "true", Dyn, JBool, Startup),
    p("brokerId", Int, "", Static, JLong, Hazardous).note(IDENTITY),
    p("brokerIP1", Str, "", Static, JStr, Hazardous).note(IDENTITY),
    p("brokerIP2", Str, "", Static, JStr, Hazardous).note(IDENTITY),
    p("brokerName", Str, "", Static, JStr, Hazardous).note(IDENTITY),
    p("brokerPermission", Int, "6", Dyn, JInt, Live).note("2 write, 4 read, 6 read+write"),
    p("brokerRole", Str, "ASYNC_MASTER", Static, JEnum, Hazardous).constraint("ASYNC_MASTER|SYNC_MASTER|SLAVE").note("flips put/pull behaviour live but not HA replication or the scheduled services"),
    p("brokerTopicEnable", Bool, "true", Dyn, JBool, Startup),
    p("channelNotActiveInterval", Int, "60000", Dyn, JLong, Unused),
    p("checkCRCOnRecover", Bool, "true", Dyn, JBool, Startup),
    p("cleanFileForciblyEnable", Bool, "true", Dyn, JBool, Live),
    p("cleanResourceInterval", Int, "10000", Dyn, JInt, Startup),
    p("clientAsyncSemaphoreValue", Int, "", Dyn, JInt, Startup),
    p("clientCallbackExecutorThreads", Int, "", Dyn, JInt, Startup),
    p("clientChannelMaxIdleTimeSeconds", Int, "", Dyn, JInt, Startup),
    p("clientCloseSocketIfTimeout", Bool, "", Dyn, JBool, Live),
    p("clientManagerThreadPoolQueueCapacity", Int, "1000000", Dyn, JInt, Startup),
    p("clientManageThreadPoolNums", Int, "32", Dyn, JInt, Startup),
    p("clientOnewaySemaphoreValue", Int, "", Dyn, JInt, Startup),
    p("clientPooledByteBufAllocatorEnable", Bool, "false", Dyn, JBool, Unused),
    p("clientSocketRcvBufSize", Int, "", Dyn, JInt, Startup),
    p("clientSocketSndBufSize", Int, "", Dyn, JInt, Startup),
    p("clientWorkerThreads", Int, "", Dyn, JInt, Startup),
    p("clusterTopicEnable", Bool, "true", Dyn, JBool, Startup),
    p("commercialEnable", Bool, "true", Dyn, JBool, Unused),
    p("commercialBaseCount", Int, "1", Dyn, JInt, Live),
    p("commercialBigCount", Int, "1", Dyn, JInt, Unused),
    p("commercialTimerCount", Int, "1", Dyn, JInt, Unused),
    p("commercialTransCount", Int, "1", Dyn, JInt, Unused),
    p("commitCommitLogLeastPages", Int, "4", Dyn, JInt, Live),
    p("commitCommitLogThoroughInterval", Int, "200", Dyn, JInt, Live),
    p("commitIntervalCommitLog", Int, "200", Dyn, JInt, Live),
    p("compressedRegister", Bool, "false", Dyn, JBool, Live),
    p("connectTimeoutMillis", Int, "3000", Dyn, JInt, Live),
    p("consumerFallbehindThreshold", Int, "17179869184", Dyn, JLong, Live),
    p("consumerManagerThreadPoolQueueCapacity", Int, "1000000", Dyn, JInt, Startup),
    p("consumerManageThreadPoolNums", Int, "32", Dyn, JInt, Startup),
    p("debugLockEnable", Bool, "false", Dyn, JBool, Live),
    p("defaultQueryMaxNum", Int, "32", Dyn, JInt, Live),
    p("defaultTopicQueueNums", Int, "8", Dyn, JInt, Startup),
    p("deleteCommitLogFilesInterval", Int, "100", Dyn, JInt, Live),
    p("deleteConsumeQueueFilesInterval", Int, "100", Dyn, JInt, Live),
    p("deleteWhen", Str, "04", Dyn, JStr, Live),
    p("destroyMapedFileIntervalForcibly", Int, "120000", Dyn, JInt, Live),
    p("disableConsumeIfConsumerReadSlowly", Bool, "false", Dyn, JBool, Live),
    p("diskFallRecorded", Bool, "true", Dyn, JBool, Live),
    p("diskMaxUsedSpaceRatio", Int, "75", Dyn, JInt, Live).range(10, 95).note("the broker clamps to 10..95"),
    p("duplicationEnable", Bool, "false", Dyn, JBool, Live),
    p("enableCalcFilterBitMap", Bool, "false", Dyn, JBool, Live),
    p("enableConsumeQueueExt", Bool, "false", Dyn, JBool, Startup),
    p("enableDetailStat", Bool, "true", Dyn, JBool, Startup),
    p("enableDLegerCommitLog", Bool, "false", Static, JBool, Startup),
    p("enableLmq", Bool, "false", Dyn, JBool, Startup),
    p("enableMultiDispatch", Bool, "false", Dyn, JBool, Live),
    p("enablePropertyFilter", Bool, "false", Dyn, JBool, Live),
    p("enableScheduleAsyncDeliver", Bool, "false", Dyn, JBool, Startup),
    p("enableScheduleMessageStats", Bool, "true", Dyn, JBool, Live),
    p("endTransactionPoolQueueCapacity", Int, "100000", Dyn, JInt, Startup),
    p("endTransactionThreadPoolNums", Int, "", Dyn, JInt, Startup),
    p("expectConsumerNumUseFilter", Int, "32", Dyn, JInt, Startup),
    p("fastFailIfNoBufferInStorePool", Bool, "false", Dyn, JBool, Live),
    p("fetchNamesrvAddrByAddressServer", Bool, "false", Dyn, JBool, Startup),
    p("fileReservedTime", Str, "72", Dyn, JInt, Live),
    p("filterDataCleanTimeSpan", Int, "86400000", Dyn, JLong, Live),
    p("filterServerNums", Int, "0", Dyn, JInt, Unused),
    p("filterSupportRetry", Bool, "false", Dyn, JBool, Live),
    p("flushCommitLogLeastPages", Int, "4", Dyn, JInt, Live),
    p("flushCommitLogThoroughInterval", Int, "10000", Dyn, JInt, Live),
    p("flushCommitLogTimed", Bool, "true", Dyn, JBool, Live),
    p("flushConsumeQueueLeastPages", Int, "2", Dyn, JInt, Live),
    p("flushConsumeQueueThoroughInterval", Int, "60000", Dyn, JInt, Live),
    p("flushConsumerOffsetHistoryInterval", Int, "60000", Dyn, JInt, Unused),
    p("flushConsumerOffsetInterval", Int, "5000", Dyn, JInt, Startup),
    p("flushDelayOffsetInterval", Int, "10000", Dyn, JLong, Startup),
    p("flushDiskType", Str, "ASYNC_FLUSH", Dyn, JEnum, Hazardous).constraint("ASYNC_FLUSH|SYNC_FLUSH").note("ASYNC_FLUSH→SYNC_FLUSH live: the flush service is chosen at startup, so every later send fails after the message is stored (clients retry: duplicates) until a restart; seen on a real 4.9.6 broker"),
    p("flushIntervalCommitLog", Int, "500", Dyn, JInt, Live),
    p("flushIntervalConsumeQueue", Int, "1000", Dyn, JInt, Live),
    p("flushLeastPagesWhenWarmMapedFile", Int, "4096", Dyn, JInt, Live),
    p("forceRegister", Bool, "true", Dyn, JBool, Live),
    p("haHousekeepingInterval", Int, "20000", Dyn, JInt, Live),
    p("haListenPort", Int, "", Static, JInt, Startup),
    p("haSendHeartbeatInterval", Int, "5000", Dyn, JInt, Live),
    p("haSlaveFallbehindMax", Int, "268435346", Dyn, JInt, Live),
    p("haTransferBatchSize", Int, "32768", Dyn, JInt, Live),
    p("heartbeatThreadPoolNums", Int, "", Dyn, JInt, Startup),
    p("heartbeatThreadPoolQueueCapacity", Int, "50000", Dyn, JInt, Startup),
    p("highSpeedMode", Bool, "false", Dyn, JBool, Unused),
    p("isolateLogEnable", Bool, "false", Dyn, JBool, Startup),
    p("isEnableBatchPush", Bool, "false", Dyn, JNone, Absent).note("4.9.6 shows this field but its setter's key is enableBatchPush: an update under this name is ignored"),
    p("listenPort", Int, "", Static, JInt, Hazardous).note(IDENTITY),
    p("longPollingEnable", Bool, "true", Dyn, JBool, Live),
    p("mappedFileSizeCommitLog", Int, "1073741824", Dyn, JInt, Hazardous).note("used live in offset arithmetic over files created with the old size: corrupts reads"),
    p("mappedFileSizeConsumeQueue", Int, "", Dyn, JInt, Hazardous).note("used live in offset arithmetic over files created with the old size: corrupts reads"),
    p("mappedFileSizeConsumeQueueExt", Int, "50331648", Dyn, JInt, Startup),
    p("maxDelayTime", Int, "40", Dyn, JInt, Unused),
    p("maxErrorRateOfBloomFilter", Int, "20", Dyn, JInt, Startup).constraint("1~100 (cue comment only; not enforced)").range(1, 100),
    p("maxHashSlotNum", Int, "5000000", Dyn, JInt, Startup),
    p("maxIndexNum", Int, "20000000", Dyn, JInt, Startup),
    p("maxLmqConsumeQueueNum", Int, "20000", Dyn, JInt, Live),
    p("maxMessageSize", Int, "4194304", Dyn, JInt, Live).range(1, 2147483647),
    p("maxMsgsNumBatch", Int, "64", Dyn, JInt, Live),
    p("maxTransferBytesOnMessageInDisk", Int, "65536", Dyn, JInt, Live),
    p("maxTransferBytesOnMessageInMemory", Int, "262144", Dyn, JInt, Live),
    p("maxTransferCountOnMessageInDisk", Int, "8", Dyn, JInt, Live),
    p("maxTransferCountOnMessageInMemory", Int, "32", Dyn, JInt, Live),
    p("messageDelayLevel", Str, "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h", Dyn, JStr, Startup),
    p("messageIndexEnable", Bool, "true", Dyn, JBool, Live),
    p("messageIndexSafe", Bool, "false", Dyn, JBool, Live),
    p("messageStorePlugIn", Str, "", Dyn, JStr, Startup),
    p("msgTraceTopicName", Str, "RMQ_SYS_TRACE_TOPIC", Dyn, JStr, Startup),
    p("namesrvAddr", Str, "", Static, JStr, Live),
    p("notifyConsumerIdsChangedEnable", Bool, "true", Dyn, JBool, Live),
    p("offsetCheckInSlave", Bool, "false", Dyn, JBool, Live),
    p("osPageCacheBusyTimeOutMills", Int, "1000", Dyn, JLong, Live),
    p("processReplyMessageThreadPoolNums", Int, "", Dyn, JInt, Startup),
    p("pullMessageThreadPoolNums", Int, "", Dyn, JInt, Startup),
    p("pullThreadPoolQueueCapacity", Int, "100000", Dyn, JInt, Startup),
    p("putMessageFutureThreadPoolNums", Int, "", Dyn, JInt, Startup),
    p("putMsgIndexHightWater", Int, "600000", Dyn, JInt, Unused),
    p("putThreadPoolQueueCapacity", Int, "10000", Dyn, JInt, Startup),
    p("queryMessageThreadPoolNums", Int, "", Dyn, JInt, Startup),
    p("queryThreadPoolQueueCapacity", Int, "20000", Dyn, JInt, Startup),
    p("redeleteHangedFileInterval", Int, "120000", Dyn, JInt, Live),
    p("regionId", Str, "", Dyn, JStr, Live),
    p("registerBrokerTimeoutMills", Int, "6000", Dyn, JInt, Live),
    p("registerNameServerPeriod", Int, "30000", Dyn, JInt, Startup).constraint("10000~60000 ms (cue comment only; not enforced)").range(10000, 60000),
    p("rejectTransactionMessage", Bool, "false", Dyn, JBool, Live),
    p("replyThreadPoolQueueCapacity", Int, "10000", Dyn, JInt, Startup),
    p("rocketmqHome", Str, "", Static, JStr, Startup),
    p("scheduleAsyncDeliverMaxPendingLimit", Int, "2000", Dyn, JInt, Live),
    p("scheduleAsyncDeliverMaxResendNum2Blocked", Int, "3", Dyn, JInt, Live),
    p("sendMessageThreadPoolNums", Int, "", Dyn, JInt, Startup),
    p("sendThreadPoolQueueCapacity", Int, "10000", Dyn, JInt, Startup),
    p("serverAsyncSemaphoreValue", Int, "64", Dyn, JInt, Startup),
    p("serverCallbackExecutorThreads", Int, "0", Dyn, JInt, Startup),
    p("serverChannelMaxIdleTimeSeconds", Int, "120", Dyn, JInt, Startup),
    p("serverOnewaySemaphoreValue", Int, "", Dyn, JInt, Startup).constraint("cue expr is \"int | 256\" (256 is a plain disjunct, not marked * default)"),
    p("serverPooledByteBufAllocatorEnable", Bool, "true", Dyn, JBool, Startup),
    p("serverSelectorThreads", Int, "3", Dyn, JInt, Startup),
    p("serverSocketBacklog", Int, "", Dyn, JInt, Startup),
    p("serverSocketRcvBufSize", Int, "", Dyn, JInt, Startup),
    p("serverSocketSndBufSize", Int, "", Dyn, JInt, Startup),
    p("serverWorkerThreads", Int, "8", Dyn, JInt, Startup),
    p("shortPollingTimeMills", Int, "1000", Dyn, JLong, Live),
    p("slaveReadEnable", Bool, "false", Dyn, JBool, Live),
    p("slaveTimeout", Int, "3000", Dyn, JInt, Live),
    p("startAcceptSendRequestTimeStamp", Int, "0", Dyn, JLong, Live),
    p("storePathRootDir", Str, "", Static, JStr, Hazardous).note("read live for the metadata files (topics, offsets, groups): a live change splits metadata from the store"),
    p("storeReplyMessageEnable", Bool, "true", Dyn, JBool, Live),
    p("syncFlushTimeout", Int, "5000", Dyn, JInt, Live),
    p("traceOn", Bool, "true", Dyn, JBool, Live),
    p("traceTopicEnablez", Bool, "false", Static, JNone, Absent).note("typo in the addon's schema: 4.9.6's key is traceTopicEnable (startup-only)"),
    p("transactionCheckInterval", Int, "60000", Dyn, JLong, Live),
    p("transactionCheckMax", Int, "15", Dyn, JInt, Live),
    p("transactionTimeOut", Int, "6000", Dyn, JLong, Live),
    p("transferMsgByHeap", Bool, "true", Dyn, JBool, Live),
    p("transientStorePoolEnable", Bool, "false", Dyn, JBool, Hazardous).note("the transient buffer pool is created at startup only when enabled; a live flip makes new files borrow from an empty pool"),
    p("transientStorePoolSize", Int, "5", Dyn, JInt, Startup),
    p("useTLS", Bool, "", Dyn, JBool, Startup),
    p("useEpollNativeSelector", Bool, "false", Dyn, JBool, Startup),
    p("useReentrantLockWhenPutMessage", Bool, "true", Dyn, JBool, Startup),
    p("waitTimeMillsInHeartbeatQueue", Int, "31000", Dyn, JLong, Live),
    p("waitTimeMillsInPullQueue", Int, "5000", Dyn, JLong, Live),
    p("waitTimeMillsInSendQueue", Int, "900", Dyn, JLong, Live),
    p("waitTimeMillsInTransactionQueue", Int, "3000", Dyn, JLong, Live),
    p("warmMapedFileEnable", Bool, "false", Dyn, JBool, Live),
    p("writeBufferHighWaterMark", Int, "", Dyn, JInt, Startup),
    p("writeBufferLowWaterMark", Int, "", Dyn, JInt, Startup),
];

/// 4.9.6 settings (setters) the addon's schema lacks.
pub static EXTRA: &[Param] = &[
    x("dLegerGroup", JStr, "DLedger group; startup-only"),
    x("dLegerPeers", JStr, "DLedger peers; startup-only"),
    x("dLegerSelfId", JStr, "DLedger member id; startup-only"),
    x("enableBatchPush", JBool, "the key that really sets the schema's `isEnableBatchPush` (DLedger, startup-only)"),
    x("haMasterAddress", JStr, "slave's HA master address; startup-only"),
    x("preferredLeaderId", JStr, "DLedger preferred leader; startup-only"),
    x("readOnlyCommitLogStorePaths", JStr, "store paths; startup-only"),
    x("storePathCommitLog", JStr, "store path; startup-only"),
    x("storePathDLedgerCommitLog", JStr, "store path; startup-only"),
    x("traceTopicEnable", JBool, "the real key behind the schema's `traceTopicEnablez`; startup-only"),
];

/// Keys of other RocketMQ versions that the addon's broker.conf template writes. 4.9.6
/// ignores them; so do we (reported, never an error, never sent).
pub static FOREIGN: &[&str] = &[
    "enableIncrementalTopicCreation",
    "generateConfigForScaleOutEnable",
    "enableNotifyAfterPopOrderLockRelease",
    "enableNameServerAddressResolve",
];

/// The parameter called `name` (schema first, then 4.9.6 extras). Names are case-sensitive,
/// as in Java.
pub fn lookup(name: &str) -> Option<&'static Param> {
    CATALOG.iter().chain(EXTRA).find(|p| p.name == name)
}

/// Every name `lookup` knows.
pub fn names() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().chain(EXTRA).map(|p| p.name)
}
