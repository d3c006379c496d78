//! One usage-history entry and its canonical, versioned byte encoding (v1).
//!
//! ```text
//! entry bytes (v1) =
//!   "jpki-log entry v1"            17 bytes ASCII, no terminator
//!   person_len                     u8     1..=128
//!   person_log_id                  person_len bytes, ASCII [A-Za-z0-9._:-]
//!   seq                            u64 big-endian, >= 1 (position in the person's chain)
//!   at                             i64 big-endian, microseconds since 1970-01-01T00:00:00Z
//!   device_present                 u8     0x00 (no device) | 0x01
//!   [device_len u16 BE, device_id] only when device_present = 0x01; 1..=256 bytes UTF-8
//!   action_len                     u16 big-endian, 1..=256
//!   action                         UTF-8
//!   outcome_len                    u16 big-endian, 1..=64
//!   outcome                        UTF-8
//!   detail_len                     u32 big-endian, 0..=65536
//!   detail                         canonical JSON (see [`canonical_json`]), UTF-8
//!
//! entry hash E(seq) = SHA-256(entry bytes)
//! ```
//!
//! Every variable-length field carries its length, and the tag is fixed-length, so two
//! different entries never encode to the same bytes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::error::EntryError;
use crate::hash::{HashValue, sha256_concat};

/// Domain-separation tag that starts every v1 entry encoding.
pub const ENTRY_TAG_V1: &[u8; 17] = b"jpki-log entry v1";

/// Longest person log id, in bytes.
pub const PERSON_LOG_ID_MAX_LEN: usize = 128;
/// Longest device id, in bytes.
pub const DEVICE_ID_MAX_LEN: usize = 256;
/// Longest action, in bytes.
pub const ACTION_MAX_LEN: usize = 256;
/// Longest outcome, in bytes.
pub const OUTCOME_MAX_LEN: usize = 64;
/// Largest canonical detail, in bytes.
pub const DETAIL_MAX_LEN: usize = 65_536;
/// Deepest nesting of arrays and objects accepted in a detail.
pub const DETAIL_MAX_DEPTH: usize = 32;

/// The pseudonymous identifier of one person in the log: never the My Number nor the
/// resident id itself. 1 to 128 bytes of ASCII letters, digits and `.` `_` `:` `-`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonLogId(String);

impl PersonLogId {
    pub fn new(value: impl Into<String>) -> Result<Self, EntryError> {
        let value = value.into();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
        if value.is_empty() || value.len() > PERSON_LOG_ID_MAX_LEN || !value.chars().all(allowed) {
            return Err(EntryError::InvalidPersonLogId(value));
        }
        Ok(Self(value))
    }

    /// `"p1-"` followed by the lower-case hex of
    /// `HMAC-SHA256(key, "jpki-log person v1" || resident_id)`: stable for one person
    /// under one key, unlinkable to the resident id without the key. The key is a
    /// secret of the log operator, at least 32 bytes.
    pub fn pseudonymous(key: &[u8], resident_id: &str) -> Result<Self, EntryError> {
        use aws_lc_rs::hmac;
        if key.len() < 32 {
            return Err(EntryError::PseudonymKeyTooShort { len: key.len() });
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        let mut context = hmac::Context::with_key(&key);
        context.update(b"jpki-log person v1");
        context.update(resident_id.as_bytes());
        let tag = context.sign();
        Self::new(format!("p1-{}", hex::encode(tag.as_ref())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `person_len (u8) || person_log_id`, the form every encoding embeds.
    pub(crate) fn length_prefixed(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.0.len());
        // Construction bounds the length to 128.
        out.push(u8::try_from(self.0.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.0.as_bytes());
        out
    }
}

/// The operator's secret from which every person's log id is derived
/// ([`PersonLogId::pseudonymous`]): at least 32 bytes, never printed.
#[derive(Clone)]
pub struct PseudonymKey(jpki_crypto::SecretBytes);

/// Length of a key made by [`PseudonymKey::generate`].
pub const PSEUDONYM_KEY_LEN: usize = 32;

impl PseudonymKey {
    /// A fresh random key of [`PSEUDONYM_KEY_LEN`] bytes.
    pub fn generate() -> Result<Self, jpki_crypto::CryptoError> {
        Ok(Self(jpki_crypto::SecretBytes::new(
            jpki_crypto::random_bytes(PSEUDONYM_KEY_LEN)?,
        )))
    }

    /// A key from its bytes (at least 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() < 32 {
            return Err(EntryError::PseudonymKeyTooShort { len: bytes.len() });
        }
        Ok(Self(jpki_crypto::SecretBytes::new(bytes.to_vec())))
    }

    /// The key's bytes, to write to a protected file.
    pub fn expose(&self) -> &[u8] {
        self.0.expose()
    }

    /// The log id of the resident with this (decimal) id.
    pub fn person_log_id(&self, resident_id: i64) -> Result<PersonLogId, EntryError> {
        PersonLogId::pseudonymous(self.0.expose(), &resident_id.to_string())
    }

    /// Whether two keys are the same (constant time).
    pub fn same_as(&self, other: &PseudonymKey) -> bool {
        self.0.ct_eq(other.0.expose())
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey([redacted])")
    }
}

impl fmt::Debug for PersonLogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonLogId({})", self.0)
    }
}

