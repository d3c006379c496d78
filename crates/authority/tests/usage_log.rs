//! The usage log service on both store backends: tree heads signed on demand and kept
//! in time order, history bundles and consistency proofs that verify offline, and
//! tampering with the database caught by the citizen's verifier and the operator's audit,
//! each naming the entry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration as StdDuration;

use jpki_authority::usage_log::{
    AuditProblem, UsageLog, UsageLogConfig, UsageLogError, audit, generate_log_key, open_log_key,
};
use jpki_crypto::{ManualClock, SecretString};
use jpki_log::{
    LogKey, LogVerifyError, verify_bundle, verify_bundle_since, verify_consistency_document,
};
use jpki_model::{BasicInfo, BirthDate, MyNumber, Sex};
use jpki_store::testing::{TestDatabase, test_pseudonym_key};
use jpki_store::{
    BackendKind, NewResident, PhoneStore, RegistryStore, ResidentId, Store, UsageEntry,
    UsageLogStore, UsageOutcome,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 +09:00);

struct World {
    store: Store,
    database: TestDatabase,
    clock: ManualClock,
    key: LogKey,
}

impl World {
    async fn log(&self, interval: StdDuration) -> UsageLog<Store> {
        UsageLog::open(
            self.store.clone(),
            self.key.clone(),
            test_pseudonym_key().unwrap(),
            Arc::new(self.clock.clone()),
            UsageLogConfig {
                min_sign_interval: interval,
            },
        )
        .await
        .unwrap()
    }

    async fn resident(&self, n: u64) -> ResidentId {
        let text = format!("{n:011}");
        let mut digits = [0u8; 11];
        for (digit, byte) in digits.iter_mut().zip(text.bytes()) {
            *digit = byte - b'0';
        }
        let info = BasicInfo::new(
            "公的 花子",
            None,
            "東京都千代田区霞が関2-1-2",
            None,
            BirthDate::parse("1990-01-02").unwrap(),
            Sex::Female,
        )
        .unwrap();
        self.store
            .add_resident(
                &NewResident {
                    my_number: MyNumber::from_first_eleven(&digits).unwrap(),
                    basic_info: info,
                },
                NOW,
            )
            .await
            .unwrap()
            .id
    }

    async fn usage(&self, resident: ResidentId, action: &str) -> i64 {
        self.clock.advance(Duration::seconds(1));
        self.store
            .append_usage(&UsageEntry {
                resident_id: resident,
                at: self.clock.now_utc(),
                device_id: Some("se-1".into()),
                action: action.into(),
                outcome: UsageOutcome::Ok,
                detail: serde_json::json!({ "relying_party": "銀行" }),
            })
            .await
            .unwrap()
    }

    /// Runs SQL that bypasses the store and its foreign keys (the operator tampering).
    async fn tamper(&self, sql: &str) {
        let prefix = match self.database.backend_kind() {
            BackendKind::Sqlite => "PRAGMA foreign_keys = OFF;",
            BackendKind::Postgres => "SET session_replication_role = replica;",
        };
        self.database
            .execute_unchecked(&format!("{prefix} {sql}"))
            .await
            .unwrap();
    }
}

trait ClockExt {
    fn now_utc(&self) -> OffsetDateTime;
}

impl ClockExt for ManualClock {
    fn now_utc(&self) -> OffsetDateTime {
        jpki_crypto::Clock::now(self)
    }
}

