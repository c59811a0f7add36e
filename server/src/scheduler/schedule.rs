//! Agent schedules: standard five-field cron expressions (or `@daily` and the like) read in
//! an IANA time zone, their next run times, and their description in words.
//!
//! The `cron` crate wants a seconds field and numbers Sunday as 1; people write the
//! standard form, where Sunday is 0 (or 7) and Monday 1. [`Schedule::parse`] translates.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A parsed schedule in its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: cron::Schedule,
    time_zone: Tz,
}

/// A time zone name that is not in the IANA database.
pub fn parse_time_zone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name).map_err(|_| {
        format!("{name:?} is not a time zone name like UTC, Europe/Paris or America/New_York")
    })
}

impl Schedule {
    /// Parses `expression` (five fields: minute hour day-of-month month day-of-week, or a
    /// macro such as `@hourly`) to be read in `time_zone`.
    pub fn parse(expression: &str, time_zone: Tz) -> Result<Self, String> {
        let expression = expression.trim();
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let translated = if expression.starts_with('@') {
            expression.to_owned()
        } else if fields.len() == 5 {
            format!(
                "0 {} {} {} {} {}",
                fields[0],
                fields[1],
                fields[2],
                fields[3],
                standard_days_of_week(fields[4])
            )
        } else {
            return Err(format!(
                "a schedule has five fields (minute hour day-of-month month day-of-week), \
                 such as \"0 9 * * 1-5\"; this one has {}",
                fields.len()
            ));
        };
        let cron = cron::Schedule::from_str(&translated)
            .map_err(|err| format!("not a valid cron expression: {err}"))?;
        let schedule = Self { cron, time_zone };
        if schedule.next_after(Utc::now()).is_none() {
            return Err("this schedule never fires".into());
        }
        Ok(schedule)
    }

    /// The first time the schedule fires strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.upcoming(after, 1).into_iter().next()
    }

    /// The next `count` times the schedule fires after `after`.
    ///
    /// Times are read on the zone's wall clock, once each: a time that occurs twice when
    /// the clocks go back fires at its first occurrence only, and a time the clocks skip
    /// when they go forward fires at the moment they jump.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut times: Vec<DateTime<Utc>> = Vec::with_capacity(count);
        // The cron crate walks the wall clock as if it were UTC; each wall time is then
        // placed in the real zone. Around a change of clocks a few wall times map to an
        // instant already given or already past, hence the margin.
        for wall in self.cron.after(&self.wall_clock(after)).take(count + SLACK) {
            let Some(instant) = self.instant_of(wall.naive_utc()) else {
                continue;
            };
            if instant <= after || times.last() == Some(&instant) {
                continue;
            }
            times.push(instant);
            if times.len() == count {
                break;
            }
        }
        times
    }

    /// The last time the schedule fired at or before `at`.
    pub fn last_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let after_at = self.wall_clock(at) + chrono::Duration::seconds(1);
        self.cron
            .after(&after_at)
            .rev()
            .take(SLACK)
            .filter_map(|wall| self.instant_of(wall.naive_utc()))
            .find(|instant| *instant <= at)
    }

    /// `at` on the zone's wall clock, written as if that clock were UTC.
    fn wall_clock(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at.with_timezone(&self.time_zone).naive_local().and_utc()
    }

    /// The instant a wall-clock time of the zone happens: the first of two when the clocks
    /// go back over it, the end of the gap when they go forward over it.
    fn instant_of(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        (0..=MAX_GAP_MINUTES).find_map(|minutes| {
            match self
                .time_zone
                .from_local_datetime(&(wall + chrono::Duration::minutes(minutes)))
            {
                LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => {
                    Some(instant.with_timezone(&Utc))
                }
                LocalResult::None => None,
            }
        })
    }
}

/// Wall times looked at beyond those asked for, for the ones a change of clocks drops.
const SLACK: usize = 64;

/// The longest gap a change of clocks leaves, in minutes (real ones are an hour or less).
const MAX_GAP_MINUTES: i64 = 180;

/// A schedule in words ("At 09:00 AM, Monday through Friday"), or `None` when the
/// describer does not know the form.
pub fn describe(expression: &str) -> Option<String> {
    cronspeak::describe(expression.trim()).ok()
}

