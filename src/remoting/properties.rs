//! The broker's config bodies.
//!
//! GET_BROKER_CONFIG answers `key=value` lines written by `MixAll.properties2String`
//! (unescaped, unordered). UPDATE_BROKER_CONFIG's body is read with `java.util.Properties.load`
//! after an ISO-8859-1 round trip, so we escape as `Properties.store` would
//! ([`crate::properties::store_line`]).
use std::collections::BTreeMap;

/// Parses a GET_BROKER_CONFIG body. Lines without `=` are ignored; the first `=` splits.
pub fn parse_config_body(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let (k, v) = line.split_once('=')?;
            (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Builds an UPDATE_BROKER_CONFIG body that `Properties.load` reads back as exactly these pairs.
pub fn encode_update_body<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut out = String::new();
    for (k, v) in pairs {
        crate::properties::store_line(k, v, &mut out);
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config_lines() {
        let m = parse_config_body(b"brokerId=0\r\nmessageDelayLevel=1s 5s\nbad line\n=x\nk=a=b\n");
        assert_eq!(m["brokerId"], "0");
        assert_eq!(m["messageDelayLevel"], "1s 5s");
        assert_eq!(m["k"], "a=b");
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn escapes_like_properties_store() {
        let body = encode_update_body([("a b", " lead=x:y#!\\ é😀\n")]);
        assert_eq!(String::from_utf8(body).unwrap(), "a\\ b=\\ lead\\=x\\:y\\#\\!\\\\ \\u00E9\\uD83D\\uDE00\\n\n");
    }
}
