//! The JPKI validity rule, as a pure function of its inputs (time is a parameter).
//!
//! JPKI-FACTS §2.2 (confirmed by several municipal pages and the J-LIS "period" page):
//! a certificate is valid *from issuance until the 5th birthday after issuance*; when it
//! renews a certificate within the 3 months before that certificate's expiry, until the
//! *6th* birthday; never past the issuing CA's certificate; and a phone certificate never
//! past the card certificate it was issued with (JPKI-FACTS §2.3).
//!
//! Our defaults, where the sources say nothing precise:
//! - **notAfter is 23:59:59 JST of that birthday** (the real auth-certificate fixture in
//!   JPKI-FACTS §2.2 ends at `23:59:59 JST`).
//! - **"After issuance" counts birthdays strictly after the JST issuance date**
//!   ([`BirthDate::nth_birthday_after`]): issued on one's birthday, that birthday does not
//!   count. A 29 February birthday falls on 28 February in common years.
//! - **The renewal window** is from 00:00 JST of the day 3 calendar months before the
//!   previous expiry date (the day clamped to the month's end: 31 May → 28/29 Feb) up to
//!   the previous notAfter itself. An expired certificate is not renewed; it is replaced
//!   (5th birthday).
//! - **A renewal counts a birthday falling on the issuance day** (the 6th birthday on or
//!   after the issuance date). The rule exists so that the imminent birthday — normally
//!   the old certificate's last day — counts as the first; issued on that very day, the
//!   renewal still gets the five years the rule intends, not six.
//! - **notBefore is the issuance instant** (whole seconds), no back-dating.

use time::{Date, Month, OffsetDateTime};

use jpki_model::BirthDate;
use jpki_model::time::{end_of_jst_day, jst_date, start_of_jst_day};

use crate::PkixError;
use crate::timeconv::whole_seconds;

/// Birthdays counted for a first issuance (or a replacement).
pub const BIRTHDAYS: u32 = 5;
/// Birthdays counted for a renewal inside the window.
pub const RENEWAL_BIRTHDAYS: u32 = 6;
/// Length of the renewal window before the previous certificate's expiry.
pub const RENEWAL_WINDOW_MONTHS: u8 = 3;

/// What the rule needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidityInput {
    /// The issuance instant (from the caller's clock).
    pub issued_at: OffsetDateTime,
    pub date_of_birth: BirthDate,
    /// notAfter of the certificate being renewed, when this is a renewal.
    pub renews_not_after: Option<OffsetDateTime>,
    /// notAfter of the issuing CA certificate.
    pub issuer_not_after: OffsetDateTime,
    /// Any further cap: for phone certificates, the card certificate's notAfter.
    pub cap: Option<OffsetDateTime>,
}

/// What ended the validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidityLimit {
    /// The `nth` birthday counted (5, or 6 for a renewal), falling on `date`.
    Birthday { nth: u32, date: Date },
    /// The issuing CA's notAfter.
    Issuer,
    /// The caller's cap (the card certificate's notAfter for phone certificates).
    Cap,
}

/// The computed period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndEntityValidity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub limited_by: ValidityLimit,
}

/// Applies the rule. When several limits give the same instant, the birthday wins over
/// the issuer, and the issuer over the cap. Refuses a period that would be empty
/// ([`PkixError::NoValidityLeft`]), e.g. a cap already in the past.
pub fn end_entity_validity(input: &ValidityInput) -> Result<EndEntityValidity, PkixError> {
    let not_before = whole_seconds(input.issued_at);
    let issue_date = jst_date(input.issued_at);
    let renewal = input
        .renews_not_after
        .is_some_and(|previous| in_renewal_window(input.issued_at, previous));
    let (nth, birthday) = if renewal {
        // Count a birthday on the issuance day itself (see the module docs).
        let day_before = issue_date.previous_day().unwrap_or(issue_date);
        (
            RENEWAL_BIRTHDAYS,
            input
                .date_of_birth
                .nth_birthday_after(day_before, RENEWAL_BIRTHDAYS),
        )
    } else {
        (
            BIRTHDAYS,
            input
                .date_of_birth
                .nth_birthday_after(issue_date, BIRTHDAYS),
        )
    };

    let mut not_after = end_of_jst_day(birthday);
    let mut limited_by = ValidityLimit::Birthday {
        nth,
        date: birthday,
    };
    let issuer_not_after = whole_seconds(input.issuer_not_after);
    if issuer_not_after < not_after {
        not_after = issuer_not_after;
        limited_by = ValidityLimit::Issuer;
    }
    if let Some(cap) = input.cap.map(whole_seconds)
        && cap < not_after
    {
        not_after = cap;
        limited_by = ValidityLimit::Cap;
    }
    if not_after <= not_before {
        return Err(PkixError::NoValidityLeft {
            issued_at: not_before,
            not_after,
        });
    }
    Ok(EndEntityValidity {
        not_before,
        not_after,
        limited_by,
    })
}

