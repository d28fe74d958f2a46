//! RFC 9535 `match()` and `search()` (also what Jayway's `=~ /re/` translates to), registered
//! over serde_json_path's own, which compile the regex again for every node a filter visits: a
//! case-insensitive class like `(?i)[\S]` takes milliseconds to compile, so a nested filter over
//! a small document took seconds (found by the `jsonpath` fuzz target).
//!
//! Same regexes (`(?R)^(re)$` and `(?R)(re)`, as serde_json_path builds them), but compiled once
//! per thread and pattern, with a 1 MiB size limit; a query may compile at most
//! [`MAX_REGEX_COMPILES`] new patterns of at most [`MAX_REGEX_LEN`] bytes, beyond which it fails
//! with [`ErrorKind::Budget`](crate::ErrorKind::Budget).

use regex::{Regex, RegexBuilder};
use serde_json::Value;
use serde_json_path::functions::{LogicalType, ValueType};
use std::cell::RefCell;
use std::collections::HashMap;

/// Longest regex (in bytes) a query may use.
pub const MAX_REGEX_LEN: usize = 1024;
/// How many regexes that are not cached yet a query may compile.
pub const MAX_REGEX_COMPILES: usize = 16;
/// Compiled-size limit of each regex.
const SIZE_LIMIT: usize = 1 << 20;
/// Compiled regexes kept per thread (and kind).
const CACHE_SIZE: usize = 64;

#[derive(Default)]
struct State {
    /// `match()` regexes (anchored), by pattern.
    matches: HashMap<String, Option<Regex>>,
    /// `search()` regexes, by pattern.
    searches: HashMap<String, Option<Regex>>,
    /// Patterns compiled by the current query.
    compiled: usize,
    /// Why the current query went over the regex budget.
    exceeded: Option<String>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Starts metering a query.
pub(crate) fn begin() {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.compiled = 0;
        s.exceeded = None;
    });
}

/// Stops metering a query: why it went over the regex budget, if it did.
pub(crate) fn end() -> Option<String> {
    STATE.with(|s| s.borrow_mut().exceeded.take())
}

fn eval(value: &ValueType, rgx: &ValueType, anchored: bool) -> LogicalType {
    let (Some(Value::String(s)), Some(Value::String(r))) = (value.as_value(), rgx.as_value())
    else {
        return LogicalType::False;
    };
    STATE.with(|st| {
        let st = &mut *st.borrow_mut();
        let cache = if anchored {
            &mut st.matches
        } else {
            &mut st.searches
        };
        if !cache.contains_key(r.as_str()) {
            if st.exceeded.is_some() {
                return LogicalType::False;
            }
            if r.len() > MAX_REGEX_LEN {
                st.exceeded = Some(format!(
                    "regex of {} bytes is longer than {MAX_REGEX_LEN} (budget)",
                    r.len()
                ));
                return LogicalType::False;
            }
            if st.compiled >= MAX_REGEX_COMPILES {
                st.exceeded = Some(format!(
                    "query compiles more than {MAX_REGEX_COMPILES} regexes (budget)"
                ));
                return LogicalType::False;
            }
            st.compiled += 1;
            let pattern = if anchored {
                format!("(?R)^({r})$")
            } else {
                format!("(?R)({r})")
            };
            let re = RegexBuilder::new(&pattern)
                .size_limit(SIZE_LIMIT)
                .dfa_size_limit(SIZE_LIMIT)
                .build()
                .ok();
            if cache.len() >= CACHE_SIZE {
                cache.clear();
            }
            cache.insert(r.clone(), re);
        }
        match cache.get(r.as_str()) {
            Some(Some(re)) => re.is_match(s).into(),
            _ => LogicalType::False,
        }
    })
}

#[serde_json_path::function(name = "match")]
fn match_fn(value: ValueType, rgx: ValueType) -> LogicalType {
    eval(&value, &rgx, true)
}

#[serde_json_path::function(name = "search")]
fn search_fn(value: ValueType, rgx: ValueType) -> LogicalType {
    eval(&value, &rgx, false)
}
