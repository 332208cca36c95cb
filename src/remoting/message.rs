//! One commit-log entry as the broker stores it (and sends it back for VIEW_MESSAGE_BY_ID), read
//! only as far as where the message went: its topic, queue, queue offset and store time. The body
//! and properties are skipped, never copied.
//!
//! Layout (big-endian; `CommitLog.calMsgLength` in 4.9.6 and 5.x):
//!
//! ```text
//! i32 total size   i32 magic   i32 body CRC   i32 queue id   i32 flag
//! i64 queue offset   i64 physical offset   i32 sys flag   i64 born timestamp
//! born host (8 bytes, or 20 when sys flag has BORNHOST_V6)   i64 store timestamp
//! store host (8, or 20 with STOREHOST_V6)   i32 reconsume times   i64 prepared tx offset
//! i32 body length + body   topic length (u8; i16 with the v2 magic) + topic   i16 + properties
//! ```
//!
//! The last entry of a commit-log file may be a blank: its size and a blank magic, the rest of the
//! file unused. The next entry starts at the next file.

use super::bytes::ByteReader;

/// The magic of a message whose topic length is one byte (4.x, and 5.x by default).
const MAGIC_V1: i32 = -626_843_481;
/// 5.x: the topic length is two bytes (`MessageVersion.MESSAGE_VERSION_V2`).
const MAGIC_V2: i32 = -626_843_477;
/// The end-of-file filler.
const MAGIC_BLANK: i32 = -875_286_124;

const BORNHOST_V6: i32 = 1 << 4;
const STOREHOST_V6: i32 = 1 << 5;
/// 5.x: one entry holding a batch of messages (its queue offset covers several).
const INNER_BATCH: i32 = 1 << 7;
/// The transaction type bits: prepared (1) and rollback (3) entries are never dispatched to a
/// consume queue.
const TRANSACTION_TYPE: i32 = 3 << 2;
const TRANSACTION_PREPARED: i32 = 1 << 2;
const TRANSACTION_ROLLBACK: i32 = 3 << 2;

/// What one commit-log entry says about where a message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredEntry {
    /// A message in a consume queue: `queue_offset` is its position there.
    Queued { size: i64, topic: String, queue_id: u32, queue_offset: i64, store_ms: i64 },
    /// A message that no consume queue holds (a prepared or rolled-back transaction message).
    Unqueued { size: i64 },
    /// The filler at the end of a commit-log file.
    Blank { size: i64 },
}

impl StoredEntry {
    /// The entry's length in the commit log: the next entry starts that far after this one.
    pub fn size(&self) -> i64 {
        match self {
            StoredEntry::Queued { size, .. } | StoredEntry::Unqueued { size } | StoredEntry::Blank { size } => *size,
        }
    }
}

