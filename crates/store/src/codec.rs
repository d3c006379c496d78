//! How domain values map to columns and back: times as microseconds, enums as their
//! stable names, rows as records. Shared by both backends.

use jpki_model::{
    BasicInfo, BirthDate, CertificateKind, CertificateStatus, MyNumber, RevocationReason,
    SerialNumber, Sex,
};
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::records::{
    AuditEntry, AuditId, AuditRecord, AuthorityRecord, CardRecord, CertificateRecord, HistoryEntry,
    HistoryKind, Holder, Resident, ResidentId,
};
use crate::store::RowExt;

/// Microseconds since the Unix epoch, rounded towards the past.
pub(crate) fn to_micros(instant: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(instant.unix_timestamp_nanos().div_euclid(1000))
        .map_err(|_| StoreError::Invalid(format!("time {instant} is out of the storable range")))
}

/// `instant` as the store keeps it (microseconds, rounded towards the past): what a
/// time column written with it reads back as.
pub fn stored_instant(instant: OffsetDateTime) -> OffsetDateTime {
    to_micros(instant)
        .and_then(|micros| from_micros("instant", micros))
        .unwrap_or(instant)
}

pub(crate) fn from_micros(column: &str, micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|error| StoreError::corrupt(column, error))
}

pub(crate) fn time_column(row: &impl RowExt, column: &str) -> Result<OffsetDateTime, StoreError> {
    from_micros(column, row.int(column)?)
}

pub(crate) fn opt_time_column(
    row: &impl RowExt,
    column: &str,
) -> Result<Option<OffsetDateTime>, StoreError> {
    row.opt_int(column)?
        .map(|micros| from_micros(column, micros))
        .transpose()
}

/// Binds the six basic-information columns, in the order name, name substitute,
/// address, address substitute, date of birth, sex.
pub(crate) fn bind_basic_info<'q, DB>(
    query: Query<'q, DB, <DB as Database>::Arguments>,
    info: &BasicInfo,
) -> Query<'q, DB, <DB as Database>::Arguments>
where
    DB: Database,
    String: for<'t> Encode<'t, DB> + Type<DB>,
{
    query
        .bind(info.name().to_owned())
        .bind(info.name_substitute().to_owned())
        .bind(info.address().to_owned())
        .bind(info.address_substitute().to_owned())
        .bind(info.date_of_birth().to_string())
        .bind(info.sex().code().to_owned())
}

/// The columns [`resident_from_row`] reads, for `concat!` into a statement.
macro_rules! resident_columns {
    () => {
        "id, my_number, name, name_substitute, address, address_substitute, \
         date_of_birth, sex, deceased_at, registered_at, updated_at"
    };
}
pub(crate) use resident_columns;

/// The columns [`certificate_from_row`] reads.
macro_rules! certificate_columns {
    () => {
        "issuer_name, serial, kind, resident_id, card_id, device_id, subject_cn, \
         not_before, not_after, der, issued_at, renewal_of_issuer, renewal_of_serial, \
         status, held_since, revoked_at, revocation_reason, crl_shard, status_changed_at"
    };
}
pub(crate) use certificate_columns;

pub(crate) fn basic_info_from_row(row: &impl RowExt) -> Result<BasicInfo, StoreError> {
    let date_of_birth = BirthDate::parse(&row.text("date_of_birth")?)
        .map_err(|error| StoreError::corrupt("date_of_birth", error))?;
    let sex =
        Sex::from_code(&row.text("sex")?).map_err(|error| StoreError::corrupt("sex", error))?;
    BasicInfo::new(
        &row.text("name")?,
        Some(&row.text("name_substitute")?),
        &row.text("address")?,
        Some(&row.text("address_substitute")?),
        date_of_birth,
        sex,
    )
    .map_err(|error| StoreError::corrupt("basic information", error))
}

