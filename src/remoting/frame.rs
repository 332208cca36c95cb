//! Frame layout (all big-endian):
//!
//! ```text
//! i32 total_len            = 4 + header_len + body_len (does not count itself)
//! i32 (ser_type << 24) | header_len
//! header (JSON or ROCKETMQ binary)
//! body
//! ```
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bytes::ByteReader;
use super::command::{Command, LanguageCode, SerializeType};
use super::error::FrameError;
use super::json;

/// The broker's own limit (`com.rocketmq.remoting.frameMaxLength`): 16 MiB including the
/// 4-byte length field.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

const MAX_HEADER_LEN: usize = 0x00FF_FFFF;

/// Reads the 4-byte length prefix and checks it against `max_frame` *before* anything is
/// allocated. Returns the number of bytes that follow the prefix.
pub fn parse_length(prefix: [u8; 4], max_frame: usize) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(prefix) as u64;
    // Netty's LengthFieldBasedFrameDecoder counts the length field itself against the limit.
    if len + 4 > max_frame as u64 || len > i32::MAX as u64 {
        return Err(FrameError::TooLarge { len: len + 4, max: max_frame });
    }
    if len < 4 {
        return Err(FrameError::TooShort { len });
    }
    Ok(len as usize)
}

/// Decodes what follows the length prefix (header-length word, header, body).
pub fn decode_payload(payload: &[u8]) -> Result<Command, FrameError> {
    if payload.len() < 4 {
        return Err(FrameError::TooShort { len: payload.len() as u64 });
    }
    let word = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
    let ser = (word >> 24) as u8;
    let header_len = (word & 0x00FF_FFFF) as usize;
    let rest = &payload[4..];
    if header_len > rest.len() {
        return Err(FrameError::HeaderLength { header_len, frame_len: payload.len() });
    }
    let (header, body) = rest.split_at(header_len);
    let mut cmd = match ser {
        0 => decode_json_header(header)?,
        1 => decode_binary_header(header)?,
        other => return Err(FrameError::SerializeType(other)),
    };
    cmd.body = body.to_vec();
    Ok(cmd)
}

/// Splits one complete frame off the front of `buf`: `Ok(None)` if more bytes are needed,
/// otherwise the command and how many bytes it used.
pub fn split_frame(buf: &[u8], max_frame: usize) -> Result<Option<(Command, usize)>, FrameError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let len = parse_length([prefix[0], prefix[1], prefix[2], prefix[3]], max_frame)?;
    match buf.get(4..4 + len) {
        Some(payload) => Ok(Some((decode_payload(payload)?, 4 + len))),
        None => Ok(None),
    }
}

/// Encodes a command as one frame in its `serialize_type`.
pub fn encode(cmd: &Command) -> Result<Vec<u8>, FrameError> {
    // One buffer for the whole frame: the header is written in place and the two length words
    // filled in after (a metrics refresh encodes ~10,000 of these; each used to build a JSON
    // tree of ~25 allocations first).
    let fields: usize = cmd.ext_fields.iter().map(|(k, v)| k.len() + v.len() + 8).sum();
    let guess = 8 + 160 + fields + cmd.remark.as_ref().map_or(0, String::len) + cmd.body.len();
    let mut out = Vec::with_capacity(guess);
    out.extend_from_slice(&[0; 8]);
    match cmd.serialize_type {
        SerializeType::Json => write_json_header(cmd, &mut out)?,
        SerializeType::RocketMq => out.extend_from_slice(&encode_binary_header(cmd)?),
    }
    let header_len = out.len() - 8;
    if header_len > MAX_HEADER_LEN {
        return Err(FrameError::Encode(format!("header of {header_len} bytes exceeds 24 bits")));
    }
    let total = 4 + header_len + cmd.body.len();
    if total > i32::MAX as usize {
        return Err(FrameError::Encode(format!("frame of {total} bytes is too large")));
    }
    out.extend_from_slice(&cmd.body);
    out[..4].copy_from_slice(&(total as u32).to_be_bytes());
    let word = ((cmd.serialize_type.code() as u32) << 24) | header_len as u32;
    out[4..8].copy_from_slice(&word.to_be_bytes());
    Ok(out)
}

// ---- JSON header (fastjson bean of RemotingCommand; fields written in alphabetical order) ----

