//! Usage-plan quota counters, per (usage plan id, API key id).
//!
//! # Periods
//!
//! A quota allows `limit` requests per period: `DAY`, `WEEK` or `MONTH`, in UTC. AWS's
//! `offset` says on which day a period starts: for `DAY` it must be 0; for `WEEK` it is the
//! weekday, 0 (Sunday) to 6 (Saturday); for `MONTH` it is the day of the month counted from 0,
//! 0 to 27 (so a period always starts on a day that every month has). AWS's API reference also
//! describes the offset as "the number of requests subtracted from the given limit in the
//! initial time period"; the service validates it as a day (DAY 0, WEEK 0–6, MONTH 0–27, the
//! ranges Terraform's provider copies), and that is the reading used here.
//!
//! # Counting, persisting, restoring
//!
//! A counter keeps per-UTC-day counts for the last 35 days, so the usage of any period is the
//! sum of its days; a new period therefore starts from zero by itself, and a plan whose
//! period or offset changes is counted right at once. Requests increment today's count in
//! memory; [`LocalCounters::take_dirty`] drains the increments since the last drain as
//! [`DayUsage`] rows (plan, key, day, count) for the owner to add to its store in one batch,
//! say once a second, so the store sees a bounded write rate whatever the request rate.
//! At start-up [`LocalCounters::load`] seeds the counters from the stored per-day counts.
//! The only shared lock is the dirty list's, taken once per (plan, key) per drain, when its
//! counter first changes after a drain; every other request touches only its own counter.
//!
//! UpdateUsage ([`LocalCounters::set_remaining`]) sets what remains of the current period. It
//! is stored as an [`Adjustment`] (the period's start and its effective limit), which the
//! caller persists and replays with [`LocalCounters::adjust`] (on start-up, or on other nodes
//! through the change feed); it lapses when the period ends.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::table::{KeyParts, Sharded};

#[cfg(test)]
mod tests;

/// A UTC calendar day, as days since 1970-01-01. Displays and parses as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i32);

const SECONDS_PER_DAY: i64 = 86_400;

impl Day {
    /// The day holding the instant `unix_seconds` (seconds since 1970-01-01T00:00:00Z).
    pub fn from_unix_seconds(unix_seconds: i64) -> Self {
        let days = unix_seconds.div_euclid(SECONDS_PER_DAY);
        Self(i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX }))
    }

    /// The day `year`-`month`-`day`, or `None` when there is no such date.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Self(days_from_civil(year, month, day)))
    }

    /// Days since 1970-01-01.
    pub const fn days_since_epoch(self) -> i32 {
        self.0
    }

    /// The day `days` days since 1970-01-01.
    pub const fn from_days_since_epoch(days: i32) -> Self {
        Self(days)
    }

    /// Year, month (1–12), day of month (1–31).
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// 0 for Sunday through 6 for Saturday (1970-01-01 was a Thursday).
    pub fn weekday_from_sunday(self) -> u32 {
        // rem_euclid(7) is in 0..7.
        (i64::from(self.0) + 4).rem_euclid(7) as u32
    }

    /// Midnight UTC at the start of this day, in Unix seconds.
    pub fn start_unix_seconds(self) -> i64 {
        i64::from(self.0) * SECONDS_PER_DAY
    }

    fn plus(self, days: i32) -> Self {
        Self(self.0.saturating_add(days))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// A string that is not a `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a YYYY-MM-DD date: {0:?}")]
pub struct BadDay(String);

impl FromStr for Day {
    type Err = BadDay;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadDay(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, BadDay> {
            let part = &s[r];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let year = i32::try_from(num(0..4)?).map_err(|_| bad())?;
        Self::from_ymd(year, num(5..7)?, num(8..10)?).ok_or_else(bad)
    }
}

fn is_leap(y: i32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's `days_from_civil` / `civil_from_days` (public domain algorithms).
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX })
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = i64::from(z) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // d in 1..=31 and m in 1..=12 by construction.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (i32::try_from(y).unwrap_or(i32::MAX), m, d)
}

