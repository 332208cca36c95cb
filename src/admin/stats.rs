//! Typed bodies for the scale-in guard: topic configs, subscription groups, consumer offsets,
//! topic offsets, delay offsets and topic routes. All decoded leniently (fastjson shapes:
//! unquoted integer keys, MessageQueue objects as map keys; unknown fields ignored).

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::remoting::json;

use super::error::DecodeError;

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicConfig {
    pub read_queue_nums: u32,
    pub write_queue_nums: u32,
    pub perm: u32,
    pub topic_sys_flag: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GroupConfig {
    pub consume_enable: bool,
    /// A permission (true by default for every group in 4.9.6), not the group's message model:
    /// only online consumers tell whether a group consumes in BROADCASTING mode.
    pub consume_broadcast_enable: bool,
    pub retry_max_times: i32,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig { consume_enable: true, consume_broadcast_enable: false, retry_max_times: 16 }
    }
}

/// Per-queue offsets of one topic: queueId → (min, max), max = the next offset to be written.
pub type TopicOffsets = BTreeMap<u32, (i64, i64)>;

/// Committed consumer offsets: (topic, group) → queueId → offset.
pub type ConsumerOffsets = BTreeMap<(String, String), BTreeMap<u32, i64>>;

/// What the name servers say about one topic on one broker group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct QueueData {
    pub broker_name: String,
    pub read_queue_nums: u32,
    pub write_queue_nums: u32,
    pub perm: u32,
}

fn parse(body: &[u8]) -> Result<Value, DecodeError> {
    Ok(json::parse(body)?)
}

/// The rows of a body's table `field`, typed, read row by row ([`json::each_member_of`]: a
/// 10,000-row table never exists as one JSON tree), and the body's other top-level members (a
/// paged table's `dataVersion`). A missing or `null` table has no rows.
pub(super) fn rows_of<T: DeserializeOwned>(body: &[u8], field: &str) -> Result<TableRows<T>, DecodeError> {
    let mut rows = Vec::new();
    let rest = json::each_row_text_of(body, field, |name, text| {
        let row = typed_row(text).map_err(|e| format!("{field} {name:?}: {e}"))?;
        rows.push((name, row));
        Ok::<_, DecodeError>(())
    })?;
    Ok(TableRows { rows, rest })
}

/// One row as `T`: straight from its text when it is standard JSON (fastjson writes beans so),
/// else through the lenient reader (bare-number keys, object keys).
fn typed_row<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    if let Ok(row) = serde_json::from_str(text) {
        return Ok(row);
    }
    Ok(T::deserialize(json::parse(text.as_bytes())?).map_err(|e| e.to_string())?)
}

/// What [`rows_of`] read: the table's rows in body order, and every other top-level member.
pub(super) struct TableRows<T> {
    pub rows: Vec<(String, T)>,
    pub rest: Map<String, Value>,
}