/// The JSON header as written: the fields in fastjson's (alphabetical) order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonHeaderOut<'a> {
    code: i32,
    ext_fields: &'a BTreeMap<String, String>,
    flag: i32,
    language: &'a str,
    opaque: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    remark: Option<&'a str>,
    #[serde(rename = "serializeTypeCurrentRPC")]
    serialize_type_current_rpc: &'static str,
    version: i32,
}

fn write_json_header(cmd: &Command, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let header = JsonHeaderOut {
        code: cmd.code,
        ext_fields: &cmd.ext_fields,
        flag: cmd.flag,
        language: cmd.language.name(),
        opaque: cmd.opaque,
        remark: cmd.remark.as_deref(),
        serialize_type_current_rpc: "JSON",
        version: cmd.version,
    };
    serde_json::to_writer(out, &header).map_err(|e| FrameError::Encode(format!("JSON header: {e}")))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonHeader {
    code: i32,
    language: Option<String>,
    version: i32,
    opaque: i32,
    flag: i32,
    remark: Option<String>,
    ext_fields: Option<BTreeMap<String, serde_json::Value>>,
}

fn decode_json_header(bytes: &[u8]) -> Result<Command, FrameError> {
    let h: JsonHeader =
        serde_json::from_slice(bytes).map_err(|e| FrameError::Header { kind: "JSON", reason: e.to_string() })?;
    let ext_fields = h
        .ext_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            other => Some((k, json::text(other))),
        })
        .collect();
    Ok(Command {
        code: h.code,
        language: h.language.as_deref().map(LanguageCode::from_name).unwrap_or(LanguageCode::JAVA),
        version: h.version,
        opaque: h.opaque,
        flag: h.flag,
        remark: h.remark,
        ext_fields,
        body: Vec::new(),
        serialize_type: SerializeType::Json,
    })
}

// ---- ROCKETMQ binary header (RocketMQSerializable) ----
// i16 code | u8 language | i16 version | i32 opaque | i32 flag | i32 remarkLen | remark |
// i32 extLen | { i16 keyLen | key | i32 valLen | val }*

fn encode_binary_header(cmd: &Command) -> Result<Vec<u8>, FrameError> {
    let code = i16::try_from(cmd.code).map_err(|_| FrameError::Encode(format!("code {} exceeds i16", cmd.code)))?;
    let version =
        i16::try_from(cmd.version).map_err(|_| FrameError::Encode(format!("version {} exceeds i16", cmd.version)))?;
    let mut ext = Vec::new();
    for (k, v) in &cmd.ext_fields {
        let klen = i16::try_from(k.len()).map_err(|_| FrameError::Encode(format!("ext key {k:?} too long")))?;
        ext.extend_from_slice(&klen.to_be_bytes());
        ext.extend_from_slice(k.as_bytes());
        ext.extend_from_slice(&(v.len() as i32).to_be_bytes());
        ext.extend_from_slice(v.as_bytes());
    }
    let remark = cmd.remark.as_deref().unwrap_or("").as_bytes();
    let mut out = Vec::with_capacity(21 + remark.len() + ext.len());
    out.extend_from_slice(&code.to_be_bytes());
    out.push(cmd.language.0);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&cmd.opaque.to_be_bytes());
    out.extend_from_slice(&cmd.flag.to_be_bytes());
    out.extend_from_slice(&(remark.len() as i32).to_be_bytes());
    out.extend_from_slice(remark);
    out.extend_from_slice(&(ext.len() as i32).to_be_bytes());
    out.extend_from_slice(&ext);
    Ok(out)
}

/// A length read as a signed number: negative is a malformed header.
fn length(raw: i64, what: &str) -> Result<usize, String> {
    usize::try_from(raw).map_err(|_| format!("{what}: negative length {raw}"))
}

fn bin_err(reason: String) -> FrameError {
    FrameError::Header { kind: "ROCKETMQ", reason }
}

fn decode_binary_header(bytes: &[u8]) -> Result<Command, FrameError> {
    read_binary_header(bytes).map_err(bin_err)
}

