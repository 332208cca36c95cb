//! Value validation against the catalog: types, ranges, formats and the normal form used to
//! compare a file's value with the broker's.

use super::catalog::{JavaType, Param, FOREIGN};
use super::error::ParamError;
use super::release::Release;

/// A known parameter with its value in canonical form (what we send and compare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub param: &'static Param,
    pub value: String,
}

/// Validates `raw` for `key` on `release`. `Ok(None)`: a key of another RocketMQ version that
/// 4.9.6 ignores (the addon's template writes a few); it is reported, never sent.
pub fn check_in(release: Release, key: &str, raw: &str) -> Result<Option<Checked>, ParamError> {
    match release.lookup(key) {
        Some(param) => checked(param, key, raw).map(Some),
        None if release.foreign(key) => Ok(None),
        None => Err(ParamError::UnknownKey { key: key.to_string(), suggestion: closest_in(release, key) }),
    }
}

fn checked(param: &'static Param, key: &str, raw: &str) -> Result<Checked, ParamError> {
    let bad = |reason: String| ParamError::BadValue { key: key.to_string(), value: raw.to_string(), reason };
    Ok(Checked { param, value: canonical(param, raw).map_err(bad)? })
}

/// Validates before the broker's release is known: a key no release has is refused (naming
/// the closest), as is a value no release would take. A key 4.9.6 knows to be absent (`JNone`)
/// takes any value here. [`check_in`] checks again once the broker has said its release.
pub fn check(key: &str, raw: &str) -> Result<Option<Checked>, ParamError> {
    let mut first_err = None;
    // 4.9.6 first: its catalog is the hand-verified one; then the newest 5.x.
    // The closest-name search runs once, over every release, and only for a key none has.
    for release in [Release::V4_9_6, Release::V5_5_0, Release::V5_3_3, Release::V5_1_4] {
        let Some(param) = release.lookup(key) else { continue };
        match checked(param, key, raw) {
            Ok(c) => return Ok(Some(c)),
            Err(e) => first_err = first_err.or(Some(e)),
        }
    }
    match first_err {
        Some(e) => Err(e),
        None if Release::V4_9_6.foreign(key) => Ok(None),
        None => Err(ParamError::UnknownKey { key: key.to_string(), suggestion: closest(key) }),
    }
}

/// The canonical form of a value as the broker would hold it, or `None` when the broker
/// could not parse it. Used to compare file values with the broker's (`08` = `8`, `TRUE` = `true`).
pub fn normalize(param: &Param, raw: &str) -> Option<String> {
    canonical(param, raw).ok()
}

fn canonical(param: &Param, raw: &str) -> Result<String, String> {
    match param.java {
        JavaType::JInt => integer(raw, i32::MIN as i64, i32::MAX as i64, "a 32-bit integer (Java int)", param),
        JavaType::JLong => integer(raw, i64::MIN, i64::MAX, "a 64-bit integer (Java long)", param),
        JavaType::JBool => match raw.to_ascii_lowercase().as_str() {
            v @ ("true" | "false") => Ok(v.to_string()),
            // Boolean.parseBoolean turns anything else into false without a word.
            _ => Err("expected true or false (the broker would silently read anything else as false)".into()),
        },
        JavaType::JEnum => {
            let allowed = param.enum_values();
            if allowed.contains(&raw) {
                Ok(raw.to_string())
            } else {
                Err(format!("expected one of {} (exact case)", allowed.join(", ")))
            }
        }
        JavaType::JStr => text(param.name, raw),
        JavaType::JFloat => match raw.parse::<f64>() {
            // Compared by value: the broker prints 1.0E-4 where the file may say 0.0001.
            Ok(f) if f.is_finite() => Ok(f.to_string()),
            _ => Err("expected a decimal number (Java double/float)".into()),
        },
        JavaType::JNone => Ok(raw.to_string()),
    }
}

fn integer(raw: &str, min: i64, max: i64, what: &str, param: &Param) -> Result<String, String> {
    let digits = raw.strip_prefix(['+', '-']).unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        let hint = if raw.trim() != raw { " (no spaces: the broker would ignore the value)" } else { "" };
        return Err(format!("expected {what}{hint}"));
    }
    let n: i64 = raw.parse().map_err(|_| format!("out of range for {what}"))?;
    if n < min || n > max {
        return Err(format!("out of range for {what}"));
    }
    if let Some((lo, hi)) = param.range {
        if n < lo || n > hi {
            return Err(format!("must be between {lo} and {hi}"));
        }
    }
    if param.name == "brokerPermission" && ![2, 4, 6].contains(&n) {
        return Err("expected 2 (write), 4 (read) or 6 (read+write)".into());
    }
    Ok(n.to_string())
}

