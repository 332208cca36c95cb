//! A lenient JSON reader for bodies written by fastjson 1.2.69, which a standard parser
//! rejects: map keys that are bare numbers (`{0:"127.0.0.1:10911"}`) and map keys that are
//! whole objects (`{{"brokerName":"b","queueId":0,"topic":"t"}:{...}}`).
//!
//! The result is a [`serde_json::Value`] in which every key is a string: numbers keep their
//! text, and object/array keys become their JSON text as written (parse them again with
//! [`key_object`]). Typed structs then deserialize with `#[serde(default)]` so unknown fields
//! are ignored and missing ones defaulted. Never panics; nesting is capped.
use serde_json::{Map, Number, Value};

/// Deeper input is refused rather than risking the stack.
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {at}: {reason}")]
pub struct JsonError {
    pub at: usize,
    pub reason: String,
}

/// Parses one JSON value (fastjson dialect) from `input`; trailing non-space is an error.
pub fn parse(input: &[u8]) -> Result<Value, JsonError> {
    let mut p = Parser::over(input)?;
    let v = p.value(0)?;
    p.end()?;
    Ok(v)
}

/// Hands each member of the object `field` of the top-level object in `input` to `f`, parsed
/// one at a time, so a 10,000-row table never exists as one [`Value`] tree (for
/// GET_ALL_CONSUMER_OFFSET and the group table at 10,000 groups, each such tree was about half of
/// `serve`'s peak memory). Returns the other top-level members. A missing or `null` `field`
/// calls `f` never; any other non-object there is an error.
pub fn each_member_of<E: From<JsonError>>(
    input: &[u8],
    field: &str,
    f: impl FnMut(String, Value) -> Result<(), E>,
) -> Result<Map<String, Value>, E> {
    each_row_of(input, field, |p| p.value(2), f)
}

/// [`each_member_of`] for a table whose rows map integers to integers (`{0:12,1:7}`, fastjson's
/// `Map<Integer, Long>`: the committed offsets of every topic@group), each row read straight into
/// its pairs. Building a [`Value`] per row and deserializing it again took ~40 ms of a
/// 10,000-group scan, before any per-group request could start. A row that is anything else
/// (a fraction, a string value) is an error.
pub fn each_int_map_of<E: From<JsonError>>(
    input: &[u8],
    field: &str,
    f: impl FnMut(String, Vec<(i64, i64)>) -> Result<(), E>,
) -> Result<Map<String, Value>, E> {
    each_row_of(input, field, |p| p.int_map(), f)
}

/// [`each_member_of`] with each row as its JSON text (checked as [`parse`] would, never built),
/// for a caller that deserializes standard rows straight into a type: the group table at 10,000
/// groups took ~25 ms as [`Value`] trees first.
pub fn each_row_text_of<'a, E: From<JsonError>>(
    input: &'a [u8],
    field: &str,
    f: impl FnMut(String, &'a str) -> Result<(), E>,
) -> Result<Map<String, Value>, E> {
    each_row_of(input, field, |p| p.text_of_value(2), f)
}

/// The walk behind [`each_member_of`], [`each_int_map_of`] and [`each_row_text_of`]: `read_row` reads each member of
/// `field` (the parser at its value), `f` takes it.
fn each_row_of<'a, R, E: From<JsonError>>(
    input: &'a [u8],
    field: &str,
    mut read_row: impl FnMut(&mut Parser<'a>) -> Result<R, JsonError>,
    mut f: impl FnMut(String, R) -> Result<(), E>,
) -> Result<Map<String, Value>, E> {
    let mut p = Parser::over(input)?;
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(p.err("expected an object").into());
    }
    let mut rest = Map::new();
    p.members(0, |p: &mut Parser<'a>, key| {
        p.ws();
        match (key == field, p.peek()) {
            (true, Some(b'{')) => p.members(1, |p: &mut Parser<'a>, row| {
                let v = read_row(p)?;
                f(row, v)
            }),
            (true, Some(b'n')) => p.value(1).map(drop).map_err(E::from),
            (true, _) => Err(p.err(&format!("{field} is not an object")).into()),
            (false, _) => {
                rest.insert(key, p.value(1)?);
                Ok(())
            }
        }
    })?;
    p.end()?;
    Ok(rest)
}

/// Hands every member of every object named `field`, wherever it sits in `input` (in objects and
/// arrays at any depth), to `f` as its key and its value's text (checked, never built). For
/// GET_BROKER_CONSUME_STATS, whose queue rows (`offsetTable`) sit three levels down in a list of
/// groups, each with its topics: at 10,000 topics the body is 1.5 MB, and as one [`Value`] tree
/// it would be several times that in memory.
pub fn each_member_of_every<'a, E: From<JsonError>>(
    input: &'a [u8],
    field: &str,
    mut f: impl FnMut(String, &'a str) -> Result<(), E>,
) -> Result<(), E> {
    let mut p = Parser::over(input)?;
    p.visit(0, field, &mut f)?;
    p.end()?;
    Ok(())
}

