use super::*;

fn at(y: i32, m: u32, d: u32, secs: i64) -> i64 {
    Day::from_ymd(y, m, d).unwrap().start_unix_seconds() + secs
}

fn day(s: &str) -> Day {
    s.parse().unwrap()
}

#[test]
fn days_round_trip_and_know_their_weekday() {
    assert_eq!(Day::from_unix_seconds(0).to_string(), "1970-01-01");
    assert_eq!(Day::from_unix_seconds(-1).to_string(), "1969-12-31");
    assert_eq!(Day::from_unix_seconds(0).weekday_from_sunday(), 4); // Thursday
    assert_eq!(day("2024-02-29").to_string(), "2024-02-29");
    assert_eq!(day("2026-12-06").weekday_from_sunday(), 0); // a Sunday
    assert!("2023-02-29".parse::<Day>().is_err());
    assert!("2024-13-01".parse::<Day>().is_err());
    assert!("2024-1-01".parse::<Day>().is_err());
    assert!("+024-01-01".parse::<Day>().is_err());
    for n in -800_000..800_000 {
        let d = Day::from_days_since_epoch(n);
        let (y, m, dd) = d.ymd();
        assert_eq!(Day::from_ymd(y, m, dd), Some(d));
    }
}

#[test]
fn offsets_are_validated_per_period() {
    assert!(QuotaSettings::new(1, Period::Day, 0).is_ok());
    assert!(QuotaSettings::new(1, Period::Day, 1).is_err());
    assert!(QuotaSettings::new(1, Period::Week, 6).is_ok());
    assert!(QuotaSettings::new(1, Period::Week, 7).is_err());
    assert!(QuotaSettings::new(1, Period::Month, 27).is_ok());
    assert!(QuotaSettings::new(1, Period::Month, 28).is_err());
}

#[test]
fn period_starts() {
    let week_sun = QuotaSettings::new(1, Period::Week, 0).unwrap();
    let week_mon = QuotaSettings::new(1, Period::Week, 1).unwrap();
    // 2026-12-09 is a Wednesday.
    assert_eq!(week_sun.period_start(day("2026-12-09")), day("2026-12-06"));
    assert_eq!(week_mon.period_start(day("2026-12-09")), day("2026-12-07"));
    assert_eq!(week_mon.period_start(day("2026-12-06")), day("2026-11-30"));
    assert_eq!(
        week_mon.next_period_start(day("2026-12-06")),
        day("2026-12-07")
    );

    let month = QuotaSettings::new(1, Period::Month, 0).unwrap();
    let month_15 = QuotaSettings::new(1, Period::Month, 14).unwrap();
    assert_eq!(month.period_start(day("2026-12-31")), day("2026-12-01"));
    assert_eq!(
        month.next_period_start(day("2026-12-31")),
        day("2027-01-01")
    );
    assert_eq!(month_15.period_start(day("2026-01-14")), day("2025-12-15"));
    assert_eq!(month_15.period_start(day("2026-01-15")), day("2026-01-15"));
    assert_eq!(
        month_15.next_period_start(day("2026-12-20")),
        day("2027-01-15")
    );

    let daily = QuotaSettings::new(1, Period::Day, 0).unwrap();
    assert_eq!(daily.period_start(day("2026-03-01")), day("2026-03-01"));
    assert_eq!(
        daily.next_period_start(day("2026-02-28")),
        day("2026-03-01")
    );
}

#[test]
fn exhaustion_then_reset_at_day_boundary() {
    let c = LocalCounters::new();
    let q = QuotaSettings::new(3, Period::Day, 0).unwrap();
    let t = at(2026, 12, 5, 86_399);
    assert_eq!(c.try_consume("p", "k", &q, t), Ok(2));
    assert_eq!(c.try_consume("p", "k", &q, t), Ok(1));
    assert_eq!(c.try_consume("p", "k", &q, t), Ok(0));
    assert_eq!(c.try_consume("p", "k", &q, t), Err(QuotaExceeded));
    assert_eq!(c.remaining("p", "k", &q, t), 0);
    // Another key, another plan: their own counters.
    assert_eq!(c.try_consume("p", "k2", &q, t), Ok(2));
    assert_eq!(c.try_consume("p2", "k", &q, t), Ok(2));
    // Midnight UTC.
    assert_eq!(c.remaining("p", "k", &q, t + 1), 3);
    assert_eq!(c.try_consume("p", "k", &q, t + 1), Ok(2));
}

#[test]
fn week_resets_on_the_offset_weekday() {
    let c = LocalCounters::new();
    let q = QuotaSettings::new(2, Period::Week, 3).unwrap(); // Wednesday
    // 2026-12-09 is a Wednesday; Tuesday 2026-12-08 belongs to the week before.
    assert_eq!(c.try_consume("p", "k", &q, at(2026, 12, 2, 10)), Ok(1));
    assert_eq!(c.try_consume("p", "k", &q, at(2026, 12, 8, 10)), Ok(0));
    assert_eq!(
        c.try_consume("p", "k", &q, at(2026, 12, 8, 86_399)),
        Err(QuotaExceeded)
    );
    assert_eq!(c.try_consume("p", "k", &q, at(2026, 12, 9, 0)), Ok(1));
}