fn text(name: &str, raw: &str) -> Result<String, String> {
    // The broker writes its config back unescaped (GET_BROKER_CONFIG and the persisted
    // file), so a line break inside a value would split it into bogus keys.
    if raw.chars().any(char::is_control) {
        return Err("control characters (line breaks, tabs) are not allowed".into());
    }
    match name {
        "deleteWhen" => {
            let ok = !raw.is_empty()
                && raw.split(';').all(|h| !h.is_empty() && h.len() <= 2 && h.parse::<u8>().is_ok_and(|h| h < 24));
            ok.then(|| raw.to_string())
                .ok_or_else(|| "expected hours of the day 0-23 separated by `;` (e.g. 04 or 01;13)".into())
        }
        "messageDelayLevel" => {
            let ok = !raw.is_empty()
                && raw.split(' ').all(|t| {
                    let (n, unit) = t.split_at(t.len().saturating_sub(1));
                    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && matches!(unit, "s" | "m" | "h" | "d")
                });
            ok.then(|| raw.to_string())
                .ok_or_else(|| "expected durations like 1s 5s 1m 2h 1d separated by single spaces".into())
        }
        _ => Ok(raw.to_string()),
    }
}

/// A valid value for `param` that differs from `current` (demo, tests and benchmarks use it
/// to change every parameter at once).
pub fn alternative(param: &Param, current: &str) -> String {
    match (param.java, param.name) {
        (_, "brokerPermission") => if current == "4" { "6" } else { "4" }.into(),
        (_, "deleteWhen") => if current == "05" { "04" } else { "05" }.into(),
        (_, "messageDelayLevel") => format!("{current} 3h"),
        (JavaType::JBool, _) => (!current.eq_ignore_ascii_case("true")).to_string(),
        (JavaType::JInt | JavaType::JLong, _) => {
            let n: i64 = current.parse().unwrap_or(0);
            let (lo, hi) = param.range.unwrap_or((i64::MIN, i64::MAX));
            if n < hi && n + 1 >= lo { n + 1 } else { n - 1 }.to_string()
        }
        (JavaType::JEnum, _) => {
            param.enum_values().iter().find(|v| **v != current).copied().unwrap_or_default().to_string()
        }
        _ => format!("{current}2"),
    }
}

/// The parameter name of any release nearest to `key` (typo help), if any is close enough.
pub fn closest(key: &str) -> Option<&'static str> {
    nearest(key, Release::ALL.iter().flat_map(|r| r.params()).map(|p| p.name).chain(FOREIGN.iter().copied()))
}

/// The parameter name of `release` nearest to `key`.
pub fn closest_in(release: Release, key: &str) -> Option<&'static str> {
    let foreign = FOREIGN.iter().copied().filter(move |_| release == Release::V4_9_6);
    nearest(key, release.params().iter().map(|p| p.name).chain(foreign))
}

fn nearest(key: &str, names: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    names
        .map(|name| (distance(&lower, &name.to_ascii_lowercase()), name))
        .filter(|(d, name)| *d <= (name.len() / 4).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// Levenshtein distance over bytes (parameter names are ASCII).
fn distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(key: &str, v: &str) -> String {
        check(key, v).unwrap_err().to_string()
    }

    #[test]
    fn integers_are_canonical_and_bounded() {
        assert_eq!(check("maxMessageSize", "08").unwrap().unwrap().value, "8");
        assert_eq!(check("brokerId", "+3").unwrap().unwrap().value, "3");
        assert!(err("maxMessageSize", "4194304 ").contains("no spaces"));
        assert!(err("maxMessageSize", "2147483648").contains("out of range"));
        assert!(err("maxMessageSize", "0").contains("between 1 and"));
        assert!(check("transactionTimeOut", "9223372036854775807").is_ok(), "Java long");
        assert!(err("transactionTimeOut", "9223372036854775808").contains("out of range"));
        assert!(err("maxErrorRateOfBloomFilter", "101").contains("between 1 and 100"));
        assert!(err("brokerPermission", "5").contains("read+write"));
        assert!(err("fileReservedTime", "72h").contains("Java int"), "schema says string, Java says int");
    }

    #[test]
    fn booleans_as_java_parses_them() {
        assert_eq!(check("traceOn", "TRUE").unwrap().unwrap().value, "true");
        assert_eq!(check("traceOn", "False").unwrap().unwrap().value, "false");
        assert!(err("traceOn", "yes").contains("silently"));
        assert!(err("traceOn", "1").contains("true or false"));
    }

    #[test]
    fn enums_and_strings() {
        assert!(check("flushDiskType", "SYNC_FLUSH").is_ok());
        assert!(err("flushDiskType", "sync_flush").contains("exact case"));
        assert!(check("deleteWhen", "01;13").is_ok());
        assert!(err("deleteWhen", "25").contains("0-23"));
        assert!(check("messageDelayLevel", "1s 5s 2h 1d").is_ok());
        assert!(err("messageDelayLevel", "1s  5s").contains("single spaces"));
        assert!(err("regionId", "a\nb").contains("control"));
    }

    #[test]
    fn unknown_keys_name_the_closest() {
        assert_eq!(err("maxMesageSize", "1"), "unknown parameter `maxMesageSize` (did you mean `maxMessageSize`?)");
        assert_eq!(
            err("BROKERPERMISSION", "6"),
            "unknown parameter `BROKERPERMISSION` (did you mean `brokerPermission`?)"
        );
        assert_eq!(err("zzz", "1"), "unknown parameter `zzz`");
        assert_eq!(check("enableNameServerAddressResolve", "true"), Ok(None), "a 5.x key the addon writes");
    }
}
