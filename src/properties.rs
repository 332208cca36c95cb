//! Java `.properties` text, read and written exactly as `java.util.Properties` does.
//!
//! The broker reads its `-c` file and every UPDATE_BROKER_CONFIG body with `Properties.load`
//! over ISO-8859-1 bytes, so we do the same: comments (`#`, `!`), `=` / `:` / whitespace
//! separators, backslash escapes and `\uXXXX`, line continuations, trailing spaces kept in
//! values, last duplicate wins. Anything the broker would refuse to load (a malformed `\u`)
//! is an error here too, with its line number.

/// One `key=value` pair and the (1-based) line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: malformed \\uXXXX escape (Java's Properties.load would refuse the whole file)")]
pub struct LoadError {
    pub line: usize,
}

/// Parses properties text as `Properties.load(InputStream)` does: bytes are ISO-8859-1.
/// Entries are returned in file order, duplicates included (the last one wins in Java).
pub fn load(bytes: &[u8]) -> Result<Vec<Entry>, LoadError> {
    let text: Vec<char> = bytes.iter().map(|&b| b as char).collect();
    let mut entries = Vec::new();
    for (line, logical) in logical_lines(&text) {
        let (key, value) = split_key_value(&logical);
        entries.push(Entry { key: unescape(key, line)?, value: unescape(value, line)?, line });
    }
    Ok(entries)
}

/// Natural lines joined into logical ones: comments and blank lines dropped, leading
/// whitespace skipped, an odd number of trailing backslashes continues onto the next line.
fn logical_lines(text: &[char]) -> Vec<(usize, Vec<char>)> {
    let natural = natural_lines(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < natural.len() {
        let start_line = i + 1;
        let mut line = trim_start(natural[i]).to_vec();
        i += 1;
        if line.is_empty() || line[0] == '#' || line[0] == '!' {
            continue;
        }
        while ends_with_odd_backslashes(&line) {
            line.pop();
            let Some(next) = natural.get(i) else { break };
            line.extend_from_slice(trim_start(next));
            i += 1;
        }
        out.push((start_line, line));
    }
    out
}

/// Splits on `\n`, `\r` or `\r\n`, terminators removed.
fn natural_lines(text: &[char]) -> Vec<&[char]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        if text[i] == '\n' || text[i] == '\r' {
            lines.push(&text[start..i]);
            if text[i] == '\r' && text.get(i + 1) == Some(&'\n') {
                i += 1;
            }
            start = i + 1;
        }
        i += 1;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

fn trim_start(s: &[char]) -> &[char] {
    let n = s.iter().take_while(|&&c| is_blank(c)).count();
    &s[n..]
}

fn ends_with_odd_backslashes(s: &[char]) -> bool {
    s.iter().rev().take_while(|&&c| c == '\\').count() % 2 == 1
}

/// The key ends at the first unescaped `=`, `:` or blank; one separator and the blanks
/// around it are skipped; the value is the rest, trailing blanks included.
fn split_key_value(line: &[char]) -> (&[char], &[char]) {
    let mut key_len = 0;
    let mut value_start = line.len();
    let mut has_sep = false;
    let mut escaped = false;
    while key_len < line.len() {
        let c = line[key_len];
        if !escaped && (c == '=' || c == ':') {
            value_start = key_len + 1;
            has_sep = true;
            break;
        }
        if !escaped && is_blank(c) {
            value_start = key_len + 1;
            break;
        }
        escaped = c == '\\' && !escaped;
        key_len += 1;
    }
    while value_start < line.len() {
        let c = line[value_start];
        if !is_blank(c) {
            if !has_sep && (c == '=' || c == ':') {
                has_sep = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    (&line[..key_len], &line[value_start.min(line.len())..])
}

fn unescape(s: &[char], line: usize) -> Result<String, LoadError> {
    let mut out = String::with_capacity(s.len());
    let mut units: Vec<u16> = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != '\\' || i == s.len() {
            flush_utf16(&mut units, &mut out);
            if c != '\\' {
                out.push(c);
            }
            continue;
        }
        let e = s[i];
        i += 1;
        if e == 'u' {
            let hex: String = s.get(i..i + 4).ok_or(LoadError { line })?.iter().collect();
            let unit = u16::from_str_radix(&hex, 16).map_err(|_| LoadError { line })?;
            if hex.starts_with('+') {
                return Err(LoadError { line });
            }
            units.push(unit);
            i += 4;
            continue;
        }
        flush_utf16(&mut units, &mut out);
        out.push(match e {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\u{c}',
            other => other,
        });
    }
    flush_utf16(&mut units, &mut out);
    Ok(out)
}

/// `\uXXXX` escapes are UTF-16 code units; pairs form one character, a lone surrogate
/// becomes U+FFFD (Java would keep it; Rust strings cannot).
fn flush_utf16(units: &mut Vec<u16>, out: &mut String) {
    if !units.is_empty() {
        out.extend(char::decode_utf16(units.drain(..)).map(|r| r.unwrap_or('\u{FFFD}')));
    }
}

/// Writes one `key=value` line that `Properties.load` reads back as exactly this pair
/// (the escaping of `Properties.store`; non-ASCII as `\uXXXX`).
pub fn store_line(key: &str, value: &str, out: &mut String) {
    escape(key, true, out);
    out.push('=');
    escape(value, false, out);
    out.push('\n');
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

    fn pairs(text: &str) -> Vec<(String, String)> {
        load(text.as_bytes()).unwrap().into_iter().map(|e| (e.key, e.value)).collect()
    }

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn separators_comments_and_blanks() {
        let got = pairs("# c\n! c\n\n  a=1\nb:2\nc 3\nd = 4 \ne\t:\t5\nf\ng=\n");
        assert_eq!(got, [p("a", "1"), p("b", "2"), p("c", "3"), p("d", "4 "), p("e", "5"), p("f", ""), p("g", "")]);
    }

    #[test]
    fn escapes_and_continuations() {
        let got = pairs("k\\ ey=v\\=a\\:b\\tc\\u00e9\\\\\nlong=one, \\\n    two\\\r\n three\nx=\\uD83D\\uDE00\n");
        assert_eq!(got, [p("k ey", "v=a:b\tcé\\"), p("long", "one, twothree"), p("x", "😀")]);
    }

    #[test]
    fn line_numbers_and_crlf() {
        let entries = load(b"a=1\r\n\r\n# x\r\nb=2\rc=3\n").unwrap();
        let lines: Vec<_> = entries.iter().map(|e| (e.key.as_str(), e.line)).collect();
        assert_eq!(lines, [("a", 1), ("b", 4), ("c", 5)]);
    }

    #[test]
    fn latin1_bytes_and_bad_unicode_escape() {
        assert_eq!(load(b"k=\xe9").unwrap()[0].value, "é");
        assert_eq!(load(b"a=1\nk=\\u12G4\n"), Err(LoadError { line: 2 }));
        assert_eq!(load(b"k=\\u12"), Err(LoadError { line: 1 }));
    }

    #[test]
    fn comment_line_does_not_continue() {
        assert_eq!(pairs("# comment \\\na=1\n"), [p("a", "1")]);
    }

    #[test]
    fn store_then_load_round_trips() {
        let mut text = String::new();
        let tricky = [(" a:b", " lead=x:y#!\\ é😀\n\t"), ("plain", "1s 5s"), ("empty", "")];
        for (k, v) in tricky {
            store_line(k, v, &mut text);
        }
        let got = pairs(&text);
        let want: Vec<_> = tricky.iter().map(|(k, v)| p(k, v)).collect();
        assert_eq!(got, want);
    }
}