#[test]
fn month_resets_on_the_offset_day() {
    let c = LocalCounters::new();
    let q = QuotaSettings::new(2, Period::Month, 27).unwrap(); // the 28th
    assert_eq!(c.try_consume("p", "k", &q, at(2026, 1, 28, 0)), Ok(1));
    assert_eq!(c.try_consume("p", "k", &q, at(2026, 2, 27, 0)), Ok(0));
    assert_eq!(
        c.try_consume("p", "k", &q, at(2026, 2, 27, 86_399)),
        Err(QuotaExceeded)
    );
    assert_eq!(c.try_consume("p", "k", &q, at(2026, 2, 28, 0)), Ok(1));
    // A plan switched to a daily quota counts today's use at once.
    let daily = QuotaSettings::new(5, Period::Day, 0).unwrap();
    assert_eq!(c.remaining("p", "k", &daily, at(2026, 2, 28, 5)), 4);
}

#[test]
fn set_remaining_lasts_until_the_period_ends() {
    let c = LocalCounters::new();
    let q = QuotaSettings::new(2, Period::Day, 0).unwrap();
    let t = at(2026, 6, 1, 100);
    assert_eq!(c.try_consume("p", "k", &q, t), Ok(1));
    assert_eq!(c.try_consume("p", "k", &q, t), Ok(0));
    let adj = c.set_remaining("p", "k", &q, 5, t);
    assert_eq!(adj.limit, 7);
    assert_eq!(adj.period_start.to_string(), "2026-06-01");
    assert_eq!(c.remaining("p", "k", &q, t), 5);
    assert_eq!(c.try_consume("p", "k", &q, t), Ok(4));
    // Lowering works too.
    c.set_remaining("p", "k", &q, 0, t);
    assert_eq!(c.try_consume("p", "k", &q, t), Err(QuotaExceeded));
    // Next day: the plan's limit again.
    assert_eq!(c.remaining("p", "k", &q, t + 86_400), 2);

    // Replayed on another node (or after a restart) with the same usage, same answer.
    let other = LocalCounters::new();
    other.load([DayUsage {
        plan: "p".into(),
        key: "k".into(),
        day: day("2026-06-01"),
        used: 3,
    }]);
    other.adjust(&adj);
    assert_eq!(other.remaining("p", "k", &q, t), 4);
}

#[test]
fn dirty_rows_are_increments_drained_once() {
    let c = LocalCounters::new();
    let q = QuotaSettings::new(100, Period::Month, 0).unwrap();
    let d1 = at(2026, 3, 1, 0);
    let d2 = at(2026, 3, 2, 0);
    for _ in 0..3 {
        c.try_consume("p", "k", &q, d1).unwrap();
    }
    c.try_consume("p", "k", &q, d2).unwrap();
    c.try_consume("p", "other", &q, d2).unwrap();
    let mut rows = c.take_dirty();
    rows.sort_by(|a, b| (&a.key, a.day).cmp(&(&b.key, b.day)));
    let got: Vec<_> = rows
        .iter()
        .map(|r| (&*r.key, r.day.to_string(), r.used))
        .collect();
    assert_eq!(
        got,
        [
            ("k", "2026-03-01".to_owned(), 3),
            ("k", "2026-03-02".to_owned(), 1),
            ("other", "2026-03-02".to_owned(), 1),
        ]
    );
    assert!(c.take_dirty().is_empty());
    c.try_consume("p", "k", &q, d2).unwrap();
    let rows = c.take_dirty();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].day, rows[0].used), (Day::from_unix_seconds(d2), 1));
    // The drained counts still count.
    assert_eq!(c.remaining("p", "k", &q, d2), 95);
}

#[test]
fn load_restores_a_counter_without_marking_it_dirty() {
    let c = LocalCounters::new();
    let q = QuotaSettings::new(10, Period::Week, 0).unwrap();
    c.load([
        DayUsage {
            plan: "p".into(),
            key: "k".into(),
            day: day("2026-12-06"),
            used: 4,
        },
        DayUsage {
            plan: "p".into(),
            key: "k".into(),
            day: day("2026-12-07"),
            used: 5,
        },
        // The week before: does not count.
        DayUsage {
            plan: "p".into(),
            key: "k".into(),
            day: day("2026-12-05"),
            used: 50,
        },
    ]);
    assert!(c.take_dirty().is_empty());
    let t = at(2026, 12, 8, 0);
    assert_eq!(c.try_consume("p", "k", &q, t), Ok(0));
    assert_eq!(c.try_consume("p", "k", &q, t), Err(QuotaExceeded));
}

#[test]
fn sweep_drops_long_idle_clean_counters() {
    let c = LocalCounters::new();
    let q = QuotaSettings::new(10, Period::Day, 0).unwrap();
    let t = at(2026, 1, 1, 0);
    c.try_consume("p", "old", &q, t).unwrap();
    c.take_dirty();
    c.try_consume("p", "dirty", &q, t).unwrap();
    c.try_consume("p", "recent", &q, t + 30 * 86_400).unwrap();
    c.take_dirty();
    c.try_consume("p", "dirty", &q, t).unwrap();
    assert_eq!(c.sweep(t + 40 * 86_400), 1);
    assert_eq!(c.len(), 2);
}