/// Reads one entry from the start of `bytes`. Errors name what did not fit; an entry this reader
/// does not know (a batch, another magic) is an error too, never a guess.
pub fn decode_stored(bytes: &[u8]) -> Result<StoredEntry, String> {
    let mut r = ByteReader::new(bytes);
    let size = r.i32("total size")?;
    let magic = r.i32("magic")?;
    if size < 8 {
        return Err(format!("entry size {size} is too small"));
    }
    if magic == MAGIC_BLANK {
        return Ok(StoredEntry::Blank { size: i64::from(size) });
    }
    let topic_len_bytes = match magic {
        MAGIC_V1 => 1,
        MAGIC_V2 => 2,
        other => return Err(format!("unknown magic {other:#x}")),
    };
    if bytes.len() < size as usize {
        return Err(format!("entry of {size} bytes, {} received", bytes.len()));
    }
    r.skip(4, "body CRC")?;
    let queue_id = r.i32("queue id")?;
    r.skip(4, "flag")?;
    let queue_offset = r.i64("queue offset")?;
    r.skip(8, "physical offset")?;
    let sys_flag = r.i32("sys flag")?;
    if sys_flag & INNER_BATCH != 0 {
        return Err("a batch entry (one queue offset per message in it)".into());
    }
    r.skip(8, "born timestamp")?;
    r.skip(if sys_flag & BORNHOST_V6 != 0 { 20 } else { 8 }, "born host")?;
    let store_ms = r.i64("store timestamp")?;
    r.skip(if sys_flag & STOREHOST_V6 != 0 { 20 } else { 8 }, "store host")?;
    r.skip(4 + 8, "reconsume times and transaction offset")?;
    let body_len = r.i32("body length")?;
    r.skip(usize::try_from(body_len).map_err(|_| format!("body length {body_len}"))?, "body")?;
    let topic_len =
        if topic_len_bytes == 1 { usize::from(r.u8("topic length")?) } else { usize::from(r.u16("topic length")?) };
    let topic = r.str(topic_len, "topic")?;
    let size = i64::from(size);
    if matches!(sys_flag & TRANSACTION_TYPE, TRANSACTION_PREPARED | TRANSACTION_ROLLBACK) {
        return Ok(StoredEntry::Unqueued { size });
    }
    let queue_id = u32::try_from(queue_id).map_err(|_| format!("queue id {queue_id}"))?;
    Ok(StoredEntry::Queued { size, topic: topic.to_string(), queue_id, queue_offset, store_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry laid out as the broker writes it.
    fn entry(magic: i32, sys_flag: i32, topic: &str, queue_id: i32, queue_offset: i64) -> Vec<u8> {
        let v6 = |flag| if sys_flag & flag != 0 { 20 } else { 8 };
        let mut e = Vec::new();
        e.extend(0i32.to_be_bytes()); // size, set below
        e.extend(magic.to_be_bytes());
        e.extend(7i32.to_be_bytes()); // body CRC
        e.extend(queue_id.to_be_bytes());
        e.extend(0i32.to_be_bytes()); // flag
        e.extend(queue_offset.to_be_bytes());
        e.extend(4096i64.to_be_bytes()); // physical offset
        e.extend(sys_flag.to_be_bytes());
        e.extend(1i64.to_be_bytes()); // born
        e.extend(vec![1; v6(BORNHOST_V6)]);
        e.extend(1_764_900_000_123i64.to_be_bytes()); // stored
        e.extend(vec![2; v6(STOREHOST_V6)]);
        e.extend(0i32.to_be_bytes());
        e.extend(0i64.to_be_bytes());
        e.extend(5i32.to_be_bytes());
        e.extend(b"hello");
        if magic == MAGIC_V2 {
            e.extend((topic.len() as u16).to_be_bytes());
        } else {
            e.push(topic.len() as u8);
        }
        e.extend(topic.as_bytes());
        e.extend(3u16.to_be_bytes());
        e.extend(b"a=b");
        let size = e.len() as i32;
        e[..4].copy_from_slice(&size.to_be_bytes());
        e
    }

    #[test]
    fn a_message_says_its_topic_queue_offset_and_store_time() {
        for (magic, flag) in [(MAGIC_V1, 0), (MAGIC_V2, 0), (MAGIC_V1, BORNHOST_V6 | STOREHOST_V6)] {
            let e = entry(magic, flag, "TopicA", 3, 41);
            let want = StoredEntry::Queued {
                size: e.len() as i64,
                topic: "TopicA".into(),
                queue_id: 3,
                queue_offset: 41,
                store_ms: 1_764_900_000_123,
            };
            assert_eq!(decode_stored(&e), Ok(want), "magic {magic:#x} flag {flag}");
        }
    }

    #[test]
    fn prepared_and_rolled_back_transactions_sit_in_no_queue() {
        for flag in [TRANSACTION_PREPARED, TRANSACTION_ROLLBACK] {
            let e = entry(MAGIC_V1, flag, "T", 0, 0);
            assert_eq!(decode_stored(&e), Ok(StoredEntry::Unqueued { size: e.len() as i64 }));
        }
        let committed = entry(MAGIC_V1, 2 << 2, "T", 0, 9);
        assert!(matches!(decode_stored(&committed), Ok(StoredEntry::Queued { queue_offset: 9, .. })));
    }

    #[test]
    fn a_blank_is_skipped_whole_and_anything_unknown_or_short_is_an_error() {
        let mut blank = 300i32.to_be_bytes().to_vec();
        blank.extend(MAGIC_BLANK.to_be_bytes());
        assert_eq!(decode_stored(&blank), Ok(StoredEntry::Blank { size: 300 }));
        let e = entry(MAGIC_V1, 0, "T", 0, 0);
        assert!(decode_stored(&e[..e.len() - 10]).is_err(), "cut short");
        assert!(decode_stored(&entry(12345, 0, "T", 0, 0)).is_err(), "unknown magic");
        assert!(decode_stored(&entry(MAGIC_V1, INNER_BATCH, "T", 0, 0)).is_err(), "a batch");
        assert!(decode_stored(&[0, 0, 0, 4, 1, 2, 3, 4]).is_err(), "too small");
        assert!(decode_stored(&[]).is_err());
    }
}
