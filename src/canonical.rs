//! Canonical JSON: compact, with object keys sorted at every depth. The audit chain hashes it,
//! and idempotency compares request bodies by it.

use serde_json::Value;

/// Writes a JSON string with serde_json's escaping.
pub fn write_str(text: &str, out: &mut Vec<u8>) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Compact JSON with object keys sorted, whatever order the map keeps them in.
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                write_value(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::String(text) => write_str(text, out),
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

/// Compact JSON with object keys sorted, as text.
pub fn write_canonical(value: &Value, out: &mut String) {
    let mut bytes = Vec::new();
    write_value(value, &mut bytes);
    out.push_str(&String::from_utf8_lossy(&bytes));
}

/// Rewrites JSON text (PostgreSQL's `jsonb` output, say) as the canonical JSON [`write_value`]
/// would write for the same value, without building the value: object members sorted by key,
/// no white space, strings and numbers as written unless a string holds an escape (then it is
/// decoded and written again). About three times faster than parsing into a `Value` first, which
/// is what verifying a million events needs. `None` if the text is not JSON.
pub fn canonicalize_text(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let mut at = 0;
    canonical_value(text, &mut at, out)?;
    skip_space(text, &mut at);
    (at == text.len()).then_some(())
}

fn skip_space(text: &[u8], at: &mut usize) {
    while *at < text.len() && matches!(text[*at], b' ' | b'\n' | b'\r' | b'\t') {
        *at += 1;
    }
}

/// The end (exclusive) of the string starting at `start` (its opening quote), and whether it
/// holds an escape.
fn string_end(text: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut i = start + 1;
    let mut escaped = false;
    while i < text.len() {
        match text[i] {
            b'"' => return Some((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => i += 1,
        }
    }
    None
}

/// Writes the string `text[start..end]` canonically.
fn canonical_string(text: &[u8], start: usize, end: usize, escaped: bool, out: &mut Vec<u8>) -> Option<()> {
    if escaped {
        let decoded: String = serde_json::from_slice(&text[start..end]).ok()?;
        write_str(&decoded, out);
    } else {
        out.extend_from_slice(&text[start..end]);
    }
    Some(())
}

/// An object member: its key as it sorts, the key's range in the text and whether it holds an
/// escape, and the value's canonical bytes.
type Member<'a> = (std::borrow::Cow<'a, [u8]>, (usize, usize, bool), Vec<u8>);

fn canonical_value(text: &[u8], at: &mut usize, out: &mut Vec<u8>) -> Option<()> {
    skip_space(text, at);
    match *text.get(*at)? {
        b'{' => {
            *at += 1;
            let mut members: Vec<Member<'_>> = Vec::new();
            skip_space(text, at);
            if text.get(*at) == Some(&b'}') {
                *at += 1;
                out.extend_from_slice(b"{}");
                return Some(());
            }
            loop {
                skip_space(text, at);
                if text.get(*at) != Some(&b'"') {
                    return None;
                }
                let (end, escaped) = string_end(text, *at)?;
                let key: std::borrow::Cow<'_, [u8]> = if escaped {
                    let decoded: String = serde_json::from_slice(&text[*at..end]).ok()?;
                    std::borrow::Cow::Owned(decoded.into_bytes())
                } else {
                    std::borrow::Cow::Borrowed(&text[*at + 1..end - 1])
                };
                let range = (*at, end, escaped);
                *at = end;
                skip_space(text, at);
                if text.get(*at) != Some(&b':') {
                    return None;
                }
                *at += 1;
                let mut value = Vec::new();
                canonical_value(text, at, &mut value)?;
                members.push((key, range, value));
                skip_space(text, at);
                match text.get(*at)? {
                    b',' => *at += 1,
                    b'}' => {
                        *at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
            members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            out.push(b'{');
            for (i, (_, (start, end, escaped), value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_string(text, *start, *end, *escaped, out)?;
                out.push(b':');
                out.extend_from_slice(value);
            }
            out.push(b'}');
            Some(())
        }
        b'[' => {
            *at += 1;
            out.push(b'[');
            skip_space(text, at);
            if text.get(*at) == Some(&b']') {
                *at += 1;
                out.push(b']');
                return Some(());
            }
            let mut first = true;
            loop {
                if !first {
                    out.push(b',');
                }
                first = false;
                canonical_value(text, at, out)?;
                skip_space(text, at);
                match text.get(*at)? {
                    b',' => *at += 1,
                    b']' => {
                        *at += 1;
                        out.push(b']');
                        return Some(());
                    }
                    _ => return None,
                }
            }
        }
        b'"' => {
            let (end, escaped) = string_end(text, *at)?;
            canonical_string(text, *at, end, escaped, out)?;
            *at = end;
            Some(())
        }
        _ => {
            // A number, true, false or null: written as it stands.
            let start = *at;
            while *at < text.len() && !matches!(text[*at], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                *at += 1;
            }
            let token = &text[start..*at];
            if matches!(token, b"true" | b"false" | b"null") {
                out.extend_from_slice(token);
                return Some(());
            }
            // A number: serde_json writes an exponent its own way (1e3 as 1e+3), so one with an
            // exponent goes through it; PostgreSQL writes none.
            let number: Value = serde_json::from_slice(token).ok()?;
            if !number.is_number() {
                return None;
            }
            if token.iter().any(|b| matches!(b, b'e' | b'E')) {
                serde_json::to_writer(&mut *out, &number).ok()?;
            } else {
                out.extend_from_slice(token);
            }
            Some(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(text: &str) -> (String, String) {
        let value: Value = serde_json::from_str(text).unwrap();
        let mut expected = Vec::new();
        write_value(&value, &mut expected);
        let mut got = Vec::new();
        canonicalize_text(text.as_bytes(), &mut got).unwrap();
        (String::from_utf8(got).unwrap(), String::from_utf8(expected).unwrap())
    }

    #[test]
    fn text_canonicalizes_exactly_as_the_value_does() {
        for text in [
            r#"{"b": 1, "a": {"y": "2", "x": [1, {"k": true, "j": null}]}}"#,
            r#"{"amount": "45000.00", "target": 12.50, "n": -3, "e": 1e3, "list": [], "o": {}}"#,
            r#"{"title": "Quote \" and \\ and \n and \u0001 and é and \u00e9", "é": 1, "e": 2, "z\"": 3}"#,
            r#"{"lines": [{"status": "on_track", "activity_id": "0190-x", "output_value": 9, "commentary": "ok"}]}"#,
            r#"{"long key first": 1, "k": 2, "ab": 3, "b": 4, "a": 5}"#,
            r#"  [ "x" , 2 , null , false ]  "#,
            r#""just a string""#,
        ] {
            let (got, expected) = both(text);
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn text_that_is_not_json_is_refused() {
        for text in
            [r#"{"a": }"#, r#"{"a" 1}"#, r#"{"a": 1"#, r#"[1, 2"#, r#"{"a": nul}"#, r#"{"a": 1} x"#, r#"{"a": "x}"#]
        {
            assert!(canonicalize_text(text.as_bytes(), &mut Vec::new()).is_none(), "{text}");
        }
    }
}