pub(crate) fn resident_from_row(row: &impl RowExt) -> Result<Resident, StoreError> {
    // The parse error names the rule broken, never the digits.
    let my_number = MyNumber::parse(&row.text("my_number")?)
        .map_err(|error| StoreError::corrupt("my_number", error))?;
    Ok(Resident {
        id: ResidentId(row.int("id")?),
        my_number,
        basic_info: basic_info_from_row(row)?,
        deceased_at: opt_time_column(row, "deceased_at")?,
        registered_at: time_column(row, "registered_at")?,
        updated_at: time_column(row, "updated_at")?,
    })
}

pub(crate) fn history_from_row(row: &impl RowExt) -> Result<HistoryEntry, StoreError> {
    let kind_text = row.text("kind")?;
    let kind = HistoryKind::from_stored(&kind_text).ok_or_else(|| {
        StoreError::corrupt("kind", format!("unknown history kind {kind_text:?}"))
    })?;
    Ok(HistoryEntry {
        seq: row.int("seq")?,
        kind,
        info: basic_info_from_row(row)?,
        at: time_column(row, "changed_at")?,
    })
}

pub(crate) fn authority_from_row(row: &impl RowExt) -> Result<AuthorityRecord, StoreError> {
    Ok(AuthorityRecord {
        name: row.text("name")?,
        certificate_der: row.bytes("certificate_der")?,
        created_at: time_column(row, "created_at")?,
    })
}

pub(crate) fn card_from_row(row: &impl RowExt) -> Result<CardRecord, StoreError> {
    Ok(CardRecord {
        card_id: row.text("card_id")?,
        resident_id: ResidentId(row.int("resident_id")?),
        issued_at: time_column(row, "issued_at")?,
    })
}

pub(crate) fn serial_column(row: &impl RowExt, column: &str) -> Result<SerialNumber, StoreError> {
    SerialNumber::from_bytes(&row.bytes(column)?)
        .map_err(|error| StoreError::corrupt(column, error))
}

pub(crate) fn certificate_from_row(row: &impl RowExt) -> Result<CertificateRecord, StoreError> {
    let kind_text = row.text("kind")?;
    let kind = kind_text
        .parse::<CertificateKind>()
        .map_err(|error| StoreError::corrupt("kind", error))?;
    let holder = match (row.opt_text("card_id")?, row.opt_text("device_id")?) {
        (Some(card), None) => Holder::Card(card),
        (None, Some(device)) => Holder::Device(device),
        _ => {
            return Err(StoreError::corrupt(
                "card_id/device_id",
                "exactly one holder column must be set",
            ));
        }
    };
    let renewal_of = match (
        row.opt_text("renewal_of_issuer")?,
        row.opt_bytes("renewal_of_serial")?,
    ) {
        (Some(issuer), Some(serial)) => Some((
            issuer,
            SerialNumber::from_bytes(&serial)
                .map_err(|error| StoreError::corrupt("renewal_of_serial", error))?,
        )),
        (None, None) => None,
        _ => {
            return Err(StoreError::corrupt(
                "renewal_of",
                "issuer and serial must be both set or both empty",
            ));
        }
    };
    Ok(CertificateRecord {
        issuer_name: row.text("issuer_name")?,
        serial: serial_column(row, "serial")?,
        kind,
        resident_id: ResidentId(row.int("resident_id")?),
        holder,
        subject_cn: row.text("subject_cn")?,
        not_before: time_column(row, "not_before")?,
        not_after: time_column(row, "not_after")?,
        der: row.bytes("der")?,
        issued_at: time_column(row, "issued_at")?,
        renewal_of,
        status: status_from_row(row)?,
        crl_shard: shard_column(row, "crl_shard")?,
        status_changed_at: time_column(row, "status_changed_at")?,
    })
}

pub(crate) fn shard_column(row: &impl RowExt, column: &str) -> Result<u32, StoreError> {
    let value = row.int(column)?;
    u32::try_from(value).map_err(|error| StoreError::corrupt(column, error))
}