/// Rewrites a standard day-of-week field (0 or 7 = Sunday) with day names, which the `cron`
/// crate reads unambiguously. Step sizes (after `/`) stay numbers.
fn standard_days_of_week(field: &str) -> String {
    const NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    field
        .split(',')
        .map(|part| {
            let (base, step) = match part.split_once('/') {
                Some((base, step)) => (base, Some(step)),
                None => (part, None),
            };
            let base: String = base
                .split('-')
                .map(|day| match day.parse::<usize>() {
                    Ok(number) if number < NAMES.len() => NAMES[number].to_owned(),
                    _ => day.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("-");
            match step {
                Some(step) => format!("{base}/{step}"),
                None => base,
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn weekdays_are_numbered_as_in_standard_cron() {
        // 2026-11-21 is a Saturday.
        let schedule = Schedule::parse("0 9 * * 1-5", Tz::UTC).unwrap();
        assert_eq!(
            schedule.next_after(at("2026-11-21T12:00:00Z")),
            Some(at("2026-11-23T09:00:00Z")),
            "Monday, not Sunday"
        );
        let sunday = Schedule::parse("30 8 * * 0", Tz::UTC).unwrap();
        assert_eq!(
            sunday.next_after(at("2026-11-21T12:00:00Z")),
            Some(at("2026-11-22T08:30:00Z"))
        );
        let seven = Schedule::parse("30 8 * * 7", Tz::UTC).unwrap();
        assert_eq!(
            seven.next_after(at("2026-11-21T12:00:00Z")),
            Some(at("2026-11-22T08:30:00Z"))
        );
    }

    #[test]
    fn times_are_read_in_the_time_zone() {
        let paris = parse_time_zone("Europe/Paris").unwrap();
        let schedule = Schedule::parse("0 9 * * *", paris).unwrap();
        // 09:00 in Paris is 08:00 UTC in winter.
        assert_eq!(
            schedule.next_after(at("2026-11-23T00:00:00Z")),
            Some(Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap())
        );
        assert_eq!(schedule.upcoming(at("2026-11-23T00:00:00Z"), 5).len(), 5);
    }

    #[test]
    fn a_time_the_clocks_skip_fires_when_they_jump() {
        // Paris goes from 02:00 to 03:00 on 2026-03-29: 02:30 does not happen that day.
        let paris = parse_time_zone("Europe/Paris").unwrap();
        let daily = Schedule::parse("30 2 * * *", paris).unwrap();
        assert_eq!(
            daily.upcoming(at("2026-03-28T12:00:00Z"), 3),
            [
                at("2026-03-29T01:00:00Z"), // 03:00 summer time, as the clocks jump
                at("2026-03-30T00:30:00Z"),
                at("2026-03-31T00:30:00Z"),
            ]
        );
        let hourly = Schedule::parse("0 * * * *", paris).unwrap();
        assert_eq!(
            hourly.upcoming(at("2026-03-28T23:30:00Z"), 3),
            [
                at("2026-03-29T00:00:00Z"), // 01:00 winter time
                at("2026-03-29T01:00:00Z"), // 03:00 summer time: 02:00 is skipped, once
                at("2026-03-29T02:00:00Z"),
            ]
        );
    }

    #[test]
    fn a_time_the_clocks_repeat_fires_once() {
        // Paris goes from 03:00 back to 02:00 on 2026-10-25: 02:30 happens twice.
        let paris = parse_time_zone("Europe/Paris").unwrap();
        let daily = Schedule::parse("30 2 * * *", paris).unwrap();
        assert_eq!(
            daily.upcoming(at("2026-10-24T12:00:00Z"), 2),
            [at("2026-10-25T00:30:00Z"), at("2026-10-26T01:30:00Z")]
        );
        // Asked from inside the repeated hour, the first 02:30 is already past.
        assert_eq!(
            daily.next_after(at("2026-10-25T01:10:00Z")),
            Some(at("2026-10-26T01:30:00Z"))
        );
        assert_eq!(
            daily.last_at_or_before(at("2026-10-25T01:40:00Z")),
            Some(at("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn the_last_time_before_an_instant_is_found() {
        let schedule = Schedule::parse("*/15 * * * *", Tz::UTC).unwrap();
        assert_eq!(
            schedule.last_at_or_before(at("2026-11-24T10:44:59Z")),
            Some(at("2026-11-24T10:30:00Z"))
        );
        assert_eq!(
            schedule.last_at_or_before(at("2026-11-24T10:45:00Z")),
            Some(at("2026-11-24T10:45:00Z"))
        );
    }

    #[test]
    fn macros_and_steps_parse() {
        for expression in [
            "@hourly",
            "@daily",
            "*/15 * * * *",
            "0 0 1 * *",
            "0 12 * * */2",
        ] {
            assert!(Schedule::parse(expression, Tz::UTC).is_ok(), "{expression}");
        }
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        assert!(
            Schedule::parse("every day", Tz::UTC)
                .unwrap_err()
                .contains("five fields")
        );
        assert!(Schedule::parse("61 * * * *", Tz::UTC).is_err());
        assert!(
            Schedule::parse("0 0 31 2 *", Tz::UTC)
                .unwrap_err()
                .contains("never")
        );
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn schedules_are_described_in_words() {
        assert_eq!(
            describe("*/15 * * * *").as_deref(),
            Some("Every 15 minutes")
        );
    }
}
