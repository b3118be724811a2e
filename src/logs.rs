//! The service's log: text for people (the default) or, with `GRANTS_LOG_FORMAT=json`, one JSON
//! object per line for a log collector. Either way each line written while a request is served
//! carries the request's id ([`crate::request_id`]). Nothing logged holds a token, a secret or a
//! personal field: the access line names the client's address, the method, the path without
//! its query, the status and the time; errors are logged by their cause, never by a request's
//! body or headers.

use std::io::Write;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    /// Reads `GRANTS_LOG_FORMAT` (unset or blank: text).
    pub fn parse(text: Option<&str>) -> Result<Format, String> {
        match text.map(str::trim).unwrap_or("") {
            "" | "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            other => Err(format!("GRANTS_LOG_FORMAT must be text or json, not {other:?}")),
        }
    }
}

/// One line, without its newline.
pub fn line(
    format: Format,
    at: &str,
    level: log::Level,
    target: &str,
    request_id: Option<&str>,
    message: &str,
) -> String {
    match format {
        Format::Json => serde_json::json!({
            "time": at,
            "level": level.as_str(),
            "target": target,
            "request_id": request_id,
            "message": message,
        })
        .to_string(),
        Format::Text => {
            // One record, one line: a message's own line breaks are written as `\n`.
            let message = message.replace('\n', "\\n");
            match request_id {
                Some(id) => format!("[{at} {level} {target}] [{id}] {message}"),
                None => format!("[{at} {level} {target}] {message}"),
            }
        }
    }
}

/// Starts the log (`RUST_LOG` filters it; `info` by default, actix's server chatter at `warn`).
pub fn init(format: Format) {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info,actix_server=warn"))
        .format(move |buf, record| {
            let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let id = crate::request_id::current();
            let message = record.args().to_string();
            writeln!(buf, "{}", line(format, &at, record.level(), record.target(), id.as_deref(), &message))
        })
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_one_object_each_with_the_request_id() {
        let text =
            line(Format::Json, "2026-12-05T21:00:00.000Z", log::Level::Info, "access", Some("r-1"), "a \"b\"\nc");
        assert!(!text.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["request_id"], "r-1");
        assert_eq!(value["message"], "a \"b\"\nc");
        assert_eq!((value["level"].as_str(), value["target"].as_str()), (Some("INFO"), Some("access")));
        let none = line(Format::Json, "t", log::Level::Warn, "grants", None, "m");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&none).unwrap()["request_id"], serde_json::Value::Null);
    }

    #[test]
    fn text_lines_name_the_request_and_stay_one_line() {
        assert_eq!(
            line(Format::Text, "t", log::Level::Info, "access", Some("r-1"), "GET /x"),
            "[t INFO access] [r-1] GET /x"
        );
        assert_eq!(line(Format::Text, "t", log::Level::Error, "grants", None, "a\nb"), "[t ERROR grants] a\\nb");
    }

    #[test]
    fn the_format_is_text_or_json() {
        assert_eq!(Format::parse(None), Ok(Format::Text));
        assert_eq!(Format::parse(Some(" json ")), Ok(Format::Json));
        assert_eq!(Format::parse(Some("")), Ok(Format::Text));
        assert!(Format::parse(Some("xml")).unwrap_err().contains("GRANTS_LOG_FORMAT"));
    }
}
