//! GET_BROKER_RUNTIME_INFO's text table as rocketmq-exporter's `rocketmq_brokeruntime_*` gauges:
//! same names, same label set, same parsing of the broker's formatted values.

use crate::admin::RuntimeInfo;

/// The exporter's label names for broker runtime gauges.
pub const LABELS: [&str; 6] = ["cluster", "brokerIP", "brokerHost", "des", "boottime", "broker_version"];

/// (metric suffix, runtime key) for values the broker prints as a plain number.
const PLAIN: &[(&str, &str)] = &[
    ("msg_put_total_today_now", "msgPutTotalTodayNow"),
    ("msg_gettotal_today_now", "msgGetTotalTodayNow"),
    ("msg_puttotal_todaymorning", "msgPutTotalTodayMorning"),
    ("msg_gettotal_todaymorning", "msgGetTotalTodayMorning"),
    ("msg_puttotal_yesterdaymorning", "msgPutTotalYesterdayMorning"),
    ("msg_gettotal_yesterdaymorning", "msgGetTotalYesterdayMorning"),
    ("dispatch_behind_bytes", "dispatchBehindBytes"),
    ("put_message_size_total", "putMessageSizeTotal"),
    ("put_message_average_size", "putMessageAverageSize"),
    ("putmessage_times_total", "putMessageTimesTotal"),
    ("putmessage_entire_time_max", "putMessageEntireTimeMax"),
    ("getmessage_entire_time_max", "getMessageEntireTimeMax"),
    ("pagecache_lock_time_mills", "pageCacheLockTimeMills"),
    ("commitlog_disk_ratio", "commitLogDiskRatio"),
    ("consumequeue_disk_ratio", "consumeQueueDiskRatio"),
    ("commitlog_maxoffset", "commitLogMaxOffset"),
    ("commitlog_minoffset", "commitLogMinOffset"),
    ("earliest_message_timestamp", "earliestMessageTimeStamp"),
    ("start_accept_sendrequest_time", "startAcceptSendRequestTimeStamp"),
    ("remain_transientstore_buffer_numbs", "remainTransientStoreBufferNumbs"),
    ("dispatch_maxbuffer", "dispatchMaxBuffer"),
    ("send_threadpool_queue_size", "sendThreadPoolQueueSize"),
    ("send_threadpoolqueue_capacity", "sendThreadPoolQueueCapacity"),
    ("send_threadpoolqueue_headwait_timemills", "sendThreadPoolQueueHeadWaitTimeMills"),
    ("pull_threadpoolqueue_size", "pullThreadPoolQueueSize"),
    ("pull_threadpoolqueue_capacity", "pullThreadPoolQueueCapacity"),
    ("pull_threadpoolqueue_headwait_timemills", "pullThreadPoolQueueHeadWaitTimeMills"),
    ("query_threadpoolqueue_size", "queryThreadPoolQueueSize"),
    ("query_threadpool_queue_capacity", "queryThreadPoolQueueCapacity"),
    ("query_threadpoolqueue_headwait_timemills", "queryThreadPoolQueueHeadWaitTimeMills"),
    ("put_latency_99", "putLatency99"),
    ("put_latency_999", "putLatency999"),
];

/// (metric prefix, runtime key) for "10s 60s 600s" triples; the exporter's suffixes are 10/60/600.
const TPS: &[(&str, &str)] = &[
    ("put_tps", "putTps"),
    ("getmiss_tps", "getMissTps"),
    ("gettransfered_tps", "getTransferedTps"),
    ("gettotal_tps", "getTotalTps"),
    ("getfound_tps", "getFoundTps"),
];