fn read_binary_header(bytes: &[u8]) -> Result<Command, String> {
    let mut r = ByteReader::new(bytes);
    let code = r.i16("code")? as i32;
    let language = LanguageCode(r.u8("language")?);
    let version = r.i16("version")? as i32;
    let opaque = r.i32("opaque")?;
    let flag = r.i32("flag")?;
    let raw = r.i32("remark length")? as i64;
    let remark_len = length(raw, "remark")?;
    // A zero length means null on the Java side.
    let remark = if remark_len == 0 { None } else { Some(r.str(remark_len, "remark")?.to_string()) };
    let raw = r.i32("extFields length")? as i64;
    let ext_len = length(raw, "extFields")?;
    let mut ext = ByteReader::new(r.take(ext_len, "extFields")?);
    let mut ext_fields = BTreeMap::new();
    while !ext.is_empty() {
        let raw = ext.i16("ext key length")? as i64;
        let klen = length(raw, "ext key")?;
        let key = ext.str(klen, "ext key")?.to_string();
        let raw = ext.i32("ext value length")? as i64;
        let vlen = length(raw, "ext value")?;
        let value = ext.str(vlen, "ext value")?.to_string();
        ext_fields.insert(key, value);
    }
    Ok(Command {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        body: Vec::new(),
        serialize_type: SerializeType::RocketMq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ser: SerializeType) -> Command {
        let mut c = Command::request(crate::remoting::codes::request::GET_BROKER_CONFIG)
            .with_ext("topic", "T")
            .with_ext("queueId", "3")
            .with_body(b"abc".to_vec());
        c.opaque = 42;
        c.remark = Some("héllo".into());
        c.serialize_type = ser;
        c
    }

    #[test]
    fn round_trips_both_header_kinds() {
        for ser in [SerializeType::Json, SerializeType::RocketMq] {
            let c = sample(ser);
            let bytes = encode(&c).unwrap();
            let (back, used) = split_frame(&bytes, DEFAULT_MAX_FRAME).unwrap().unwrap();
            assert_eq!(used, bytes.len());
            assert_eq!(back, c);
        }
    }

    #[test]
    fn partial_frames_ask_for_more() {
        let bytes = encode(&sample(SerializeType::Json)).unwrap();
        for cut in 0..bytes.len() {
            assert!(split_frame(&bytes[..cut], DEFAULT_MAX_FRAME).unwrap().is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn oversized_length_is_refused_before_allocation() {
        let err = parse_length(0x7fff_ffffu32.to_be_bytes(), DEFAULT_MAX_FRAME).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        // Exactly at Netty's limit (length field included) is accepted, one more byte is not.
        assert!(parse_length(((DEFAULT_MAX_FRAME - 4) as u32).to_be_bytes(), DEFAULT_MAX_FRAME).is_ok());
        assert!(parse_length(((DEFAULT_MAX_FRAME - 3) as u32).to_be_bytes(), DEFAULT_MAX_FRAME).is_err());
        assert!(matches!(parse_length(2u32.to_be_bytes(), DEFAULT_MAX_FRAME), Err(FrameError::TooShort { .. })));
    }

    #[test]
    fn header_longer_than_frame_is_an_error() {
        let mut payload = vec![0, 0, 0, 100];
        payload.extend_from_slice(b"{}");
        assert!(matches!(decode_payload(&payload), Err(FrameError::HeaderLength { .. })));
    }

    #[test]
    fn unknown_serialize_type_is_an_error() {
        let payload = [7, 0, 0, 0];
        assert_eq!(decode_payload(&payload), Err(FrameError::SerializeType(7)));
    }

    #[test]
    fn binary_header_zero_length_remark_is_none() {
        let mut c = sample(SerializeType::RocketMq);
        c.remark = None;
        let bytes = encode(&c).unwrap();
        let (back, _) = split_frame(&bytes, DEFAULT_MAX_FRAME).unwrap().unwrap();
        assert_eq!(back.remark, None);
    }

    #[test]
    fn json_header_tolerates_missing_and_unknown_fields() {
        let header = br#"{"code":0,"flag":1,"opaque":9,"futureField":{"x":[1]},"extFields":{"offset":12,"n":null}}"#;
        let mut payload = (header.len() as u32).to_be_bytes().to_vec();
        payload.extend_from_slice(header);
        let c = decode_payload(&payload).unwrap();
        assert!(c.is_response());
        assert_eq!(c.opaque, 9);
        assert_eq!(c.ext_fields.get("offset").map(String::as_str), Some("12"));
        assert!(!c.ext_fields.contains_key("n"));
        assert_eq!(c.language, LanguageCode::JAVA);
    }
}
