//! API keys, usage plan keys and usage: the rules on one key, one CSV file or one membership at a
//! time. An account may hold millions of keys, so the store keeps them in their own tables and
//! applies these rules to the rows a command touches, never to the whole set.

use crate::ControlError;
use crate::account::{Usage, day_string, parse_day};
use crate::patch::PatchOperation;
use portico_model::{ApiKey, Map, UsagePlan, new_rest_api_id, now_epoch_seconds};
use serde::Deserialize;

/// `CreateApiKey` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiKeyInput {
    /// Name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Enabled (default false, as AWS).
    pub enabled: Option<bool>,
    /// Ignored (ids are always distinct).
    pub generate_distinct_id: Option<bool>,
    /// The key; generated when absent.
    pub value: Option<String>,
    /// Deprecated stage keys.
    pub stage_keys: Option<Vec<StageKey>>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Tags.
    pub tags: Option<Map<String>>,
}

/// `{restApiId, stageName}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageKey {
    /// API id.
    pub rest_api_id: Option<String>,
    /// Stage.
    pub stage_name: Option<String>,
}

pub fn invalid_key() -> ControlError {
    ControlError::not_found("Invalid API Key identifier specified")
}

/// 40 characters of `[A-Za-z0-9]` from the operating system's CSPRNG (rejection sampling, no
/// modulo bias). API keys are secrets: never from a non-cryptographic generator.
fn random_value() -> Result<String, ControlError> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(40);
    let mut buf = [0u8; 64];
    while out.len() < 40 {
        getrandom::fill(&mut buf).map_err(|_| {
            ControlError::bad_request("cannot generate an API key value: no system randomness")
        })?;
        for b in buf {
            if b < 248 && out.len() < 40 {
                out.push(char::from(A[(b % 62) as usize]));
            }
        }
    }
    Ok(out)
}

/// An API key's description is at most 125000 characters.
fn check_key_description(d: Option<&str>) -> Result<(), ControlError> {
    if d.is_some_and(|d| d.chars().count() > 125_000) {
        return Err(ControlError::bad_request(
            "Invalid API Key description specified.",
        ));
    }
    Ok(())
}

/// The value another key already has.
pub fn duplicate_value() -> ControlError {
    ControlError::conflict("API Key already exists")
}

fn check_name(name: Option<&str>) -> Result<(), ControlError> {
    if name.is_some_and(|n| n.chars().count() > 1024) {
        return Err(ControlError::bad_request(
            "Invalid API Key name, can be at most 1024 characters.",
        ));
    }
    Ok(())
}

fn check_value(v: &str) -> Result<(), ControlError> {
    let n = v.chars().count();
    if n < 20 {
        return Err(ControlError::bad_request(
            "API Key value should be at least 20 characters",
        ));
    }
    if n > 128 {
        return Err(ControlError::bad_request(
            "API Key value exceeds maximum size of 128 characters",
        ));
    }
    Ok(())
}

/// `CreateApiKey`: validates the input and builds the key with a fresh id and, when none is
/// given, a random value. Whether the value is free is the store's question
/// ([`duplicate_value`]).
pub fn new_api_key(input: CreateApiKeyInput) -> Result<ApiKey, ControlError> {
    check_name(input.name.as_deref())?;
    // An empty value or name is as good as none.
    let value = match input.value.filter(|v| !v.is_empty()) {
        Some(v) => {
            check_value(&v)?;
            v
        }
        None => random_value()?,
    };
    check_key_description(input.description.as_deref())?;
    let now = now_epoch_seconds();
    let stage_keys = input
        .stage_keys
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            format!(
                "{}/{}",
                s.rest_api_id.unwrap_or_default(),
                s.stage_name.unwrap_or_default()
            )
        })
        .collect();
    Ok(ApiKey {
        id: new_rest_api_id(),
        value: Some(value),
        name: input.name.filter(|n| !n.is_empty()),
        customer_id: input.customer_id,
        description: input.description,
        enabled: input.enabled.unwrap_or(false),
        created_date: now,
        last_updated_date: now,
        stage_keys,
        tags: input.tags.unwrap_or_default(),
    })
}

/// `UpdateApiKey`: applies `ops` to `key` (all or nothing) and returns the answer, which never
/// carries the value.
pub fn update_api_key(key: &mut ApiKey, ops: &[PatchOperation]) -> Result<ApiKey, ControlError> {
    let mut k = key.clone();
    for o in ops {
        let value = o.value.clone();
        match (o.op.as_str(), o.path.as_str()) {
            ("replace", "/name") => k.name = value,
            ("replace", "/description") => {
                check_key_description(value.as_deref())?;
                k.description = value
            }
            ("replace", "/customerId") => k.customer_id = value,
            // AWS reads the value as Java's Boolean.parseBoolean does: anything but
            // "true" (any case) is false, and no error.
            ("replace", "/enabled") => {
                k.enabled = value
                    .as_deref()
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            }
            ("add", "/stages") => {
                if let Some(v) = value
                    && !k.stage_keys.contains(&v)
                {
                    k.stage_keys.push(v);
                }
            }
            ("remove", "/stages") => {
                let v = value.unwrap_or_default();
                k.stage_keys.retain(|s| *s != v);
            }
            ("replace", _) => {
                return Err(crate::patch::invalid_path(
                    o,
                    &["/description", "/enabled", "/name", "/customerId"],
                ));
            }
            ("add" | "remove", _) => return Err(crate::patch::unsupported_op(o)),
            _ => {
                return Err(crate::patch::invalid_op());
            }
        }
    }
    k.last_updated_date = now_epoch_seconds();
    *key = k.clone();
    k.value = None;
    Ok(k)
}