async fn bundles_verify_and_name_edited_and_deleted_entries(w: World) {
    let log = w.log(StdDuration::ZERO).await;
    let (taro, hanako) = (w.resident(1).await, w.resident(2).await);
    let mut taro_rows = Vec::new();
    for action in ["card_issued", "applied", "issued", "registered"] {
        taro_rows.push(w.usage(taro, action).await);
        w.usage(hanako, "login").await;
    }
    let bundle = log.history_bundle(taro, None).await.unwrap();
    assert_eq!(bundle.tree_head.tree_size, 8);
    let verified = verify_bundle(&bundle, log.public_key()).unwrap();
    let actions: Vec<&str> = verified
        .entries
        .iter()
        .map(|e| e.event.action.as_str())
        .collect();
    assert_eq!(actions, ["card_issued", "applied", "issued", "registered"]);
    assert_eq!(
        bundle.person_log_id,
        test_pseudonym_key().unwrap().person_log_id(taro.0).unwrap()
    );
    assert!(
        audit(&w.store, log.public_key(), &test_pseudonym_key().unwrap())
            .await
            .unwrap()
            .is_clean()
    );

    // The operator edits entry 2: the bundle and the audit both name it.
    w.tamper(&format!(
        "UPDATE usage_history SET action = 'login' WHERE id = {}",
        taro_rows[1]
    ))
    .await;
    let bundle = log.history_bundle(taro, None).await.unwrap();
    assert_eq!(
        verify_bundle(&bundle, log.public_key()),
        Err(LogVerifyError::EntryContent { seq: 2 })
    );
    let report = log.verify_all().await.unwrap();
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let finding = &report.findings[0];
    assert_eq!(
        (finding.resident, finding.seq, &finding.problem),
        (Some(taro), Some(2), &AuditProblem::RowEdited)
    );
    assert!(
        finding
            .to_string()
            .starts_with(&format!("resident {}, entry seq 2", taro.0)),
        "{finding}"
    );

    // Deleted instead: the link stays, the content is gone.
    w.tamper(&format!(
        "DELETE FROM usage_history WHERE id = {}",
        taro_rows[1]
    ))
    .await;
    let bundle = log.history_bundle(taro, None).await.unwrap();
    assert_eq!(
        verify_bundle(&bundle, log.public_key()),
        Err(LogVerifyError::EntryContentMissing { seq: 2 })
    );
    let report = log.verify_all().await.unwrap();
    assert_eq!(report.findings[0].problem, AuditProblem::RowDeleted);
    assert_eq!(report.findings[0].seq, Some(2));

    // A row inserted behind the log's back is not in the bundle, and the audit sees it.
    w.tamper(&format!(
        "INSERT INTO usage_history (resident_id, occurred_at, device_id, action, outcome, detail_json) \
         VALUES ({}, 0, NULL, 'forged', 'ok', '{{}}')",
        taro.0
    ))
    .await;
    let report = log.verify_all().await.unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.problem == AuditProblem::RowNotLogged && f.resident == Some(taro))
    );
    // Hanako's history is untouched by all of it.
    let hers = log.history_bundle(hanako, None).await.unwrap();
    assert_eq!(
        verify_bundle(&hers, log.public_key())
            .unwrap()
            .entries
            .len(),
        4
    );
}

async fn tree_heads_are_signed_on_demand_at_most_once_per_interval(w: World) {
    let log = w.log(StdDuration::from_secs(1)).await;
    let taro = w.resident(1).await;
    let empty = log.current_tree_head().await.unwrap();
    assert_eq!(empty.tree_size, 0, "a first head, of the empty tree");
    w.usage(taro, "login").await; // the clock moved 1 s
    let first = log.current_tree_head().await.unwrap();
    assert_eq!(first.tree_size, 1);
    w.store
        .append_usage(&UsageEntry {
            resident_id: taro,
            at: w.clock.now_utc(),
            device_id: None,
            action: "login".into(),
            outcome: UsageOutcome::Ok,
            detail: serde_json::json!({}),
        })
        .await
        .unwrap();
    // Within the interval the latest head is served; the new entry waits for the next.
    assert_eq!(log.current_tree_head().await.unwrap(), first);
    // A history waits for the rest of the interval and shows every entry of its person.
    let started = std::time::Instant::now();
    let bundle = log.history_bundle(taro, None).await.unwrap();
    assert!(started.elapsed() >= StdDuration::from_millis(900));
    assert_eq!(bundle.entries.len(), 2);
    assert_eq!(bundle.tree_head.tree_size, 2);
    // Another person's history needs no new head when the latest covers it.
    let hanako = w.resident(2).await;
    let theirs = log.history_bundle(hanako, None).await.unwrap();
    assert_eq!(theirs.tree_head, bundle.tree_head);
    assert!(theirs.entries.is_empty());
    let first = bundle.tree_head;
    // The timer signs whatever the age; the clock going back does not make heads go back.
    w.clock.advance(Duration::seconds(-30));
    w.usage(hanako, "login").await;
    let second = log.sign_if_grown().await.unwrap();
    assert_eq!(second.tree_size, 3);
    assert!(second.timestamp >= first.timestamp);
    let again = log.sign_if_grown().await.unwrap();
    assert_eq!(again, second, "nothing new to sign");
    assert_eq!(w.store.tree_heads(None, 10).await.unwrap().len(), 4);

    // A second service (another process) serves the same heads.
    let other = w.log(StdDuration::ZERO).await;
    assert_eq!(other.current_tree_head().await.unwrap(), second);
}

