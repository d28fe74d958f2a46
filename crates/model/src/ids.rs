//! Identifier formats as AWS issues them.

use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn random_id(len: usize) -> String {
    (0..len)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

/// A REST API id: 10 lowercase alphanumerics (e.g. `a1b2c3d4e5`).
pub fn new_rest_api_id() -> String {
    random_id(10)
}

/// A resource id: 6 lowercase alphanumerics.
pub fn new_resource_id() -> String {
    random_id(6)
}

/// A deployment id: 6 lowercase alphanumerics.
pub fn new_deployment_id() -> String {
    random_id(6)
}

/// Seconds since the Unix epoch: AWS's timestamp format on the management wire.
pub fn now_epoch_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_formats() {
        let id = new_rest_api_id();
        assert_eq!(id.len(), 10);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(new_resource_id().len(), 6);
        assert_eq!(new_deployment_id().len(), 6);
        assert_ne!(new_rest_api_id(), new_rest_api_id());
    }
}