/// True when `issued_at` falls in the renewal window of a certificate expiring at
/// `previous_not_after`: from 00:00 JST of the day three calendar months before its
/// expiry date, through its notAfter.
pub fn in_renewal_window(issued_at: OffsetDateTime, previous_not_after: OffsetDateTime) -> bool {
    let opens = start_of_jst_day(months_before(
        jst_date(previous_not_after),
        RENEWAL_WINDOW_MONTHS,
    ));
    opens <= issued_at && issued_at <= previous_not_after
}

/// The same day of the month `months` months earlier, clamped to the month's length.
fn months_before(date: Date, months: u8) -> Date {
    let index = date.year() * 12 + i32::from(u8::from(date.month())) - 1 - i32::from(months);
    let year = index.div_euclid(12);
    let month_number = u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1);
    let month = Month::try_from(month_number).unwrap_or(Month::January);
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn months_before_clamps_to_the_end_of_short_months() {
        assert_eq!(
            months_before(date!(2031 - 06 - 15), 3),
            date!(2031 - 03 - 15)
        );
        assert_eq!(
            months_before(date!(2031 - 05 - 31), 3),
            date!(2031 - 02 - 28)
        );
        assert_eq!(
            months_before(date!(2032 - 05 - 31), 3),
            date!(2032 - 02 - 29)
        );
        assert_eq!(
            months_before(date!(2031 - 02 - 10), 3),
            date!(2030 - 11 - 10)
        );
    }

    const FAR: OffsetDateTime = datetime!(2099-01-01 00:00:00 UTC);

    fn input(issued_at: OffsetDateTime, date_of_birth: &str) -> ValidityInput {
        ValidityInput {
            issued_at,
            date_of_birth: BirthDate::parse(date_of_birth).unwrap(),
            renews_not_after: None,
            issuer_not_after: FAR,
            cap: None,
        }
    }

    fn not_after(input: &ValidityInput) -> OffsetDateTime {
        end_entity_validity(input).unwrap().not_after
    }

    #[test]
    fn fifth_birthday_after_issuance_ends_at_23_59_59_jst() {
        let validity = end_entity_validity(&input(
            datetime!(2026-04-01 10:00:00.123 +09:00),
            "1990-01-02",
        ))
        .unwrap();
        assert_eq!(validity.not_before, datetime!(2026-04-01 10:00:00 +09:00));
        assert_eq!(validity.not_after, datetime!(2031-01-02 23:59:59 +09:00));
        assert_eq!(validity.not_after, datetime!(2031-01-02 14:59:59 UTC));
        assert_eq!(
            validity.limited_by,
            ValidityLimit::Birthday {
                nth: 5,
                date: date!(2031 - 01 - 02)
            }
        );
    }

    #[test]
    fn issuance_on_the_day_before_on_and_after_the_birthday() {
        let dob = "1990-06-15";
        // The day before: this year's birthday is the first.
        assert_eq!(
            not_after(&input(datetime!(2026-06-14 12:00 +09:00), dob)),
            datetime!(2030-06-15 23:59:59 +09:00)
        );
        // On the birthday: it does not count.
        assert_eq!(
            not_after(&input(datetime!(2026-06-15 12:00 +09:00), dob)),
            datetime!(2031-06-15 23:59:59 +09:00)
        );
        // The day after.
        assert_eq!(
            not_after(&input(datetime!(2026-06-16 12:00 +09:00), dob)),
            datetime!(2031-06-15 23:59:59 +09:00)
        );
        // The day is the JST day: 00:30 JST on the birthday is still the 14th in UTC.
        assert_eq!(
            not_after(&input(datetime!(2026-06-14 15:30 UTC), dob)),
            datetime!(2031-06-15 23:59:59 +09:00)
        );
        assert_eq!(
            not_after(&input(datetime!(2026-06-14 14:59:59 UTC), dob)),
            datetime!(2030-06-15 23:59:59 +09:00)
        );
    }

    #[test]
    fn a_29_february_birthday() {
        let dob = "2000-02-29";
        // Birthdays fall on 28 Feb in common years: 2027, 2028 (29th), 2029, 2030, 2031.
        assert_eq!(
            not_after(&input(datetime!(2026-03-01 12:00 +09:00), dob)),
            datetime!(2031-02-28 23:59:59 +09:00)
        );
        // Issued on 28 Feb of a common year, the birthday itself: not counted.
        assert_eq!(
            not_after(&input(datetime!(2027-02-28 12:00 +09:00), dob)),
            datetime!(2032-02-29 23:59:59 +09:00)
        );
        // Issued on 28 Feb of a leap year: the 29th is the first birthday.
        assert_eq!(
            not_after(&input(datetime!(2028-02-28 12:00 +09:00), dob)),
            datetime!(2032-02-29 23:59:59 +09:00)
        );
        // Issued on 29 Feb itself.
        assert_eq!(
            not_after(&input(datetime!(2028-02-29 12:00 +09:00), dob)),
            datetime!(2033-02-28 23:59:59 +09:00)
        );
    }

    #[test]
    fn renewal_inside_the_window_runs_to_the_sixth_birthday() {
        let previous = datetime!(2031-06-15 23:59:59 +09:00);
        let renewal = |issued_at| ValidityInput {
            renews_not_after: Some(previous),
            ..input(issued_at, "1990-06-15")
        };
        // Two and a half months before expiry: the imminent birthday counts as the first.
        let inside = end_entity_validity(&renewal(datetime!(2031-04-01 09:00 +09:00))).unwrap();
        assert_eq!(inside.not_after, datetime!(2036-06-15 23:59:59 +09:00));
        assert_eq!(
            inside.limited_by,
            ValidityLimit::Birthday {
                nth: 6,
                date: date!(2036 - 06 - 15)
            }
        );
        // First day of the window.
        assert_eq!(
            not_after(&renewal(datetime!(2031-03-15 00:00 +09:00))),
            datetime!(2036-06-15 23:59:59 +09:00)
        );
        // On the last day (the birthday), still five years, not six.
        assert_eq!(
            not_after(&renewal(datetime!(2031-06-15 10:00 +09:00))),
            datetime!(2036-06-15 23:59:59 +09:00)
        );
    }

    #[test]
    fn renewal_outside_the_window_runs_to_the_fifth_birthday() {
        let previous = datetime!(2031-06-15 23:59:59 +09:00);
        let renewal = |issued_at| ValidityInput {
            renews_not_after: Some(previous),
            ..input(issued_at, "1990-06-15")
        };
        // More than three months early: the imminent birthday counts, and only five.
        let early = end_entity_validity(&renewal(datetime!(2031-03-14 23:59 +09:00))).unwrap();
        assert_eq!(early.not_after, datetime!(2035-06-15 23:59:59 +09:00));
        assert_eq!(
            early.limited_by,
            ValidityLimit::Birthday {
                nth: 5,
                date: date!(2035 - 06 - 15)
            }
        );
        // After expiry: a new certificate, five birthdays from the issuance day.
        assert_eq!(
            not_after(&renewal(datetime!(2031-06-16 09:00 +09:00))),
            datetime!(2036-06-15 23:59:59 +09:00)
        );
    }

    #[test]
    fn capped_by_the_issuing_ca() {
        let mut capped = input(datetime!(2026-04-01 10:00 +09:00), "1990-01-02");
        capped.issuer_not_after = datetime!(2030-01-01 00:00:00 +09:00);
        let validity = end_entity_validity(&capped).unwrap();
        assert_eq!(validity.not_after, datetime!(2030-01-01 00:00:00 +09:00));
        assert_eq!(validity.limited_by, ValidityLimit::Issuer);
        // A CA outliving the birthday does not extend it.
        capped.issuer_not_after = datetime!(2031-01-03 00:00:00 +09:00);
        assert!(matches!(
            end_entity_validity(&capped).unwrap().limited_by,
            ValidityLimit::Birthday { .. }
        ));
    }

    #[test]
    fn phone_certificates_are_capped_by_the_card_certificate() {
        let mut phone = input(datetime!(2026-04-01 10:00 +09:00), "1990-01-02");
        phone.issuer_not_after = datetime!(2030-06-01 00:00:00 +09:00);
        phone.cap = Some(datetime!(2029-08-31 23:59:59 +09:00));
        let validity = end_entity_validity(&phone).unwrap();
        assert_eq!(validity.not_after, datetime!(2029-08-31 23:59:59 +09:00));
        assert_eq!(validity.limited_by, ValidityLimit::Cap);
        // A cap later than the birthday changes nothing.
        phone.issuer_not_after = FAR;
        phone.cap = Some(datetime!(2032-01-01 00:00:00 +09:00));
        assert_eq!(
            end_entity_validity(&phone).unwrap().not_after,
            datetime!(2031-01-02 23:59:59 +09:00)
        );
    }

    #[test]
    fn an_exhausted_cap_leaves_no_validity() {
        let mut late = input(datetime!(2026-04-01 10:00 +09:00), "1990-01-02");
        late.cap = Some(datetime!(2026-04-01 10:00 +09:00));
        assert!(matches!(
            end_entity_validity(&late),
            Err(PkixError::NoValidityLeft { .. })
        ));
        late.cap = None;
        late.issuer_not_after = datetime!(2026-03-31 00:00 +09:00);
        assert!(matches!(
            end_entity_validity(&late),
            Err(PkixError::NoValidityLeft { .. })
        ));
    }

    #[test]
    fn renewal_window_bounds() {
        let expiry = datetime!(2031-06-15 23:59:59 +09:00);
        assert!(in_renewal_window(
            datetime!(2031-03-15 00:00:00 +09:00),
            expiry
        ));
        assert!(!in_renewal_window(
            datetime!(2031-03-14 23:59:59 +09:00),
            expiry
        ));
        assert!(in_renewal_window(expiry, expiry));
        assert!(!in_renewal_window(
            datetime!(2031-06-16 00:00:00 +09:00),
            expiry
        ));
    }
}
