//! The usage history as the pages show and export it: the filter from the query string,
//! the person-facing columns of a line, and the CSV and JSON files.
//!
//! Lines come from the store's history pages (`UsageStore::usage_page`: newest first,
//! filtered in SQL, paged with an id cursor), so a person with a hundred thousand lines
//! costs a page as much as one with ten.

use jpki_model::time::{JST, start_of_jst_day};
use jpki_store::{UsageKind, UsageOutcome, UsageQuery, UsageRecord};
use serde::Deserialize;
use time::{Date, Duration, OffsetDateTime};

use crate::error::WebError;
use crate::i18n::{Lang, M, action_label, jst};
use crate::layout::{column_heads, encode_component};

/// The kinds of the filter, as the store defines them.
pub type HistoryCategory = UsageKind;

/// The history page's query string, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryParams {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub before: String,
}

/// The history filter, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// First JST day included.
    pub from: Option<Date>,
    /// Last JST day included.
    pub to: Option<Date>,
    pub kind: Option<UsageKind>,
    /// Page cursor: lines older than this id.
    pub before: Option<i64>,
}

fn parse_date(field: &str, text: &str) -> Result<Option<Date>, WebError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format)
        .map(Some)
        .map_err(|_| WebError::BadInput(format!("{field}: {text:?} is not a date (YYYY-MM-DD)")))
}

impl HistoryQuery {
    pub fn parse(params: &HistoryParams) -> Result<Self, WebError> {
        let from = parse_date("from", &params.from)?;
        let to = parse_date("to", &params.to)?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(WebError::BadInput(
                "the period ends before it starts".into(),
            ));
        }
        let kind = match params.kind.trim() {
            "" | "all" => None,
            text => Some(
                UsageKind::parse(text)
                    .ok_or_else(|| WebError::BadInput(format!("kind: unknown {text:?}")))?,
            ),
        };
        let before = match params.before.trim() {
            "" => None,
            text => Some(
                text.parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or_else(|| WebError::BadInput("before: not a page cursor".into()))?,
            ),
        };
        Ok(Self {
            from,
            to,
            kind,
            before,
        })
    }

    /// The store's query for one page of `limit` lines.
    pub fn store_query(&self, limit: u32) -> UsageQuery {
        UsageQuery {
            from: self.from.map(start_of_jst_day),
            // The last day is included: lines before the start of the next day.
            to: self
                .to
                .and_then(|day| day.checked_add(Duration::days(1)))
                .map(start_of_jst_day),
            actions: self
                .kind
                .map(|kind| kind.actions().iter().map(|a| (*a).to_owned()).collect())
                .unwrap_or_default(),
            outcome: None,
            before_id: self.before,
            limit,
        }
    }

    /// The query string of this filter (without the cursor), for links.
    pub fn filter_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(from) = self.from {
            parts.push(format!("from={from}"));
        }
        if let Some(to) = self.to {
            parts.push(format!("to={to}"));
        }
        if let Some(kind) = self.kind {
            parts.push(format!("kind={}", encode_component(kind.as_str())));
        }
        parts.join("&")
    }

    /// A link to `path` with this filter and `before` as the cursor.
    pub fn link(&self, path: &str, before: Option<i64>) -> String {
        let mut query = self.filter_string();
        if let Some(before) = before {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("before={before}"));
        }
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        }
    }
}

pub fn kind_label(lang: Lang, kind: Option<UsageKind>) -> &'static str {
    lang.t(match kind {
        Some(UsageKind::Registration) => M::CategoryRegistration,
        Some(UsageKind::Login) => M::CategoryLogin,
        Some(UsageKind::Signature) => M::CategorySignature,
        Some(UsageKind::RelyingParty) => M::CategoryRelyingParty,
        Some(UsageKind::Status) => M::CategoryStatus,
        Some(UsageKind::Change) => M::CategoryChange,
        None => M::CategoryOther,
    })
}

pub fn outcome_label(lang: Lang, outcome: UsageOutcome) -> &'static str {
    lang.t(match outcome {
        UsageOutcome::Ok => M::OutcomeOk,
        UsageOutcome::Refused => M::OutcomeRefused,
        UsageOutcome::Failed => M::OutcomeFailed,
    })
}

/// One line as the page, the CSV and the JSON show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub id: i64,
    pub at: OffsetDateTime,
    pub time: String,
    pub kind: Option<UsageKind>,
    pub kind_label: &'static str,
    pub action: String,
    pub action_label: String,
    pub device: String,
    pub relying_party: String,
    pub outcome: UsageOutcome,
    pub outcome_label: &'static str,
    pub detail: String,
    pub detail_json: serde_json::Value,
}