impl fmt::Display for PersonLogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for PersonLogId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PersonLogId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// The time of an entry: whole microseconds since 1970-01-01T00:00:00Z, from the epoch
/// to 9999-12-31T23:59:59.999999Z. In JSON it is RFC 3339 in UTC with exactly six
/// fractional digits: `2026-04-01T09:30:00.000000Z`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogTime(i64);

impl LogTime {
    /// 9999-12-31T23:59:59.999999Z.
    pub const MAX_MICROS: i64 = 253_402_300_799_999_999;

    pub fn from_unix_micros(micros: i64) -> Result<Self, EntryError> {
        if !(0..=Self::MAX_MICROS).contains(&micros) {
            return Err(EntryError::TimeOutOfRange(micros.to_string()));
        }
        Ok(Self(micros))
    }

    /// The instant in UTC, truncated toward the past to a whole microsecond (the
    /// precision of PostgreSQL's `timestamptz`). The same stored instant always gives the
    /// same `LogTime`, so an entry rebuilt from its database row hashes the same.
    pub fn from_datetime(at: OffsetDateTime) -> Result<Self, EntryError> {
        let micros = at.unix_timestamp_nanos().div_euclid(1_000);
        let micros =
            i64::try_from(micros).map_err(|_| EntryError::TimeOutOfRange(at.to_string()))?;
        Self::from_unix_micros(micros)
    }

    pub fn unix_micros(self) -> i64 {
        self.0
    }

    pub fn to_datetime(self) -> OffsetDateTime {
        // In range by construction (0..=MAX_MICROS is within `time`'s range).
        OffsetDateTime::UNIX_EPOCH
            .checked_add(time::Duration::microseconds(self.0))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub fn to_rfc3339(self) -> String {
        let at = self.to_datetime();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.microsecond()
        )
    }