/// AWS's quota period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// `DAY`
    Day,
    /// `WEEK`
    Week,
    /// `MONTH`
    Month,
}

impl Period {
    /// The largest valid offset for the period.
    pub const fn max_offset(self) -> u32 {
        match self {
            Self::Day => 0,
            Self::Week => 6,
            Self::Month => 27,
        }
    }
}

/// A quota's settings are out of AWS's ranges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quota offset {offset} is out of range for {period:?} (0..={max})", max = period.max_offset())]
pub struct InvalidQuota {
    /// The period.
    pub period: Period,
    /// The offset given.
    pub offset: u32,
}

/// A usage plan's quota: `limit` requests per `period` starting on day `offset` of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuotaSettings {
    limit: u64,
    period: Period,
    offset: u32,
}

impl QuotaSettings {
    /// Checks the offset against the period (DAY 0, WEEK 0–6, MONTH 0–27).
    pub fn new(limit: u64, period: Period, offset: u32) -> Result<Self, InvalidQuota> {
        if offset > period.max_offset() {
            return Err(InvalidQuota { period, offset });
        }
        Ok(Self {
            limit,
            period,
            offset,
        })
    }

    /// Requests allowed per period.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The period.
    pub fn period(&self) -> Period {
        self.period
    }

    /// The offset.
    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// The first day of the period holding `day`.
    pub fn period_start(&self, day: Day) -> Day {
        match self.period {
            Period::Day => day,
            Period::Week => {
                // Both in 0..7; the difference fits an i32.
                let back = (i64::from(day.weekday_from_sunday()) - i64::from(self.offset))
                    .rem_euclid(7) as i32;
                day.plus(-back)
            }
            Period::Month => {
                let (y, m, d) = day.ymd();
                let start_dom = self.offset + 1;
                let (y, m) = if d >= start_dom {
                    (y, m)
                } else if m == 1 {
                    (y - 1, 12)
                } else {
                    (y, m - 1)
                };
                Day(days_from_civil(y, m, start_dom))
            }
        }
    }

    /// The first day of the next period after the one holding `day` (when the quota resets).
    pub fn next_period_start(&self, day: Day) -> Day {
        let start = self.period_start(day);
        match self.period {
            Period::Day => start.plus(1),
            Period::Week => start.plus(7),
            Period::Month => {
                let (y, m, d) = start.ymd();
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                Day(days_from_civil(y, m, d))
            }
        }
    }
}

/// The request would exceed the quota (429 `QUOTA_EXCEEDED` / "Limit Exceeded").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("usage plan quota exceeded")]
pub struct QuotaExceeded;

/// Requests counted for one API key in one usage plan on one UTC day: a row of the store's
/// usage table, and what [`LocalCounters::take_dirty`] hands out (as increments) and
/// [`LocalCounters::load`] takes in (as totals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayUsage {
    /// Usage plan id.
    pub plan: Arc<str>,
    /// API key id.
    pub key: Arc<str>,
    /// The UTC day (displays as `YYYY-MM-DD`).
    pub day: Day,
    /// Requests.
    pub used: u64,
}

/// An UpdateUsage: for the period starting on `period_start`, the key may make `limit`
/// requests in all (the plan's limit no longer applies to that period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// Usage plan id.
    pub plan: Arc<str>,
    /// API key id.
    pub key: Arc<str>,
    /// First day of the period it applies to.
    pub period_start: Day,
    /// The period's effective limit: the remaining set plus what was used until then.
    pub limit: u64,
}

/// Days of history a counter keeps: a MONTH period spans at most 31 days.
const KEEP_DAYS: i32 = 35;

#[derive(Debug, Clone, Copy)]
struct DayCount {
    day: Day,
    used: u64,
    unflushed: u64,
}

#[derive(Debug)]
struct Counter {
    plan: Arc<str>,
    key: Arc<str>,
    /// Ascending by day, at most one entry per day.
    days: Vec<DayCount>,
    adjustment: Option<(Day, u64)>,
    /// Queued in the dirty list.
    dirty: bool,
}