fn table<T: DeserializeOwned>(body: &[u8], field: &str) -> Result<BTreeMap<String, T>, DecodeError> {
    Ok(rows_of(body, field)?.rows.into_iter().collect())
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG body.
pub fn groups_from_body(body: &[u8]) -> Result<BTreeMap<String, GroupConfig>, DecodeError> {
    table(body, "subscriptionGroupTable")
}

/// GET_ALL_CONSUMER_OFFSET body: `{"offsetTable":{"topic@group":{0:12,1:7}}}`, the largest body
/// the sidecar reads (10,000 groups x 8 queues = 80,000 offsets).
pub fn consumer_offsets_from_body(body: &[u8]) -> Result<ConsumerOffsets, DecodeError> {
    let mut rows = Vec::new();
    json::each_int_map_of(body, "offsetTable", |key, queues| {
        // Topic and group names cannot contain '@' (RocketMQ's name pattern), so the split is exact.
        let (topic, group) = key.split_once('@').ok_or_else(|| format!("offset key {key:?} is not topic@group"))?;
        let queues = queues.into_iter().map(|(q, offset)| Ok((queue_id(q)?, offset)));
        rows.push(((topic.to_string(), group.to_string()), queues.collect::<Result<_, DecodeError>>()?));
        Ok::<_, DecodeError>(())
    })?;
    // Built at once from the rows sorted (the body is in hash order): inserted one by one, each of
    // 10,000 keys searched the growing map, the largest share of a 10,000-topic refresh's name
    // comparisons.
    Ok(rows.into_iter().collect())
}

/// GET_ALL_DELAY_OFFSET body: `{"offsetTable":{1:off,2:off}}` keyed by delay level.
pub fn delay_offsets_from_body(body: &[u8]) -> Result<BTreeMap<u32, i64>, DecodeError> {
    queue_map(table(body, "offsetTable")?)
}

/// GET_TIMER_METRICS body (5.x TimerMetricsSerializeWrapper):
/// `{"dataVersion":..,"timingCount":{"<real topic>":{"count":N,"timeStamp":..}}}`: per topic, the
/// messages in the timer wheel waiting for their delivery time.
pub fn timer_counts_from_body(body: &[u8]) -> Result<BTreeMap<String, i64>, DecodeError> {
    let v = parse(body)?;
    let Some(Value::Object(t)) = v.get("timingCount") else { return Err("no timingCount table".into()) };
    t.iter()
        .map(|(topic, metric)| {
            let count = metric.get("count").and_then(Value::as_i64);
            Ok((topic.clone(), count.ok_or_else(|| format!("timer count of {topic:?} is not a number"))?))
        })
        .collect()
}

fn queue_id(q: i64) -> Result<u32, DecodeError> {
    u32::try_from(q).map_err(|_| format!("queue id {q} is out of range").into())
}

fn queue_map(raw: BTreeMap<String, i64>) -> Result<BTreeMap<u32, i64>, DecodeError> {
    raw.into_iter().map(|(q, o)| Ok((q.parse().map_err(|_| format!("queue id {q:?} is not a number"))?, o))).collect()
}

/// One topic's queues as GET_TOPIC_STATS_INFO reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicStats {
    pub queues: TopicOffsets,
    /// When the broker stored the newest message of any queue (ms since the epoch, the broker's
    /// clock; 0 when the topic is empty): the queues' `lastUpdateTimestamp`.
    pub last_store_ms: i64,
}

/// GET_TOPIC_STATS_INFO body: `{"offsetTable":{{"brokerName":..,"queueId":0,"topic":..}:{"minOffset":..,"maxOffset":..,"lastUpdateTimestamp":..}}}`.
pub fn topic_offsets_from_body(body: &[u8]) -> Result<TopicStats, DecodeError> {
    // Row by row, each key read for its queue id only: a 10,000-topic refresh decodes one of
    // these per topic, and a whole tree cost ~20 allocations per queue.
    let mut out = TopicStats::default();
    for (key, row) in rows_of::<QueueOffsets>(body, "offsetTable")?.rows {
        let queue = queue_id_of(&key).ok_or_else(|| format!("offset table key {key:?} is not a message queue"))?;
        // A queue id that does not fit is refused, never truncated onto another queue's offsets.
        let queue = u32::try_from(queue).map_err(|_| format!("queue id {queue} is out of range"))?;
        out.queues.insert(queue, (row.min_offset, row.max_offset));
        out.last_store_ms = out.last_store_ms.max(row.last_update_timestamp);
    }
    Ok(out)
}

/// One queue as GET_BROKER_CONSUME_STATS shows it, over every group with offsets on its topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchQueue {
    /// The queue's max offset (the highest the answer gives: the broker reads it once per group).
    pub max: i64,
    /// When the broker stored the queue's newest message (0 when it has none), if the answer
    /// tells it: a group whose position is that max gets the store time of the message just
    /// before it, which is the newest. None when no group had consumed up to the max.
    pub newest_ms: Option<i64>,
}

/// Topic → queue → [`BatchQueue`]: what one GET_BROKER_CONSUME_STATS says about queue ends.
pub type BatchQueues = BTreeMap<String, BTreeMap<u32, BatchQueue>>;