    /// Reads exactly the form [`LogTime::to_rfc3339`] writes, and nothing else (no offset
    /// other than `Z`, no other number of fractional digits), so each instant has one
    /// text form.
    pub fn parse_rfc3339(text: &str) -> Result<Self, EntryError> {
        let bad = || EntryError::TimeFormat(text.chars().take(40).collect());
        let bytes = text.as_bytes();
        if bytes.len() != 27 {
            return Err(bad());
        }
        let separators = [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (26, b'Z'),
        ];
        if separators
            .iter()
            .any(|&(at, expected)| bytes.get(at) != Some(&expected))
        {
            return Err(bad());
        }
        let number = |from: usize, to: usize| -> Result<u32, EntryError> {
            let digits = bytes.get(from..to).ok_or_else(bad)?;
            digits.iter().try_fold(0u32, |acc, &d| {
                if d.is_ascii_digit() {
                    Ok(acc * 10 + u32::from(d - b'0'))
                } else {
                    Err(bad())
                }
            })
        };
        let year = i32::try_from(number(0, 4)?).map_err(|_| bad())?;
        let month = u8::try_from(number(5, 7)?).map_err(|_| bad())?;
        let day = u8::try_from(number(8, 10)?).map_err(|_| bad())?;
        let hour = u8::try_from(number(11, 13)?).map_err(|_| bad())?;
        let minute = u8::try_from(number(14, 16)?).map_err(|_| bad())?;
        let second = u8::try_from(number(17, 19)?).map_err(|_| bad())?;
        let micro = number(20, 26)?;
        let month = Month::try_from(month).map_err(|_| bad())?;
        let date = Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
        let time = Time::from_hms_micro(hour, minute, second, micro).map_err(|_| bad())?;
        let at = PrimitiveDateTime::new(date, time).assume_offset(UtcOffset::UTC);
        Self::from_datetime(at)
    }
}

impl fmt::Debug for LogTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogTime({})", self.to_rfc3339())
    }
}

impl fmt::Display for LogTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for LogTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for LogTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// What happened, as the usage history shows it (`jpki-store`'s `UsageEntry` without the
/// resident id, which the log replaces by a [`PersonLogId`]).
///
/// Fields are checked when the entry is encoded ([`entry_bytes`]), not here, so a bundle
/// read from a file can always be parsed and its faults reported per entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageEvent {
    pub at: LogTime,
    /// The phone or card the operation came from, if any.
    pub device_id: Option<String>,
    /// `applied`, `issued`, `signed`, `registered`, …
    pub action: String,
    /// `ok`, `refused`, `failed` (`jpki-store`'s `UsageOutcome::as_str`).
    pub outcome: String,
    /// Structured detail; numbers must be integers (see [`canonical_json`]).
    pub detail: serde_json::Value,
}

fn checked_len(field: &'static str, value: &str, min: usize, max: usize) -> Result<(), EntryError> {
    if value.len() < min || value.len() > max {
        return Err(EntryError::FieldLength {
            field,
            len: value.len(),
            min,
            max,
        });
    }
    Ok(())
}

fn push_u16_len(out: &mut Vec<u8>, value: &str) -> Result<(), EntryError> {
    let len = u16::try_from(value.len()).map_err(|_| EntryError::FieldLength {
        field: "string",
        len: value.len(),
        min: 0,
        max: usize::from(u16::MAX),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value.as_bytes());
    Ok(())
}

/// The v1 byte encoding of entry number `seq` of `person` (layout in the module docs).
pub fn entry_bytes(
    person: &PersonLogId,
    seq: u64,
    event: &UsageEvent,
) -> Result<Vec<u8>, EntryError> {
    if seq == 0 {
        return Err(EntryError::SeqZero);
    }
    if let Some(device) = &event.device_id {
        checked_len("device_id", device, 1, DEVICE_ID_MAX_LEN)?;
    }
    checked_len("action", &event.action, 1, ACTION_MAX_LEN)?;
    checked_len("outcome", &event.outcome, 1, OUTCOME_MAX_LEN)?;
    let detail = canonical_json(&event.detail)?;
    let detail_len = u32::try_from(detail.len()).map_err(|_| EntryError::DetailTooLarge {
        len: detail.len(),
        max: DETAIL_MAX_LEN,
    })?;

    let mut out = Vec::with_capacity(
        ENTRY_TAG_V1.len() + 1 + person.as_str().len() + 8 + 8 + 1 + 2 + 256 + 2 + 2 + 4,
    );
    out.extend_from_slice(ENTRY_TAG_V1);
    out.extend_from_slice(&person.length_prefixed());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&event.at.unix_micros().to_be_bytes());
    match &event.device_id {
        None => out.push(0x00),
        Some(device) => {
            out.push(0x01);
            push_u16_len(&mut out, device)?;
        }
    }
    push_u16_len(&mut out, &event.action)?;
    push_u16_len(&mut out, &event.outcome)?;
    out.extend_from_slice(&detail_len.to_be_bytes());
    out.extend_from_slice(&detail);
    Ok(out)
}