/// putMessageDistributeTime buckets ("[<=0ms]:3 [0~10ms]:1 ...") → exporter suffixes.
const PMDT: &[(&str, &str)] = &[
    ("<=0ms", "0ms"),
    ("0~10ms", "0to10ms"),
    ("10~50ms", "10to50ms"),
    ("50~100ms", "50to100ms"),
    ("100~200ms", "100to200ms"),
    ("200~500ms", "200to500ms"),
    ("500ms~1s", "500to1s"),
    ("1~2s", "1to2s"),
    ("2~3s", "2to3s"),
    ("3~4s", "3to4s"),
    ("4~5s", "4to5s"),
    ("5~10s", "5to10s"),
    ("10s~", "10stomore"),
];

/// Every gauge the table yields, as (full metric name, value). Values the broker has not
/// filled yet (blank tps right after boot, "null" distributions) are left out, not zeroed.
pub fn gauges(info: &RuntimeInfo) -> Vec<(String, f64)> {
    let name = |suffix: &str| format!("rocketmq_brokeruntime_{suffix}");
    let mut out = Vec::new();
    for (suffix, key) in PLAIN {
        // remainHowManyDataToFlush-style values carry a unit after the number; take the number.
        if let Some(v) = info.get(*key).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()) {
            out.push((name(suffix), v));
        }
    }
    if let Some(v) = info.get("remainHowManyDataToFlush").and_then(|v| byte_count(v)) {
        out.push((name("remain_howmanydata_toflush"), v));
    }
    for (prefix, key) in TPS {
        let values: Vec<f64> = info
            .get(*key)
            .or_else(|| (*key == "getTransferedTps").then(|| info.get("getTransferredTps")).flatten())
            .map(|v| v.split_whitespace().filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default();
        for (window, v) in ["10", "60", "600"].iter().zip(values) {
            out.push((name(&format!("{prefix}{window}")), v));
        }
    }
    if let Some((total, free)) = info.get("commitLogDirCapacity").and_then(|v| dir_capacity(v)) {
        out.push((name("commitlogdir_capacity_total"), total));
        out.push((name("commitlogdir_capacity_free"), free));
    }
    if let Some(dist) = info.get("putMessageDistributeTime") {
        for item in dist.split_whitespace() {
            let Some((bucket, count)) = item.split_once(':') else { continue };
            let bucket = bucket.trim_start_matches('[').trim_end_matches(']');
            if let (Some((_, suffix)), Ok(count)) = (PMDT.iter().find(|(b, _)| *b == bucket), count.parse::<f64>()) {
                out.push((name(&format!("pmdt_{suffix}")), count));
            }
        }
    }
    out
}

/// The label values for this broker, in [`LABELS`] order (brokerHost is empty, as the exporter
/// sends it). 5.5.0 no longer reports `brokerVersion` (the MQVersion ordinal); its
/// `brokerVersionDesc` (`V5_5_0`) stands in, so the label is never empty.
pub fn label_values(info: &RuntimeInfo, cluster: &str, addr: &str) -> [String; 6] {
    let get = |k: &str| info.get(k).filter(|v| !v.is_empty()).cloned();
    let desc = get("brokerVersionDesc").unwrap_or_default();
    let version = get("brokerVersion").unwrap_or_else(|| desc.clone());
    [cluster.to_string(), addr.to_string(), String::new(), desc, get("bootTimestamp").unwrap_or_default(), version]
}

/// "Total : 252.0 GiB, Free : 78.8 GiB." → bytes (the exporter's reading of the same text).
fn dir_capacity(text: &str) -> Option<(f64, f64)> {
    let (total, free) = text.split_once(',')?;
    let amount = |part: &str| byte_count(part.split_once(':')?.1.trim().trim_end_matches('.'));
    Some((amount(total)?, amount(free)?))
}

