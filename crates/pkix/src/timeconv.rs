//! Instants between `time::OffsetDateTime` and X.509 `Time`.
//!
//! RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, both in UTC with
//! whole seconds. Sub-second parts are dropped (truncated), never rounded up.

use der::DateTime;
use time::OffsetDateTime;
use x509_cert::time::Time;

use crate::PkixError;

/// Drops the sub-second part: what a certificate can carry.
pub(crate) fn whole_seconds(instant: OffsetDateTime) -> OffsetDateTime {
    instant.replace_nanosecond(0).unwrap_or(instant)
}

pub(crate) fn to_x509_time(instant: OffsetDateTime) -> Result<Time, PkixError> {
    let utc = instant.to_offset(time::UtcOffset::UTC);
    let year = u16::try_from(utc.year())
        .ok()
        .filter(|year| (1970..=9999).contains(year))
        .ok_or(PkixError::TimeOutOfRange(instant))?;
    let date_time = DateTime::new(
        year,
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
    )
    .map_err(|_| PkixError::TimeOutOfRange(instant))?;
    Ok(Time::from(date_time))
}

pub(crate) fn from_x509_time(value: &Time) -> Result<OffsetDateTime, PkixError> {
    let seconds = i64::try_from(value.to_unix_duration().as_secs())
        .map_err(|_| PkixError::MalformedCertificate("time out of range".to_owned()))?;
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|_| PkixError::MalformedCertificate("time out of range".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn utc_time_until_2049_generalized_from_2050() {
        let before = to_x509_time(datetime!(2049-12-31 23:59:59 UTC)).unwrap();
        assert!(matches!(before, Time::UtcTime(_)));
        let after = to_x509_time(datetime!(2050-01-01 00:00:00 UTC)).unwrap();
        assert!(matches!(after, Time::GeneralTime(_)));
    }

    #[test]
    fn round_trip_in_jst_keeps_the_instant_and_drops_nanoseconds() {
        let jst = datetime!(2031-06-15 23:59:59.75 +09:00);
        let back = from_x509_time(&to_x509_time(jst).unwrap()).unwrap();
        assert_eq!(back, datetime!(2031-06-15 14:59:59 UTC));
        assert_eq!(back, whole_seconds(jst));
    }

    #[test]
    fn years_before_1970_are_refused() {
        assert!(matches!(
            to_x509_time(datetime!(1969-12-31 23:59:59 UTC)),
            Err(PkixError::TimeOutOfRange(_))
        ));
        assert!(to_x509_time(datetime!(9999-12-31 23:59:59 UTC)).is_ok());
    }
}