/// `E(seq) = SHA-256(entry bytes)`.
pub fn entry_hash(
    person: &PersonLogId,
    seq: u64,
    event: &UsageEvent,
) -> Result<HashValue, EntryError> {
    Ok(sha256_concat(&[&entry_bytes(person, seq, event)?]))
}

/// The canonical JSON text of `value`, the form the entry encoding commits to.
///
/// ```text
/// null, true, false        as written
/// integer                  shortest decimal, '-' for negatives, no '+', no leading zeros
///                          (i64 and u64 range); any other number is refused
/// string                   '"' … '"'; escaped: '"' -> \"  '\' -> \\  U+0008 -> \b
///                          U+000C -> \f  U+000A -> \n  U+000D -> \r  U+0009 -> \t,
///                          other U+0000..U+001F -> \u00XX (lower-case hex);
///                          every other character as raw UTF-8
/// array                    '[' elements joined by ',' ']'
/// object                   '{' "key":value joined by ',' '}', members sorted by their
///                          keys' UTF-16 code units (RFC 8785 §3.2.3)
/// whitespace               none
/// ```
///
/// For JSON whose numbers are integers of magnitude at most 2^53 this is exactly the
/// RFC 8785 (JCS) form. Non-integer numbers are refused rather than canonicalised: a
/// usage detail has no need for them and their canonical text is where JSON
/// canonicalisations disagree. Nesting deeper than [`DETAIL_MAX_DEPTH`] and results
/// longer than [`DETAIL_MAX_LEN`] bytes are refused.
pub fn canonical_json(value: &serde_json::Value) -> Result<Vec<u8>, EntryError> {
    let mut out = Vec::new();
    write_canonical(value, &mut out, 0)?;
    if out.len() > DETAIL_MAX_LEN {
        return Err(EntryError::DetailTooLarge {
            len: out.len(),
            max: DETAIL_MAX_LEN,
        });
    }
    Ok(out)
}