/// "78.8 GiB" / "0 B" / "12 KiB" → bytes.
fn byte_count(text: &str) -> Option<f64> {
    let mut parts = text.split_whitespace();
    let n: f64 = parts.next()?.parse().ok()?;
    let scale = match parts.next().unwrap_or("B") {
        "B" => 1u64,
        "KiB" | "KB" => 1 << 10,
        "MiB" | "MB" => 1 << 20,
        "GiB" | "GB" => 1 << 30,
        "TiB" | "TB" => 1 << 40,
        "PiB" | "PB" => 1 << 50,
        _ => return None,
    };
    Some(n * scale as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pairs: &[(&str, &str)]) -> RuntimeInfo {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn broker_formats_parse_like_the_exporter() {
        let g = gauges(&info(&[
            ("putTps", "1.5 2.0 0.25"),
            ("getTotalTps", "  "),
            ("commitLogDirCapacity", "Total : 252.0 GiB, Free : 78.8 GiB."),
            ("remainHowManyDataToFlush", "12 KiB"),
            ("putMessageDistributeTime", "[<=0ms]:3 [0~10ms]:1 [10s~]:0"),
            ("commitLogDiskRatio", "0.14"),
            ("msgPutTotalTodayNow", "42"),
        ]));
        let get = |n: &str| g.iter().find(|(k, _)| k == &format!("rocketmq_brokeruntime_{n}")).map(|(_, v)| *v);
        assert_eq!(get("put_tps10"), Some(1.5));
        assert_eq!(get("put_tps600"), Some(0.25));
        assert_eq!(get("gettotal_tps10"), None, "blank tps right after boot is left out");
        assert_eq!(get("commitlogdir_capacity_total"), Some(252.0 * (1u64 << 30) as f64));
        assert_eq!(get("remain_howmanydata_toflush"), Some(12.0 * 1024.0));
        assert_eq!(get("pmdt_0ms"), Some(3.0));
        assert_eq!(get("pmdt_10stomore"), Some(0.0));
        assert_eq!(get("commitlog_disk_ratio"), Some(0.14));
        assert_eq!(get("msg_put_total_today_now"), Some(42.0));
    }
}

/// The oldest the runtime gauges get, however slow the broker's answer.
pub const SAMPLE_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// GET_BROKER_RUNTIME_INFO for the metrics refresh, asked only as often as its cost allows
/// ([`crate::periodic::spaced_by_cost`]): every refresh on 4.9.6, whose answer takes about a
/// millisecond; every third or so on 5.5.0, whose broker spends ~60–100 ms of CPU on each (the
/// `rocketmq_brokeruntime_*` gauges are then up to ~40 s old, where rocketmq-exporter's are up to
/// 60 s). Owned by the refresh loop: one at a time.
#[derive(Default)]
pub struct RuntimeSampler(tokio::sync::Mutex<Option<Sample>>);

struct Sample {
    info: std::sync::Arc<RuntimeInfo>,
    asked_at: tokio::time::Instant,
    next_due: tokio::time::Instant,
    took: std::time::Duration,
}

impl RuntimeSampler {
    /// The latest runtime info and when it was asked for, asked for again when the last one is
    /// due, or at once when its answer took less than `fresh_if_under` (what a fresh sample saves:
    /// kept topic stats need one, [`crate::guard::KeptStats`]).
    pub async fn get(
        &self,
        admin: &crate::admin::BrokerAdmin,
        fresh_if_under: Option<std::time::Duration>,
    ) -> Result<(std::sync::Arc<RuntimeInfo>, tokio::time::Instant), crate::admin::AdminError> {
        let mut slot = self.0.lock().await;
        let now = tokio::time::Instant::now();
        let worth_asking = |s: &Sample| fresh_if_under.is_some_and(|saved| s.took < saved);
        if let Some(kept) = slot.as_ref().filter(|s| now < s.next_due && !worth_asking(s)) {
            return Ok((kept.info.clone(), kept.asked_at));
        }
        let info = std::sync::Arc::new(admin.runtime_info().await?);
        let took = now.elapsed();
        let spacing = crate::periodic::spaced_by_cost(took, slot.as_ref().map(|s| s.took), SAMPLE_MAX_AGE);
        *slot = Some(Sample { info: info.clone(), asked_at: now, next_due: now + spacing, took });
        Ok((info, now))
    }
}