impl Counter {
    fn new(plan: &str, key: &str) -> Self {
        Self {
            plan: plan.into(),
            key: key.into(),
            days: Vec::new(),
            adjustment: None,
            dirty: false,
        }
    }

    fn used_since(&self, start: Day) -> u64 {
        self.days
            .iter()
            .rev()
            .take_while(|d| d.day >= start)
            .map(|d| d.used)
            .sum()
    }

    fn limit(&self, q: &QuotaSettings, start: Day) -> u64 {
        match self.adjustment {
            Some((day, limit)) if day == start => limit,
            _ => q.limit,
        }
    }

    fn day_mut(&mut self, day: Day) -> &mut DayCount {
        // Usually today is the last entry; a clock step back finds or inserts in place.
        let i = self.days.partition_point(|d| d.day < day);
        if self.days.get(i).is_none_or(|d| d.day != day) {
            self.days.insert(
                i,
                DayCount {
                    day,
                    used: 0,
                    unflushed: 0,
                },
            );
            let horizon = day.plus(-KEEP_DAYS);
            self.days.retain(|d| d.day >= horizon || d.unflushed > 0);
        }
        let i = self.days.partition_point(|d| d.day < day);
        &mut self.days[i]
    }

    fn newest_day(&self) -> Option<Day> {
        self.days.last().map(|d| d.day)
    }
}

/// The in-process quota state: a sharded table of per-(plan, key) counters.
pub struct LocalCounters {
    table: Sharded<Mutex<Counter>>,
    dirty: Mutex<Vec<(Arc<str>, Arc<str>)>>,
}

impl fmt::Debug for LocalCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCounters")
            .field("counters", &self.table.len())
            .finish_non_exhaustive()
    }
}

impl Default for LocalCounters {
    fn default() -> Self {
        Self::new()
    }
}

fn key_parts<'a>(plan: &'a str, key: &'a str) -> KeyParts<'a> {
    KeyParts::new(0, [plan, key])
}

impl LocalCounters {
    /// No counters.
    pub fn new() -> Self {
        Self {
            table: Sharded::new(),
            dirty: Mutex::new(Vec::new()),
        }
    }

    fn with<R>(&self, plan: &str, key: &str, f: impl FnOnce(&mut Counter) -> R) -> R {
        self.table.with(
            &key_parts(plan, key),
            || Mutex::new(Counter::new(plan, key)),
            |c| f(&mut c.lock().unwrap_or_else(PoisonError::into_inner)),
        )
    }

    fn mark_dirty(&self, c: &mut Counter) {
        if !c.dirty {
            c.dirty = true;
            self.dirty
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((c.plan.clone(), c.key.clone()));
        }
    }

    /// Counts one request against `key`'s quota in `plan` at `now` (Unix seconds); returns what
    /// remains of the period after it, or [`QuotaExceeded`] (not counted) when nothing
    /// remains.
    pub fn try_consume(
        &self,
        plan: &str,
        key: &str,
        quota: &QuotaSettings,
        now: i64,
    ) -> Result<u64, QuotaExceeded> {
        let today = Day::from_unix_seconds(now);
        let start = quota.period_start(today);
        self.with(plan, key, |c| {
            let limit = c.limit(quota, start);
            let used = c.used_since(start);
            if used >= limit {
                return Err(QuotaExceeded);
            }
            let d = c.day_mut(today);
            d.used += 1;
            d.unflushed += 1;
            self.mark_dirty(c);
            Ok(limit - used - 1)
        })
    }

    /// What remains of `key`'s quota in `plan` for the period holding `now`.
    pub fn remaining(&self, plan: &str, key: &str, quota: &QuotaSettings, now: i64) -> u64 {
        let start = quota.period_start(Day::from_unix_seconds(now));
        self.table
            .get(&key_parts(plan, key), |c| {
                let c = c.lock().unwrap_or_else(PoisonError::into_inner);
                c.limit(quota, start).saturating_sub(c.used_since(start))
            })
            .unwrap_or(quota.limit)
    }

