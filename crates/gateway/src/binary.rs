//! Binary payloads in non-proxy integrations: the API's `binaryMediaTypes` decide whether a
//! payload is binary, and `contentHandling` converts between binary and base64 text
//! (`CONVERT_TO_TEXT` encodes binary payloads, `CONVERT_TO_BINARY` decodes text ones). Unset
//! means pass through.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The API's binary media types (`image/png`, `image/*`, `*/*`).
#[derive(Debug, Clone, Default)]
pub struct BinaryTypes {
    types: Vec<(String, String)>,
}

impl BinaryTypes {
    /// From `binaryMediaTypes` (`~1` is the JSON-Patch escape of `/`).
    pub fn new(types: &[String]) -> Self {
        Self {
            types: types
                .iter()
                .filter_map(|t| {
                    let t = t.replace("~1", "/").to_ascii_lowercase();
                    let (a, b) = t.trim().split_once('/')?;
                    Some((a.trim().to_owned(), b.trim().to_owned()))
                })
                .collect(),
        }
    }

    /// Whether a `Content-Type` (or one `Accept` entry) names a binary type.
    pub fn matches(&self, content_type: Option<&str>) -> bool {
        let Some(ct) = content_type else {
            return false;
        };
        let media = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let Some((a, b)) = media.split_once('/') else {
            return false;
        };
        self.types
            .iter()
            .any(|(ta, tb)| (ta == "*" || ta == a) && (tb == "*" || tb == b))
    }

    /// Whether none are configured.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }
}

/// `contentHandling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentHandling {
    /// Binary payloads become base64 text.
    ConvertToText,
    /// Text payloads are base64-decoded into binary.
    ConvertToBinary,
}

impl ContentHandling {
    /// From the stored value; anything else (unset) is passthrough.
    pub fn parse(v: Option<&str>) -> Option<Self> {
        match v? {
            "CONVERT_TO_TEXT" => Some(Self::ConvertToText),
            "CONVERT_TO_BINARY" => Some(Self::ConvertToBinary),
            _ => None,
        }
    }

    /// Converts a payload; `binary` says whether its content type is a binary media type.
    /// `Err` when text that must be decoded is not base64.
    pub fn convert(self, payload: bytes::Bytes, binary: bool) -> Result<bytes::Bytes, String> {
        match (self, binary) {
            (Self::ConvertToText, true) => Ok(bytes::Bytes::from(STANDARD.encode(&payload))),
            (Self::ConvertToBinary, false) => {
                let text: Vec<u8> = payload
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                STANDARD
                    .decode(&text)
                    .map(bytes::Bytes::from)
                    .map_err(|e| format!("Unable to base64-decode the payload: {e}"))
            }
            _ => Ok(payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_and_conversions() {
        let t = BinaryTypes::new(&["image/*".into(), "application~1octet-stream".into()]);
        assert!(t.matches(Some("image/png")));
        assert!(t.matches(Some("Application/Octet-Stream; x=1")));
        assert!(!t.matches(Some("application/json")));
        assert!(!t.matches(None));
        assert!(BinaryTypes::new(&["*/*".into()]).matches(Some("text/plain")));
        let raw = bytes::Bytes::from_static(&[0, 159, 146, 150]);
        let text = ContentHandling::ConvertToText
            .convert(raw.clone(), true)
            .unwrap();
        assert_eq!(text, "AJ+Slg==");
        assert_eq!(
            ContentHandling::ConvertToBinary
                .convert(text, false)
                .unwrap(),
            raw
        );
        assert!(
            ContentHandling::ConvertToBinary
                .convert(bytes::Bytes::from_static(b"not base64!"), false)
                .is_err()
        );
        // Already in the wanted form: unchanged.
        assert_eq!(
            ContentHandling::ConvertToText
                .convert(bytes::Bytes::from_static(b"hi"), false)
                .unwrap(),
            "hi"
        );
    }
}