/// One key of an `ImportApiKeys` file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedKey {
    /// The file's line number (1 is the header).
    pub line: usize,
    /// The key, with a fresh id; a key whose value is already stored keeps its stored id.
    pub key: ApiKey,
    /// The usage plans to add the key to.
    pub usage_plan_ids: Vec<String>,
}

/// A parsed `ImportApiKeys` file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyImport {
    /// The keys, one per distinct value, in file order (a value given twice: the last line wins,
    /// as AWS overwrites a key imported again).
    pub keys: Vec<ImportedKey>,
    /// What was ignored.
    pub warnings: Vec<String>,
}

fn malformed(line: usize, why: impl std::fmt::Display) -> ControlError {
    ControlError::bad_request(format!("Invalid API keys file, line {line}: {why}"))
}

/// Splits one CSV line. Fields may be quoted with `"` or `'` (AWS's docs quote a usage plan id
/// list either way); a doubled quote inside a quoted field is one quote character.
fn split_csv_line(line: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut cell = String::new();
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.peek().copied() {
            Some(q @ ('"' | '\'')) => {
                chars.next();
                loop {
                    match chars.next() {
                        Some(c) if c == q => {
                            if chars.peek() == Some(&q) {
                                chars.next();
                                cell.push(q);
                            } else {
                                break;
                            }
                        }
                        Some(c) => cell.push(c),
                        None => return Err("unterminated quoted field"),
                    }
                }
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
                match chars.next() {
                    None => {
                        out.push(cell);
                        return Ok(out);
                    }
                    Some(',') => out.push(cell),
                    Some(_) => return Err("text after a quoted field"),
                }
            }
            _ => loop {
                match chars.next() {
                    None => {
                        out.push(cell.trim_end().to_owned());
                        return Ok(out);
                    }
                    Some(',') => {
                        out.push(cell.trim_end().to_owned());
                        break;
                    }
                    Some('"') => return Err("a quote inside an unquoted field"),
                    Some(c) => cell.push(c),
                }
            },
        }
    }
}

