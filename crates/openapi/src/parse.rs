//! Bytes → JSON value: JSON when the document looks like JSON, YAML otherwise.

use crate::diag::ImportError;
use serde_json::Value;

/// AWS's limit on an imported (or put) definition: 6 MiB.
pub const MAX_DOCUMENT_BYTES: usize = 6 * 1024 * 1024;

/// Parse bytes as JSON or YAML.
///
/// JSON is YAML, but when the first non-space byte is `{` the document is read with `serde_json`
/// first, so that JSON documents get exact JSON errors; if that fails and the text is still valid
/// YAML (a flow mapping such as `{a: b}`), the YAML value is returned. Documents larger than
/// [`MAX_DOCUMENT_BYTES`] are rejected, as AWS does.
pub fn parse_document(bytes: &[u8]) -> Result<Value, ImportError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ImportError::single(
            "$",
            format!(
                "document is {} bytes; the import limit is {MAX_DOCUMENT_BYTES} bytes (6 MiB)",
                bytes.len()
            ),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ImportError::single(
            "$",
            format!("document is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(ImportError::single("$", "document is empty"));
    }
    if trimmed.starts_with('{') {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => Ok(v),
            Err(json_err) => match parse_yaml(text) {
                Ok(v) => Ok(v),
                Err(_) => Err(json_error(&json_err)),
            },
        }
    } else {
        parse_yaml(text)
    }
}

fn json_error(err: &serde_json::Error) -> ImportError {
    let full = err.to_string();
    // serde_json appends " at line L column C"; the location goes into the diagnostic's path.
    let message = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(m, _)| m);
    let path = if err.line() > 0 {
        format!("line {} column {}", err.line(), err.column())
    } else {
        "$".to_owned()
    };
    ImportError::single(path, format!("invalid JSON: {message}"))
}

fn parse_yaml(text: &str) -> Result<Value, ImportError> {
    // The default node budget (250k) is too small for a 6 MiB definition; keep the other defaults.
    // Aliases, though, may copy and replay at most 16 events per byte of the document (10,000 at
    // least): without that, a few hundred bytes of nested aliases (a "billion laughs") replayed
    // a million events, a second of work, before being refused.
    let alias_events = text.len().saturating_mul(16).clamp(10_000, 1_000_000);
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: 4_000_000,
            max_events: 8_000_000,
            max_recorded_anchor_events: alias_events,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: alias_events,
        },
    };
    serde_saphyr::from_str_with_options::<Value>(text, options).map_err(|e| {
        let path = match e.location() {
            Some(loc) if loc.line() > 0 => format!("line {} column {}", loc.line(), loc.column()),
            _ => "$".to_owned(),
        };
        // The plain message ends with " at line L, column C"; the location goes into the path.
        let full = e.without_snippet().to_string();
        let message = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m);
        ImportError::single(path, format!("invalid YAML: {message}"))
    })
}
