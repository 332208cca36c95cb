//! The broker's config bodies.
//!
//! GET_BROKER_CONFIG answers `key=value` lines written by `MixAll.properties2String`
//! (unescaped, unordered). UPDATE_BROKER_CONFIG's body is read with `java.util.Properties.load`
//! after an ISO-8859-1 round trip, so we escape as `Properties.store` would: `\uXXXX` for
//! non-ASCII, backslash escapes for separators, comment starters and leading spaces.
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
        escape(k, true, &mut out);
        out.push('=');
        escape(v, false, &mut out);
        out.push('\n');
    }
    out.into_bytes()
}

fn escape(s: &str, is_key: bool, out: &mut String) {
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
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
