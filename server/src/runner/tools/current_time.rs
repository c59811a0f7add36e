//! `current_time`: the date and time now in an IANA time zone.

use chrono::{DateTime, Utc};

use super::ToolError;
use crate::scheduler::schedule::parse_time_zone;

/// The time `now` in `time_zone` (UTC when none), as RFC 3339 with the zone's name.
pub fn at(now: DateTime<Utc>, time_zone: Option<&str>) -> Result<String, ToolError> {
    let name = time_zone.unwrap_or("UTC");
    let zone = parse_time_zone(name).map_err(ToolError::BadArguments)?;
    let local = now.with_timezone(&zone);
    Ok(format!(
        "{} ({name}, {})",
        local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        local.format("%A")
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_time_is_given_in_the_zone_asked_for() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 8, 30, 0).unwrap();
        assert_eq!(
            at(now, Some("Asia/Tokyo")).unwrap(),
            "2026-11-24T17:30:00+09:00 (Asia/Tokyo, Tuesday)"
        );
        assert!(
            at(now, None)
                .unwrap()
                .starts_with("2026-11-24T08:30:00+00:00")
        );
        assert!(matches!(
            at(now, Some("Nowhere/City")),
            Err(ToolError::BadArguments(_))
        ));
    }
}
