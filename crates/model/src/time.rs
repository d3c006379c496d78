//! Japan Standard Time helpers. JPKI dates (birthdays, service hours, expiry days)
//! are JST calendar dates; certificates carry UTC instants.

use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// UTC+09:00, Japan Standard Time (no daylight saving).
pub const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// The JST calendar date of an instant.
pub fn jst_date(instant: OffsetDateTime) -> Date {
    instant.to_offset(JST).date()
}

/// The last second (23:59:59 JST) of a JST calendar day, as an instant.
pub fn end_of_jst_day(date: Date) -> OffsetDateTime {
    PrimitiveDateTime::new(date, Time::from_hms(23, 59, 59).unwrap_or(Time::MIDNIGHT))
        .assume_offset(JST)
}

/// The first second (00:00:00 JST) of a JST calendar day, as an instant.
pub fn start_of_jst_day(date: Date) -> OffsetDateTime {
    PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_offset(JST)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn end_of_day_is_fifteen_utc() {
        assert_eq!(
            end_of_jst_day(date!(2031 - 04 - 01)),
            datetime!(2031-04-01 14:59:59 UTC)
        );
    }

    #[test]
    fn jst_date_rolls_over_at_fifteen_utc() {
        assert_eq!(
            jst_date(datetime!(2026-11-26 14:59:59 UTC)),
            date!(2026 - 11 - 26)
        );
        assert_eq!(
            jst_date(datetime!(2026-11-26 15:00:00 UTC)),
            date!(2026 - 11 - 27)
        );
    }
}