async fn consistency_proofs_and_checkpoints_span_published_heads(w: World) {
    let log = w.log(StdDuration::ZERO).await;
    let taro = w.resident(1).await;
    let hanako = w.resident(2).await;
    w.usage(taro, "card_issued").await;
    let bundle = log.history_bundle(taro, None).await.unwrap();
    let checkpoint = verify_bundle(&bundle, log.public_key())
        .unwrap()
        .checkpoint();
    let old = bundle.tree_head.tree_size;
    for n in 0..5 {
        w.usage(if n % 2 == 0 { hanako } else { taro }, "login")
            .await;
        log.current_tree_head().await.unwrap();
    }
    let new = log.current_tree_head().await.unwrap().tree_size;
    assert_eq!((old, new), (1, 6));
    let proof = log.consistency(old, new).await.unwrap();
    verify_consistency_document(&proof, log.public_key()).unwrap();
    for size in 1..=new {
        verify_consistency_document(&log.consistency(size, new).await.unwrap(), log.public_key())
            .unwrap();
    }
    // The citizen's next download extends their checkpoint.
    let later = log.history_bundle(taro, Some(old)).await.unwrap();
    let verified = verify_bundle_since(&later, log.public_key(), &checkpoint).unwrap();
    assert_eq!(verified.entries.len(), 3);
    // Refusals: unknown sizes, wrong order.
    assert!(matches!(
        log.consistency(2, 99).await.unwrap_err(),
        UsageLogError::UnknownTreeHead(99)
    ));
    assert!(matches!(
        log.consistency(6, 1).await.unwrap_err(),
        UsageLogError::SizesOutOfOrder { .. }
    ));
    assert!(matches!(
        log.history_bundle(taro, Some(50)).await.unwrap_err(),
        UsageLogError::SizesOutOfOrder { .. }
    ));
}

async fn altered_leaves_under_a_published_head_stop_the_log(w: World) {
    let log = w.log(StdDuration::ZERO).await;
    let taro = w.resident(1).await;
    for action in ["card_issued", "login", "login"] {
        w.usage(taro, action).await;
    }
    let head = log.current_tree_head().await.unwrap();
    assert_eq!(head.tree_size, 3);
    // Leaves 0 and 1 swapped under the published head.
    w.tamper(
        "UPDATE log_leaves SET leaf_index = 100 WHERE leaf_index = 0; \
         UPDATE log_leaves SET leaf_index = 0 WHERE leaf_index = 1; \
         UPDATE log_leaves SET leaf_index = 1 WHERE leaf_index = 100;",
    )
    .await;
    // A service started on the altered database refuses to sign or prove anything.
    let reopened = w.log(StdDuration::ZERO).await;
    for error in [
        reopened.current_tree_head().await.unwrap_err(),
        reopened.history_bundle(taro, None).await.unwrap_err(),
        reopened.consistency(3, 3).await.unwrap_err(),
    ] {
        assert!(matches!(error, UsageLogError::Inconsistent(_)), "{error}");
    }
    assert_eq!(w.store.tree_heads(None, 10).await.unwrap(), vec![head]);
    // The audit names both entries and the head.
    let report = reopened.verify_all().await.unwrap();
    let named: Vec<(Option<u64>, &AuditProblem)> = report
        .findings
        .iter()
        .map(|f| (f.seq, &f.problem))
        .collect();
    assert_eq!(
        named,
        vec![
            (Some(1), &AuditProblem::LeafMismatch),
            (Some(2), &AuditProblem::LeafMismatch),
            (None, &AuditProblem::HeadRoot { tree_size: 3 }),
        ]
    );
}