/// GET_BROKER_CONSUME_STATS body: `{"brokerAddr":..,"consumeStatsList":[{"<group>":[{"consumeTps":..,
/// "offsetTable":{{"brokerName":..,"queueId":0,"topic":..}:{"brokerOffset":..,"consumerOffset":..,
/// "lastTimestamp":..}}}]}],"totalDiff":..}`. Only where each queue ends is kept; the groups'
/// positions in it were read later than the caller's own committed offsets and are not used.
pub fn consume_stats_batch_from_body(body: &[u8]) -> Result<BatchQueues, DecodeError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        broker_offset: i64,
        consumer_offset: i64,
        #[serde(default)]
        last_timestamp: i64,
    }
    #[derive(Deserialize)]
    struct Key {
        topic: String,
        #[serde(rename = "queueId")]
        queue_id: u32,
    }
    let mut rows = Vec::new();
    json::each_member_of_every(body, "offsetTable", |key, text| {
        let key: Key = typed_row(&key).map_err(|e| format!("offset table key {key:?}: {e}"))?;
        let row: Row = typed_row(text).map_err(|e| format!("offset table row of {}: {e}", key.topic))?;
        let seen = BatchQueue {
            max: row.broker_offset,
            newest_ms: (row.broker_offset == 0 || row.consumer_offset == row.broker_offset)
                .then_some(row.last_timestamp.max(0)),
        };
        rows.push((key.topic, key.queue_id, seen));
        Ok::<_, DecodeError>(())
    })?;
    // Sorted (stably: rows of one queue keep the answer's order), then each topic's map built once:
    // the answer is in hash order, and a row at a time each searched the growing map.
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut out: Vec<(String, BTreeMap<u32, BatchQueue>)> = Vec::new();
    for (topic, queue_id, seen) in rows {
        if out.last().is_none_or(|(last, _)| *last != topic) {
            out.push((topic, BTreeMap::new()));
        }
        let queues = &mut out.last_mut().expect("pushed above").1;
        let queue = queues.entry(queue_id).or_insert(seen);
        // A message put between two groups' rows moves the max: the later, higher one holds,
        // with a store time only from a row that reached it.
        if seen.max > queue.max {
            *queue = seen;
        } else if seen.max == queue.max {
            queue.newest_ms = queue.newest_ms.or(seen.newest_ms);
        }
    }
    Ok(out.into_iter().collect())
}

/// One queue's row of GET_TOPIC_STATS_INFO (TopicOffset); both offsets are required.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueOffsets {
    min_offset: i64,
    max_offset: i64,
    #[serde(default)]
    last_update_timestamp: i64,
}

/// The `queueId` of a MessageQueue key (`{"brokerName":..,"queueId":0,"topic":..}`), read
/// without building the key's fields (the lenient reader only if the strict one refuses it).
fn queue_id_of(key: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct QueueKey {
        #[serde(rename = "queueId")]
        queue_id: u64,
    }
    match serde_json::from_str::<QueueKey>(key) {
        Ok(k) => Some(k.queue_id),
        Err(_) => json::key_object(key)?.get("queueId")?.as_u64(),
    }
}

/// A group's online consumers (GET_CONSUMER_CONNECTION_LIST).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnlineConsumers {
    /// `CLUSTERING` or `BROADCASTING`, as the group's clients last declared it in a heartbeat.
    pub message_model: String,
    /// The connected client instances' ids (what GET_CONSUMER_RUNNING_INFO asks for).
    pub clients: Vec<String>,
    /// The topics the group subscribes to (a CLUSTERING group's own `%RETRY%<group>` included).
    pub topics: BTreeSet<String>,
}

impl OnlineConsumers {
    pub fn is_broadcasting(&self) -> bool {
        self.message_model == BROADCASTING
    }
}

pub const BROADCASTING: &str = "BROADCASTING";

