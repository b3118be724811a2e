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