/// A value as plain text: strings without quotes, anything else as its JSON text (fastjson
/// sometimes writes numbers where the Java type is a String).
pub fn text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Re-parses a key produced from an object key (e.g. a MessageQueue) into its fields.
pub fn key_object(key: &str) -> Option<Map<String, Value>> {
    match parse(key.as_bytes()) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn over(input: &'a [u8]) -> Result<Parser<'a>, JsonError> {
        let text =
            std::str::from_utf8(input).map_err(|e| JsonError { at: e.valid_up_to(), reason: "not UTF-8".into() })?;
        Ok(Parser { s: text.as_bytes(), text, pos: 0 })
    }

    /// Only blanks may follow the value.
    fn end(&mut self) -> Result<(), JsonError> {
        self.ws();
        if self.pos != self.s.len() {
            return Err(self.err("trailing characters after the value"));
        }
        Ok(())
    }

    fn err(&self, reason: &str) -> JsonError {
        JsonError { at: self.pos, reason: reason.to_string() }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(_) => Err(self.err("unexpected character")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn word(&mut self, w: &str, v: Value) -> Result<Value, JsonError> {
        if self.s[self.pos..].starts_with(w.as_bytes()) {
            self.pos += w.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        let mut map = Map::new();
        self.members(depth, |p: &mut Self, key| {
            let v = p.value(depth + 1)?;
            map.insert(key, v);
            Ok::<_, JsonError>(())
        })?;
        Ok(Value::Object(map))
    }

    /// Walks an object's members: `on` gets each key with the parser at its value, which it
    /// must consume.
    fn members<E: From<JsonError>>(
        &mut self,
        depth: usize,
        mut on: impl FnMut(&mut Self, String) -> Result<(), E>,
    ) -> Result<(), E> {
        self.pos += 1; // '{'
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.key(depth + 1)?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':' after object key").into());
            }
            self.pos += 1;
            on(self, key)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}' in object").into()),
            }
        }
    }

    /// An object key as a string: a string as itself, a number as its text, and an object or array
    /// key (a MessageQueue) as its JSON text as written, checked but never built as a tree (a
    /// 10,000-topic refresh reads one per queue).
    fn key(&mut self, depth: usize) -> Result<String, JsonError> {
        let start = self.pos;
        match self.peek() {
            Some(b'{' | b'[') => {
                self.skip(depth)?;
                Ok(self.text[start..self.pos].to_string())
            }
            _ => Ok(match self.value(depth)? {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => other.to_string(),
            }),
        }
    }

    /// Moves past one value, checking it as [`Parser::value`] would, without building it.
    fn skip(&mut self, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        let close = match self.peek() {
            Some(b'{') => b'}',
            Some(b'[') => b']',
            Some(b'"') => return self.skip_string(),
            _ => return self.value(depth).map(drop), // numbers and literals build nothing
        };
        self.pos += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip(depth + 1)?;
            self.ws();
            if close == b'}' {
                if self.peek() != Some(b':') {
                    return Err(self.err("expected ':' after object key"));
                }
                self.pos += 1;
                self.skip(depth + 1)?;
                self.ws();
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or the closing bracket")),
            }
        }
    }

    fn skip_string(&mut self) -> Result<(), JsonError> {
        self.pos += 1; // '"'
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut String::new())?;
                }
                Some(_) => self.pos += 1,
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        let mut items = Vec::new();
        self.elements(|p: &mut Self| {
            items.push(p.value(depth + 1)?);
            Ok::<_, JsonError>(())
        })?;
        Ok(Value::Array(items))
    }

    /// Walks an array's elements: `on` gets the parser at each element, which it must consume
    /// (the array twin of [`Parser::members`]).
    fn elements<E: From<JsonError>>(&mut self, mut on: impl FnMut(&mut Self) -> Result<(), E>) -> Result<(), E> {
        self.pos += 1; // '['
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            on(self)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or ']' in array").into()),
            }
        }
    }

    /// Moves past one value; the members of any object named `field` inside it go to `f` as
    /// their key and text ([`each_member_of_every`]).
    fn visit<E: From<JsonError>>(
        &mut self,
        depth: usize,
        field: &str,
        f: &mut dyn FnMut(String, &'a str) -> Result<(), E>,
    ) -> Result<(), E> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply").into());
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.members(depth, |p: &mut Self, key| {
                p.ws();
                if key == field && p.peek() == Some(b'{') {
                    p.members(depth + 1, |p: &mut Self, row| {
                        let text = p.text_of_value(depth + 2)?;
                        f(row, text)
                    })
                } else {
                    p.visit(depth + 1, field, f)
                }
            }),
            Some(b'[') => self.elements(|p: &mut Self| p.visit(depth + 1, field, f)),
            _ => self.skip(depth).map_err(E::from),
        }
    }

    /// The next value's text as written, checked but not built.
    fn text_of_value(&mut self, depth: usize) -> Result<&'a str, JsonError> {
        self.ws();
        let start = self.pos;
        self.skip(depth)?;
        Ok(&self.text[start..self.pos])
    }

    /// An object of integer keys (bare or quoted) to integer values, as pairs in written order.
    fn int_map(&mut self) -> Result<Vec<(i64, i64)>, JsonError> {
        self.ws();
        if self.peek() != Some(b'{') {
            return Err(self.err("expected an object of integers"));
        }
        let mut pairs = Vec::new();
        self.members(2, |p: &mut Self, key| {
            let key = key.parse().map_err(|_| p.err(&format!("key {key:?} is not an integer")))?;
            p.ws();
            pairs.push((key, p.integer()?));
            Ok::<_, JsonError>(())
        })?;
        Ok(pairs)
    }

    /// A number that must be a whole i64 (no fraction or exponent).
    fn integer(&mut self) -> Result<i64, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        let whole = !matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        // ASCII digits only: slicing the str is on char boundaries.
        let t = &self.text[start..self.pos];
        t.parse()
            .ok()
            .filter(|_| whole)
            .ok_or_else(|| JsonError { at: start, reason: format!("expected an integer at {t:?}") })
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = self.peek() {
            self.pos += 1;
        }
        // The scanned bytes are ASCII, so slicing the str here is on char boundaries.
        let t = &self.text[start..self.pos];
        let n = if let Ok(i) = t.parse::<i64>() {
            Number::from(i)
        } else if let Ok(u) = t.parse::<u64>() {
            Number::from(u)
        } else {
            t.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .ok_or_else(|| JsonError { at: start, reason: format!("invalid number {t:?}") })?
        };
        Ok(Value::Number(n))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            // Stopped at an ASCII byte or the end: a char boundary.
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                _ => return Err(self.err("unterminated string")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let c = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
        self.pos += 1;
        match c {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let hi = self.hex4()?;
                let ch = if (0xD800..0xDC00).contains(&hi) && self.s[self.pos..].starts_with(b"\\u") {
                    let save = self.pos;
                    self.pos += 2;
                    let lo = self.hex4()?;
                    if (0xDC00..0xE000).contains(&lo) {
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                    } else {
                        self.pos = save;
                        None
                    }
                } else {
                    char::from_u32(hi)
                };
                out.push(ch.unwrap_or('\u{FFFD}'));
            }
            _ => return Err(self.err("invalid escape")),
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.s.get(self.pos..self.pos + 4).ok_or_else(|| self.err("short \\u escape"))?;
        let mut v = 0u32;
        for d in digits {
            v = v * 16 + (*d as char).to_digit(16).ok_or_else(|| self.err("bad hex digit in \\u escape"))?;
        }
        self.pos += 4;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The row-by-row reader sees exactly the members the whole-tree parse holds, whatever
    /// surrounds the table, and fails where the whole parse fails.
    #[test]
    fn each_member_of_a_table_equals_the_whole_parse() {
        let body = br#"{"dataVersion":{"counter":3},"offsetTable":{"t@g":{0:5,1:7},"u@h":{}, "v@k" : {3:-1}},"tail":[1,{"x":null}]}"#;
        let whole = parse(body).unwrap();
        let mut rows = Map::new();
        let rest = each_member_of(body, "offsetTable", |k, v| {
            rows.insert(k, v);
            Ok::<_, JsonError>(())
        })
        .unwrap();
        assert_eq!(Value::Object(rows), whole["offsetTable"]);
        assert_eq!(rest.get("dataVersion"), whole.get("dataVersion"));
        assert_eq!(rest.get("tail"), whole.get("tail"));
        assert!(!rest.contains_key("offsetTable"));
        let count = |b: &[u8]| {
            let mut n = 0;
            each_member_of(b, "offsetTable", |_, _| {
                n += 1;
                Ok::<_, JsonError>(())
            })
            .map(|_| n)
        };
        assert_eq!(count(br#"{"offsetTable":null}"#), Ok(0));
        assert_eq!(count(br#"{"other":{"a":1}}"#), Ok(0));
        let bad: [&[u8]; 5] = [
            br#"{"offsetTable":{"t@g":{0:5}"#,
            br#"{"offsetTable":{"t@g":{0:5}}} x"#,
            b"[1]",
            b"\xff",
            br#"{"offsetTable":[1]}"#,
        ];
        for bad in bad {
            assert!(count(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    /// The integer-map reader gives the pairs the whole parse holds (bare and quoted keys, blanks,
    /// negatives) and refuses what is not an integer map.
    #[test]
    fn each_int_map_of_reads_the_pairs_the_whole_parse_holds() {
        let body = br#"{"offsetTable":{"t@g":{0:5,1:7},"u@h":{}, "v@k" : { "3" : -1 }},"dataVersion":{"counter":3}}"#;
        let mut rows = Vec::new();
        let rest = each_int_map_of(body, "offsetTable", |k, v| {
            rows.push((k, v));
            Ok::<_, JsonError>(())
        })
        .unwrap();
        let want =
            vec![("t@g".into(), vec![(0, 5), (1, 7)]), ("u@h".into(), vec![]), ("v@k".to_string(), vec![(3, -1)])];
        assert_eq!(rows, want);
        assert_eq!(rest.get("dataVersion"), parse(body).unwrap().get("dataVersion"));
        let read = |b: &[u8]| each_int_map_of(b, "offsetTable", |_, _| Ok::<_, JsonError>(()));
        for bad in [
            &br#"{"offsetTable":{"t@g":{0:5.5}}}"#[..],
            br#"{"offsetTable":{"t@g":{0:1e3}}}"#,
            br#"{"offsetTable":{"t@g":{"a":1}}}"#,
            br#"{"offsetTable":{"t@g":{0:"1"}}}"#,
            br#"{"offsetTable":{"t@g":[1]}}"#,
            br#"{"offsetTable":{"t@g":{0:}}}"#,
            br#"{"offsetTable":{"t@g":{0:99999999999999999999}}}"#,
        ] {
            assert!(read(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn integer_keys_become_strings() {
        let v = parse(br#"{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"}}"#).unwrap();
        assert_eq!(v, json!({"brokerAddrs": {"0": "127.0.0.1:10911", "1": "127.0.0.1:10921"}}));
    }

    #[test]
    fn object_keys_become_reparseable_text() {
        let v = parse(br#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:{"brokerOffset":5}}}"#).unwrap();
        let table = v["offsetTable"].as_object().unwrap();
        let (k, off) = table.iter().next().unwrap();
        let mq = key_object(k).unwrap();
        assert_eq!(mq["topic"], "t");
        assert_eq!(mq["queueId"], 0);
        assert_eq!(off["brokerOffset"], 5);
    }

    #[test]
    fn object_keys_are_checked_but_kept_as_written() {
        let body = br#"{"t":{{"brokerName":"b \"x\"","queueId":7,"topic":"t","n":[1,{"a":null}]}:1}}"#;
        let mut keys = Vec::new();
        each_member_of(body, "t", |k, _| {
            keys.push(k);
            Ok::<_, JsonError>(())
        })
        .unwrap();
        assert_eq!(keys, [r#"{"brokerName":"b \"x\"","queueId":7,"topic":"t","n":[1,{"a":null}]}"#]);
        assert_eq!(key_object(&keys[0]).unwrap()["queueId"], 7);
        for bad in [&br#"{{"a":1 2}:1}"#[..], br#"{{"a":"\q"}:1}"#, br#"{{"a":1:1}"#, br#"{[1,]:1}"#, br#"{{"a"}:1}"#] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = format!("{{{}:1}}", "[".repeat(MAX_DEPTH + 2));
        assert!(parse(deep.as_bytes()).unwrap_err().reason.contains("deeply"));
    }

    #[test]
    fn standard_json_and_escapes() {
        let v = parse(
            br#" {"a":[1,-2.5,1e3,true,false,null],"s":"x\"\\\/\n\u00e9\ud83d\ude00","big":18446744073709551615} "#,
        )
        .unwrap();
        assert_eq!(v["s"], "x\"\\/\né😀");
        assert_eq!(v["a"][1], -2.5);
        assert_eq!(v["big"], json!(18446744073709551615u64));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\"",
            b"{\"a\":}",
            b"[1,",
            b"\"abc",
            b"\"\\u12",
            b"tru",
            b"{}x",
            b"-",
            b"\xff",
            b"{1 2}",
            b"\"\\q\"",
            b"[1 2]",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(10_000);
        assert!(parse(deep.as_bytes()).unwrap_err().reason.contains("deeply"));
    }

    #[test]
    fn lone_surrogate_becomes_replacement_char() {
        assert_eq!(parse(br#""\ud800x""#).unwrap(), json!("\u{FFFD}x"));
    }
}