/// GET_CONSUMER_CONNECTION_LIST body: `{"connectionSet":[{"clientId":..}],"messageModel":..,"subscriptionTable":{"T":{..}}}`.
pub fn consumer_connection_from_body(body: &[u8]) -> Result<OnlineConsumers, DecodeError> {
    let v = parse(body)?;
    let client_id = |c: &Value| c.get("clientId").and_then(Value::as_str).map(str::to_string);
    let clients = match v.get("connectionSet") {
        Some(Value::Array(set)) => {
            set.iter().map(|c| client_id(c).ok_or("a connection has no clientId")).collect::<Result<_, _>>()?
        }
        _ => Vec::new(),
    };
    let topics = match v.get("subscriptionTable") {
        Some(Value::Object(t)) => t.keys().cloned().collect(),
        _ => BTreeSet::new(),
    };
    let message_model = v.get("messageModel").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(OnlineConsumers { message_model, clients, topics })
}

/// What one consumer client reports about itself (GET_CONSUMER_RUNNING_INFO, answered by the
/// client through the broker): its message model and, per queue of one broker, the offset it
/// will resume from (`commitOffset`: the client's own offset store, memory first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientProgress {
    pub message_model: String,
    /// (topic, queueId) → next offset to consume; negative when the client has none yet.
    pub offsets: BTreeMap<(String, u32), i64>,
}

/// GET_CONSUMER_RUNNING_INFO body (ConsumerRunningInfo), keeping the queues of `broker_name`:
/// `{"properties":{"messageModel":..},"mqTable":{{"brokerName":..,"queueId":..,"topic":..}:{"commitOffset":..}}}`.
pub fn client_progress_from_body(body: &[u8], broker_name: &str) -> Result<ClientProgress, DecodeError> {
    let v = parse(body)?;
    let message_model = v.pointer("/properties/messageModel").and_then(Value::as_str).unwrap_or_default();
    let mut offsets = BTreeMap::new();
    if let Some(Value::Object(table)) = v.get("mqTable") {
        for (key, info) in table {
            let mq = json::key_object(key).ok_or_else(|| format!("mqTable key {key:?} is not a message queue"))?;
            if mq.get("brokerName").and_then(Value::as_str) != Some(broker_name) {
                continue;
            }
            let topic = mq.get("topic").and_then(Value::as_str);
            let queue = mq.get("queueId").and_then(Value::as_u64);
            let (Some(topic), Some(queue)) = (topic, queue) else {
                return Err(format!("mqTable key {key:?} has no topic or queueId").into());
            };
            let offset = info
                .get("commitOffset")
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("{topic} queue {queue}: no commitOffset"))?;
            let queue = u32::try_from(queue).map_err(|_| format!("{topic}: queue id {queue} is out of range"))?;
            offsets.insert((topic.to_string(), queue), offset);
        }
    }
    Ok(ClientProgress { message_model: message_model.to_string(), offsets })
}

/// One broker statistic over the last minute (VIEW_BROKER_STATS_DATA's `statsMinute`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StatsMinute {
    /// Total counted during the minute.
    pub sum: i64,
    /// Per second, averaged over the minute.
    pub tps: f64,
}

/// VIEW_BROKER_STATS_DATA body: `{"statsMinute":{"sum":..,"tps":..,"avgpt":..},"statsHour":..,"statsDay":..}`.
pub fn stats_minute_from_body(body: &[u8]) -> Result<StatsMinute, DecodeError> {
    let v = parse(body)?;
    match v.get("statsMinute") {
        Some(m) => serde_json::from_value(m.clone()).map_err(|e| DecodeError::Shape(format!("statsMinute: {e}"))),
        None => Err("no statsMinute".into()),
    }
}