/// The person-facing name of a detail key (the machine name when unknown).
fn key_label(lang: Lang, key: &str) -> String {
    let (ja, en) = match key {
        "certificates" => ("電子証明書", "certificates"),
        "certificate" => ("電子証明書", "certificate"),
        "serial" => ("シリアル番号", "serial"),
        "note" => ("メモ", "note"),
        "operator" => ("職員", "operator"),
        "scope" => ("対象", "scope"),
        "reason" => ("理由", "reason"),
        "application" => ("申請", "application"),
        "kinds" => ("種類", "kinds"),
        "card" => ("カード", "card"),
        "code" => ("コード", "code"),
        "detail" => ("詳細", "detail"),
        "title" => ("件名", "title"),
        "receipt" => ("受付番号", "receipt"),
        "via" => ("経路", "via"),
        "purpose" => ("目的", "purpose"),
        "approved" => ("承認", "approved"),
        "superseded" => ("切替え", "replaced"),
        _ => return key.to_owned(),
    };
    lang.pick(ja, en).to_owned()
}

/// A certificate kind or status name in the reader's language (as is when unknown).
fn term(lang: Lang, text: &str) -> String {
    if let Ok(kind) = text.parse::<jpki_model::CertificateKind>() {
        return lang.pick(kind.label_ja(), kind.label_en()).to_owned();
    }
    let message = match text {
        "active" => M::StatusActive,
        "held" => M::StatusHeld,
        "revoked" => M::StatusRevoked,
        "pending" => M::StatusPending,
        "phone" => M::MediumPhone,
        "card" => M::MediumCard,
        "signature" => M::KindSignature,
        "authentication" => M::KindAuthentication,
        _ => return text.to_owned(),
    };
    lang.t(message).to_owned()
}

fn value_text(lang: Lang, value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(text) => term(lang, text),
        Value::Null => String::new(),
        Value::Bool(flag) => lang
            .pick(
                if *flag { "はい" } else { "いいえ" },
                if *flag { "yes" } else { "no" },
            )
            .to_owned(),
        Value::Array(items) => items
            .iter()
            .map(|item| value_text(lang, item))
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(map) => {
            // A set of flags ({"card": false, "phone": true}): the ones that are on.
            if map.values().all(Value::is_boolean) {
                return map
                    .iter()
                    .filter(|(_, on)| on.as_bool() == Some(true))
                    .map(|(key, _)| term(lang, key))
                    .collect::<Vec<_>>()
                    .join(", ");
            }
            // A certificate change ({"certificate", "kind", "status", "reason"}).
            if let Some(kind) = map.get("kind").and_then(Value::as_str) {
                let mut text = term(lang, kind);
                if let Some(status) = map.get("status").and_then(Value::as_str) {
                    text.push_str(&format!(" → {}", term(lang, status)));
                }
                return text;
            }
            map.iter()
                .map(|(key, value)| {
                    format!("{}: {}", key_label(lang, key), value_text(lang, value))
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
        other => other.to_string(),
    }
}

/// `key: value; …` for a detail object, in the reader's language where the terms are
/// known (the relying party has its own column).
fn detail_text(lang: Lang, detail: &serde_json::Value) -> String {
    match detail {
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(key, _)| key.as_str() != "relying_party")
            .map(|(key, value)| (key_label(lang, key), value_text(lang, value)))
            .filter(|(_, value)| !value.is_empty())
            .map(|(key, value)| format!("{key}: {value}"))
            .collect::<Vec<_>>()
            .join("; "),
        other => value_text(lang, other),
    }
}

/// The history table (the citizen's page and the operator's view of a person).
pub fn table(lang: Lang, caption: &str, lines: &[Line]) -> maud::Markup {
    maud::html! {
        table #history .history {
            caption { (caption) }
            (column_heads(lang, &[M::ColumnTime, M::ColumnCategory, M::ColumnAction, M::ColumnDevice, M::ColumnRelyingParty, M::ColumnOutcome, M::ColumnDetail]))
            tbody {
                @for line in lines {
                    tr data-action=(line.action) {
                        th.time scope="row" { (line.time) }
                        td.kind { (line.kind_label) }
                        td.event { (line.action_label) }
                        td.device { (line.device) }
                        td.party { (line.relying_party) }
                        td.outcome { (line.outcome_label) }
                        td.detail { (line.detail) }
                    }
                }
            }
        }
    }
}