fn write_canonical(
    value: &serde_json::Value,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), EntryError> {
    use serde_json::Value;
    if out.len() > DETAIL_MAX_LEN {
        return Err(EntryError::DetailTooLarge {
            len: out.len(),
            max: DETAIL_MAX_LEN,
        });
    }
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            if let Some(signed) = number.as_i64() {
                out.extend_from_slice(signed.to_string().as_bytes());
            } else if let Some(unsigned) = number.as_u64() {
                out.extend_from_slice(unsigned.to_string().as_bytes());
            } else {
                return Err(EntryError::NonIntegerNumber(number.to_string()));
            }
        }
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            if depth >= DETAIL_MAX_DEPTH {
                return Err(EntryError::DetailTooDeep {
                    max: DETAIL_MAX_DEPTH,
                });
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out, depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            if depth >= DETAIL_MAX_DEPTH {
                return Err(EntryError::DetailTooDeep {
                    max: DETAIL_MAX_DEPTH,
                });
            }
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(item, out, depth + 1)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{0C}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if u32::from(c) < 0x20 => {
                let code = u32::from(c);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[((code >> 4) & 0xF) as usize]);
                out.push(HEX[(code & 0xF) as usize]);
            }
            c => {
                let mut buffer = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn person() -> PersonLogId {
        PersonLogId::new("p1-abc").unwrap()
    }

    fn event() -> UsageEvent {
        UsageEvent {
            at: LogTime::from_unix_micros(1_775_000_000_123_456).unwrap(),
            device_id: Some("dev-1".into()),
            action: "signed".into(),
            outcome: "ok".into(),
            detail: json!({"purpose": "signature", "count": 2}),
        }
    }

    #[test]
    fn entry_bytes_are_exactly_the_documented_layout() {
        let bytes = entry_bytes(&person(), 7, &event()).unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(b"jpki-log entry v1");
        expected.extend_from_slice(&[6]);
        expected.extend_from_slice(b"p1-abc");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend_from_slice(&1_775_000_000_123_456i64.to_be_bytes());
        expected.extend_from_slice(&[1, 0, 5]);
        expected.extend_from_slice(b"dev-1");
        expected.extend_from_slice(&[0, 6]);
        expected.extend_from_slice(b"signed");
        expected.extend_from_slice(&[0, 2]);
        expected.extend_from_slice(b"ok");
        let detail = br#"{"count":2,"purpose":"signature"}"#;
        expected.extend_from_slice(&u32::try_from(detail.len()).unwrap().to_be_bytes());
        expected.extend_from_slice(detail);
        assert_eq!(bytes, expected);

        let mut no_device = event();
        no_device.device_id = None;
        let bytes = entry_bytes(&person(), 7, &no_device).unwrap();
        assert_eq!(bytes[17 + 7 + 16], 0x00);
        assert_eq!(&bytes[17 + 7 + 16 + 1..17 + 7 + 16 + 3], &[0, 6]);
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = entry_hash(&person(), 1, &event()).unwrap();
        let mut variants = Vec::new();
        variants.push(entry_hash(&PersonLogId::new("p1-abd").unwrap(), 1, &event()).unwrap());
        variants.push(entry_hash(&person(), 2, &event()).unwrap());
        let mut e = event();
        e.at = LogTime::from_unix_micros(e.at.unix_micros() + 1).unwrap();
        variants.push(entry_hash(&person(), 1, &e).unwrap());
        let mut e = event();
        e.device_id = None;
        variants.push(entry_hash(&person(), 1, &e).unwrap());
        let mut e = event();
        e.action = "signes".into();
        variants.push(entry_hash(&person(), 1, &e).unwrap());
        let mut e = event();
        e.outcome = "refused".into();
        variants.push(entry_hash(&person(), 1, &e).unwrap());
        let mut e = event();
        e.detail = json!({"purpose": "signature", "count": 3});
        variants.push(entry_hash(&person(), 1, &e).unwrap());
        for variant in variants {
            assert_ne!(variant, base);
        }
        // Moving bytes between adjacent fields does not collide either: lengths are encoded.
        let mut a = event();
        a.action = "ab".into();
        a.outcome = "c".into();
        let mut b = event();
        b.action = "a".into();
        b.outcome = "bc".into();
        assert_ne!(
            entry_hash(&person(), 1, &a).unwrap(),
            entry_hash(&person(), 1, &b).unwrap()
        );
    }

    #[test]
    fn canonical_json_sorts_escapes_and_refuses_floats() {
        let value = json!({"b": [1, -2, true, null], "a": "x\"\\\n\u{1}é", "": {}});
        assert_eq!(
            String::from_utf8(canonical_json(&value).unwrap()).unwrap(),
            "{\"\":{},\"a\":\"x\\\"\\\\\\n\\u0001é\",\"b\":[1,-2,true,null]}"
        );
        // Key order is by UTF-16 code units (RFC 8785): U+E000 sorts after U+1F600 in
        // UTF-16 (0xD83D…) — the opposite of UTF-8 byte order.
        let value = json!({"\u{E000}": 1, "\u{1F600}": 2});
        assert_eq!(
            String::from_utf8(canonical_json(&value).unwrap()).unwrap(),
            "{\"\u{1F600}\":2,\"\u{E000}\":1}"
        );
        assert_eq!(
            canonical_json(&json!(u64::MAX)).unwrap(),
            b"18446744073709551615"
        );
        assert_eq!(
            canonical_json(&json!(i64::MIN)).unwrap(),
            b"-9223372036854775808"
        );
        assert!(matches!(
            canonical_json(&json!(1.5)),
            Err(EntryError::NonIntegerNumber(_))
        ));
        let parsed: serde_json::Value = serde_json::from_str("2.0").unwrap();
        assert!(canonical_json(&parsed).is_err());
        // Whitespace and member order of the input do not matter.
        let a: serde_json::Value = serde_json::from_str(r#"{ "y" : 1 , "x" : [ 2 ] }"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"x":[2],"y":1}"#).unwrap();
        assert_eq!(canonical_json(&a).unwrap(), canonical_json(&b).unwrap());
    }

    #[test]
    fn canonical_json_limits_depth_and_size() {
        let mut deep = json!(0);
        for _ in 0..DETAIL_MAX_DEPTH {
            deep = json!([deep]);
        }
        assert!(canonical_json(&deep).is_ok());
        let deeper = json!([deep]);
        assert!(matches!(
            canonical_json(&deeper),
            Err(EntryError::DetailTooDeep { .. })
        ));
        let big = json!("x".repeat(DETAIL_MAX_LEN));
        assert!(matches!(
            canonical_json(&big),
            Err(EntryError::DetailTooLarge { .. })
        ));
    }

    #[test]
    fn field_limits_are_enforced() {
        let mut e = event();
        e.action = String::new();
        assert!(matches!(
            entry_bytes(&person(), 1, &e),
            Err(EntryError::FieldLength {
                field: "action",
                ..
            })
        ));
        let mut e = event();
        e.device_id = Some("d".repeat(DEVICE_ID_MAX_LEN + 1));
        assert!(entry_bytes(&person(), 1, &e).is_err());
        assert!(matches!(
            entry_bytes(&person(), 0, &event()),
            Err(EntryError::SeqZero)
        ));
    }

    #[test]
    fn person_log_ids_are_restricted_and_pseudonyms_are_keyed() {
        assert!(PersonLogId::new("").is_err());
        assert!(PersonLogId::new("a b").is_err());
        assert!(PersonLogId::new("山田").is_err());
        assert!(PersonLogId::new("x".repeat(129)).is_err());
        assert!(PersonLogId::new("x".repeat(128)).is_ok());
        let key = [7u8; 32];
        let a = PersonLogId::pseudonymous(&key, "resident-1").unwrap();
        assert_eq!(a, PersonLogId::pseudonymous(&key, "resident-1").unwrap());
        assert_ne!(a, PersonLogId::pseudonymous(&key, "resident-2").unwrap());
        assert_ne!(
            a,
            PersonLogId::pseudonymous(&[8u8; 32], "resident-1").unwrap()
        );
        assert!(a.as_str().starts_with("p1-") && a.as_str().len() == 67);
        assert!(!a.as_str().contains("resident"));
        assert!(PersonLogId::pseudonymous(&[0; 31], "r").is_err());
    }

    #[test]
    fn log_time_text_form_is_strict_and_round_trips() {
        let t = LogTime::parse_rfc3339("2026-04-01T09:30:00.123456Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-04-01T09:30:00.123456Z");
        assert_eq!(t.unix_micros(), 1_775_035_800_123_456);
        for bad in [
            "2026-04-01T09:30:00Z",
            "2026-04-01T09:30:00.123456+09:00",
            "2026-04-01T09:30:00.1234567Z",
            "2026-02-30T09:30:00.000000Z",
            "2026-04-01 09:30:00.000000Z",
            "1969-12-31T23:59:59.999999Z",
            "+026-04-01T09:30:00.000000Z",
        ] {
            assert!(LogTime::parse_rfc3339(bad).is_err(), "{bad}");
        }
        assert_eq!(
            LogTime::from_unix_micros(LogTime::MAX_MICROS)
                .unwrap()
                .to_rfc3339(),
            "9999-12-31T23:59:59.999999Z"
        );
        assert!(LogTime::from_unix_micros(LogTime::MAX_MICROS + 1).is_err());
        assert!(LogTime::from_unix_micros(-1).is_err());
        // Truncation toward the past, at nanosecond input.
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_000_999).unwrap();
        assert_eq!(LogTime::from_datetime(at).unwrap().unix_micros(), 1_000);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<LogTime>(&json).unwrap(), t);
    }
}