/// GET_ROUTEINFO_BY_TOPIC body → the topic's queue data per broker group.
pub fn route_from_body(body: &[u8]) -> Result<Vec<QueueData>, DecodeError> {
    let v = parse(body)?;
    match v.get("queueDatas") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(q) => serde_json::from_value(q.clone()).map_err(|e| DecodeError::Shape(format!("queueDatas: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_consume_stats_keep_each_queues_highest_end_and_its_newest_store_time() {
        // Two groups on T (one caught up on queue 0, one behind; between their rows a message
        // moved queue 1's end), an empty queue, and a group with no topics.
        let body = br#"{"brokerAddr":"127.0.0.1:10911","consumeStatsList":[{"G1":[{"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":5,"consumerOffset":5,"lastTimestamp":1700},{"brokerName":"b","queueId":1,"topic":"T"}:{"brokerOffset":3,"consumerOffset":3,"lastTimestamp":1600}}}]},{"G2":[{"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":5,"consumerOffset":2,"lastTimestamp":1200},{"brokerName":"b","queueId":1,"topic":"T"}:{"brokerOffset":4,"consumerOffset":3,"lastTimestamp":1600},{"brokerName":"b","queueId":2,"topic":"T"}:{"brokerOffset":0,"consumerOffset":0,"lastTimestamp":0}}}]},{"G3":[]}],"totalDiff":4}"#;
        let got = consume_stats_batch_from_body(body).unwrap();
        let q = |max, newest_ms| BatchQueue { max, newest_ms };
        assert_eq!(got["T"], [(0, q(5, Some(1700))), (1, q(4, None)), (2, q(0, Some(0)))].into());
        assert!(consume_stats_batch_from_body(br#"{"consumeStatsList":[{"G":[{"offsetTable":{"x":{}}}]}]}"#).is_err());
    }

    #[test]
    fn fastjson_shapes_decode() {
        let offsets = consumer_offsets_from_body(br#"{"offsetTable":{"T@G":{0:5,1:7},"%RETRY%G@G":{0:0}}}"#).unwrap();
        assert_eq!(offsets[&("T".into(), "G".into())][&1], 7);
        assert_eq!(offsets.len(), 2);
        let stats = topic_offsets_from_body(
            br#"{"offsetTable":{{"brokerName":"b","queueId":3,"topic":"T"}:{"lastUpdateTimestamp":1,"maxOffset":9,"minOffset":2}}}"#,
        )
        .unwrap();
        assert_eq!((stats.queues[&3], stats.last_store_ms), ((2, 9), 1));
        // A key the strict reader refuses (a bare-number key inside) still gives its queue id.
        let odd = br#"{"offsetTable":{{ "queueId" : 4, 1:"x"}:{"maxOffset":9,"minOffset":2}}}"#;
        assert_eq!(topic_offsets_from_body(odd).unwrap().queues[&4], (2, 9));
        let keyless = br#"{"offsetTable":{{"topic":"T"}:{"maxOffset":9,"minOffset":2}}}"#;
        assert!(topic_offsets_from_body(keyless).unwrap_err().to_string().contains("not a message queue"));
        let groups = groups_from_body(br#"{"subscriptionGroupTable":{"G":{"groupName":"G","consumeBroadcastEnable":false,"x":1}},"dataVersion":{}}"#).unwrap();
        assert!(!groups["G"].consume_broadcast_enable);
        assert_eq!(delay_offsets_from_body(br#"{"offsetTable":{18:4}}"#).unwrap()[&18], 4);
        let m = stats_minute_from_body(
            br#"{"statsDay":{"avgpt":0.0,"sum":9,"tps":0.1},"statsMinute":{"avgpt":1.0,"sum":60,"tps":1.0}}"#,
        );
        assert_eq!(m.unwrap(), StatsMinute { sum: 60, tps: 1.0 });
    }

    #[test]
    fn a_queue_id_beyond_u32_is_refused_not_folded_onto_another_queue() {
        // 2^32 + 3 truncated would land on queue 3, overwriting its offsets and hiding a backlog.
        let body = br#"{"offsetTable":{{"brokerName":"b","queueId":4294967299,"topic":"T"}:{"maxOffset":0,"minOffset":0},{"brokerName":"b","queueId":3,"topic":"T"}:{"maxOffset":9,"minOffset":0}}}"#;
        let err = topic_offsets_from_body(body).unwrap_err();
        assert!(err.to_string().contains("queue id 4294967299 is out of range"), "{err}");
    }
}
