//! The resident: basic four information (基本4情報) and the individual number.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// Why a piece of personal data was refused. Each message names the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    #[error("a My Number has exactly 12 digits (got {0} characters)")]
    MyNumberLength(usize),
    #[error("a My Number has digits only")]
    MyNumberNotDigits,
    #[error("the My Number check digit is wrong (expected {expected}, got {got})")]
    MyNumberCheckDigit { expected: u8, got: u8 },
    #[error("sex code must be 1 (male), 2 (female) or 9 (not applicable), got {0:?}")]
    SexCode(String),
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is too long: {len} characters, at most {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} contains a control character")]
    ControlCharacter { field: &'static str },
    #[error("date of birth must be YYYY-MM-DD: {0}")]
    BirthDateFormat(String),
    #[error("date of birth {0} is before 1868-01-01 (the Meiji era), which JPKI cannot encode")]
    BirthDateTooEarly(Date),
}

/// The individual number (個人番号, マイナンバー): 11 digits and a check digit.
///
/// The check digit rule is 行政手続における特定の個人を識別するための番号の利用等に関する
/// 法律施行令 第8条: with Pₙ the n-th digit counted from the right of the first 11,
/// Qₙ = n+1 for n ≤ 6 and n−5 for n ≥ 7, r = Σ PₙQₙ mod 11, the check digit is 0 when
/// r ≤ 1 and 11 − r otherwise.
///
/// `Debug` shows only the last 4 digits: the number is personal data and must not land
/// in logs whole.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MyNumber(String);

impl MyNumber {
    /// Parses a 12-digit number and checks its check digit.
    pub fn parse(text: &str) -> Result<Self, PersonError> {
        let text = text.trim();
        if text.chars().count() != 12 {
            return Err(PersonError::MyNumberLength(text.chars().count()));
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PersonError::MyNumberNotDigits);
        }
        let digits: Vec<u8> = text.bytes().map(|b| b - b'0').collect();
        let expected = Self::check_digit(&digits[..11]);
        if digits[11] != expected {
            return Err(PersonError::MyNumberCheckDigit {
                expected,
                got: digits[11],
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// Computes the check digit for the first 11 digits (each 0–9).
    pub fn check_digit(first_eleven: &[u8]) -> u8 {
        let sum: u32 = first_eleven
            .iter()
            .rev()
            .enumerate()
            .map(|(index, &digit)| {
                let n = index as u32 + 1;
                let weight = if n <= 6 { n + 1 } else { n - 5 };
                u32::from(digit) * weight
            })
            .sum();
        let remainder = sum % 11;
        if remainder <= 1 {
            0
        } else {
            (11 - remainder) as u8
        }
    }

    /// Completes 11 digits with their check digit. Used to make test and demo numbers.
    pub fn from_first_eleven(first_eleven: &[u8; 11]) -> Result<Self, PersonError> {
        if first_eleven.iter().any(|&d| d > 9) {
            return Err(PersonError::MyNumberNotDigits);
        }
        let mut text: String = first_eleven.iter().map(|d| char::from(b'0' + d)).collect();
        text.push(char::from(b'0' + Self::check_digit(first_eleven)));
        Ok(Self(text))
    }

    /// The 12 digits. Call this only where the whole number is needed (storage, the card).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `********1234`: safe to print.
    pub fn masked(&self) -> String {
        format!("********{}", &self.0[8..])
    }
}

impl fmt::Debug for MyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MyNumber({})", self.masked())
    }
}

impl TryFrom<String> for MyNumber {
    type Error = PersonError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MyNumber> for String {
    fn from(value: MyNumber) -> Self {
        value.0
    }
}

impl FromStr for MyNumber {
    type Err = PersonError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Sex code as used on the card (券面事項入力補助AP) and in the registry:
/// 1 male, 2 female, 9 not applicable (ISO/IEC 5218 codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Sex {
    Male,
    Female,
    NotApplicable,
}

impl Sex {
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
            Sex::NotApplicable => "9",
        }
    }

    pub fn from_code(code: &str) -> Result<Self, PersonError> {
        match code.trim() {
            "1" => Ok(Sex::Male),
            "2" => Ok(Sex::Female),
            "9" => Ok(Sex::NotApplicable),
            other => Err(PersonError::SexCode(other.to_owned())),
        }
    }

