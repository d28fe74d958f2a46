//! Local `$ref` resolution (`#/components/parameters/X`, `#/parameters/X`, …).

use serde_json::Value;

/// The longest chain of `$ref`s followed before giving up.
pub(crate) const MAX_REF_DEPTH: usize = 10;

/// Follows `$ref` members from `value` until a value without `$ref` is reached.
///
/// Only document-local references (`#/…` JSON pointers) are supported. Cycles, chains longer
/// than [`MAX_REF_DEPTH`], external and dangling references are errors (the message names the
/// reference).
pub(crate) fn resolve<'a>(doc: &'a Value, value: &'a Value) -> Result<&'a Value, String> {
    let mut current = value;
    let mut seen: Vec<&'a str> = Vec::new();
    loop {
        let Some(reference) = current.get("$ref") else {
            return Ok(current);
        };
        let Some(reference) = reference.as_str() else {
            return Err("$ref must be a string".to_owned());
        };
        if seen.contains(&reference) {
            seen.push(reference);
            return Err(format!("circular $ref: {}", seen.join(" -> ")));
        }
        if seen.len() >= MAX_REF_DEPTH {
            return Err(format!(
                "$ref chain is deeper than {MAX_REF_DEPTH} at '{reference}'"
            ));
        }
        seen.push(reference);
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(format!(
                "external $ref '{reference}' is not supported; only references within the document (#/...)"
            ));
        };
        current = doc
            .pointer(pointer)
            .ok_or_else(|| format!("unresolvable $ref '{reference}'"))?;
    }
}