pub(crate) fn audit_from_row(row: &impl RowExt) -> Result<AuditRecord, StoreError> {
    let detail_text = row.text("detail_json")?;
    let detail_json = serde_json::from_str(&detail_text)
        .map_err(|error| StoreError::corrupt("detail_json", error))?;
    Ok(AuditRecord {
        id: AuditId(row.int("id")?),
        entry: AuditEntry {
            at: time_column(row, "occurred_at")?,
            actor: row.text("actor")?,
            action: row.text("action")?,
            subject: row.text("subject")?,
            detail_json,
        },
    })
}

/// A certificate status as its four columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusColumns {
    pub(crate) status: &'static str,
    pub(crate) held_since: Option<i64>,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) revocation_reason: Option<i64>,
}

impl StatusColumns {
    pub(crate) fn encode(status: &CertificateStatus) -> Result<Self, StoreError> {
        Ok(match status {
            CertificateStatus::Pending => Self {
                status: "pending",
                held_since: None,
                revoked_at: None,
                revocation_reason: None,
            },
            CertificateStatus::Active => Self {
                status: "active",
                held_since: None,
                revoked_at: None,
                revocation_reason: None,
            },
            CertificateStatus::Held { since } => Self {
                status: "held",
                held_since: Some(to_micros(*since)?),
                revoked_at: None,
                revocation_reason: None,
            },
            CertificateStatus::Revoked { at, reason } => Self {
                status: "revoked",
                held_since: None,
                revoked_at: Some(to_micros(*at)?),
                revocation_reason: Some(i64::from(reason.code())),
            },
        })
    }
}

pub(crate) fn status_from_row(row: &impl RowExt) -> Result<CertificateStatus, StoreError> {
    let status = row.text("status")?;
    let held_since = opt_time_column(row, "held_since")?;
    let revoked_at = opt_time_column(row, "revoked_at")?;
    let reason = row.opt_int("revocation_reason")?;
    match (status.as_str(), held_since, revoked_at, reason) {
        ("pending", None, None, None) => Ok(CertificateStatus::Pending),
        ("active", None, None, None) => Ok(CertificateStatus::Active),
        ("held", Some(since), None, None) => Ok(CertificateStatus::Held { since }),
        ("revoked", None, Some(at), Some(code)) => {
            let reason = u8::try_from(code)
                .ok()
                .and_then(RevocationReason::from_code)
                .ok_or_else(|| {
                    StoreError::corrupt("revocation_reason", format!("unknown code {code}"))
                })?;
            Ok(CertificateStatus::Revoked { at, reason })
        }
        _ => Err(StoreError::corrupt(
            "status",
            format!("inconsistent status columns for status {status:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_round_trip_at_microsecond_precision() {
        let exact = datetime!(2026-04-01 09:30:15.123456 UTC);
        assert_eq!(from_micros("t", to_micros(exact).unwrap()).unwrap(), exact);
        let finer = datetime!(2026-04-01 09:30:15.123456789 UTC);
        assert_eq!(from_micros("t", to_micros(finer).unwrap()).unwrap(), exact);
        // Before the epoch, rounding still goes towards the past.
        let old = datetime!(1969-12-31 23:59:59.999999999 UTC);
        assert_eq!(to_micros(old).unwrap(), -1);
        // A JST instant is stored as the same instant.
        let jst = datetime!(2026-04-01 18:30:15.123456 +9);
        assert_eq!(to_micros(jst).unwrap(), to_micros(exact).unwrap());
    }

    #[test]
    fn status_columns_encode_each_state() {
        let at = datetime!(2026-05-01 00:00 UTC);
        assert_eq!(
            StatusColumns::encode(&CertificateStatus::Active)
                .unwrap()
                .status,
            "active"
        );
        let held = StatusColumns::encode(&CertificateStatus::Held { since: at }).unwrap();
        assert_eq!(held.held_since, Some(to_micros(at).unwrap()));
        let revoked = StatusColumns::encode(&CertificateStatus::Revoked {
            at,
            reason: RevocationReason::AffiliationChanged,
        })
        .unwrap();
        assert_eq!(revoked.revocation_reason, Some(3));
        assert_eq!(revoked.held_since, None);
    }
}