    /// The Japanese label printed on the card face.
    pub fn label_ja(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::NotApplicable => "適用なし",
        }
    }
}

impl TryFrom<String> for Sex {
    type Error = PersonError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_code(&value)
    }
}

impl From<Sex> for String {
    fn from(value: Sex) -> Self {
        value.code().to_owned()
    }
}

impl FromStr for Sex {
    type Err = PersonError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "m" | "male" => Ok(Sex::Male),
            "f" | "female" => Ok(Sex::Female),
            "n/a" | "na" | "not-applicable" => Ok(Sex::NotApplicable),
            _ => Self::from_code(s),
        }
    }
}

/// A date of birth (Gregorian calendar date, as registered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BirthDate(Date);

/// Japanese eras, with the Gregorian date each began and the digit JPKI uses for it.
const ERAS: [(i32, u8, u8, u8); 5] = [
    (2019, 5, 1, 5),   // 令和 Reiwa
    (1989, 1, 8, 4),   // 平成 Heisei
    (1926, 12, 25, 3), // 昭和 Showa
    (1912, 7, 30, 2),  // 大正 Taisho
    (1868, 1, 1, 1),   // 明治 Meiji (from the start of the year JPKI can encode)
];

impl BirthDate {
    pub fn new(date: Date) -> Result<Self, PersonError> {
        if date.year() < 1868 {
            return Err(PersonError::BirthDateTooEarly(date));
        }
        Ok(Self(date))
    }

    pub fn parse(text: &str) -> Result<Self, PersonError> {
        let bad = || PersonError::BirthDateFormat(text.to_owned());
        let parts: Vec<&str> = text.trim().split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        let day: u8 = d.parse().map_err(|_| bad())?;
        let month = Month::try_from(month).map_err(|_| bad())?;
        let date = Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
        Self::new(date)
    }

    pub fn date(self) -> Date {
        self.0
    }

    /// The era digit (1 明治 … 5 令和) of the date.
    pub fn era_digit(self) -> u8 {
        for (year, month, day, digit) in ERAS {
            let start = Date::from_calendar_date(
                year,
                Month::try_from(month).unwrap_or(Month::January),
                day,
            )
            .unwrap_or(Date::MIN);
            if self.0 >= start {
                return digit;
            }
        }
        1
    }

    /// JPKI encoding of a date of birth in a signature certificate: the era digit
    /// followed by the Gregorian date as YYYYMMDD, e.g. `419900102` for 1990-01-02.
    pub fn jpki_encoding(self) -> String {
        format!(
            "{}{:04}{:02}{:02}",
            self.era_digit(),
            self.0.year(),
            u8::from(self.0.month()),
            self.0.day()
        )
    }

    /// Parses the JPKI encoding back (era digit + YYYYMMDD) and checks the era digit.
    pub fn from_jpki_encoding(text: &str) -> Result<Self, PersonError> {
        let bad = || PersonError::BirthDateFormat(text.to_owned());
        if text.len() != 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let iso = format!("{}-{}-{}", &text[1..5], &text[5..7], &text[7..9]);
        let date = Self::parse(&iso)?;
        if text.as_bytes()[0] - b'0' != date.era_digit() {
            return Err(bad());
        }
        Ok(date)
    }

    /// The `n`-th birthday strictly after `day` (n ≥ 1). A person born on 29 February
    /// has their birthday on 28 February in common years (our documented default).
    pub fn nth_birthday_after(self, day: Date, n: u32) -> Date {
        let this_year = self.birthday_in(day.year());
        let first_year = if this_year > day {
            day.year()
        } else {
            day.year() + 1
        };
        self.birthday_in(first_year + n as i32 - 1)
    }

    /// The birthday falling in `year`.
    pub fn birthday_in(self, year: i32) -> Date {
        Date::from_calendar_date(year, self.0.month(), self.0.day())
            .or_else(|_| Date::from_calendar_date(year, Month::February, 28))
            .unwrap_or(self.0)
    }

    /// Age in whole years on `day`.
    pub fn age_on(self, day: Date) -> i32 {
        let birthday = self.birthday_in(day.year());
        let years = day.year() - self.0.year();
        if day >= birthday { years } else { years - 1 }
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            u8::from(self.0.month()),
            self.0.day()
        )
    }
}