impl Line {
    pub fn new(lang: Lang, record: &UsageRecord) -> Self {
        let entry = &record.entry;
        let kind = UsageKind::of_action(&entry.action);
        Self {
            id: record.id,
            at: entry.at,
            time: jst(entry.at),
            kind,
            kind_label: kind_label(lang, kind),
            action: entry.action.clone(),
            action_label: action_label(lang, &entry.action)
                .map(str::to_owned)
                .unwrap_or_else(|| entry.action.clone()),
            device: entry.device_id.clone().unwrap_or_default(),
            relying_party: entry
                .detail
                .get("relying_party")
                .and_then(|value| value.as_str())
                .unwrap_or_default()
                .to_owned(),
            outcome: entry.outcome,
            outcome_label: outcome_label(lang, entry.outcome),
            detail: detail_text(lang, &entry.detail),
            detail_json: entry.detail.clone(),
        }
    }
}

/// One CSV field: quoted when needed, and a leading `= + - @` (or tab, CR) neutralised so
/// that a spreadsheet does not run it as a formula (CSV injection).
fn csv_field(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) || guarded != guarded.trim() {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// The history as CSV: UTF-8 with a byte-order mark (so Excel reads the Japanese),
/// CRLF line ends (RFC 4180), a header row in the page's language.
pub fn csv(lang: Lang, lines: &[Line]) -> Vec<u8> {
    let mut out = String::from('\u{feff}');
    let header = [
        lang.t(M::ColumnTime),
        lang.t(M::ColumnCategory),
        lang.t(M::ColumnAction),
        "action",
        lang.t(M::ColumnDevice),
        lang.t(M::ColumnRelyingParty),
        lang.t(M::ColumnOutcome),
        lang.t(M::ColumnDetail),
    ];
    out.push_str(
        &header
            .iter()
            .map(|field| csv_field(field))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for line in lines {
        let fields = [
            line.time.as_str(),
            line.kind_label,
            line.action_label.as_str(),
            line.action.as_str(),
            line.device.as_str(),
            line.relying_party.as_str(),
            line.outcome_label,
            line.detail.as_str(),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|field| csv_field(field))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The history as JSON: machine names next to the labels, times in RFC 3339 (JST).
pub fn json(
    query: &HistoryQuery,
    exported_at: OffsetDateTime,
    lines: &[Line],
) -> serde_json::Value {
    let rfc3339 = |instant: OffsetDateTime| {
        instant
            .to_offset(JST)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    serde_json::json!({
        "exported_at": rfc3339(exported_at),
        "filter": {
            "from": query.from.map(|day| day.to_string()),
            "to": query.to.map(|day| day.to_string()),
            "kind": query.kind.map(UsageKind::as_str),
        },
        "entries": lines.iter().map(|line| serde_json::json!({
            "id": line.id,
            "at": rfc3339(line.at),
            "kind": line.kind.map(UsageKind::as_str),
            "action": line.action,
            "action_label": line.action_label,
            "device_id": if line.device.is_empty() { None } else { Some(&line.device) },
            "relying_party": if line.relying_party.is_empty() { None } else { Some(&line.relying_party) },
            "outcome": line.outcome.as_str(),
            "detail": line.detail_json,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_refuse_bad_input() {
        let query = HistoryQuery::parse(&HistoryParams {
            from: "2026-11-01".into(),
            to: "2026-11-26".into(),
            kind: "status".into(),
            before: "42".into(),
        })
        .unwrap();
        assert_eq!(query.kind, Some(UsageKind::Status));
        let store = query.store_query(50);
        assert_eq!(
            store.from,
            Some(time::macros::datetime!(2026-10-31 15:00 UTC))
        );
        assert_eq!(
            store.to,
            Some(time::macros::datetime!(2026-11-26 15:00 UTC))
        );
        assert!(store.actions.contains(&"suspended".to_owned()));
        assert_eq!(store.before_id, Some(42));
        assert_eq!(
            query.link("/history.csv", None),
            "/history.csv?from=2026-11-01&to=2026-11-26&kind=status"
        );
        for bad in [
            HistoryParams {
                from: "yesterday".into(),
                ..Default::default()
            },
            HistoryParams {
                from: "2026-11-27".into(),
                to: "2026-11-26".into(),
                ..Default::default()
            },
            HistoryParams {
                kind: "gossip".into(),
                ..Default::default()
            },
            HistoryParams {
                before: "-1".into(),
                ..Default::default()
            },
        ] {
            assert!(HistoryQuery::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }
}