async fn leaves_altered_before_any_head_fail_the_entrys_inclusion(w: World) {
    let log = w.log(StdDuration::ZERO).await;
    let taro = w.resident(1).await;
    w.usage(taro, "card_issued").await;
    log.current_tree_head().await.unwrap();
    w.usage(taro, "moved").await;
    w.usage(taro, "renamed").await;
    // Not yet covered by a head: a fresh service signs over the altered tree, and the
    // citizen's verifier names the first entry whose leaf is not where the log says.
    w.tamper(
        "UPDATE log_leaves SET leaf_index = 100 WHERE leaf_index = 1; \
         UPDATE log_leaves SET leaf_index = 1 WHERE leaf_index = 2; \
         UPDATE log_leaves SET leaf_index = 2 WHERE leaf_index = 100;",
    )
    .await;
    let fresh = w.log(StdDuration::ZERO).await;
    let bundle = fresh.history_bundle(taro, None).await.unwrap();
    let error = verify_bundle(&bundle, fresh.public_key()).unwrap_err();
    assert_eq!(
        (error.code(), error.seq()),
        ("LOGV-ENTRY-INCLUSION", Some(2))
    );
}

async fn a_missing_leaf_stops_the_log(w: World) {
    let taro = w.resident(1).await;
    for action in ["card_issued", "login", "login"] {
        w.usage(taro, action).await;
    }
    w.tamper("DELETE FROM log_leaves WHERE leaf_index = 1")
        .await;
    let log = w.log(StdDuration::ZERO).await;
    let error = log.current_tree_head().await.unwrap_err();
    assert!(matches!(error, UsageLogError::Inconsistent(_)), "{error}");
    assert!(error.to_string().contains("leaf 1"), "{error}");
    let report = log.verify_all().await.unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.seq == Some(2) && f.problem == AuditProblem::LeafMissing),
        "{:?}",
        report.findings
    );
    assert!(report.findings.iter().any(|f| f.problem
        == AuditProblem::TreeSize {
            counted: 1,
            stored: 3
        }));
}

#[test]
fn log_keys_are_encrypted_at_rest() {
    let passphrase = SecretString::from("log passphrase");
    let (key, encrypted, public) = generate_log_key(&passphrase, 1_000).unwrap();
    assert!(encrypted.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    let opened = open_log_key(encrypted.as_bytes(), &passphrase).unwrap();
    assert_eq!(opened.log_id(), key.log_id());
    assert!(open_log_key(encrypted.as_bytes(), &SecretString::from("wrong")).is_err());
    assert!(!format!("{key:?}").contains("PRIVATE"));
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        async fn world(database: TestDatabase) -> World {
            World {
                store: database.open().await.unwrap(),
                database,
                clock: ManualClock::new(NOW),
                key: LogKey::generate_p256().unwrap(),
            }
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let database = super::TestDatabase::sqlite().unwrap();
                    super::$name(super::world(database).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(database) = super::TestDatabase::postgres().await.unwrap() {
                        super::$name(super::world(database).await).await;
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    bundles_verify_and_name_edited_and_deleted_entries,
    tree_heads_are_signed_on_demand_at_most_once_per_interval,
    consistency_proofs_and_checkpoints_span_published_heads,
    altered_leaves_under_a_published_head_stop_the_log,
    leaves_altered_before_any_head_fail_the_entrys_inclusion,
    a_missing_leaf_stops_the_log,
);
