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

/// An object member: its key as it sorts, and where the member (`"key":value`) was written.
type Member<'a> = (std::borrow::Cow<'a, [u8]>, usize, usize);

thread_local! {
    /// Where an object's members are copied while they are put in order.
    static MEMBERS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

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
            // Each member is written as it comes, then the members are put in order of their
            // keys (when they are not already).
            out.push(b'{');
            let first = out.len();
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
                if !members.is_empty() {
                    out.push(b',');
                }
                let start = out.len();
                canonical_string(text, *at, end, escaped, out)?;
                *at = end;
                skip_space(text, at);
                if text.get(*at) != Some(&b':') {
                    return None;
                }
                *at += 1;
                out.push(b':');
                canonical_value(text, at, out)?;
                members.push((key, start, out.len()));
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
            if !members.is_sorted_by(|a, b| a.0 <= b.0) {
                members.sort_by(|a, b| a.0.cmp(&b.0));
                MEMBERS.with_borrow_mut(|written| {
                    written.clear();
                    written.extend_from_slice(&out[first..]);
                    out.truncate(first);
                    for (i, (_, start, end)) in members.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(&written[start - first..end - first]);
                    }
                });
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
            if !is_number(token) {
                return None;
            }
            if token.iter().any(|b| matches!(b, b'e' | b'E')) {
                let number: Value = serde_json::from_slice(token).ok()?;
                serde_json::to_writer(&mut *out, &number).ok()?;
            } else {
                out.extend_from_slice(token);
            }
            Some(())
        }
    }
}

/// Whether `token` is a JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_number(token: &[u8]) -> bool {
    let digits = |at: &mut usize| {
        let start = *at;
        while token.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        *at > start
    };
    let mut at = usize::from(token.first() == Some(&b'-'));
    match token.get(at) {
        Some(b'0') => at += 1,
        Some(b'1'..=b'9') => {
            digits(&mut at);
        }
        _ => return false,
    }
    if token.get(at) == Some(&b'.') {
        at += 1;
        if !digits(&mut at) {
            return false;
        }
    }
    if matches!(token.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(token.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        if !digits(&mut at) {
            return false;
        }
    }
    at == token.len()
}

/// Each member of a canonical JSON object (as [`canonicalize_text`] writes it: no white
/// space): its key as written between the quotes, and where its value starts and ends in
/// `text`. `None` when the text is not such an object.
pub fn members(text: &[u8], mut member: impl FnMut(&[u8], (usize, usize))) -> Option<()> {
    items(text, b'{', b'}', |at| {
        if text.get(at) != Some(&b'"') {
            return None;
        }
        let (key_end, _) = string_end(text, at)?;
        let start = key_end + 1;
        (text.get(key_end) == Some(&b':')).then_some(())?;
        let end = value_end(text, start)?;
        member(&text[at + 1..key_end - 1], (start, end));
        Some(end)
    })
}

/// Where each element of a canonical JSON array starts and ends in `text`. `None` when the
/// text is not such an array.
pub fn elements(text: &[u8], mut element: impl FnMut((usize, usize))) -> Option<()> {
    items(text, b'[', b']', |at| {
        let end = value_end(text, at)?;
        element((at, end));
        Some(end)
    })
}

/// The items of a compact object or array between `open` and `close`, separated by commas:
/// `item` reads the one starting at an offset and returns where it ends.
fn items(text: &[u8], open: u8, close: u8, mut item: impl FnMut(usize) -> Option<usize>) -> Option<()> {
    if text.first() != Some(&open) {
        return None;
    }
    if text.get(1) == Some(&close) {
        return (text.len() == 2).then_some(());
    }
    let mut at = 1;
    loop {
        let end = item(at)?;
        match *text.get(end)? {
            b',' => at = end + 1,
            c if c == close => return (end + 1 == text.len()).then_some(()),
            _ => return None,
        }
    }
}

/// The end (exclusive) of the compact JSON value starting at `start`.
fn value_end(text: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = start;
    loop {
        match *text.get(at)? {
            b'"' => at = string_end(text, at)?.0,
            b'{' | b'[' => {
                depth += 1;
                at += 1;
            }
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                at += 1;
            }
            b',' | b'}' | b']' if depth == 0 => return (at > start).then_some(at),
            _ => at += 1,
        }
        // A string, object or array ends where it closes.
        if depth == 0 && matches!(text[start], b'{' | b'[' | b'"') {
            return Some(at);
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
    fn the_members_of_a_canonical_object_are_found_with_their_values() {
        let mut text = Vec::new();
        canonicalize_text(br#"{"b": [1, {"x": "]}"}], "a": "q\"}", "c": 12.5, "d": {}, "e": null}"#, &mut text)
            .unwrap();
        let mut found = Vec::new();
        members(&text, |key, (start, end)| {
            found.push((
                String::from_utf8_lossy(key).to_string(),
                String::from_utf8_lossy(&text[start..end]).to_string(),
            ))
        })
        .unwrap();
        let expected = [("a", r#""q\"}""#), ("b", r#"[1,{"x":"]}"}]"#), ("c", "12.5"), ("d", "{}"), ("e", "null")];
        assert_eq!(found, expected.map(|(k, v)| (k.to_string(), v.to_string())));
        for bad in [&b"[1]"[..], b"{", b"{\"a\":1", b"{\"a\":1}x", b"\"a\"", b"{\"a\"}", b"{\"a\":}"] {
            assert!(members(bad, |_, _| {}).is_none(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(members(b"{}", |_, _| panic!("no members")).is_some());
    }

    #[test]
    fn the_elements_of_a_canonical_array_are_found() {
        let mut text = Vec::new();
        canonicalize_text(br#"["a,]", [1, 2], {"k": "v"}, 12.50, null, "2020-07-01T10:00:00+00:00"]"#, &mut text)
            .unwrap();
        let mut found = Vec::new();
        elements(&text, |(start, end)| found.push(String::from_utf8_lossy(&text[start..end]).to_string())).unwrap();
        let expected = [r#""a,]""#, "[1,2]", r#"{"k":"v"}"#, "12.50", "null", r#""2020-07-01T10:00:00+00:00""#];
        assert_eq!(found, expected.map(str::to_string));
        for bad in [&b"{}"[..], b"[", b"[1", b"[1,]", b"[1]x", b"1"] {
            assert!(elements(bad, |_| {}).is_none(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(elements(b"[]", |_| panic!("no elements")).is_some());
    }

    #[test]
    fn numbers_are_told_apart_as_serde_json_tells_them() {
        for token in [
            "0",
            "-0",
            "12",
            "-12.50",
            "0.5",
            "1e3",
            "1E-3",
            "2.5e+10",
            "01",
            "-",
            "1.",
            ".5",
            "+1",
            "1e",
            "1e+",
            "--1",
            "1.2.3",
            "0x10",
            "1_000",
            "",
            "NaN",
            "-01.0",
            "9".repeat(40).as_str(),
        ] {
            let by_serde = serde_json::from_str::<Value>(token).is_ok_and(|v| v.is_number());
            assert_eq!(is_number(token.as_bytes()), by_serde, "{token:?}");
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