/// `ImportApiKeys` (`format=csv`), AWS's API key file format: a header naming the columns
/// (`Name` and `Key` required; `Description`, `Enabled`, `UsagePlanIds` optional; any case, any
/// order; other columns ignored with a warning), then one key per line. `Enabled` defaults to
/// true. A malformed line or an invalid key refuses the whole file; with `fail_on_warnings` so
/// does any warning.
pub fn parse_api_keys_csv(csv: &str, fail_on_warnings: bool) -> Result<KeyImport, ControlError> {
    let mut lines = csv
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| ControlError::bad_request("Invalid API keys file: the file is empty"))?;
    let header: Vec<String> = split_csv_line(header)
        .map_err(|e| malformed(1, e))?
        .into_iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(key_col), Some(name_col)) = (col("key"), col("name")) else {
        return Err(ControlError::bad_request(
            "Invalid API keys file: the header must name a 'Name' and a 'Key' column",
        ));
    };
    let (desc_col, enabled_col, plans_col) =
        (col("description"), col("enabled"), col("usageplanids"));
    let mut warnings: Vec<String> = header
        .iter()
        .filter(|h| {
            !matches!(
                h.as_str(),
                "key" | "name" | "description" | "enabled" | "usageplanids"
            )
        })
        .map(|h| format!("Unrecognized column '{h}' ignored"))
        .collect();
    let now = now_epoch_seconds();
    let mut keys: Vec<ImportedKey> = Vec::new();
    let mut by_value: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (n, line) in lines {
        let cells = split_csv_line(line).map_err(|e| malformed(n, e))?;
        if cells.len() != header.len() {
            warnings.push(format!(
                "line {n}: {} fields where the header has {}",
                cells.len(),
                header.len()
            ));
        }
        let get = |c: Option<usize>| {
            c.and_then(|i| cells.get(i))
                .map(|s| s.as_str())
                .filter(|s| !s.is_empty())
        };
        let value = get(Some(key_col)).ok_or_else(|| malformed(n, "the key is empty"))?;
        check_value(value).map_err(|e| malformed(n, e.message))?;
        let name = get(Some(name_col));
        check_name(name).map_err(|e| malformed(n, e.message))?;
        let description = get(desc_col);
        check_key_description(description).map_err(|e| malformed(n, e.message))?;
        let enabled = match get(enabled_col) {
            None => true,
            Some(e) if e.eq_ignore_ascii_case("true") => true,
            Some(e) if e.eq_ignore_ascii_case("false") => false,
            Some(e) => return Err(malformed(n, format!("invalid Enabled value '{e}'"))),
        };
        let usage_plan_ids = get(plans_col)
            .map(|p| {
                p.split([',', ';', '|'])
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let imported = ImportedKey {
            line: n,
            key: ApiKey {
                id: new_rest_api_id(),
                value: Some(value.to_owned()),
                name: name.map(str::to_owned),
                customer_id: None,
                description: description.map(str::to_owned),
                enabled,
                created_date: now,
                last_updated_date: now,
                stage_keys: Vec::new(),
                tags: Map::new(),
            },
            usage_plan_ids,
        };
        match by_value.get(value) {
            Some(&i) => {
                let id = std::mem::take(&mut keys[i].key.id);
                keys[i] = imported;
                keys[i].key.id = id;
            }
            None => {
                by_value.insert(value.to_owned(), keys.len());
                keys.push(imported);
            }
        }
    }
    if fail_on_warnings && !warnings.is_empty() {
        return Err(ControlError::bad_request(format!(
            "Warnings found during import:\n\t{}",
            warnings.join("\n\t")
        )));
    }
    Ok(KeyImport { keys, warnings })
}

/// `UpdateUsage`: `replace /remaining` grants the key that many remaining requests for the
/// current quota period. Returns the grant.
pub fn remaining_from_patch(ops: &[PatchOperation]) -> Result<i64, ControlError> {
    let mut granted = None;
    for o in ops {
        match (o.op.as_str(), o.path.as_str()) {
            ("replace", "/remaining") => {
                let n: i64 = o
                    .value
                    .as_deref()
                    .unwrap_or("")
                    .parse()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| {
                        ControlError::bad_request(
                            "Invalid remaining value: must be a non-negative integer",
                        )
                    })?;
                granted = Some(n);
            }
            _ => return Err(crate::patch::invalid_path(o, &["/remaining"])),
        }
    }
    granted.ok_or_else(|| ControlError::bad_request("Invalid patch: /remaining is required"))
}

/// The days of a `GetUsage` period, first to last: `end` not before `start`, at most 90 days
/// apart.
pub fn usage_days(start: &str, end: &str) -> Result<Vec<String>, ControlError> {
    let (from, to) = (parse_day(start)?, parse_day(end)?);
    if to < from {
        return Err(ControlError::bad_request(
            "The end date must not be before the start date",
        ));
    }
    if (to - from).whole_days() > 90 {
        return Err(ControlError::bad_request(
            "The usage period cannot exceed 90 days",
        ));
    }
    let mut days = Vec::new();
    let mut d = from;
    loop {
        days.push(day_string(d));
        match d.next_day() {
            Some(n) if n <= to => d = n,
            _ => break,
        }
    }
    Ok(days)
}

/// Today (UTC) as `YYYY-MM-DD`, the day usage counters are kept under.
pub fn today() -> String {
    day_string(time::OffsetDateTime::now_utc().date())
}

/// `GetUsage`'s answer for `keys` of `plan` over `days` (from [`usage_days`]): per key one
/// `[used, remaining]` pair per day. `counts` are the stored counters `(key, day, used)` of those
/// days; `remaining` is the plan's quota minus what was used so far in the period (0 when the
/// plan has no quota), or the key's `UpdateUsage` grant from `granted` `(key, remaining)`.
pub fn usage_report(
    plan: &UsagePlan,
    keys: &[String],
    days: &[String],
    counts: &[(String, String, i64)],
    granted: &[(String, i64)],
) -> Usage {
    let limit = plan.quota.as_ref().map(|q| q.limit);
    let mut used_of: std::collections::HashMap<(&str, &str), i64> =
        std::collections::HashMap::new();
    for (k, d, n) in counts {
        *used_of.entry((k.as_str(), d.as_str())).or_default() += n;
    }
    let mut values = Map::new();
    for key in keys {
        let grant = granted.iter().find(|(k, _)| k == key).map(|(_, r)| *r);
        let mut cumulative = 0;
        let per_day = days
            .iter()
            .map(|d| {
                let used = used_of
                    .get(&(key.as_str(), d.as_str()))
                    .copied()
                    .unwrap_or(0);
                cumulative += used;
                let remaining =
                    grant.unwrap_or_else(|| limit.map(|l| (l - cumulative).max(0)).unwrap_or(0));
                [used, remaining]
            })
            .collect();
        values.insert(key.clone(), per_day);
    }
    Usage {
        usage_plan_id: plan.id.clone(),
        start_date: days.first().cloned().unwrap_or_default(),
        end_date: days.last().cloned().unwrap_or_default(),
        values,
    }
}