impl TryFrom<String> for BirthDate {
    type Error = PersonError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<BirthDate> for String {
    fn from(value: BirthDate) -> Self {
        value.to_string()
    }
}

impl FromStr for BirthDate {
    type Err = PersonError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Limits on text fields. The real registry's limits are not public; these are ours
/// (see docs/divergences.md).
pub const NAME_MAX_CHARS: usize = 100;
pub const ADDRESS_MAX_CHARS: usize = 200;

fn checked_text(field: &'static str, text: &str, max: usize) -> Result<String, PersonError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(PersonError::Empty { field });
    }
    let len = text.chars().count();
    if len > max {
        return Err(PersonError::TooLong { field, len, max });
    }
    if text.chars().any(char::is_control) {
        return Err(PersonError::ControlCharacter { field });
    }
    Ok(text.to_owned())
}

/// The basic four information (基本4情報): name, address, date of birth, sex, with the
/// substitute-character forms (代替文字) of name and address.
///
/// A substitute form is written where the name or address holds characters outside the
/// character set the systems share; when none is registered it equals the original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicInfo {
    name: String,
    name_substitute: String,
    address: String,
    address_substitute: String,
    date_of_birth: BirthDate,
    sex: Sex,
}

impl BasicInfo {
    pub fn new(
        name: &str,
        name_substitute: Option<&str>,
        address: &str,
        address_substitute: Option<&str>,
        date_of_birth: BirthDate,
        sex: Sex,
    ) -> Result<Self, PersonError> {
        let name = checked_text("name", name, NAME_MAX_CHARS)?;
        let name_substitute = match name_substitute {
            Some(text) => checked_text("name substitute", text, NAME_MAX_CHARS)?,
            None => name.clone(),
        };
        let address = checked_text("address", address, ADDRESS_MAX_CHARS)?;
        let address_substitute = match address_substitute {
            Some(text) => checked_text("address substitute", text, ADDRESS_MAX_CHARS)?,
            None => address.clone(),
        };
        Ok(Self {
            name,
            name_substitute,
            address,
            address_substitute,
            date_of_birth,
            sex,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn name_substitute(&self) -> &str {
        &self.name_substitute
    }
    pub fn address(&self) -> &str {
        &self.address
    }
    pub fn address_substitute(&self) -> &str {
        &self.address_substitute
    }
    pub fn date_of_birth(&self) -> BirthDate {
        self.date_of_birth
    }
    pub fn sex(&self) -> Sex {
        self.sex
    }

    /// The same person after a move (転居).
    pub fn with_address(
        &self,
        address: &str,
        address_substitute: Option<&str>,
    ) -> Result<Self, PersonError> {
        Self::new(
            &self.name,
            Some(&self.name_substitute),
            address,
            address_substitute,
            self.date_of_birth,
            self.sex,
        )
    }

    /// The same person after a change of name (氏名変更).
    pub fn with_name(
        &self,
        name: &str,
        name_substitute: Option<&str>,
    ) -> Result<Self, PersonError> {
        Self::new(
            name,
            name_substitute,
            &self.address,
            Some(&self.address_substitute),
            self.date_of_birth,
            self.sex,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn my_number_check_digit_accepts_valid_and_rejects_others() {
        let valid = MyNumber::from_first_eleven(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]).unwrap();
        assert_eq!(valid.expose(), "123456789018");
        assert!(MyNumber::parse("123456789018").is_ok());
        assert_eq!(
            MyNumber::parse("123456789017"),
            Err(PersonError::MyNumberCheckDigit {
                expected: 8,
                got: 7
            })
        );
        assert_eq!(
            MyNumber::parse("12345678901"),
            Err(PersonError::MyNumberLength(11))
        );
        assert_eq!(
            MyNumber::parse("12345678901a"),
            Err(PersonError::MyNumberNotDigits)
        );
    }

    #[test]
    fn my_number_check_digit_zero_when_remainder_is_small() {
        // Find 11-digit prefixes whose weighted sum mod 11 is 0 or 1: their check digit is 0.
        for prefix in [[0u8; 11], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]] {
            let number = MyNumber::from_first_eleven(&prefix).unwrap();
            let sum: u32 = prefix
                .iter()
                .rev()
                .enumerate()
                .map(|(i, &d)| u32::from(d) * if i < 6 { i as u32 + 2 } else { i as u32 - 4 })
                .sum();
            if sum % 11 <= 1 {
                assert!(number.expose().ends_with('0'));
            }
        }
    }

    #[test]
    fn my_number_debug_is_masked() {
        let number = MyNumber::parse("123456789018").unwrap();
        assert_eq!(format!("{number:?}"), "MyNumber(********9018)");
    }

    #[test]
    fn sex_codes() {
        assert_eq!(Sex::from_code("1").unwrap(), Sex::Male);
        assert_eq!(Sex::from_code("9").unwrap(), Sex::NotApplicable);
        assert!(Sex::from_code("3").is_err());
        assert_eq!("female".parse::<Sex>().unwrap(), Sex::Female);
    }

    #[test]
    fn birth_date_jpki_encoding_uses_era_digit() {
        let cases = [
            ("1990-01-02", "419900102"),
            ("1989-01-07", "319890107"),
            ("1989-01-08", "419890108"),
            ("2019-04-30", "420190430"),
            ("2019-05-01", "520190501"),
            ("1926-12-24", "219261224"),
            ("1912-07-29", "119120729"),
        ];
        for (iso, jpki) in cases {
            let date = BirthDate::parse(iso).unwrap();
            assert_eq!(date.jpki_encoding(), jpki, "{iso}");
            assert_eq!(BirthDate::from_jpki_encoding(jpki).unwrap(), date);
        }
        assert!(
            BirthDate::from_jpki_encoding("519900102").is_err(),
            "wrong era digit"
        );
    }

    #[test]
    fn birth_date_rejects_bad_text() {
        for bad in [
            "1990-1-2",
            "1990/01/02",
            "1990-02-30",
            "abcd-ef-gh",
            "1800-01-01",
        ] {
            assert!(BirthDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nth_birthday_after_counts_strictly_after() {
        let dob = BirthDate::parse("1990-06-15").unwrap();
        assert_eq!(
            dob.nth_birthday_after(date!(2026 - 06 - 15), 5),
            date!(2031 - 06 - 15)
        );
        assert_eq!(
            dob.nth_birthday_after(date!(2026 - 06 - 14), 5),
            date!(2030 - 06 - 15)
        );
        assert_eq!(
            dob.nth_birthday_after(date!(2026 - 06 - 16), 1),
            date!(2027 - 06 - 15)
        );
    }

    #[test]
    fn leap_day_birthday_falls_on_28_february_in_common_years() {
        let dob = BirthDate::parse("2000-02-29").unwrap();
        assert_eq!(dob.birthday_in(2027), date!(2027 - 02 - 28));
        assert_eq!(dob.birthday_in(2028), date!(2028 - 02 - 29));
        assert_eq!(
            dob.nth_birthday_after(date!(2026 - 03 - 01), 2),
            date!(2028 - 02 - 29)
        );
    }

    #[test]
    fn age_on() {
        let dob = BirthDate::parse("2011-11-27").unwrap();
        assert_eq!(dob.age_on(date!(2026 - 11 - 26)), 14);
        assert_eq!(dob.age_on(date!(2026 - 11 - 27)), 15);
    }

    #[test]
    fn basic_info_validates_fields() {
        let dob = BirthDate::parse("1990-01-02").unwrap();
        let info = BasicInfo::new(
            "公的 太郎",
            None,
            "東京都千代田区霞が関2-1-2",
            None,
            dob,
            Sex::Male,
        )
        .unwrap();
        assert_eq!(info.name_substitute(), "公的 太郎");
        assert!(matches!(
            BasicInfo::new(" ", None, "x", None, dob, Sex::Male),
            Err(PersonError::Empty { field: "name" })
        ));
        assert!(matches!(
            BasicInfo::new("a\u{7}b", None, "x", None, dob, Sex::Male),
            Err(PersonError::ControlCharacter { .. })
        ));
        let long = "あ".repeat(NAME_MAX_CHARS + 1);
        assert!(matches!(
            BasicInfo::new(&long, None, "x", None, dob, Sex::Male),
            Err(PersonError::TooLong { .. })
        ));
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(serde_json::from_str::<BasicInfo>(&json).unwrap(), info);
    }
}