    /// UpdateUsage: sets what remains of the current period to `remaining`. Returns the
    /// [`Adjustment`] to persist (replayed with [`adjust`](Self::adjust)).
    pub fn set_remaining(
        &self,
        plan: &str,
        key: &str,
        quota: &QuotaSettings,
        remaining: u64,
        now: i64,
    ) -> Adjustment {
        let start = quota.period_start(Day::from_unix_seconds(now));
        self.with(plan, key, |c| {
            let limit = remaining.saturating_add(c.used_since(start));
            c.adjustment = Some((start, limit));
            Adjustment {
                plan: c.plan.clone(),
                key: c.key.clone(),
                period_start: start,
                limit,
            }
        })
    }

    /// Applies a persisted [`Adjustment`] (one from another node, or from before a restart).
    pub fn adjust(&self, adjustment: &Adjustment) {
        self.with(&adjustment.plan, &adjustment.key, |c| {
            c.adjustment = Some((adjustment.period_start, adjustment.limit));
        });
    }

    /// Seeds counters from stored per-day totals (at start-up, before serving). Rows add to
    /// what is already counted for their day and are not handed out again by
    /// [`take_dirty`](Self::take_dirty).
    pub fn load(&self, rows: impl IntoIterator<Item = DayUsage>) {
        for row in rows {
            self.with(&row.plan, &row.key, |c| {
                let d = c.day_mut(row.day);
                d.used = d.used.saturating_add(row.used);
            });
        }
    }

    /// Drains the requests counted since the last drain, one row per (plan, key, day), for
    /// the owner to add to its store. Rows are increments, not totals.
    pub fn take_dirty(&self) -> Vec<DayUsage> {
        let keys = std::mem::take(&mut *self.dirty.lock().unwrap_or_else(PoisonError::into_inner));
        let mut rows = Vec::with_capacity(keys.len());
        for (plan, key) in keys {
            self.table.get(&key_parts(&plan, &key), |c| {
                let mut c = c.lock().unwrap_or_else(PoisonError::into_inner);
                c.dirty = false;
                for d in &mut c.days {
                    if d.unflushed > 0 {
                        rows.push(DayUsage {
                            plan: plan.clone(),
                            key: key.clone(),
                            day: d.day,
                            used: std::mem::take(&mut d.unflushed),
                        });
                    }
                }
            });
        }
        rows
    }

    /// Drops counters with nothing to flush and no use in the last 35 days before `now`;
    /// returns how many. (Their usage is in the store; nothing in a current period is lost.)
    pub fn sweep(&self, now: i64) -> usize {
        let horizon = Day::from_unix_seconds(now).plus(-KEEP_DAYS);
        self.table.retain(|c| {
            let c = c.lock().unwrap_or_else(PoisonError::into_inner);
            c.dirty || c.newest_day().is_some_and(|d| d >= horizon)
        })
    }

    /// How many (plan, key) counters exist.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when there are no counters.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl crate::QuotaState for LocalCounters {
    fn try_consume(
        &self,
        plan: &str,
        key: &str,
        quota: &QuotaSettings,
        now: i64,
    ) -> Result<u64, QuotaExceeded> {
        LocalCounters::try_consume(self, plan, key, quota, now)
    }

    fn remaining(&self, plan: &str, key: &str, quota: &QuotaSettings, now: i64) -> u64 {
        LocalCounters::remaining(self, plan, key, quota, now)
    }

    fn set_remaining(
        &self,
        plan: &str,
        key: &str,
        quota: &QuotaSettings,
        remaining: u64,
        now: i64,
    ) -> Adjustment {
        LocalCounters::set_remaining(self, plan, key, quota, remaining, now)
    }

    fn adjust(&self, adjustment: &Adjustment) {
        LocalCounters::adjust(self, adjustment);
    }

    fn load(&self, rows: Vec<DayUsage>) {
        LocalCounters::load(self, rows);
    }

    fn take_dirty(&self) -> Vec<DayUsage> {
        LocalCounters::take_dirty(self)
    }

    fn sweep(&self, now: i64) -> usize {
        LocalCounters::sweep(self, now)
    }
}
