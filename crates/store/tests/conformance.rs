//! The store conformance suite: every case in `cases` is compiled once per backend
//! (modules `sqlite` and `postgres`), as rustls compiles its API tests once per crypto
//! provider. SQLite cases run on a temporary file; PostgreSQL cases on a fresh schema of
//! `JPKI_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), and
//! are skipped with a `SKIPPED postgres:` line on stderr when the server is unreachable,
//! unless `JPKI_REQUIRE_POSTGRES=1`.
//!
//! Keep this one binary: add cases to `cases` and to the `with_cases!` list.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jpki_store::testing::{self, TestDatabase};
use jpki_store::{BackendKind, Store};

/// A store on an isolated database, plus the database itself (to reopen or break it).
struct Fixture {
    store: Store,
    database: TestDatabase,
}

impl Fixture {
    /// Another, empty database of the same backend (not opened yet).
    async fn fresh_database(&self) -> TestDatabase {
        match self.database.backend_kind() {
            BackendKind::Sqlite => TestDatabase::sqlite().expect("temporary SQLite database"),
            BackendKind::Postgres => TestDatabase::postgres()
                .await
                .expect("PostgreSQL test schema")
                .expect("PostgreSQL was reachable a moment ago"),
        }
    }
}

async fn sqlite_fixture() -> Option<Fixture> {
    let (store, database) = testing::sqlite_test_store()
        .await
        .expect("SQLite test store");
    Some(Fixture { store, database })
}

async fn postgres_fixture() -> Option<Fixture> {
    testing::postgres_test_store()
        .await
        .expect("PostgreSQL is required (JPKI_REQUIRE_POSTGRES) but the test store failed")
        .map(|(store, database)| Fixture { store, database })
}

/// Calls `$callback!($args; <every case>)`: the one list of cases.
macro_rules! with_cases {
    ($callback:ident!($($args:tt)*)) => {
        $callback!($($args)*;
            add_and_read_resident,
            duplicate_my_number_conflicts,
            find_residents_matches_name_birth_date_and_address,
            list_residents_pages_in_id_order,
            record_change_updates_record_and_appends_history,
            death_then_change_is_refused,
            change_to_unknown_resident_is_not_found,
            authorities_keep_generations_newest_active,
            serial_reuse_conflicts,
            concurrent_serial_reservations_one_wins,
            record_without_reservation_is_refused,
            record_and_read_certificates,
            certificate_references_are_checked,
            status_compare_and_set,
            concurrent_status_changes_one_wins,
            cards_record_and_read,
            nonce_is_single_use,
            concurrent_nonce_consumers_one_wins,
            nonce_failures_are_typed,
            purge_expired_nonces,
            audit_log_appends_and_reads_by_subject,
            schema_newer_than_code_is_refused,
            edited_migration_is_refused,
            reopen_keeps_data,
            failed_transaction_leaves_no_partial_rows,
            concurrent_first_opens_do_not_race,
            concurrent_writers_all_succeed,
            debug_and_errors_do_not_leak_personal_data,
            devices_are_saved_and_reactivated,
            application_issue_register_lifecycle,
            registration_supersedes_the_other_phone,
            registration_keeps_other_kinds_on_the_same_phone,
            concurrent_registrations_leave_one_phone_active,
            activation_delay_keeps_certificates_pending,
            phone_state_transitions_are_guarded,
            lifecycle_batches_are_all_or_nothing,
            status_changes_are_timed_and_readable_by_shard,
            successors_follow_renewal_links,
            crl_publications_keep_the_latest_base_and_its_deltas,
            accounts_keep_only_key_digests_and_roles,
            operator_accounts_keep_password_hashes_and_new_roles,
            operator_sessions_expire_revoke_and_follow_the_account,
            bulk_revoked_certificates_fill_a_listable_shard,
            login_challenges_are_approved_and_collected_once,
            sessions_expire_and_revoke,
            submissions_keep_their_evidence,
            platform_users_are_stable_per_party,
            sign_requests_are_answered_once_before_expiry,
            usage_rows_are_chain_links_and_leaves,
            concurrent_usage_appends_get_distinct_leaves,
            bad_usage_entries_are_refused_before_anything_is_written,
            a_first_usage_entry_needs_the_pseudonym_key,
            failed_transactions_append_nothing_to_the_log,
            usage_pages_filter_and_continue_newest_first,
            tree_heads_are_published_once_per_size,
            tampering_shows_in_what_the_audit_reads,
            nonce_check_reads_without_consuming,
            accepted_applications_are_written_all_or_nothing,
            a_failing_job_leaves_its_group_commit_intact,
            a_batch_of_good_jobs_is_written_in_one_go,
            a_batch_whose_log_append_fails_is_written_job_by_job,
            concurrent_accepts_commit_together_and_refuse_replays,
        );
    };
}

macro_rules! backend_tests {
    ($backend:ident, $fixture:ident; $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(fixture) = super::$fixture().await else {
                        return;
                    };
                    super::cases::$case(&fixture).await;
                }
            )*
        }
    };
}

with_cases!(backend_tests!(sqlite, sqlite_fixture));
with_cases!(backend_tests!(postgres, postgres_fixture));

/// Test data.
mod data {
    use jpki_model::{BasicInfo, BirthDate, MyNumber, SerialNumber, Sex};
    use jpki_store::{NewResident, RegistryStore, Resident, Store};
    use time::macros::datetime;
    use time::{Duration, OffsetDateTime};

    pub const T0: OffsetDateTime = datetime!(2026-04-01 00:00 UTC);

    /// `T0 + seconds`.
    pub fn at(seconds: i64) -> OffsetDateTime {
        T0 + Duration::seconds(seconds)
    }

    /// A valid My Number made from `n` (11 digits plus the check digit).
    pub fn my_number(n: u64) -> MyNumber {
        let text = format!("{n:011}");
        let mut digits = [0u8; 11];
        for (digit, byte) in digits.iter_mut().zip(text.bytes()) {
            *digit = byte - b'0';
        }
        MyNumber::from_first_eleven(&digits).unwrap()
    }

    pub fn info(name: &str, address: &str, date_of_birth: &str) -> BasicInfo {
        BasicInfo::new(
            name,
            None,
            address,
            None,
            BirthDate::parse(date_of_birth).unwrap(),
            Sex::Female,
        )
        .unwrap()
    }

    pub fn default_info() -> BasicInfo {
        info("公的 花子", "東京都千代田区霞が関2-1-2", "1990-01-02")
    }

    pub fn new_resident(n: u64, basic_info: BasicInfo) -> NewResident {
        NewResident {
            my_number: my_number(n),
            basic_info,
        }
    }

    pub async fn add(store: &Store, n: u64) -> Resident {
        store
            .add_resident(&new_resident(n, default_info()), T0)
            .await
            .unwrap()
    }

    pub fn serial(n: u64) -> SerialNumber {
        SerialNumber::from_bytes(&n.to_be_bytes()).unwrap()
    }
}

mod cases {
    use jpki_model::{
        BirthDate, CertificateKind, CertificateStatus, RevocationReason, SerialNumber,
    };
    use jpki_store::{
        ApplicationId, ApplicationRecord, ApplicationState, DeviceState, NewApplication,
        PhoneStore, UsageEntry, UsageOutcome,
    };
    use jpki_store::{
        AuditEntry, AuditStore, AuthorityRecord, CaStore, CardRecord, CardStore, CertificateRecord,
        CertificateStore, ChangeKind, HistoryKind, Holder, NewCertificate, NewNonce, NonceError,
        NonceStore, RegistryStore, ResidentChange, ResidentId, SCHEMA_VERSION, Store, StoreError,
    };
    use time::macros::datetime;
    use time::{Duration, OffsetDateTime};

    use super::Fixture;
    use super::data::{T0, add, at, default_info, info, my_number, new_resident, serial};
    use jpki_store::BackendKind;

    pub use super::accept_cases::*;
    pub use super::log_cases::*;
    pub use super::relying_cases::*;
    pub use super::web_cases::*;

    // ----------------------------------------------------------------- registry

    pub async fn add_and_read_resident(f: &Fixture) {
        let store = &f.store;
        // An instant given in JST with nanoseconds: stored as the same instant,
        // to the microsecond.
        let registered = datetime!(2026-04-01 09:00:00.123456789 +9);
        let resident = store
            .add_resident(&new_resident(1, default_info()), registered)
            .await
            .unwrap();
        assert_eq!(resident.my_number, my_number(1));
        assert_eq!(resident.basic_info, default_info());
        assert_eq!(resident.deceased_at, None);
        assert_eq!(
            resident.registered_at,
            datetime!(2026-04-01 00:00:00.123456 UTC)
        );
        assert_eq!(resident.updated_at, resident.registered_at);

        let by_id = store.resident(resident.id).await.unwrap();
        assert_eq!(by_id.as_ref(), Some(&resident));
        let by_number = store.resident_by_my_number(&my_number(1)).await.unwrap();
        assert_eq!(by_number.as_ref(), Some(&resident));

        assert_eq!(
            store
                .resident(ResidentId(resident.id.0 + 1000))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store.resident_by_my_number(&my_number(2)).await.unwrap(),
            None
        );

        let history = store.resident_history(resident.id).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].seq, 1);
        assert_eq!(history[0].kind, HistoryKind::Registered);
        assert_eq!(history[0].info, default_info());
        assert_eq!(history[0].at, resident.registered_at);

        let second = add(store, 2).await;
        assert!(second.id > resident.id, "ids grow");
    }

    pub async fn duplicate_my_number_conflicts(f: &Fixture) {
        let store = &f.store;
        let first = add(store, 7).await;
        let other_info = info("別人 次郎", "大阪府大阪市北区1-1", "1970-03-04");
        let error = store
            .add_resident(&new_resident(7, other_info), at(60))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
        // Nothing of the refused resident was kept.
        let everyone = store.list_residents(None, 100).await.unwrap();
        assert_eq!(everyone, vec![first.clone()]);
        assert_eq!(store.resident_history(first.id).await.unwrap().len(), 1);
    }

    pub async fn find_residents_matches_name_birth_date_and_address(f: &Fixture) {
        let store = &f.store;
        let dob = "1985-07-07";
        let a = store
            .add_resident(&new_resident(1, info("山田 一郎", "札幌市1", dob)), T0)
            .await
            .unwrap();
        let b = store
            .add_resident(&new_resident(2, info("山田 一郎", "那覇市2", dob)), T0)
            .await
            .unwrap();
        store
            .add_resident(
                &new_resident(3, info("山田 一郎", "札幌市1", "1985-07-08")),
                T0,
            )
            .await
            .unwrap();
        store
            .add_resident(&new_resident(4, info("山田 二郎", "札幌市1", dob)), T0)
            .await
            .unwrap();
        let date = BirthDate::parse(dob).unwrap();

        let ids =
            |found: Vec<jpki_store::Resident>| found.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.find_residents("山田 一郎", date, None).await.unwrap()),
            vec![a.id, b.id]
        );
        assert_eq!(
            ids(store
                .find_residents("山田 一郎", date, Some("那覇市2"))
                .await
                .unwrap()),
            vec![b.id]
        );
        assert!(
            store
                .find_residents("山田 一郎", date, Some("京都市"))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .find_residents("山田", date, None)
                .await
                .unwrap()
                .is_empty()
        );

        // The search is on the current record: after a move, the new address matches.
        let moved = a.basic_info.with_address("那覇市2", None).unwrap();
        store
            .record_change(
                a.id,
                &ResidentChange {
                    kind: ChangeKind::Move,
                    new_info: moved,
                    at: at(10),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            ids(store
                .find_residents("山田 一郎", date, Some("那覇市2"))
                .await
                .unwrap()),
            vec![a.id, b.id]
        );
        assert!(
            store
                .find_residents("山田 一郎", date, Some("札幌市1"))
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn list_residents_pages_in_id_order(f: &Fixture) {
        let store = &f.store;
        assert!(store.list_residents(None, 10).await.unwrap().is_empty());
        let mut all = Vec::new();
        for n in 1..=5 {
            all.push(add(store, n).await.id);
        }
        let page1 = store.list_residents(None, 2).await.unwrap();
        assert_eq!(page1.iter().map(|r| r.id).collect::<Vec<_>>(), all[..2]);
        let page2 = store.list_residents(Some(page1[1].id), 2).await.unwrap();
        assert_eq!(page2.iter().map(|r| r.id).collect::<Vec<_>>(), all[2..4]);
        let page3 = store.list_residents(Some(page2[1].id), 2).await.unwrap();
        assert_eq!(page3.iter().map(|r| r.id).collect::<Vec<_>>(), all[4..]);
        assert!(
            store
                .list_residents(Some(all[4]), 2)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.list_residents(None, 0).await.unwrap().is_empty());
        assert_eq!(store.list_residents(None, u32::MAX).await.unwrap().len(), 5);
    }

    pub async fn record_change_updates_record_and_appends_history(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 11).await;
        let moved = resident
            .basic_info
            .with_address("福岡市中央区天神1-1", None)
            .unwrap();
        let renamed = moved.with_name("鈴木 花子", Some("鈴木 花子")).unwrap();
        let corrected = info("鈴木 花子", "福岡市中央区天神1-1", "1990-01-03");
        let changes = [
            (ChangeKind::Move, moved.clone(), at(100)),
            (ChangeKind::Rename, renamed.clone(), at(200)),
            (ChangeKind::Correction, corrected.clone(), at(300)),
        ];
        let mut last = None;
        for (kind, new_info, when) in changes.iter().cloned() {
            let updated = store
                .record_change(
                    resident.id,
                    &ResidentChange {
                        kind,
                        new_info: new_info.clone(),
                        at: when,
                    },
                )
                .await
                .unwrap();
            assert_eq!(updated.basic_info, new_info);
            assert_eq!(updated.updated_at, when);
            assert_eq!(updated.registered_at, T0);
            assert_eq!(updated.my_number, resident.my_number);
            assert_eq!(updated.deceased_at, None);
            last = Some(updated);
        }
        assert_eq!(store.resident(resident.id).await.unwrap(), last);

        let history = store.resident_history(resident.id).await.unwrap();
        let summary: Vec<_> = history
            .iter()
            .map(|h| (h.seq, h.kind, h.info.clone(), h.at))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, HistoryKind::Registered, default_info(), T0),
                (2, HistoryKind::Move, moved, at(100)),
                (3, HistoryKind::Rename, renamed, at(200)),
                (4, HistoryKind::Correction, corrected, at(300)),
            ]
        );
        // Another resident's history is separate.
        let other = add(store, 12).await;
        assert_eq!(store.resident_history(other.id).await.unwrap().len(), 1);
    }

    pub async fn death_then_change_is_refused(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 21).await;
        let died = store
            .record_change(
                resident.id,
                &ResidentChange {
                    kind: ChangeKind::Death,
                    new_info: default_info(),
                    at: at(500),
                },
            )
            .await
            .unwrap();
        assert_eq!(died.deceased_at, Some(at(500)));
        assert!(died.is_deceased());

        let moved = default_info().with_address("どこか", None).unwrap();
        for kind in [ChangeKind::Move, ChangeKind::Correction, ChangeKind::Death] {
            let error = store
                .record_change(
                    resident.id,
                    &ResidentChange {
                        kind,
                        new_info: moved.clone(),
                        at: at(600),
                    },
                )
                .await
                .unwrap_err();
            assert!(
                matches!(error, StoreError::ResidentDeceased(id) if id == resident.id),
                "{error:?}"
            );
        }
        assert_eq!(store.resident(resident.id).await.unwrap(), Some(died));
        let kinds: Vec<_> = store
            .resident_history(resident.id)
            .await
            .unwrap()
            .iter()
            .map(|h| h.kind)
            .collect();
        assert_eq!(kinds, vec![HistoryKind::Registered, HistoryKind::Death]);
    }

    pub async fn change_to_unknown_resident_is_not_found(f: &Fixture) {
        let store = &f.store;
        let error = store
            .record_change(
                ResidentId(424_242),
                &ResidentChange {
                    kind: ChangeKind::Move,
                    new_info: default_info(),
                    at: T0,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
        assert!(
            store
                .resident_history(ResidentId(424_242))
                .await
                .unwrap()
                .is_empty()
        );
    }

    // ----------------------------------------------------------------- CA

    fn authority(name: &str, der: &[u8], created_at: OffsetDateTime) -> AuthorityRecord {
        AuthorityRecord {
            name: name.into(),
            certificate_der: der.to_vec(),
            created_at,
        }
    }

    pub async fn authorities_keep_generations_newest_active(f: &Fixture) {
        let store = &f.store;
        assert_eq!(store.active_authority("sign").await.unwrap(), None);
        assert!(store.authorities().await.unwrap().is_empty());

        let sign1 = authority("sign", b"\x30\x01sign-1", at(0));
        let auth1 = authority("auth", b"\x30\x01auth-1", at(0));
        let sign2 = authority("sign", b"\x30\x01sign-2", at(3600));
        for record in [&sign1, &auth1, &sign2] {
            store.save_authority(record).await.unwrap();
        }
        assert_eq!(
            store.active_authority("sign").await.unwrap(),
            Some(sign2.clone())
        );
        assert_eq!(
            store.active_authority("auth").await.unwrap(),
            Some(auth1.clone())
        );
        assert_eq!(store.active_authority("ocsp").await.unwrap(), None);
        assert_eq!(
            store.authorities().await.unwrap(),
            vec![auth1.clone(), sign1.clone(), sign2.clone()]
        );

        // The same certificate twice under one name is refused.
        let error = store.save_authority(&sign1).await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
        // On equal creation times, the generation saved last is active.
        let sign3 = authority("sign", b"\x30\x01sign-3", at(3600));
        store.save_authority(&sign3).await.unwrap();
        assert_eq!(store.active_authority("sign").await.unwrap(), Some(sign3));
        let error = store
            .save_authority(&authority("", b"\x30\x00", T0))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    }

    pub async fn serial_reuse_conflicts(f: &Fixture) {
        let store = &f.store;
        store.reserve_serial("sign", &serial(1), T0).await.unwrap();
        let error = store
            .reserve_serial("sign", &serial(1), at(1))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
        // Serials are per issuer.
        store.reserve_serial("auth", &serial(1), T0).await.unwrap();
        store.reserve_serial("sign", &serial(2), T0).await.unwrap();
        // A serial stays used once its certificate is recorded, too.
        let resident = add(store, 31).await;
        device(store, "dev-1").await;
        store
            .record_certificate(&phone_certificate(resident.id, "sign", serial(2), "dev-1"))
            .await
            .unwrap();
        let error = store
            .reserve_serial("sign", &serial(2), at(2))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
    }

    pub async fn concurrent_serial_reservations_one_wins(f: &Fixture) {
        // Two pools on one database, as two CA processes would have.
        let other = f.database.open().await.unwrap();
        let stores = [f.store.clone(), other];
        for round in 0..5u64 {
            let mut tasks = Vec::new();
            for contender in 0..8 {
                let store = stores[contender % 2].clone();
                tasks.push(tokio::spawn(async move {
                    store
                        .reserve_serial("sign", &serial(1000 + round), T0)
                        .await
                }));
            }
            let mut wins = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(()) => wins += 1,
                    Err(StoreError::Conflict { .. }) => {}
                    Err(other) => panic!("unexpected error: {other:?}"),
                }
            }
            assert_eq!(wins, 1, "round {round}: exactly one reservation wins");
        }
    }

    fn phone_certificate(
        resident_id: ResidentId,
        issuer: &str,
        serial: SerialNumber,
        device: &str,
    ) -> NewCertificate {
        NewCertificate {
            issuer_name: issuer.into(),
            serial,
            kind: if issuer == "sign" {
                CertificateKind::PHONE_SIGNATURE
            } else {
                CertificateKind::PHONE_AUTHENTICATION
            },
            resident_id,
            holder: Holder::Device(device.into()),
            subject_cn: "2026JP0000000001".into(),
            not_before: T0,
            not_after: datetime!(2031-04-01 14:59:59 UTC),
            der: b"\x30\x82\x01\x00 not really DER".to_vec(),
            issued_at: T0,
            renewal_of: None,
            awaiting_registration: false,
            application: None,
            crl_shard: 0,
        }
    }

    async fn device(store: &Store, id: &str) {
        store.save_device(id, &[0xAA; 32], T0).await.unwrap();
    }

    pub async fn record_without_reservation_is_refused(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 41).await;
        // Reserved for another issuer does not count.
        store.reserve_serial("auth", &serial(5), T0).await.unwrap();
        let error = store
            .record_certificate(&phone_certificate(resident.id, "sign", serial(5), "dev-1"))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, StoreError::SerialNotReserved { issuer, serial: s } if issuer == "sign" && *s == serial(5)),
            "{error:?}"
        );
        assert_eq!(store.certificate("sign", &serial(5)).await.unwrap(), None);
        assert!(
            store
                .certificates_of_resident(resident.id)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn record_and_read_certificates(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 51).await;
        let neighbour = add(store, 52).await;
        store
            .record_card(&CardRecord {
                card_id: "card-1".into(),
                resident_id: resident.id,
                issued_at: T0,
            })
            .await
            .unwrap();
        let mut card_sign = NewCertificate {
            kind: CertificateKind::CARD_SIGNATURE,
            holder: Holder::Card("card-1".into()),
            ..phone_certificate(resident.id, "sign", serial(1), "unused")
        };
        card_sign.issued_at = at(1);
        let mut card_auth = NewCertificate {
            kind: CertificateKind::CARD_AUTHENTICATION,
            holder: Holder::Card("card-1".into()),
            ..phone_certificate(resident.id, "auth", serial(1), "unused")
        };
        card_auth.issued_at = at(2);
        device(store, "device-A").await;
        device(store, "device-B").await;
        let mut phone_sign = phone_certificate(resident.id, "sign", serial(2), "device-A");
        phone_sign.issued_at = at(3);
        let mut renewed = phone_certificate(resident.id, "sign", serial(3), "device-A");
        renewed.issued_at = at(4);
        renewed.renewal_of = Some(("sign".into(), serial(2)));
        let mut theirs = phone_certificate(neighbour.id, "sign", serial(4), "device-B");
        theirs.issued_at = at(5);

        let mut recorded: Vec<CertificateRecord> = Vec::new();
        for certificate in [&card_sign, &card_auth, &phone_sign, &renewed, &theirs] {
            store
                .reserve_serial(
                    &certificate.issuer_name,
                    &certificate.serial,
                    certificate.issued_at,
                )
                .await
                .unwrap();
            let record = store.record_certificate(certificate).await.unwrap();
            assert_eq!(record.status, CertificateStatus::Active);
            assert_eq!(record.der, certificate.der);
            recorded.push(record);
        }
        for record in &recorded {
            assert_eq!(
                store
                    .certificate(&record.issuer_name, &record.serial)
                    .await
                    .unwrap()
                    .as_ref(),
                Some(record)
            );
        }
        assert_eq!(
            store
                .certificate("sign", &serial(3))
                .await
                .unwrap()
                .unwrap()
                .renewal_of,
            Some(("sign".to_owned(), serial(2)))
        );
        assert_eq!(
            store.certificates_of_resident(resident.id).await.unwrap(),
            recorded[..4]
        );
        assert_eq!(
            store.certificates_of_resident(neighbour.id).await.unwrap(),
            recorded[4..]
        );
        // The latest of each kind asked for: the renewed phone certificate, not the one
        // it renews; none for a kind the person lacks; never a neighbour's.
        let mut latest = store
            .latest_certificates_of_kinds(
                resident.id,
                &[
                    CertificateKind::PHONE_SIGNATURE,
                    CertificateKind::CARD_SIGNATURE,
                    CertificateKind::PHONE_AUTHENTICATION,
                ],
            )
            .await
            .unwrap();
        latest.sort_by_key(|record| record.issued_at);
        assert_eq!(latest, [recorded[0].clone(), recorded[3].clone()]);
        assert_eq!(
            store
                .latest_certificates_of_kinds(neighbour.id, &[CertificateKind::PHONE_SIGNATURE])
                .await
                .unwrap(),
            recorded[4..]
        );
        assert!(
            store
                .latest_certificates_of_kinds(resident.id, &[])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .certificates_of_holder(&Holder::Card("card-1".into()))
                .await
                .unwrap(),
            recorded[..2]
        );
        assert_eq!(
            store
                .certificates_of_holder(&Holder::Device("device-A".into()))
                .await
                .unwrap(),
            recorded[2..4]
        );
        // Card and device ids live in separate name spaces.
        assert!(
            store
                .certificates_of_holder(&Holder::Device("card-1".into()))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .certificates_of_holder(&Holder::Card("nope".into()))
                .await
                .unwrap()
                .is_empty()
        );

        let error = store.record_certificate(&phone_sign).await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
        assert_eq!(
            store
                .certificates_of_resident(resident.id)
                .await
                .unwrap()
                .len(),
            4
        );
    }

    pub async fn certificate_references_are_checked(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 61).await;
        let other = add(store, 62).await;
        store
            .record_card(&CardRecord {
                card_id: "theirs".into(),
                resident_id: other.id,
                issued_at: T0,
            })
            .await
            .unwrap();
        for n in 1..=7 {
            store.reserve_serial("sign", &serial(n), T0).await.unwrap();
        }
        let card_cert = |serial, card: &str| NewCertificate {
            kind: CertificateKind::CARD_SIGNATURE,
            holder: Holder::Card(card.into()),
            ..phone_certificate(resident.id, "sign", serial, "unused")
        };
        device(store, "d").await;
        let unknown_resident = phone_certificate(ResidentId(999_999), "sign", serial(1), "d");
        let unknown_card = card_cert(serial(2), "no-such-card");
        let other_residents_card = card_cert(serial(3), "theirs");
        let mut unknown_renewal = phone_certificate(resident.id, "sign", serial(4), "d");
        unknown_renewal.renewal_of = Some(("sign".into(), serial(77)));
        let card_kind_on_device = NewCertificate {
            kind: CertificateKind::CARD_AUTHENTICATION,
            ..phone_certificate(resident.id, "sign", serial(5), "d")
        };
        let mut backwards = phone_certificate(resident.id, "sign", serial(6), "d");
        backwards.not_after = backwards.not_before - Duration::seconds(1);
        let mut empty_der = phone_certificate(resident.id, "sign", serial(7), "d");
        empty_der.der.clear();

        let cases: [(&NewCertificate, ErrorCheck); 7] = [
            (&unknown_resident, |e| {
                matches!(e, StoreError::NotFound { .. })
            }),
            (&unknown_card, |e| matches!(e, StoreError::NotFound { .. })),
            (&other_residents_card, |e| {
                matches!(e, StoreError::Invalid(_))
            }),
            (&unknown_renewal, |e| {
                matches!(e, StoreError::NotFound { .. })
            }),
            (&card_kind_on_device, |e| {
                matches!(e, StoreError::Invalid(_))
            }),
            (&backwards, |e| matches!(e, StoreError::Invalid(_))),
            (&empty_der, |e| matches!(e, StoreError::Invalid(_))),
        ];
        for (certificate, expected) in cases {
            let error = store.record_certificate(certificate).await.unwrap_err();
            assert!(expected(&error), "{certificate:?}: {error:?}");
            assert_eq!(
                store
                    .certificate("sign", &certificate.serial)
                    .await
                    .unwrap(),
                None
            );
        }
    }

    // ----------------------------------------------------------------- phones

    pub async fn devices_are_saved_and_reactivated(f: &Fixture) {
        let store = &f.store;
        assert_eq!(store.device("se-1").await.unwrap(), None);
        let saved = store.save_device("se-1", &[1; 32], T0).await.unwrap();
        assert_eq!(saved.state, DeviceState::Active);
        assert_eq!(saved.resident_id, None);
        store.mark_device_wiped("se-1", at(1)).await.unwrap();
        assert_eq!(
            store.device("se-1").await.unwrap().unwrap().state,
            DeviceState::Wiped
        );
        let again = store.save_device("se-1", &[2; 32], at(2)).await.unwrap();
        assert_eq!(again.state, DeviceState::Active);
        assert_eq!(again.token_hash, vec![2; 32]);
        assert_eq!(again.created_at, T0);
        let error = store.mark_device_wiped("se-none", at(3)).await.unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
    }

    /// An application for `kinds` on `device`, with its certificates issued (pending).
    async fn issued_application(
        store: &Store,
        resident: ResidentId,
        device_id: &str,
        public_id: &str,
        kinds: &[CertificateKind],
        first_serial: u64,
    ) -> ApplicationRecord {
        store.save_device(device_id, &[7; 32], T0).await.unwrap();
        let application = store
            .create_application(&NewApplication {
                public_id: public_id.into(),
                resident_id: resident,
                device_id: device_id.into(),
                kinds: kinds.to_vec(),
                card_certificate: ("sign".into(), serial(9_999)),
                request: serde_json::json!({ "csr_keys": kinds.len() }),
                submitted_at: T0,
            })
            .await
            .unwrap();
        assert_eq!(application.state, ApplicationState::Queued);
        for (offset, kind) in kinds.iter().enumerate() {
            let issuer = if *kind == CertificateKind::PHONE_SIGNATURE {
                "sign"
            } else {
                "auth"
            };
            let serial = serial(first_serial + offset as u64);
            store.reserve_serial(issuer, &serial, T0).await.unwrap();
            let mut certificate = phone_certificate(resident, issuer, serial, device_id);
            certificate.awaiting_registration = true;
            certificate.application = Some(application.id);
            let record = store.record_certificate(&certificate).await.unwrap();
            assert_eq!(record.status, CertificateStatus::Pending);
        }
        store
            .complete_issuance(
                application.id,
                at(10),
                (
                    "ready_to_register",
                    &serde_json::json!({ "application": public_id }),
                ),
                &[UsageEntry {
                    resident_id: resident,
                    at: at(10),
                    device_id: Some(device_id.into()),
                    action: "issued".into(),
                    outcome: UsageOutcome::Ok,
                    detail: serde_json::json!({ "application": public_id }),
                }],
            )
            .await
            .unwrap()
    }

    const BOTH: [CertificateKind; 2] = [
        CertificateKind::PHONE_SIGNATURE,
        CertificateKind::PHONE_AUTHENTICATION,
    ];

    async fn statuses(
        store: &Store,
        resident: ResidentId,
    ) -> Vec<(String, String, CertificateStatus)> {
        store
            .certificates_of_resident(resident)
            .await
            .unwrap()
            .into_iter()
            .map(|c| {
                let Holder::Device(device) = c.holder else {
                    panic!("phone certificate")
                };
                (device, c.kind.as_str().to_owned(), c.status)
            })
            .collect()
    }

    fn active_devices(statuses: &[(String, String, CertificateStatus)]) -> Vec<String> {
        let mut devices: Vec<String> = statuses
            .iter()
            .filter(|(_, _, status)| *status == CertificateStatus::Active)
            .map(|(device, _, _)| device.clone())
            .collect();
        devices.dedup();
        devices
    }

    pub async fn application_issue_register_lifecycle(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 81).await.id;
        let application = issued_application(store, resident, "se-A", "app-1", &BOTH, 100).await;
        assert_eq!(application.state, ApplicationState::Issued);
        assert_eq!(application.issued_at, Some(at(10)));
        assert_eq!(
            store.device("se-A").await.unwrap().unwrap().resident_id,
            Some(resident)
        );
        assert_eq!(
            store.application("app-1").await.unwrap().as_ref(),
            Some(&application)
        );
        assert!(store.queued_applications(10).await.unwrap().is_empty());
        let certificates = store
            .application_certificates(application.id)
            .await
            .unwrap();
        assert_eq!(certificates.len(), 2);
        assert!(
            certificates
                .iter()
                .all(|c| c.status == CertificateStatus::Pending)
        );
        let events = store.events_after("se-A", 0, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "ready_to_register");
        assert!(
            store
                .events_after("se-A", events[0].seq, 10)
                .await
                .unwrap()
                .is_empty()
        );

        let outcome = store
            .register_application(application.id, at(20), at(20))
            .await
            .unwrap();
        assert_eq!(outcome.application.state, ApplicationState::Registered);
        assert_eq!(outcome.application.registered_at, Some(at(20)));
        assert!(outcome.superseded.is_empty() && outcome.wiped_devices.is_empty());
        assert!(
            outcome
                .certificates
                .iter()
                .all(|c| c.status == CertificateStatus::Active)
        );
        let history: Vec<String> = store
            .usage_of_resident(resident)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.entry.action)
            .collect();
        assert_eq!(history, vec!["issued", "registered"]);
    }

    pub async fn registration_supersedes_the_other_phone(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 82).await.id;
        let first = issued_application(store, resident, "se-old", "app-old", &BOTH, 200).await;
        store
            .register_application(first.id, at(20), at(20))
            .await
            .unwrap();
        let second = issued_application(store, resident, "se-new", "app-new", &BOTH, 210).await;
        let outcome = store
            .register_application(second.id, at(30), at(30))
            .await
            .unwrap();
        assert_eq!(outcome.superseded.len(), 2);
        assert!(outcome.superseded.iter().all(|c| matches!(
            c.status,
            CertificateStatus::Revoked {
                reason: RevocationReason::Superseded,
                ..
            }
        )));
        assert_eq!(outcome.wiped_devices, vec!["se-old".to_owned()]);
        assert_eq!(
            active_devices(&statuses(store, resident).await),
            vec!["se-new".to_owned()]
        );
        assert_eq!(
            store.device("se-old").await.unwrap().unwrap().state,
            DeviceState::Superseded
        );
        let wipe = store.events_after("se-old", 0, 10).await.unwrap();
        assert_eq!(wipe.last().unwrap().kind, "wipe");
        assert_eq!(wipe.last().unwrap().payload["replaced_by_device"], "se-new");
        let history: Vec<String> = store
            .usage_of_resident(resident)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.entry.action)
            .collect();
        assert_eq!(
            history,
            vec!["issued", "registered", "issued", "superseded", "registered"]
        );
    }

    pub async fn registration_keeps_other_kinds_on_the_same_phone(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 83).await.id;
        let first = issued_application(store, resident, "se-1", "app-a", &BOTH, 300).await;
        store
            .register_application(first.id, at(20), at(20))
            .await
            .unwrap();
        // A new signature certificate for the same phone (as after lifting a suspension).
        let again = issued_application(
            store,
            resident,
            "se-1",
            "app-b",
            &[CertificateKind::PHONE_SIGNATURE],
            310,
        )
        .await;
        let outcome = store
            .register_application(again.id, at(30), at(30))
            .await
            .unwrap();
        assert_eq!(outcome.superseded.len(), 1);
        assert_eq!(outcome.superseded[0].kind, CertificateKind::PHONE_SIGNATURE);
        assert!(
            outcome.wiped_devices.is_empty(),
            "the same phone is not told to wipe"
        );
        let live: Vec<(String, String)> = statuses(store, resident)
            .await
            .into_iter()
            .filter(|(_, _, status)| *status == CertificateStatus::Active)
            .map(|(device, kind, _)| (device, kind))
            .collect();
        assert_eq!(live.len(), 2);
        assert!(live.contains(&("se-1".into(), "phone_auth".into())));
        assert!(live.contains(&("se-1".into(), "phone_sign".into())));
    }

    pub async fn concurrent_registrations_leave_one_phone_active(f: &Fixture) {
        let other = f.database.open().await.unwrap();
        for round in 0..3u64 {
            let resident = add(&f.store, 90 + round).await.id;
            let a = issued_application(
                &f.store,
                resident,
                &format!("se-a{round}"),
                &format!("a{round}"),
                &BOTH,
                400 + 10 * round,
            )
            .await;
            let b = issued_application(
                &f.store,
                resident,
                &format!("se-b{round}"),
                &format!("b{round}"),
                &BOTH,
                405 + 10 * round,
            )
            .await;
            let (first, second) = (f.store.clone(), other.clone());
            let one =
                tokio::spawn(async move { first.register_application(a.id, at(50), at(50)).await });
            let two =
                tokio::spawn(
                    async move { second.register_application(b.id, at(50), at(50)).await },
                );
            let results = [one.await.unwrap(), two.await.unwrap()];
            let wins = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(wins, 1, "round {round}: {results:?}");
            for result in &results {
                if let Err(error) = result {
                    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
                }
            }
            let statuses = statuses(&f.store, resident).await;
            assert_eq!(
                active_devices(&statuses).len(),
                1,
                "round {round}: {statuses:?}"
            );
            assert_eq!(
                statuses
                    .iter()
                    .filter(|(_, _, s)| *s == CertificateStatus::Active)
                    .count(),
                2
            );
        }
    }

    pub async fn activation_delay_keeps_certificates_pending(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 84).await.id;
        let application = issued_application(store, resident, "se-d", "app-d", &BOTH, 500).await;
        let outcome = store
            .register_application(application.id, at(20), at(20 + 900))
            .await
            .unwrap();
        assert!(
            outcome
                .certificates
                .iter()
                .all(|c| c.status == CertificateStatus::Pending)
        );
        assert!(store.activate_due(at(20 + 899)).await.unwrap().is_empty());
        let activated = store.activate_due(at(20 + 900)).await.unwrap();
        assert_eq!(activated.len(), 2);
        assert!(
            activated
                .iter()
                .all(|c| c.status == CertificateStatus::Active)
        );
        assert!(
            store.activate_due(at(10_000)).await.unwrap().is_empty(),
            "only once"
        );
    }

    pub async fn phone_state_transitions_are_guarded(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 85).await.id;
        store.save_device("se-g", &[1; 32], T0).await.unwrap();
        let queued = store
            .create_application(&NewApplication {
                public_id: "app-g".into(),
                resident_id: resident,
                device_id: "se-g".into(),
                kinds: BOTH.to_vec(),
                card_certificate: ("sign".into(), serial(1)),
                request: serde_json::json!({}),
                submitted_at: T0,
            })
            .await
            .unwrap();
        assert_eq!(
            store.queued_applications(10).await.unwrap(),
            vec![queued.clone()]
        );
        let error = store
            .register_application(queued.id, at(1), at(1))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::Conflict { .. }),
            "a queued application cannot register: {error:?}"
        );
        store
            .fail_application(queued.id, "CA unavailable", at(2))
            .await
            .unwrap();
        let failed = store.application("app-g").await.unwrap().unwrap();
        assert_eq!(failed.state, ApplicationState::Failed);
        assert_eq!(failed.failure.as_deref(), Some("CA unavailable"));
        let error = store
            .complete_issuance(
                queued.id,
                at(3),
                ("ready_to_register", &serde_json::json!({})),
                &[],
            )
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
        let error = store
            .register_application(ApplicationId(999_999), at(4), at(4))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
        // Duplicate public ids, unknown devices and card kinds are refused.
        let duplicate = NewApplication {
            public_id: "app-g".into(),
            resident_id: resident,
            device_id: "se-g".into(),
            kinds: BOTH.to_vec(),
            card_certificate: ("sign".into(), serial(1)),
            request: serde_json::json!({}),
            submitted_at: T0,
        };
        assert!(matches!(
            store.create_application(&duplicate).await.unwrap_err(),
            StoreError::Conflict { .. }
        ));
        let unknown_device = NewApplication {
            public_id: "app-h".into(),
            device_id: "se-none".into(),
            ..duplicate.clone()
        };
        assert!(matches!(
            store.create_application(&unknown_device).await.unwrap_err(),
            StoreError::NotFound { .. }
        ));
        let card_kind = NewApplication {
            public_id: "app-i".into(),
            kinds: vec![CertificateKind::CARD_SIGNATURE],
            ..duplicate
        };
        assert!(matches!(
            store.create_application(&card_kind).await.unwrap_err(),
            StoreError::Invalid(_)
        ));
    }

    type ErrorCheck = fn(&StoreError) -> bool;

    async fn one_certificate(store: &Store) -> (ResidentId, SerialNumber) {
        let resident = add(store, 71).await;
        device(store, "dev").await;
        store.reserve_serial("auth", &serial(9), T0).await.unwrap();
        store
            .record_certificate(&phone_certificate(resident.id, "auth", serial(9), "dev"))
            .await
            .unwrap();
        (resident.id, serial(9))
    }

    async fn status_of(store: &Store, serial: &SerialNumber) -> CertificateStatus {
        store
            .certificate("auth", serial)
            .await
            .unwrap()
            .unwrap()
            .status
    }

    pub async fn status_compare_and_set(f: &Fixture) {
        let store = &f.store;
        let (_, s) = one_certificate(store).await;
        let held = CertificateStatus::Held { since: at(100) };
        store
            .set_status("auth", &s, &CertificateStatus::Active, &held, at(300))
            .await
            .unwrap();
        assert_eq!(status_of(store, &s).await, held);

        // A wrong expectation changes nothing: wrong state, or right state but another time.
        let revoked = CertificateStatus::Revoked {
            at: at(200),
            reason: RevocationReason::KeyCompromise,
        };
        for wrong in [
            CertificateStatus::Active,
            CertificateStatus::Held { since: at(101) },
            revoked.clone(),
        ] {
            let error = store
                .set_status("auth", &s, &wrong, &revoked, at(300))
                .await
                .unwrap_err();
            assert!(
                matches!(error, StoreError::Conflict { .. }),
                "{wrong:?}: {error:?}"
            );
            assert_eq!(status_of(store, &s).await, held);
        }

        store
            .set_status("auth", &s, &held, &CertificateStatus::Active, at(300))
            .await
            .unwrap();
        assert_eq!(status_of(store, &s).await, CertificateStatus::Active);
        store
            .set_status("auth", &s, &CertificateStatus::Active, &revoked, at(300))
            .await
            .unwrap();
        assert_eq!(status_of(store, &s).await, revoked);

        let error = store
            .set_status(
                "auth",
                &serial(12_345),
                &CertificateStatus::Active,
                &held,
                at(300),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
    }

    pub async fn concurrent_status_changes_one_wins(f: &Fixture) {
        let (_, s) = one_certificate(&f.store).await;
        let other = f.database.open().await.unwrap();
        let mut tasks = Vec::new();
        for contender in 0..6i64 {
            let store = if contender % 2 == 0 {
                f.store.clone()
            } else {
                other.clone()
            };
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let new = CertificateStatus::Held {
                    since: at(contender),
                };
                store
                    .set_status("auth", &s, &CertificateStatus::Active, &new, at(300))
                    .await
                    .map(|()| new)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(new) => winners.push(new),
                Err(StoreError::Conflict { .. }) => {}
                Err(other) => panic!("unexpected error: {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        assert_eq!(status_of(&f.store, &s).await, winners[0]);
    }

    // ----------------------------------------------------------------- cards

    pub async fn cards_record_and_read(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 81).await;
        let other = add(store, 82).await;
        let first = CardRecord {
            card_id: "C-0001".into(),
            resident_id: resident.id,
            issued_at: at(10),
        };
        let second = CardRecord {
            card_id: "C-0002".into(),
            resident_id: resident.id,
            issued_at: at(20),
        };
        store.record_card(&second).await.unwrap();
        store.record_card(&first).await.unwrap();
        assert_eq!(store.card("C-0001").await.unwrap(), Some(first.clone()));
        assert_eq!(store.card("C-9999").await.unwrap(), None);
        assert_eq!(
            store.cards_of_resident(resident.id).await.unwrap(),
            vec![first, second]
        );
        assert!(store.cards_of_resident(other.id).await.unwrap().is_empty());

        let duplicate = CardRecord {
            card_id: "C-0001".into(),
            resident_id: other.id,
            issued_at: at(30),
        };
        let error = store.record_card(&duplicate).await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
        let orphan = CardRecord {
            card_id: "C-0003".into(),
            resident_id: ResidentId(999_999),
            issued_at: T0,
        };
        let error = store.record_card(&orphan).await.unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
        assert_eq!(store.card("C-0003").await.unwrap(), None);
        let nameless = CardRecord {
            card_id: String::new(),
            resident_id: resident.id,
            issued_at: T0,
        };
        assert!(matches!(
            store.record_card(&nameless).await,
            Err(StoreError::Invalid(_))
        ));
    }

    // ----------------------------------------------------------------- nonces

    fn nonce(value: &[u8], purpose: &str, expires_after_seconds: i64) -> NewNonce {
        NewNonce {
            value: value.to_vec(),
            purpose: purpose.into(),
            subject: Some("device-A".into()),
            issued_at: T0,
            expires_at: at(expires_after_seconds),
        }
    }

    fn nonce_error(result: Result<jpki_store::ConsumedNonce, StoreError>) -> NonceError {
        match result {
            Err(StoreError::Nonce(error)) => error,
            other => panic!("expected a nonce error, got {other:?}"),
        }
    }

    pub async fn nonce_is_single_use(f: &Fixture) {
        let store = &f.store;
        let issued = nonce(b"\x01\x02\x03\x04", "phone-application", 300);
        store.issue_nonce(&issued).await.unwrap();
        let consumed = store
            .consume_nonce(&issued.value, "phone-application", at(10))
            .await
            .unwrap();
        assert_eq!(consumed.value, issued.value);
        assert_eq!(consumed.purpose, "phone-application");
        assert_eq!(consumed.subject.as_deref(), Some("device-A"));
        assert_eq!(consumed.issued_at, T0);
        assert_eq!(consumed.expires_at, at(300));
        assert_eq!(consumed.used_at, at(10));
        assert_eq!(
            nonce_error(
                store
                    .consume_nonce(&issued.value, "phone-application", at(11))
                    .await
            ),
            NonceError::AlreadyUsed
        );
        // Issuing the same value again is refused, used or not.
        let error = store.issue_nonce(&issued).await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
        // A nonce without a subject round-trips too.
        let anonymous = NewNonce {
            subject: None,
            ..nonce(b"anon", "login", 60)
        };
        store.issue_nonce(&anonymous).await.unwrap();
        assert_eq!(
            store
                .consume_nonce(b"anon", "login", at(1))
                .await
                .unwrap()
                .subject,
            None
        );
    }

    pub async fn concurrent_nonce_consumers_one_wins(f: &Fixture) {
        let other = f.database.open().await.unwrap();
        let stores = [f.store.clone(), other];
        for round in 0..5u8 {
            let value = vec![0xA0, round];
            f.store
                .issue_nonce(&nonce(&value, "login", 300))
                .await
                .unwrap();
            let mut tasks = Vec::new();
            for contender in 0..8 {
                let store = stores[contender % 2].clone();
                let value = value.clone();
                tasks.push(tokio::spawn(async move {
                    store.consume_nonce(&value, "login", at(5)).await
                }));
            }
            let mut wins = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(_) => wins += 1,
                    Err(StoreError::Nonce(NonceError::AlreadyUsed)) => {}
                    Err(other) => panic!("unexpected error: {other:?}"),
                }
            }
            assert_eq!(wins, 1, "round {round}: exactly one consumer wins");
        }
    }

    pub async fn nonce_failures_are_typed(f: &Fixture) {
        let store = &f.store;
        assert_eq!(
            nonce_error(store.consume_nonce(b"never", "login", T0).await),
            NonceError::Unknown
        );

        store
            .issue_nonce(&nonce(b"for-login", "login", 300))
            .await
            .unwrap();
        assert_eq!(
            nonce_error(
                store
                    .consume_nonce(b"for-login", "phone-application", at(1))
                    .await
            ),
            NonceError::WrongPurpose
        );
        // The wrong-purpose attempt did not burn it.
        store
            .consume_nonce(b"for-login", "login", at(2))
            .await
            .unwrap();

        // Valid while now < expires_at.
        store
            .issue_nonce(&nonce(b"edge-1", "login", 300))
            .await
            .unwrap();
        store
            .issue_nonce(&nonce(b"edge-2", "login", 300))
            .await
            .unwrap();
        assert_eq!(
            nonce_error(store.consume_nonce(b"edge-1", "login", at(300)).await),
            NonceError::Expired
        );
        store
            .consume_nonce(b"edge-2", "login", at(300) - Duration::microseconds(1))
            .await
            .unwrap();

        let empty = nonce(b"", "login", 300);
        assert!(matches!(
            store.issue_nonce(&empty).await,
            Err(StoreError::Invalid(_))
        ));
        let backwards = NewNonce {
            expires_at: T0,
            ..nonce(b"x", "login", 0)
        };
        assert!(matches!(
            store.issue_nonce(&backwards).await,
            Err(StoreError::Invalid(_))
        ));
    }

    pub async fn purge_expired_nonces(f: &Fixture) {
        let store = &f.store;
        store
            .issue_nonce(&nonce(b"n1", "login", 100))
            .await
            .unwrap();
        store
            .issue_nonce(&nonce(b"n2", "login", 200))
            .await
            .unwrap();
        store
            .issue_nonce(&nonce(b"n3", "login", 300))
            .await
            .unwrap();
        store
            .issue_nonce(&nonce(b"n4", "login", 400))
            .await
            .unwrap();
        store.consume_nonce(b"n1", "login", at(50)).await.unwrap();
        assert_eq!(store.purge_expired_nonces(at(99)).await.unwrap(), 0);
        assert_eq!(store.purge_expired_nonces(at(200)).await.unwrap(), 2);
        assert_eq!(
            nonce_error(store.consume_nonce(b"n2", "login", at(250)).await),
            NonceError::Unknown
        );
        store.consume_nonce(b"n3", "login", at(250)).await.unwrap();
        assert_eq!(store.purge_expired_nonces(at(1000)).await.unwrap(), 2);
    }

    // ----------------------------------------------------------------- audit

    pub async fn audit_log_appends_and_reads_by_subject(f: &Fixture) {
        let store = &f.store;
        let entry = |seconds, action: &str, subject: &str, detail| AuditEntry {
            at: at(seconds),
            actor: "operator:7".into(),
            action: action.into(),
            subject: subject.into(),
            detail_json: detail,
        };
        let entries = [
            entry(
                1,
                "certificate.hold",
                "certificate:auth:09",
                serde_json::json!({"reason": "電話で一時停止", "n": 1}),
            ),
            entry(2, "resident.move", "resident:#1", serde_json::json!(null)),
            entry(
                3,
                "certificate.release",
                "certificate:auth:09",
                serde_json::json!([1, 2.5, {"deep": true}]),
            ),
            entry(
                3,
                "certificate.revoke",
                "certificate:auth:09",
                serde_json::json!("text"),
            ),
        ];
        let mut ids = Vec::new();
        for e in &entries {
            ids.push(store.append(e).await.unwrap());
        }
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "ids grow: {ids:?}"
        );

        let read = store.audit_entries("certificate:auth:09").await.unwrap();
        assert_eq!(
            read.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![ids[0], ids[2], ids[3]]
        );
        assert_eq!(
            read.into_iter().map(|r| r.entry).collect::<Vec<_>>(),
            vec![entries[0].clone(), entries[2].clone(), entries[3].clone()]
        );
        assert_eq!(store.audit_entries("resident:#1").await.unwrap().len(), 1);
        assert!(store.audit_entries("nobody").await.unwrap().is_empty());
    }

    // ----------------------------------------------------------------- schema

    pub async fn schema_newer_than_code_is_refused(f: &Fixture) {
        assert_eq!(f.store.schema_version().await.unwrap(), SCHEMA_VERSION);
        let future = SCHEMA_VERSION + 1;
        f.database
            .execute_unchecked(&format!(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
                 VALUES ({future}, 'from a newer release', 'unknown', 0)"
            ))
            .await
            .unwrap();
        let error = f.database.open().await.unwrap_err();
        assert!(
            matches!(error, StoreError::SchemaTooNew { found, supported } if found == future && supported == SCHEMA_VERSION),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("newer than this program"),
            "{error}"
        );
    }

    pub async fn edited_migration_is_refused(f: &Fixture) {
        f.database
            .execute_unchecked("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
            .await
            .unwrap();
        let error = f.database.open().await.unwrap_err();
        assert!(
            matches!(error, StoreError::MigrationMismatch { version: 1, .. }),
            "{error:?}"
        );
    }

    pub async fn reopen_keeps_data(f: &Fixture) {
        let resident = add(&f.store, 91).await;
        f.store
            .record_card(&CardRecord {
                card_id: "kept".into(),
                resident_id: resident.id,
                issued_at: T0,
            })
            .await
            .unwrap();
        f.store
            .reserve_serial("sign", &serial(1), T0)
            .await
            .unwrap();
        f.store.close().await;

        let reopened = f.database.open().await.unwrap();
        assert_eq!(reopened.schema_version().await.unwrap(), SCHEMA_VERSION);
        assert_eq!(
            reopened.resident(resident.id).await.unwrap(),
            Some(resident.clone())
        );
        assert_eq!(
            reopened.cards_of_resident(resident.id).await.unwrap().len(),
            1
        );
        let error = reopened
            .reserve_serial("sign", &serial(1), at(1))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
        // The closed store refuses work instead of hanging.
        assert!(f.store.resident(resident.id).await.is_err());
    }

    /// Installs a trigger that makes inserting a history row for "失敗 太郎" fail, so
    /// that a multi-statement operation fails after its first statement succeeded.
    async fn inject_history_failure(f: &Fixture) {
        let sql = match f.database.backend_kind() {
            BackendKind::Sqlite => {
                "CREATE TRIGGER fail_history BEFORE INSERT ON resident_history \
                 WHEN NEW.name = '失敗 太郎' \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
            }
            BackendKind::Postgres => {
                "CREATE FUNCTION fail_history() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$; \
                 CREATE TRIGGER fail_history BEFORE INSERT ON resident_history \
                 FOR EACH ROW WHEN (NEW.name = '失敗 太郎') EXECUTE FUNCTION fail_history();"
            }
        };
        f.database.execute_unchecked(sql).await.unwrap();
    }

    pub async fn failed_transaction_leaves_no_partial_rows(f: &Fixture) {
        let store = &f.store;
        inject_history_failure(f).await;
        let failing = info("失敗 太郎", "東京都", "1980-01-01");

        // add_resident: the resident row was inserted, then the history insert failed.
        let error = store
            .add_resident(&new_resident(101, failing.clone()), T0)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Database { .. }), "{error:?}");
        assert_eq!(
            store.resident_by_my_number(&my_number(101)).await.unwrap(),
            None
        );
        assert!(store.list_residents(None, 10).await.unwrap().is_empty());
        // No orphan row holds the My Number: it can be registered now.
        let resident = add(store, 101).await;

        // record_change: the resident row was updated, then the history insert failed.
        let error = store
            .record_change(
                resident.id,
                &ResidentChange {
                    kind: ChangeKind::Rename,
                    new_info: failing,
                    at: at(10),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Database { .. }), "{error:?}");
        assert_eq!(
            store.resident(resident.id).await.unwrap(),
            Some(resident.clone())
        );
        assert_eq!(store.resident_history(resident.id).await.unwrap().len(), 1);

        // The next change takes history position 2: the failed one left no gap.
        let moved = resident.basic_info.with_address("横浜市", None).unwrap();
        store
            .record_change(
                resident.id,
                &ResidentChange {
                    kind: ChangeKind::Move,
                    new_info: moved,
                    at: at(20),
                },
            )
            .await
            .unwrap();
        let seqs: Vec<_> = store
            .resident_history(resident.id)
            .await
            .unwrap()
            .iter()
            .map(|h| h.seq)
            .collect();
        assert_eq!(seqs, vec![1, 2]);
    }

    pub async fn concurrent_first_opens_do_not_race(f: &Fixture) {
        let fresh = f.fresh_database().await;
        let (a, b, c, d) = tokio::join!(fresh.open(), fresh.open(), fresh.open(), fresh.open());
        let stores = [a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()];
        for store in &stores {
            assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
        }
        // All four see one database.
        let resident = add(&stores[0], 111).await;
        assert_eq!(
            stores[3].resident(resident.id).await.unwrap(),
            Some(resident)
        );
    }

    /// Many transactions that read before they write (record_card, record_certificate)
    /// from two pools at once: none may fail with a lock error (on SQLite this needs
    /// `BEGIN IMMEDIATE`; a deferred transaction fails to upgrade its read lock).
    pub async fn concurrent_writers_all_succeed(f: &Fixture) {
        let resident = add(&f.store, 131).await;
        let other = f.database.open().await.unwrap();
        let mut tasks = Vec::new();
        for n in 0..24u64 {
            let store = if n % 2 == 0 {
                f.store.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                let card_id = format!("card-{n}");
                store
                    .record_card(&CardRecord {
                        card_id: card_id.clone(),
                        resident_id: resident.id,
                        issued_at: at(n as i64),
                    })
                    .await?;
                store.reserve_serial("sign", &serial(500 + n), T0).await?;
                let certificate = NewCertificate {
                    kind: CertificateKind::CARD_SIGNATURE,
                    holder: Holder::Card(card_id),
                    ..phone_certificate(resident.id, "sign", serial(500 + n), "unused")
                };
                store.record_certificate(&certificate).await?;
                store
                    .record_change(
                        resident.id,
                        &ResidentChange {
                            kind: ChangeKind::Correction,
                            new_info: default_info(),
                            at: at(n as i64),
                        },
                    )
                    .await
                    .map(|_| ())
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(
            f.store.cards_of_resident(resident.id).await.unwrap().len(),
            24
        );
        assert_eq!(
            f.store
                .certificates_of_resident(resident.id)
                .await
                .unwrap()
                .len(),
            24
        );
        let seqs: Vec<_> = f
            .store
            .resident_history(resident.id)
            .await
            .unwrap()
            .iter()
            .map(|h| h.seq)
            .collect();
        assert_eq!(seqs, (1..=25).collect::<Vec<_>>());
    }

    // ----------------------------------------------------------------- lifecycle

    fn usage(resident: ResidentId, action: &str, seconds: i64) -> UsageEntry {
        UsageEntry {
            resident_id: resident,
            at: at(seconds),
            device_id: None,
            action: action.into(),
            outcome: UsageOutcome::Ok,
            detail: serde_json::json!({ "test": action }),
        }
    }

    pub async fn lifecycle_batches_are_all_or_nothing(f: &Fixture) {
        use jpki_store::{
            LifecycleBatch, LifecycleStore, NewDeviceEvent, StatusChange, StatusStore,
        };
        let store = &f.store;
        let resident = add(store, 131).await.id;
        let registered = issued_application(store, resident, "se-L", "app-L", &BOTH, 700).await;
        store
            .register_application(registered.id, at(20), at(20))
            .await
            .unwrap();
        // A second, open application of the same person (queued).
        let open = store
            .create_application(&NewApplication {
                public_id: "app-open".into(),
                resident_id: resident,
                device_id: "se-L".into(),
                kinds: vec![CertificateKind::PHONE_SIGNATURE],
                card_certificate: ("sign".into(), serial(9_999)),
                request: serde_json::json!({}),
                submitted_at: at(21),
            })
            .await
            .unwrap();
        assert_eq!(open.state, ApplicationState::Queued);
        let held = CertificateStatus::Held { since: at(30) };
        let change =
            |issuer: &str, n: u64, expected: &CertificateStatus, new: &CertificateStatus| {
                StatusChange {
                    issuer_name: issuer.into(),
                    serial: serial(n),
                    expected: expected.clone(),
                    new: new.clone(),
                }
            };
        let usage_before = store.usage_of_resident(resident).await.unwrap().len();
        let events_before = store.events_after("se-L", 0, 100).await.unwrap().len();

        // A batch whose second change expects the wrong status changes nothing at all.
        let mut wrong = LifecycleBatch::new(at(30));
        wrong.changes = vec![
            change("sign", 700, &CertificateStatus::Active, &held),
            change("auth", 701, &CertificateStatus::Pending, &held),
        ];
        wrong.cancel_applications = Some((resident, "cancelled".into()));
        wrong.events.push(NewDeviceEvent {
            device_id: "se-L".into(),
            kind: "suspended".into(),
            payload: serde_json::json!({}),
        });
        wrong.usage.push(usage(resident, "suspended", 30));
        wrong.audit.push(AuditEntry {
            at: at(30),
            actor: "operator:alice".into(),
            action: "hotline.suspend".into(),
            subject: "resident:lifecycle".into(),
            detail_json: serde_json::json!({}),
        });
        let error = store.apply_lifecycle(&wrong).await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
        assert!(error.to_string().contains("active"), "{error}");
        let unchanged = store
            .certificate("sign", &serial(700))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(unchanged.status, CertificateStatus::Active);
        assert_eq!(unchanged.status_changed_at, at(20));
        assert_eq!(
            store.application("app-open").await.unwrap().unwrap().state,
            ApplicationState::Queued
        );
        assert_eq!(
            store.usage_of_resident(resident).await.unwrap().len(),
            usage_before
        );
        assert_eq!(
            store.events_after("se-L", 0, 100).await.unwrap().len(),
            events_before
        );
        assert!(
            store
                .audit_entries("resident:lifecycle")
                .await
                .unwrap()
                .is_empty()
        );

        // An unknown certificate: NotFound, nothing written either.
        let mut unknown = LifecycleBatch::new(at(30));
        unknown.changes = vec![
            change("sign", 700, &CertificateStatus::Active, &held),
            change("auth", 99_999, &CertificateStatus::Active, &held),
        ];
        let error = store.apply_lifecycle(&unknown).await.unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
        assert_eq!(
            store
                .certificate("sign", &serial(700))
                .await
                .unwrap()
                .unwrap()
                .status,
            CertificateStatus::Active
        );
        // The same certificate twice, or an empty action: refused before the database.
        let mut twice = LifecycleBatch::new(at(30));
        twice.changes = vec![
            change("sign", 700, &CertificateStatus::Active, &held),
            change("sign", 700, &held, &CertificateStatus::Active),
        ];
        assert!(matches!(
            store.apply_lifecycle(&twice).await.unwrap_err(),
            StoreError::Invalid(_)
        ));

        // The right batch: everything at once.
        let mut right = wrong.clone();
        right.changes[1] = change("auth", 701, &CertificateStatus::Active, &held);
        right
            .device_states
            .push(("se-L".into(), DeviceState::Superseded));
        let outcome = store.apply_lifecycle(&right).await.unwrap();
        assert_eq!(outcome.certificates.len(), 2);
        for certificate in &outcome.certificates {
            assert_eq!(certificate.status, held);
            assert_eq!(certificate.status_changed_at, at(30));
        }
        assert_eq!(outcome.cancelled_applications, vec!["app-open".to_owned()]);
        assert_eq!(outcome.events.len(), 1);
        let cancelled = store.application("app-open").await.unwrap().unwrap();
        assert_eq!(cancelled.state, ApplicationState::Failed);
        assert_eq!(cancelled.failure.as_deref(), Some("cancelled"));
        assert_eq!(
            store.application("app-L").await.unwrap().unwrap().state,
            ApplicationState::Registered,
            "a registered application is not cancelled"
        );
        assert_eq!(
            store.device("se-L").await.unwrap().unwrap().state,
            DeviceState::Superseded
        );
        let events = store.events_after("se-L", 0, 100).await.unwrap();
        assert_eq!(events.last().unwrap().kind, "suspended");
        assert_eq!(events.last().unwrap().seq, outcome.events[0]);
        assert_eq!(
            store
                .usage_of_resident(resident)
                .await
                .unwrap()
                .last()
                .unwrap()
                .entry
                .action,
            "suspended"
        );
        assert_eq!(
            store
                .audit_entries("resident:lifecycle")
                .await
                .unwrap()
                .len(),
            1
        );
        let status = store
            .certificate_status("auth", &serial(701))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.status, held);
        assert_eq!(status.status_changed_at, at(30));

        // Replaying the same batch now conflicts: the compare-and-set protects it.
        assert!(matches!(
            store.apply_lifecycle(&right).await.unwrap_err(),
            StoreError::Conflict { .. }
        ));

        // A resident's change travels with the revocations it causes: all or nothing.
        let moved = default_info()
            .with_address("大阪府大阪市北区1-1", None)
            .unwrap();
        let revoked = CertificateStatus::Revoked {
            at: at(40),
            reason: RevocationReason::AffiliationChanged,
        };
        let mut move_batch = LifecycleBatch::new(at(40));
        move_batch.resident_change = Some((
            resident,
            ResidentChange {
                kind: ChangeKind::Move,
                new_info: moved.clone(),
                at: at(40),
            },
        ));
        move_batch.changes = vec![change("sign", 700, &CertificateStatus::Active, &revoked)];
        let error = store.apply_lifecycle(&move_batch).await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
        assert_eq!(
            store.resident(resident).await.unwrap().unwrap().basic_info,
            default_info(),
            "the move was rolled back with the failed revocation"
        );
        assert_eq!(store.resident_history(resident).await.unwrap().len(), 1);
        move_batch.changes = vec![change("sign", 700, &held, &revoked)];
        let outcome = store.apply_lifecycle(&move_batch).await.unwrap();
        assert_eq!(outcome.resident.as_ref().unwrap().basic_info, moved);
        assert_eq!(outcome.certificates[0].status, revoked);
        let history = store.resident_history(resident).await.unwrap();
        assert_eq!(
            history.iter().map(|h| h.kind).collect::<Vec<_>>(),
            vec![HistoryKind::Registered, HistoryKind::Move]
        );
        let mut death = LifecycleBatch::new(at(50));
        death.resident_change = Some((
            resident,
            ResidentChange {
                kind: ChangeKind::Death,
                new_info: moved.clone(),
                at: at(50),
            },
        ));
        let outcome = store.apply_lifecycle(&death).await.unwrap();
        assert_eq!(outcome.resident.unwrap().deceased_at, Some(at(50)));
        assert!(matches!(
            store.apply_lifecycle(&death).await.unwrap_err(),
            StoreError::ResidentDeceased(id) if id == resident
        ));
        death.resident_change.as_mut().unwrap().0 = ResidentId(987_654);
        assert!(matches!(
            store.apply_lifecycle(&death).await.unwrap_err(),
            StoreError::NotFound { .. }
        ));
    }

    pub async fn status_changes_are_timed_and_readable_by_shard(f: &Fixture) {
        use jpki_store::StatusStore;
        let store = &f.store;
        let resident = add(store, 141).await.id;
        device(store, "se-S").await;
        assert_eq!(store.crl_shards_in_use("auth").await.unwrap(), 0);
        // Five certificates: shards 0 and 3; one of them expired.
        let mut recorded = Vec::new();
        for (n, shard, issued) in [
            (1u64, 0u32, 1i64),
            (2, 3, 2),
            (3, 3, 3),
            (4, 3, 4),
            (5, 0, 5),
        ] {
            store
                .reserve_serial("auth", &serial(800 + n), T0)
                .await
                .unwrap();
            let mut certificate = phone_certificate(resident, "auth", serial(800 + n), "se-S");
            certificate.crl_shard = shard;
            certificate.issued_at = at(issued);
            if n == 4 {
                certificate.not_after = at(50);
            }
            let record = store.record_certificate(&certificate).await.unwrap();
            assert_eq!(record.crl_shard, shard);
            assert_eq!(
                record.status_changed_at,
                at(issued),
                "issuance is the first change"
            );
            recorded.push(record);
        }
        assert_eq!(store.crl_shards_in_use("auth").await.unwrap(), 4);
        assert_eq!(store.crl_shards_in_use("sign").await.unwrap(), 0);
        let revoked = CertificateStatus::Revoked {
            at: at(100),
            reason: RevocationReason::KeyCompromise,
        };
        let held = CertificateStatus::Held { since: at(110) };
        store
            .set_status(
                "auth",
                &serial(802),
                &CertificateStatus::Active,
                &revoked,
                at(100),
            )
            .await
            .unwrap();
        store
            .set_status(
                "auth",
                &serial(803),
                &CertificateStatus::Active,
                &held,
                at(110),
            )
            .await
            .unwrap();
        store
            .set_status(
                "auth",
                &serial(804),
                &CertificateStatus::Active,
                &held,
                at(120),
            )
            .await
            .unwrap();

        let status = store
            .certificate_status("auth", &serial(803))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                status.serial.clone(),
                status.status.clone(),
                status.crl_shard
            ),
            (serial(803), held.clone(), 3)
        );
        assert_eq!(status.status_changed_at, at(110));
        assert_eq!(status.issued_at, at(3));
        assert_eq!(
            store
                .certificate_status("sign", &serial(803))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store.certificate_status("auth", &serial(1)).await.unwrap(),
            None
        );

        // A full CRL's entries: not active, not expired, of the shard.
        let mut listed: Vec<_> = store
            .listed_certificates("auth", 3, at(60))
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.serial, c.status))
            .collect();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            listed,
            vec![(serial(802), revoked.clone()), (serial(803), held.clone())]
        );
        assert_eq!(
            store
                .listed_certificates("auth", 3, at(40))
                .await
                .unwrap()
                .len(),
            3
        );
        assert!(
            store
                .listed_certificates("auth", 0, T0)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .listed_certificates("auth", 1, T0)
                .await
                .unwrap()
                .is_empty()
        );

        // A delta's candidates: changed at or after `since`, whatever the status.
        let mut changed: Vec<_> = store
            .shard_changes_since("auth", 3, at(110))
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.serial)
            .collect();
        changed.sort();
        assert_eq!(changed, vec![serial(803), serial(804)]);
        let issued: Vec<_> = store
            .shard_changes_since("auth", 0, at(5))
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.serial, c.status, c.issued_at))
            .collect();
        assert_eq!(
            issued,
            vec![(serial(805), CertificateStatus::Active, at(5))]
        );

        // Every issuer's changes, oldest first, limited.
        let all = store.status_changes_since(at(4), None, 100).await.unwrap();
        let order: Vec<_> = all
            .iter()
            .map(|c| (c.serial.clone(), c.status_changed_at))
            .collect();
        assert_eq!(
            order,
            vec![
                (serial(805), at(5)),
                (serial(802), at(100)),
                (serial(803), at(110)),
                (serial(804), at(120)),
            ]
        );
        assert_eq!(all[0].issuer_name, "auth");
        assert_eq!(all[3].crl_shard, 3);
        let first_page = store.status_changes_since(at(4), None, 2).await.unwrap();
        assert_eq!(first_page.len(), 2);
        // The next page starts after the last change read, even at the same time.
        let last = first_page.last().unwrap();
        let next_page = store
            .status_changes_since(
                last.status_changed_at,
                Some((&last.issuer_name, &last.serial)),
                100,
            )
            .await
            .unwrap();
        assert_eq!(
            next_page
                .iter()
                .map(|c| c.serial.clone())
                .collect::<Vec<_>>(),
            vec![serial(803), serial(804)]
        );
        assert!(
            store
                .status_changes_since(at(121), None, 100)
                .await
                .unwrap()
                .is_empty()
        );

        // Registration and delayed activation time their changes too.
        let application = issued_application(store, resident, "se-T", "app-T", &BOTH, 900).await;
        store
            .register_application(application.id, at(200), at(260))
            .await
            .unwrap();
        let pending = store
            .certificate_status("sign", &serial(900))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pending.status, CertificateStatus::Pending);
        assert_eq!(pending.status_changed_at, T0, "still as issued");
        store.activate_due(at(261)).await.unwrap();
        let active = store
            .certificate_status("sign", &serial(900))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(active.status, CertificateStatus::Active);
        assert_eq!(active.status_changed_at, at(261));
        // The phone registered after it is superseded at that time.
        let replacing = issued_application(store, resident, "se-U", "app-U", &BOTH, 910).await;
        store
            .register_application(replacing.id, at(300), at(300))
            .await
            .unwrap();
        let superseded = store
            .certificate_status("sign", &serial(900))
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(
            superseded.status,
            CertificateStatus::Revoked { .. }
        ));
        assert_eq!(superseded.status_changed_at, at(300));
        let now_active = store
            .certificate_status("auth", &serial(911))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now_active.status, CertificateStatus::Active);
        assert_eq!(now_active.status_changed_at, at(300));
    }

    pub async fn successors_follow_renewal_links(f: &Fixture) {
        use jpki_store::LifecycleStore;
        let store = &f.store;
        let resident = add(store, 151).await.id;
        device(store, "se-R").await;
        for (n, issued, renews) in [
            (1u64, 1i64, None),
            (2, 2, Some(1u64)),
            (3, 3, Some(1)),
            (4, 4, Some(2)),
        ] {
            store
                .reserve_serial("sign", &serial(950 + n), T0)
                .await
                .unwrap();
            let mut certificate = phone_certificate(resident, "sign", serial(950 + n), "se-R");
            certificate.issued_at = at(issued);
            certificate.renewal_of = renews.map(|old| ("sign".to_owned(), serial(950 + old)));
            store.record_certificate(&certificate).await.unwrap();
        }
        let serials = |records: Vec<CertificateRecord>| -> Vec<SerialNumber> {
            records.into_iter().map(|r| r.serial).collect()
        };
        assert_eq!(
            serials(store.successors("sign", &serial(951)).await.unwrap()),
            vec![serial(952), serial(953)]
        );
        assert_eq!(
            serials(store.successors("sign", &serial(952)).await.unwrap()),
            vec![serial(954)]
        );
        assert!(
            store
                .successors("sign", &serial(954))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .successors("auth", &serial(951))
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn crl_publications_keep_the_latest_base_and_its_deltas(f: &Fixture) {
        use jpki_store::{CrlRecord, CrlStore};
        let store = &f.store;
        let crl = |shard: u32, number: u64, base: Option<u64>| CrlRecord {
            issuer_name: "sign".into(),
            shard,
            number,
            base_number: base,
            this_update: at(number as i64),
            next_update: at(number as i64 + 3600),
            der: vec![0x30, 0x03, number as u8, shard as u8, 0],
        };
        assert_eq!(store.latest_crls("sign", 0).await.unwrap(), (None, None));
        assert!(store.crl_heads().await.unwrap().is_empty());
        store.save_crl(&crl(0, 10, None)).await.unwrap();
        assert_eq!(
            store.latest_crls("sign", 0).await.unwrap(),
            (Some(crl(0, 10, None)), None)
        );
        store.save_crl(&crl(0, 11, Some(10))).await.unwrap();
        store.save_crl(&crl(0, 12, Some(10))).await.unwrap();
        store.save_crl(&crl(1, 11, None)).await.unwrap();
        assert_eq!(
            store.latest_crls("sign", 0).await.unwrap(),
            (Some(crl(0, 10, None)), Some(crl(0, 12, Some(10))))
        );
        // Another process published that number first.
        assert!(matches!(
            store.save_crl(&crl(0, 12, Some(10))).await.unwrap_err(),
            StoreError::Conflict { .. }
        ));
        assert_eq!(
            store.crl_heads().await.unwrap(),
            vec![("sign".to_owned(), 0, 12), ("sign".to_owned(), 1, 11)]
        );
        // A new base: the old publications go, and no delta is over it yet.
        store.save_crl(&crl(0, 20, None)).await.unwrap();
        assert_eq!(
            store.latest_crls("sign", 0).await.unwrap(),
            (Some(crl(0, 20, None)), None)
        );
        assert_eq!(store.latest_crls("auth", 0).await.unwrap(), (None, None));
        assert_eq!(
            store.latest_crls("sign", 1).await.unwrap().0,
            Some(crl(1, 11, None)),
            "other shards keep theirs"
        );
        for bad in [
            crl(0, 21, Some(21)),
            crl(0, 0, None),
            CrlRecord {
                der: vec![],
                ..crl(0, 22, None)
            },
        ] {
            assert!(
                matches!(
                    store.save_crl(&bad).await.unwrap_err(),
                    StoreError::Invalid(_)
                ),
                "{bad:?}"
            );
        }
        let backwards = CrlRecord {
            next_update: at(0),
            ..crl(0, 23, Some(20))
        };
        assert!(matches!(
            store.save_crl(&backwards).await.unwrap_err(),
            StoreError::Invalid(_)
        ));
        let debug = format!("{:?}", crl(0, 10, None));
        assert!(debug.contains("5 bytes of DER"), "{debug}");
    }

    pub async fn accounts_keep_only_key_digests_and_roles(f: &Fixture) {
        use jpki_store::{AccountRole, AccountStore, NewAccount};
        let store = &f.store;
        let account = |name: &str, role: AccountRole, key: u8| NewAccount {
            name: name.into(),
            role,
            key_hash: [key; 32],
            created_at: at(1),
        };
        let alice = store
            .add_account(&account("alice", AccountRole::Hotline, 1))
            .await
            .unwrap();
        assert_eq!(alice.role, AccountRole::Hotline);
        assert_eq!(alice.key_hash, vec![1; 32]);
        assert_eq!(alice.disabled_at, None);
        store
            .add_account(&account("bob", AccountRole::Auditor, 2))
            .await
            .unwrap();
        store
            .add_account(&account("rp-1", AccountRole::Verifier, 3))
            .await
            .unwrap();
        store
            .add_account(&account("rp-2", AccountRole::Verifier, 4))
            .await
            .unwrap();
        for duplicate in [
            account("alice", AccountRole::Auditor, 9),
            account("carol", AccountRole::Hotline, 1),
        ] {
            assert!(matches!(
                store.add_account(&duplicate).await.unwrap_err(),
                StoreError::Conflict { .. }
            ));
        }
        for bad_name in ["", "has space", "スラッシュ", &"x".repeat(65)] {
            assert!(matches!(
                store
                    .add_account(&account(bad_name, AccountRole::Hotline, 8))
                    .await
                    .unwrap_err(),
                StoreError::Invalid(_)
            ));
        }
        assert_eq!(
            store.account_by_key_hash(&[1; 32]).await.unwrap(),
            Some(alice.clone())
        );
        assert_eq!(store.account_by_key_hash(&[7; 32]).await.unwrap(), None);
        assert_eq!(
            store
                .accounts()
                .await
                .unwrap()
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>(),
            vec!["alice", "bob", "rp-1", "rp-2"]
        );
        assert_eq!(
            store.key_hashes(AccountRole::Verifier).await.unwrap(),
            vec![vec![3; 32], vec![4; 32]]
        );
        store.disable_account("rp-1", at(5)).await.unwrap();
        store.disable_account("rp-1", at(9)).await.unwrap();
        assert_eq!(
            store.key_hashes(AccountRole::Verifier).await.unwrap(),
            vec![vec![4; 32]]
        );
        assert_eq!(
            store
                .account_by_key_hash(&[3; 32])
                .await
                .unwrap()
                .unwrap()
                .disabled_at,
            Some(at(5)),
            "the first disabling time is kept"
        );
        assert!(matches!(
            store.disable_account("nobody", at(5)).await.unwrap_err(),
            StoreError::NotFound { .. }
        ));
        let debug = format!("{alice:?} {:?}", account("x", AccountRole::Hotline, 0xAB));
        assert!(
            !debug.contains("171") && !debug.contains("key_hash"),
            "{debug}"
        );
    }

    pub async fn bulk_revoked_certificates_fill_a_listable_shard(f: &Fixture) {
        use jpki_store::StatusStore;
        use jpki_store::testing::{BulkRevoked, bulk_revoked_certificates};
        let store = &f.store;
        let resident = add(store, 161).await.id;
        device(store, "se-bulk").await;
        let bulk = |count: u64, seconds: i64| BulkRevoked {
            issuer: "auth",
            shard: 1,
            count,
            resident,
            device: "se-bulk",
            at: at(seconds),
            not_after: at(100_000),
        };
        assert_eq!(
            bulk_revoked_certificates(store, &bulk(25, 10))
                .await
                .unwrap(),
            25
        );
        let listed = store.listed_certificates("auth", 1, at(20)).await.unwrap();
        assert_eq!(listed.len(), 25);
        let revoked = CertificateStatus::Revoked {
            at: at(10),
            reason: RevocationReason::KeyCompromise,
        };
        assert!(listed.iter().all(|c| c.status == revoked));
        assert_eq!(
            bulk_revoked_certificates(store, &bulk(10, 30))
                .await
                .unwrap(),
            10
        );
        assert_eq!(
            store
                .listed_certificates("auth", 1, at(20))
                .await
                .unwrap()
                .len(),
            35
        );
        assert_eq!(
            store
                .shard_changes_since("auth", 1, at(30))
                .await
                .unwrap()
                .len(),
            10
        );
        assert!(
            store
                .listed_certificates("auth", 0, at(20))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .listed_certificates("auth", 1, at(100_001))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.crl_shards_in_use("auth").await.unwrap(), 2);
        // 25 changes share one timestamp: keyset paging still reads every one, once.
        let mut seen = Vec::new();
        let (mut since, mut after) = (at(0), None::<(String, SerialNumber)>);
        loop {
            let page = store
                .status_changes_since(
                    since,
                    after
                        .as_ref()
                        .map(|(issuer, serial)| (issuer.as_str(), serial)),
                    10,
                )
                .await
                .unwrap();
            seen.extend(page.iter().map(|c| c.serial.clone()));
            match page.last() {
                Some(last) if page.len() == 10 => {
                    since = last.status_changed_at;
                    after = Some((last.issuer_name.clone(), last.serial.clone()));
                }
                _ => break,
            }
        }
        let count = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!((count, seen.len()), (35, 35));
    }

    pub async fn debug_and_errors_do_not_leak_personal_data(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 121).await;
        let digits = resident.my_number.expose().to_owned();
        let error = store
            .add_resident(&new_resident(121, default_info()), T0)
            .await
            .unwrap_err();
        for text in [
            format!("{error}"),
            format!("{error:?}"),
            format!("{resident:?}"),
            format!("{store:?}"),
        ] {
            assert!(!text.contains(&digits), "My Number leaked: {text}");
        }
    }
}

// ------------------------------------------------------------------ one backend only

mod sqlite_only {
    use std::path::Path;
    use std::process::Command;

    use jpki_store::{AuditStore, RegistryStore, Store, StoreError, testing::TestDatabase};
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{Connection, Row, SqliteConnection};

    use super::data::{add, my_number};

    pub const CRASH_CHILD_ENV: &str = "JPKI_STORE_CRASH_CHILD_DB";

    async fn raw_connection(path: &Path) -> SqliteConnection {
        SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn every_url_form_opens_the_same_file_in_wal_mode() {
        let database = TestDatabase::sqlite().unwrap();
        let path = database.sqlite_path().unwrap().to_owned();
        let text = path.to_str().unwrap();
        let first = Store::open(&format!("sqlite://{text}")).await.unwrap();
        let resident = add(&first, 1).await;
        for url in [format!("sqlite:{text}"), text.to_owned()] {
            let store = Store::open(&url).await.unwrap();
            assert_eq!(
                store.resident(resident.id).await.unwrap(),
                Some(resident.clone())
            );
            assert_eq!(store.location(), text);
        }
        let mut connection = raw_connection(&path).await;
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&mut connection)
            .await
            .unwrap()
            .get(0);
        assert_eq!(mode, "wal");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "the database is private to its owner: {mode:o}"
            );
        }
    }

    #[tokio::test]
    async fn missing_directories_are_created() {
        let database = TestDatabase::sqlite().unwrap();
        let path = database
            .sqlite_path()
            .unwrap()
            .parent()
            .unwrap()
            .join("a/b/jpki.db");
        let store = Store::open_sqlite(&path).await.unwrap();
        add(&store, 2).await;
        assert!(path.exists());
    }

    #[tokio::test]
    async fn unsupported_locations_are_refused_without_secrets() {
        for url in [
            "mysql://root:hunter22@localhost/jpki",
            "sqlite::memory:",
            "sqlite:x.db?mode=ro",
        ] {
            let error = Store::open(url).await.unwrap_err();
            assert!(
                matches!(error, StoreError::UnsupportedLocation { .. }),
                "{url}: {error:?}"
            );
            assert!(
                !format!("{error} {error:?}").contains("hunter22"),
                "{error:?}"
            );
        }
    }

    /// Not a test on its own: the child half of
    /// `process_abort_mid_transaction_keeps_committed_data_only`. Without its
    /// environment variable it returns at once.
    #[tokio::test]
    async fn crash_child_process() {
        let Ok(path) = std::env::var(CRASH_CHILD_ENV) else {
            return;
        };
        let path = Path::new(&path);
        let store = Store::open_sqlite(path).await.unwrap();
        add(&store, 7).await;
        // A transaction large enough that SQLite spills uncommitted pages into the WAL
        // file before the crash: recovery must ignore them.
        let mut connection = raw_connection(path).await;
        sqlx::raw_sql(
            "PRAGMA cache_size = 16; BEGIN IMMEDIATE; \
             INSERT INTO audit_log (occurred_at, actor, action, subject, detail_json) \
             WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 4000) \
             SELECT x, 'crash', 'test', 'crash-subject', \
                    '\"' || substr(hex(randomblob(600)), 1, 1000) || '\"' FROM n;",
        )
        .execute(&mut connection)
        .await
        .unwrap();
        let wal = std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len());
        println!("CHILD READY wal_bytes={wal}");
        std::process::abort();
    }

    #[tokio::test]
    async fn process_abort_mid_transaction_keeps_committed_data_only() {
        let database = TestDatabase::sqlite().unwrap();
        let path = database.sqlite_path().unwrap();
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sqlite_only::crash_child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_CHILD_ENV, path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            !output.status.success(),
            "the child must die, not exit: {stdout}"
        );
        let wal_bytes: u64 = stdout
            .lines()
            .find_map(|line| line.split("CHILD READY wal_bytes=").nth(1))
            .unwrap_or_else(|| {
                panic!(
                    "child did not get ready: {stdout} {}",
                    String::from_utf8_lossy(&output.stderr)
                )
            })
            .trim()
            .parse()
            .unwrap();
        assert!(
            wal_bytes > 1_000_000,
            "uncommitted pages reached the WAL: {wal_bytes} bytes"
        );

        let store = Store::open_sqlite(path).await.unwrap();
        let committed = store.resident_by_my_number(&my_number(7)).await.unwrap();
        assert!(committed.is_some(), "the committed resident survived");
        assert!(
            store
                .audit_entries("crash-subject")
                .await
                .unwrap()
                .is_empty()
        );
        let mut connection = raw_connection(path).await;
        let check: String = sqlx::query("PRAGMA integrity_check")
            .fetch_one(&mut connection)
            .await
            .unwrap()
            .get(0);
        assert_eq!(check, "ok");
        // The crashed writer's lock is gone.
        add(&store, 8).await;
    }
}

mod postgres_only {
    use jpki_store::testing::{self, TestDatabase};
    use jpki_store::{RegistryStore, Store, StoreError};

    use super::data::add;

    #[tokio::test]
    async fn url_with_search_path_opens_that_schema() {
        let Some(database) = TestDatabase::postgres().await.unwrap() else {
            return;
        };
        let schema = database.postgres_schema().unwrap();
        let url = testing::postgres_url();
        let separator = if url.contains('?') { '&' } else { '?' };
        let store = Store::open(&format!(
            "{url}{separator}options=-c%20search_path%3D{schema}"
        ))
        .await
        .unwrap();
        let resident = add(&store, 1).await;
        let scoped = database.open().await.unwrap();
        assert_eq!(scoped.resident(resident.id).await.unwrap(), Some(resident));
    }

    #[tokio::test]
    async fn connection_errors_do_not_show_the_password() {
        // Port 1 refuses connections; the password must not appear anywhere.
        let error = Store::open("postgres://jpki:hunter22@127.0.0.1:1/jpki")
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
        let text = format!("{error} {error:?}");
        assert!(!text.contains("hunter22"), "{text}");
        assert!(text.contains("jpki:***@127.0.0.1:1"), "{text}");
    }
}

/// Cases for the relying parties' store (login, sessions, submissions, platform users,
/// sign requests).
mod relying_cases {
    use jpki_model::SerialNumber;
    use jpki_store::{
        LoginApproval, NewLoginChallenge, NewSession, NewSignRequest, NewSubmission, RelyingStore,
        SignRequestState, StoreError,
    };

    use super::Fixture;
    use super::data::{T0, add, at};

    fn challenge(id: &str, code: &str) -> NewLoginChallenge {
        NewLoginChallenge {
            id: id.into(),
            challenge: vec![7; 32],
            code: code.into(),
            browser_secret_hash: vec![1; 32],
            created_at: T0,
            expires_at: at(300),
        }
    }

    pub async fn login_challenges_are_approved_and_collected_once(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 601).await;
        store
            .create_login_challenge(&challenge("c1", "ABCD-EFGH"))
            .await
            .unwrap();
        let duplicate = store
            .create_login_challenge(&challenge("c2", "ABCD-EFGH"))
            .await
            .unwrap_err();
        assert!(
            matches!(duplicate, StoreError::Conflict { .. }),
            "codes are unique: {duplicate:?}"
        );
        let by_code = store
            .login_challenge_by_code("ABCD-EFGH")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_code.id, "c1");
        assert!(by_code.approval.is_none());
        let approval = LoginApproval {
            at: at(10),
            resident_id: resident.id,
            device_id: Some("se-1".into()),
            certificate: ("auth".into(), SerialNumber::from_hex("0A0B").unwrap()),
        };
        let session = NewSession {
            token_hash: vec![9; 32],
            resident_id: resident.id,
            created_at: at(11),
            expires_at: at(2000),
            login_challenge: Some("c1".into()),
        };
        // Not approved yet: nothing to collect.
        let early = store
            .collect_login_session("c1", &[1; 32], &session)
            .await
            .unwrap_err();
        assert!(matches!(early, StoreError::Conflict { .. }));
        store
            .approve_login_challenge("c1", &approval)
            .await
            .unwrap();
        let again = store
            .approve_login_challenge("c1", &approval)
            .await
            .unwrap_err();
        assert!(
            matches!(again, StoreError::Conflict { .. }),
            "approved once"
        );
        assert_eq!(
            store.login_challenge("c1").await.unwrap().unwrap().approval,
            Some(approval.clone())
        );
        let wrong_secret = store
            .collect_login_session("c1", &[2; 32], &session)
            .await
            .unwrap_err();
        assert!(matches!(wrong_secret, StoreError::Conflict { .. }));
        store
            .collect_login_session("c1", &[1; 32], &session)
            .await
            .unwrap();
        let twice = store
            .collect_login_session(
                "c1",
                &[1; 32],
                &NewSession {
                    token_hash: vec![8; 32],
                    ..session.clone()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(twice, StoreError::Conflict { .. }),
            "collected once"
        );
        assert_eq!(
            store
                .session(&[9; 32], at(12))
                .await
                .unwrap()
                .unwrap()
                .resident_id,
            resident.id
        );
        // An expired challenge cannot be approved.
        store
            .create_login_challenge(&challenge("c3", "WXYZ-2345"))
            .await
            .unwrap();
        let late = LoginApproval {
            at: at(301),
            ..approval
        };
        assert!(matches!(
            store
                .approve_login_challenge("c3", &late)
                .await
                .unwrap_err(),
            StoreError::Conflict { .. }
        ));
    }

    pub async fn sessions_expire_and_revoke(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 602).await;
        let session = NewSession {
            token_hash: vec![3; 32],
            resident_id: resident.id,
            created_at: T0,
            expires_at: at(60),
            login_challenge: None,
        };
        store.create_session(&session).await.unwrap();
        assert!(store.session(&[3; 32], at(59)).await.unwrap().is_some());
        assert!(
            store.session(&[3; 32], at(60)).await.unwrap().is_none(),
            "expired"
        );
        assert!(
            store.session(&[4; 32], at(1)).await.unwrap().is_none(),
            "unknown"
        );
        store.revoke_session(&[3; 32], at(2)).await.unwrap();
        assert!(
            store.session(&[3; 32], at(3)).await.unwrap().is_none(),
            "revoked"
        );
        let backwards = NewSession {
            token_hash: vec![5; 32],
            expires_at: T0,
            ..session
        };
        assert!(matches!(
            store.create_session(&backwards).await.unwrap_err(),
            StoreError::Invalid(_)
        ));
    }

    pub async fn submissions_keep_their_evidence(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 603).await;
        let other = add(store, 604).await;
        let submission = NewSubmission {
            public_id: "s1".into(),
            resident_id: resident.id,
            certificate: ("sign".into(), SerialNumber::from_hex("0C").unwrap()),
            title: "転入届".into(),
            content_type: "application/json".into(),
            content: b"{}".to_vec(),
            signature: vec![0x30, 0x00],
            report: serde_json::json!({ "verdict": "valid", "evidence": { "status": [] } }),
            received_at: at(5),
        };
        let stored = store.insert_submission(&submission).await.unwrap();
        assert_eq!(stored.submission, submission);
        assert!(matches!(
            store.insert_submission(&submission).await.unwrap_err(),
            StoreError::Conflict { .. }
        ));
        assert_eq!(
            store.submission("s1").await.unwrap().unwrap().submission,
            submission
        );
        assert_eq!(
            store
                .submissions_of_resident(resident.id)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            store
                .submissions_of_resident(other.id)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn platform_users_are_stable_per_party(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 605).await;
        let bank = store
            .add_relying_party("Example Bank", &[1; 32], T0)
            .await
            .unwrap();
        let shop = store
            .add_relying_party("Example Shop", &[2; 32], T0)
            .await
            .unwrap();
        assert!(matches!(
            store
                .add_relying_party("Example Bank", &[3; 32], T0)
                .await
                .unwrap_err(),
            StoreError::Conflict { .. }
        ));
        assert_eq!(
            store
                .relying_party_by_key(&[1; 32])
                .await
                .unwrap()
                .unwrap()
                .name,
            "Example Bank"
        );
        assert!(
            store
                .relying_party_by_key(&[9; 32])
                .await
                .unwrap()
                .is_none()
        );
        let first = store
            .platform_user(bank.id, resident.id, "u-bank-1", T0)
            .await
            .unwrap();
        let again = store
            .platform_user(bank.id, resident.id, "u-bank-2", at(5))
            .await
            .unwrap();
        assert_eq!(first, again, "the first id stays");
        let elsewhere = store
            .platform_user(shop.id, resident.id, "u-shop-1", T0)
            .await
            .unwrap();
        assert_ne!(
            elsewhere.user_id, first.user_id,
            "ids are per relying party"
        );
        assert_eq!(
            store
                .platform_user_by_id(bank.id, "u-bank-1")
                .await
                .unwrap(),
            Some(first.clone())
        );
        assert_eq!(
            store
                .platform_user_by_id(shop.id, "u-bank-1")
                .await
                .unwrap(),
            None,
            "not across parties"
        );
        assert_eq!(
            store
                .platform_user_by_resident(bank.id, resident.id)
                .await
                .unwrap(),
            Some(first)
        );
    }

    pub async fn sign_requests_are_answered_once_before_expiry(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 606).await;
        let party = store
            .add_relying_party("Example Insurer", &[4; 32], T0)
            .await
            .unwrap();
        let request = |id: &str| NewSignRequest {
            public_id: id.into(),
            relying_party_id: party.id,
            resident_id: resident.id,
            purpose: "契約の同意".into(),
            kind: "signature".into(),
            content: b"I agree".to_vec(),
            verification_code: "123456".into(),
            created_at: T0,
            expires_at: at(300),
        };
        store.create_sign_request(&request("r1")).await.unwrap();
        store.create_sign_request(&request("r2")).await.unwrap();
        let pending = store
            .pending_sign_requests(resident.id, at(1))
            .await
            .unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].relying_party_name, "Example Insurer");
        store
            .answer_sign_request("r1", true, "se-1", Some(b"sig"), Some(b"cert"), at(2))
            .await
            .unwrap();
        let answered = store.sign_request("r1").await.unwrap().unwrap();
        assert_eq!(answered.state, SignRequestState::Approved);
        assert_eq!(answered.signature.as_deref(), Some(&b"sig"[..]));
        assert!(matches!(
            store
                .answer_sign_request("r1", false, "se-1", None, None, at(3))
                .await
                .unwrap_err(),
            StoreError::Conflict { .. }
        ));
        assert!(
            matches!(
                store
                    .answer_sign_request("r2", true, "se-1", Some(b"sig"), None, at(300))
                    .await
                    .unwrap_err(),
                StoreError::Conflict { .. }
            ),
            "expired"
        );
        assert!(
            store
                .pending_sign_requests(resident.id, at(300))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

/// Cases for the operator console's store (migration 6: password credentials, the
/// counter and admin roles, console sessions).
mod web_cases {
    use jpki_store::{
        AccountRole, AccountStore, NewAccount, NewOperatorSession, OperatorStore, StoreError,
    };

    use super::Fixture;
    use super::data::at;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    const OTHER_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNoaGFzaGhhc2g";

    fn account(name: &str, role: AccountRole, key: u8) -> NewAccount {
        NewAccount {
            name: name.into(),
            role,
            key_hash: [key; 32],
            created_at: at(1),
        }
    }

    pub async fn operator_accounts_keep_password_hashes_and_new_roles(f: &Fixture) {
        let store = &f.store;
        let carol = store
            .add_account_with_password(&account("carol", AccountRole::Counter, 11), Some(HASH))
            .await
            .unwrap();
        assert_eq!(carol.role, AccountRole::Counter);
        let dave = store
            .add_account_with_password(&account("dave", AccountRole::Admin, 12), None)
            .await
            .unwrap();
        assert_eq!(dave.role, AccountRole::Admin);
        // The API-key-only path still works beside it.
        store
            .add_account(&account("erin", AccountRole::Hotline, 13))
            .await
            .unwrap();
        let roles: Vec<_> = store
            .accounts()
            .await
            .unwrap()
            .into_iter()
            .map(|account| (account.name, account.role))
            .collect();
        assert_eq!(
            roles,
            vec![
                ("carol".to_owned(), AccountRole::Counter),
                ("dave".to_owned(), AccountRole::Admin),
                ("erin".to_owned(), AccountRole::Hotline),
            ]
        );
        let (record, hash) = store.account_credentials("carol").await.unwrap().unwrap();
        assert_eq!(record, carol);
        assert_eq!(hash.as_deref(), Some(HASH));
        let (_, none) = store.account_credentials("dave").await.unwrap().unwrap();
        assert_eq!(none, None);
        assert!(store.account_credentials("nobody").await.unwrap().is_none());

        // Refusals change nothing.
        for bad in ["hunter2", "$argon2i$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", ""] {
            assert!(matches!(
                store
                    .add_account_with_password(
                        &account("frank", AccountRole::Counter, 14),
                        Some(bad)
                    )
                    .await
                    .unwrap_err(),
                StoreError::Invalid(_)
            ));
            assert!(matches!(
                store
                    .set_account_password("carol", bad, at(2))
                    .await
                    .unwrap_err(),
                StoreError::Invalid(_)
            ));
        }
        assert!(store.account_credentials("frank").await.unwrap().is_none());
        assert!(matches!(
            store
                .add_account_with_password(&account("carol", AccountRole::Admin, 15), Some(HASH))
                .await
                .unwrap_err(),
            StoreError::Conflict { .. }
        ));
        assert!(matches!(
            store
                .add_account_with_password(&account("bad name", AccountRole::Admin, 16), None)
                .await
                .unwrap_err(),
            StoreError::Invalid(_)
        ));
        assert!(matches!(
            store
                .set_account_password("nobody", HASH, at(2))
                .await
                .unwrap_err(),
            StoreError::NotFound { .. }
        ));
        let (_, unchanged) = store.account_credentials("carol").await.unwrap().unwrap();
        assert_eq!(unchanged.as_deref(), Some(HASH));

        store
            .set_account_password("dave", OTHER_HASH, at(3))
            .await
            .unwrap();
        let (_, set) = store.account_credentials("dave").await.unwrap().unwrap();
        assert_eq!(set.as_deref(), Some(OTHER_HASH));
    }

    pub async fn operator_sessions_expire_revoke_and_follow_the_account(f: &Fixture) {
        let store = &f.store;
        store
            .add_account_with_password(&account("carol", AccountRole::Hotline, 21), Some(HASH))
            .await
            .unwrap();
        let session = |token: u8, name: &str| NewOperatorSession {
            token_hash: [token; 32],
            account_name: name.into(),
            created_at: at(10),
            expires_at: at(100),
        };
        assert!(!format!("{:?}", session(1, "carol")).contains("token_hash"));
        store
            .create_operator_session(&session(1, "carol"))
            .await
            .unwrap();
        assert!(matches!(
            store
                .create_operator_session(&session(1, "carol"))
                .await
                .unwrap_err(),
            StoreError::Conflict { .. }
        ));
        assert!(matches!(
            store
                .create_operator_session(&session(2, "nobody"))
                .await
                .unwrap_err(),
            StoreError::NotFound { .. }
        ));
        let mut backwards = session(3, "carol");
        backwards.expires_at = backwards.created_at;
        assert!(matches!(
            store.create_operator_session(&backwards).await.unwrap_err(),
            StoreError::Invalid(_)
        ));

        let live = store
            .operator_session(&[1; 32], at(99))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(live.account.name, "carol");
        assert_eq!(live.account.role, AccountRole::Hotline);
        assert_eq!((live.created_at, live.expires_at), (at(10), at(100)));
        assert!(
            store
                .operator_session(&[1; 32], at(100))
                .await
                .unwrap()
                .is_none(),
            "expired"
        );
        assert!(
            store
                .operator_session(&[9; 32], at(50))
                .await
                .unwrap()
                .is_none(),
            "unknown"
        );

        // Logout ends one session; a password change ends them all.
        store
            .create_operator_session(&session(4, "carol"))
            .await
            .unwrap();
        store
            .create_operator_session(&session(5, "carol"))
            .await
            .unwrap();
        store
            .revoke_operator_session(&[4; 32], at(20))
            .await
            .unwrap();
        store
            .revoke_operator_session(&[4; 32], at(21))
            .await
            .unwrap();
        assert!(
            store
                .operator_session(&[4; 32], at(30))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .operator_session(&[5; 32], at(30))
                .await
                .unwrap()
                .is_some()
        );
        store
            .set_account_password("carol", OTHER_HASH, at(31))
            .await
            .unwrap();
        assert!(
            store
                .operator_session(&[5; 32], at(32))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .operator_session(&[1; 32], at(32))
                .await
                .unwrap()
                .is_none()
        );

        // A disabled account's sessions are refused.
        store
            .create_operator_session(&session(6, "carol"))
            .await
            .unwrap();
        assert!(
            store
                .operator_session(&[6; 32], at(40))
                .await
                .unwrap()
                .is_some()
        );
        store.disable_account("carol", at(41)).await.unwrap();
        assert!(
            store
                .operator_session(&[6; 32], at(42))
                .await
                .unwrap()
                .is_none()
        );
    }
}

/// Cases for the usage history and its verifiable log (migration 5): every usage row is
/// a chain link and a leaf written in its own transaction, appends are serialized, the
/// history pages, and what the audit reads after tampering.
mod log_cases {
    use jpki_log::{PersonLogId, SignedTreeHead, genesis, link_leaf_hash, next_chain};
    use jpki_store::testing::test_pseudonym_key;
    use jpki_store::{
        BackendKind, LifecycleBatch, LifecycleStore, PhoneStore, ResidentId, StatusChange, Store,
        StoreError, UsageEntry, UsageKind, UsageLogStore, UsageOutcome, UsageQuery, UsageStore,
    };

    use super::Fixture;
    use super::data::{add, at, serial};

    fn entry(resident: ResidentId, action: &str, seconds: i64) -> UsageEntry {
        UsageEntry {
            resident_id: resident,
            at: at(seconds),
            device_id: Some("se-1".into()),
            action: action.into(),
            outcome: UsageOutcome::Ok,
            detail: serde_json::json!({ "relying_party": "銀行", "n": seconds, "list": [1, -2, "三"] }),
        }
    }

    /// Re-derives `resident`'s whole chain from the usage rows and checks every stored
    /// link and leaf against it; returns the chain's length.
    pub(super) async fn check_chain(store: &Store, resident: ResidentId) -> usize {
        let person =
            PersonLogId::new(store.person_log_id(resident).await.unwrap().unwrap()).unwrap();
        assert_eq!(
            person,
            test_pseudonym_key()
                .unwrap()
                .person_log_id(resident.0)
                .unwrap(),
            "the log id is the pseudonym of the resident id"
        );
        let logged = store.logged_usage(resident).await.unwrap();
        let mut previous = genesis(&person);
        for (position, item) in logged.iter().enumerate() {
            assert_eq!(item.link.seq, position as u64 + 1);
            let row = item.row.as_ref().expect("the row is there");
            assert_eq!(row.id, item.usage_id);
            assert_eq!(row.resident_id, resident);
            let entry_hash = jpki_log::entry_hash(&person, item.link.seq, &row.event).unwrap();
            assert_eq!(entry_hash, item.link.entry_hash, "seq {}", item.link.seq);
            let chain = next_chain(&previous, &entry_hash);
            assert_eq!(chain, item.link.chain);
            assert_eq!(
                store.log_leaves(item.link.leaf_index, 1).await.unwrap(),
                vec![link_leaf_hash(&person, item.link.seq, &chain, &entry_hash)]
            );
            previous = chain;
        }
        logged.len()
    }

    pub async fn usage_rows_are_chain_links_and_leaves(f: &Fixture) {
        let store = &f.store;
        let (a, b) = (add(store, 501).await.id, add(store, 502).await.id);
        assert_eq!(store.log_tree_size().await.unwrap(), 0);
        assert_eq!(store.person_log_id(a).await.unwrap(), None);
        let first = store.append_usage(&entry(a, "login", 1)).await.unwrap();
        store
            .append_usage(&entry(b, "card_issued", 2))
            .await
            .unwrap();
        // Several lines of one transaction (a lifecycle batch) take consecutive leaves.
        let mut batch = LifecycleBatch::new(at(3));
        batch.usage.push(entry(a, "suspended", 3));
        batch.usage.push(entry(b, "suspended", 3));
        batch.usage.push(entry(a, "lifted", 3));
        store.apply_lifecycle(&batch).await.unwrap();
        assert_eq!(store.log_tree_size().await.unwrap(), 5);
        assert_eq!(store.log_leaves(0, 100).await.unwrap().len(), 5);
        assert_eq!(store.log_leaves(5, 100).await.unwrap(), vec![]);
        assert_eq!(check_chain(store, a).await, 3);
        assert_eq!(check_chain(store, b).await, 2);
        let links = store.logged_usage(a).await.unwrap();
        assert_eq!(links[0].usage_id, first);
        let leaf_indices: Vec<u64> = links.iter().map(|l| l.link.leaf_index).collect();
        assert_eq!(leaf_indices, vec![0, 2, 4]);
        // The history reads the same rows the log commits.
        let rows: Vec<i64> = store
            .usage_of_resident(a)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(rows, links.iter().map(|l| l.usage_id).collect::<Vec<_>>());
        // The audit's view in tree order.
        let all = store.log_links(0, 100).await.unwrap();
        assert_eq!(
            all.iter().map(|l| l.link.leaf_index).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        assert!(all.iter().all(|l| l.leaf_hash.is_some() && l.row.is_some()));
        assert_eq!(store.log_links(3, 1).await.unwrap()[0].resident_id, b);
        assert!(store.unlogged_usage(0, 100).await.unwrap().is_empty());
    }

    pub async fn concurrent_usage_appends_get_distinct_leaves(f: &Fixture) {
        let residents = [
            add(&f.store, 511).await.id,
            add(&f.store, 512).await.id,
            add(&f.store, 513).await.id,
        ];
        // Two pools, as two processes sharing the database.
        let other = f.database.open().await.unwrap();
        let mut tasks = Vec::new();
        for n in 0..48i64 {
            let store = if n % 2 == 0 {
                f.store.clone()
            } else {
                other.clone()
            };
            let resident = residents[(n % 3) as usize];
            tasks.push(tokio::spawn(async move {
                store.append_usage(&entry(resident, "login", n)).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(f.store.log_tree_size().await.unwrap(), 48);
        let indices: Vec<u64> = f
            .store
            .log_links(0, 1000)
            .await
            .unwrap()
            .iter()
            .map(|l| l.link.leaf_index)
            .collect();
        assert_eq!(indices, (0..48).collect::<Vec<u64>>());
        let mut total = 0;
        for resident in residents {
            total += check_chain(&f.store, resident).await;
        }
        assert_eq!(total, 48);
    }

    pub async fn bad_usage_entries_are_refused_before_anything_is_written(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 521).await.id;
        let mut float = entry(resident, "login", 1);
        float.detail = serde_json::json!({ "amount": 1.5 });
        let mut empty = entry(resident, "login", 1);
        empty.action = String::new();
        let mut long = entry(resident, "login", 1);
        long.device_id = Some("x".repeat(300));
        let mut early = entry(resident, "login", 1);
        early.at = time::macros::datetime!(1969-12-31 23:59 UTC);
        for bad in [float, empty, long, early] {
            let error = store.append_usage(&bad).await.unwrap_err();
            assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
            let mut batch = LifecycleBatch::new(at(2));
            batch.usage.push(entry(resident, "suspended", 2));
            batch.usage.push(bad);
            let error = store.apply_lifecycle(&batch).await.unwrap_err();
            assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
        }
        assert_eq!(store.log_tree_size().await.unwrap(), 0);
        assert!(store.usage_of_resident(resident).await.unwrap().is_empty());
        assert_eq!(store.person_log_id(resident).await.unwrap(), None);
    }

    pub async fn a_first_usage_entry_needs_the_pseudonym_key(f: &Fixture) {
        let keyless = f.database.open_without_log_key().await.unwrap();
        assert!(!keyless.has_log_pseudonym_key() && f.store.has_log_pseudonym_key());
        let (known, new) = (add(&f.store, 531).await.id, add(&f.store, 532).await.id);
        f.store
            .append_usage(&entry(known, "login", 1))
            .await
            .unwrap();
        let error = keyless
            .append_usage(&entry(new, "login", 2))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::LogPseudonymKeyMissing),
            "{error:?}"
        );
        assert!(error.to_string().contains("pseudonym key"), "{error}");
        assert_eq!(f.store.log_tree_size().await.unwrap(), 1);
        assert!(f.store.usage_of_resident(new).await.unwrap().is_empty());
        // A person who has a log id continues their chain without the key.
        keyless
            .append_usage(&entry(known, "login", 3))
            .await
            .unwrap();
        assert_eq!(check_chain(&f.store, known).await, 2);
        // The same key may be set again; another is refused.
        f.store
            .set_log_pseudonym_key(test_pseudonym_key().unwrap())
            .unwrap();
        let other = jpki_log::PseudonymKey::from_bytes(&[1; 32]).unwrap();
        assert!(matches!(
            f.store.set_log_pseudonym_key(other).unwrap_err(),
            StoreError::Invalid(_)
        ));
        assert!(!format!("{:?}", test_pseudonym_key().unwrap()).contains("5a5a"));
    }

    pub async fn failed_transactions_append_nothing_to_the_log(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 541).await.id;
        store
            .append_usage(&entry(resident, "login", 1))
            .await
            .unwrap();
        // A batch whose status change names an unknown certificate fails as a whole.
        let mut batch = LifecycleBatch::new(at(2));
        batch.usage.push(entry(resident, "suspended", 2));
        batch.changes.push(StatusChange {
            issuer_name: "auth".into(),
            serial: serial(424_242),
            expected: jpki_model::CertificateStatus::Active,
            new: jpki_model::CertificateStatus::Held { since: at(2) },
        });
        assert!(store.apply_lifecycle(&batch).await.is_err());
        // So does an issuance of an application that is not queued.
        let error = store
            .complete_issuance(
                jpki_store::ApplicationId(999_999),
                at(3),
                ("ready_to_register", &serde_json::json!({})),
                &[entry(resident, "issued", 3)],
            )
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
        assert_eq!(store.log_tree_size().await.unwrap(), 1);
        assert_eq!(store.usage_of_resident(resident).await.unwrap().len(), 1);
        // The next append takes the next index: no gap was left.
        store
            .append_usage(&entry(resident, "login", 4))
            .await
            .unwrap();
        assert_eq!(store.log_tree_size().await.unwrap(), 2);
        assert_eq!(check_chain(store, resident).await, 2);
    }

    pub async fn usage_pages_filter_and_continue_newest_first(f: &Fixture) {
        let store = &f.store;
        let (person, other) = (add(store, 551).await.id, add(store, 552).await.id);
        let actions = ["login", "submitted", "suspended"];
        let mut batch = LifecycleBatch::new(at(0));
        for n in 0..30i64 {
            let mut line = entry(person, actions[(n % 3) as usize], n);
            if n % 5 == 0 {
                line.outcome = UsageOutcome::Refused;
            }
            batch.usage.push(line);
            batch.usage.push(entry(other, "login", n));
        }
        store.apply_lifecycle(&batch).await.unwrap();
        let all: Vec<i64> = store
            .usage_of_resident(person)
            .await
            .unwrap()
            .iter()
            .rev()
            .map(|r| r.id)
            .collect();
        assert_eq!(all.len(), 30);

        // Pages of 7, newest first, until the cursor runs out.
        let mut query = UsageQuery {
            limit: 7,
            ..UsageQuery::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = store.usage_page(person, &query).await.unwrap();
            assert!(page.records.len() <= 7);
            assert!(page.records.iter().all(|r| r.entry.resident_id == person));
            seen.extend(page.records.iter().map(|r| r.id));
            match page.next_before_id {
                Some(cursor) => query.before_id = Some(cursor),
                None => break,
            }
        }
        assert_eq!(seen, all);

        // Filters: actions, time range, outcome, combined.
        let page = |query: UsageQuery| async move {
            store
                .usage_page(person, &query)
                .await
                .unwrap()
                .records
                .iter()
                .map(|r| (r.entry.action.clone(), r.entry.at, r.entry.outcome))
                .collect::<Vec<_>>()
        };
        let logins = page(UsageQuery {
            actions: vec!["login".into()],
            ..UsageQuery::default()
        })
        .await;
        assert_eq!(logins.len(), 10);
        assert!(logins.iter().all(|(action, _, _)| action == "login"));
        assert_eq!(logins[0].1, at(27), "newest first");
        let window = page(UsageQuery {
            from: Some(at(10)),
            to: Some(at(20)),
            ..UsageQuery::default()
        })
        .await;
        assert_eq!(
            window.iter().map(|(_, when, _)| *when).collect::<Vec<_>>(),
            (10..20).rev().map(at).collect::<Vec<_>>()
        );
        let refused = page(UsageQuery {
            outcome: Some(UsageOutcome::Refused),
            ..UsageQuery::default()
        })
        .await;
        assert_eq!(refused.len(), 6);
        let status_kind: Vec<String> = UsageKind::Status
            .actions()
            .iter()
            .map(|a| (*a).to_owned())
            .collect();
        let combined = page(UsageQuery {
            actions: status_kind,
            from: Some(at(15)),
            outcome: Some(UsageOutcome::Refused),
            ..UsageQuery::default()
        })
        .await;
        assert_eq!(
            combined,
            vec![("suspended".to_owned(), at(20), UsageOutcome::Refused)]
        );
        let nothing = store
            .usage_page(
                person,
                &UsageQuery {
                    actions: vec!["card_issued".into()],
                    ..UsageQuery::default()
                },
            )
            .await
            .unwrap();
        assert!(nothing.records.is_empty() && nothing.next_before_id.is_none());
        let too_many = UsageQuery {
            actions: vec!["login".into(); 65],
            ..UsageQuery::default()
        };
        assert!(matches!(
            store.usage_page(person, &too_many).await.unwrap_err(),
            StoreError::Invalid(_)
        ));

        // Export: oldest first, resumable from the last id.
        let mut exported = Vec::new();
        let mut after = 0;
        loop {
            let chunk = store.usage_export(person, after, 12).await.unwrap();
            let Some(last) = chunk.last() else { break };
            after = last.id;
            exported.extend(chunk.iter().map(|r| r.id));
        }
        exported.reverse();
        assert_eq!(exported, all);
    }

    fn head(size: u64, signature: u8) -> SignedTreeHead {
        SignedTreeHead {
            log_id: jpki_log::HashValue::from_bytes([7; 32]),
            tree_size: size,
            timestamp: 1_775_000_000_000 + size,
            root_hash: jpki_log::HashValue::from_bytes([size as u8; 32]),
            signature: vec![signature; 70],
        }
    }

    pub async fn tree_heads_are_published_once_per_size(f: &Fixture) {
        let store = &f.store;
        assert_eq!(store.latest_tree_head().await.unwrap(), None);
        let resident = add(store, 571).await.id;
        let mut batch = LifecycleBatch::new(at(0));
        for n in 0..9 {
            batch.usage.push(entry(resident, "login", n));
        }
        store.apply_lifecycle(&batch).await.unwrap();
        assert_eq!(store.save_tree_head(&head(3, 1)).await.unwrap(), head(3, 1));
        // Another process published size 3 first: its head is kept and returned.
        assert_eq!(store.save_tree_head(&head(3, 2)).await.unwrap(), head(3, 1));
        // Heads grow with time: a smaller tree, or an earlier head, is not published.
        assert_eq!(store.save_tree_head(&head(0, 1)).await.unwrap(), head(3, 1));
        let mut earlier = head(6, 1);
        earlier.timestamp = head(3, 1).timestamp - 1;
        assert_eq!(store.save_tree_head(&earlier).await.unwrap(), head(3, 1));
        assert_eq!(store.save_tree_head(&head(9, 1)).await.unwrap(), head(9, 1));
        // Never beyond the committed leaves.
        assert!(matches!(
            store.save_tree_head(&head(10, 1)).await.unwrap_err(),
            StoreError::Invalid(_)
        ));
        assert_eq!(store.latest_tree_head().await.unwrap(), Some(head(9, 1)));
        assert_eq!(store.tree_head(3).await.unwrap(), Some(head(3, 1)));
        assert_eq!(store.tree_head(6).await.unwrap(), None);
        assert_eq!(
            store.tree_heads(None, 10).await.unwrap(),
            vec![head(3, 1), head(9, 1)]
        );
        assert_eq!(
            store.tree_heads(Some(3), 1).await.unwrap(),
            vec![head(9, 1)]
        );
    }

    pub async fn tampering_shows_in_what_the_audit_reads(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 561).await.id;
        let mut ids = Vec::new();
        for n in 0..4 {
            ids.push(
                store
                    .append_usage(&entry(resident, "login", n))
                    .await
                    .unwrap(),
            );
        }
        let disable_keys = match f.database.backend_kind() {
            BackendKind::Sqlite => "PRAGMA foreign_keys = OFF;",
            BackendKind::Postgres => "SET session_replication_role = replica;",
        };
        f.database
            .execute_unchecked(&format!(
                "{disable_keys} \
                 UPDATE usage_history SET action = 'logout' WHERE id = {}; \
                 UPDATE usage_history SET detail_json = 'not json' WHERE id = {}; \
                 DELETE FROM usage_history WHERE id = {}; \
                 DELETE FROM log_leaves WHERE leaf_index = 3; \
                 INSERT INTO usage_history (resident_id, occurred_at, device_id, action, outcome, detail_json) \
                 VALUES ({}, 0, NULL, 'forged', 'ok', '{{}}');",
                ids[0], ids[1], ids[2], resident.0
            ))
            .await
            .unwrap();
        let logged = store.logged_usage(resident).await.unwrap();
        assert_eq!(logged.len(), 4, "the links stay");
        assert_eq!(logged[0].row.as_ref().unwrap().event.action, "logout");
        assert_eq!(
            logged[1].row.as_ref().unwrap().event.detail,
            serde_json::json!("not json"),
            "an unparsable row is read, not refused"
        );
        assert_eq!(logged[2].row, None, "the deleted row");
        let links = store.log_links(0, 10).await.unwrap();
        assert_eq!(links[3].leaf_hash, None, "the deleted leaf");
        let unlogged = store.unlogged_usage(0, 10).await.unwrap();
        assert_eq!(unlogged.len(), 1);
        assert_eq!(unlogged[0].event.action, "forged");
    }
}

/// Cases for `PhoneStore::accept_application`: everything an accepted application writes
/// in one transaction, all or nothing, and the group commit that shares transactions
/// between concurrent callers.
mod accept_cases {
    use jpki_model::{CertificateKind, CertificateStatus, SerialNumber};
    use jpki_store::{
        AcceptedApplication, AcceptedOutcome, ApplicationState, CaStore, CertificateStore,
        DeviceState, Holder, NewApplication, NewCertificate, NewNonce, NonceError, NonceStore,
        PhoneStore, ResidentId, Store, StoreError, UsageEntry, UsageLogStore, UsageOutcome,
    };
    use time::macros::datetime;

    use super::Fixture;
    use super::data::{T0, add, at, serial};
    use super::log_cases::check_chain;

    const BOTH: [CertificateKind; 2] = [
        CertificateKind::PHONE_SIGNATURE,
        CertificateKind::PHONE_AUTHENTICATION,
    ];

    async fn nonce(store: &Store, n: u8) -> Vec<u8> {
        let value = vec![n; 32];
        store
            .issue_nonce(&NewNonce {
                value: value.clone(),
                purpose: "application".into(),
                subject: None,
                issued_at: T0,
                expires_at: at(600),
            })
            .await
            .unwrap();
        value
    }

    fn line(resident: ResidentId, device: &str, action: &str, id: &str) -> UsageEntry {
        UsageEntry {
            resident_id: resident,
            at: at(5),
            device_id: Some(device.into()),
            action: action.into(),
            outcome: UsageOutcome::Ok,
            detail: serde_json::json!({ "application": id }),
        }
    }

    /// An application on `device` issued at once, with certificates under `serials`
    /// (signature, authentication).
    fn issued(
        resident: ResidentId,
        nonce: &[u8],
        device: &str,
        id: &str,
        serials: [u64; 2],
    ) -> AcceptedApplication {
        let certificates = BOTH
            .iter()
            .zip(serials)
            .map(|(kind, n)| NewCertificate {
                issuer_name: if *kind == CertificateKind::PHONE_SIGNATURE {
                    "sign".into()
                } else {
                    "auth".into()
                },
                serial: serial(n),
                kind: *kind,
                resident_id: resident,
                holder: Holder::Device(device.into()),
                subject_cn: "2026JP0000000001".into(),
                not_before: at(5),
                not_after: datetime!(2031-04-01 14:59:59 UTC),
                der: format!("not really DER {n}").into_bytes(),
                issued_at: at(5),
                renewal_of: None,
                awaiting_registration: true,
                application: None,
                crl_shard: 0,
            })
            .collect();
        AcceptedApplication {
            nonce: Some((nonce.to_vec(), "application".into())),
            at: at(5),
            token_hash: vec![0x42; 32],
            application: NewApplication {
                public_id: id.into(),
                resident_id: resident,
                device_id: device.into(),
                kinds: BOTH.to_vec(),
                card_certificate: ("sign".into(), serial(9_999)),
                request: serde_json::json!({ "keys": 2 }),
                submitted_at: at(5),
            },
            outcome: AcceptedOutcome::Issued {
                at: at(5),
                certificates,
                event: (
                    "ready_to_register".into(),
                    serde_json::json!({ "application_id": id }),
                ),
            },
            history: vec![
                line(resident, device, "applied", id),
                line(resident, device, "issued", id),
                line(resident, device, "notified", id),
            ],
        }
    }

    /// Everything `accepted` would have written is absent; its nonce is as `nonce_used`
    /// says.
    async fn left_nothing(store: &Store, accepted: &AcceptedApplication, nonce_used: bool) {
        let id = &accepted.application.public_id;
        assert_eq!(store.application(id).await.unwrap(), None, "{id}");
        assert_eq!(
            store.device(&accepted.application.device_id).await.unwrap(),
            None,
            "{id}"
        );
        if let AcceptedOutcome::Issued { certificates, .. } = &accepted.outcome {
            for certificate in certificates {
                if store
                    .certificate(&certificate.issuer_name, &certificate.serial)
                    .await
                    .unwrap()
                    .is_some_and(|c| c.holder == certificate.holder)
                {
                    panic!("{id}: certificate {} was recorded", certificate.serial);
                }
            }
        }
        let check = store
            .check_nonce(&accepted.nonce.as_ref().unwrap().0, "application", at(6))
            .await;
        if nonce_used {
            assert!(
                matches!(check, Err(StoreError::Nonce(NonceError::AlreadyUsed))),
                "{check:?}"
            );
        } else {
            check.unwrap();
        }
    }

    /// `accepted` was written whole.
    async fn written(store: &Store, accepted: &AcceptedApplication) {
        let id = &accepted.application.public_id;
        let device_id = &accepted.application.device_id;
        let record = store
            .application(id)
            .await
            .unwrap()
            .expect("the application");
        let device = store.device(device_id).await.unwrap().expect("the phone");
        assert_eq!(device.resident_id, Some(accepted.application.resident_id));
        assert_eq!(device.token_hash, accepted.token_hash);
        assert_eq!(device.state, DeviceState::Active);
        assert!(matches!(
            store
                .check_nonce(&accepted.nonce.as_ref().unwrap().0, "application", at(6))
                .await,
            Err(StoreError::Nonce(NonceError::AlreadyUsed))
        ));
        match &accepted.outcome {
            AcceptedOutcome::Issued { certificates, .. } => {
                assert_eq!(record.state, ApplicationState::Issued);
                assert_eq!(record.issued_at, Some(at(5)));
                let recorded = store.application_certificates(record.id).await.unwrap();
                assert_eq!(recorded.len(), certificates.len());
                for certificate in certificates {
                    let found = recorded
                        .iter()
                        .find(|c| c.serial == certificate.serial)
                        .expect("linked to the application");
                    assert_eq!(found.status, CertificateStatus::Pending);
                    assert_eq!(found.der, certificate.der);
                    // The serial is taken for good.
                    let again = store
                        .reserve_serial(&certificate.issuer_name, &certificate.serial, at(7))
                        .await
                        .unwrap_err();
                    assert!(matches!(again, StoreError::Conflict { .. }), "{again:?}");
                }
                let events = store.events_after(device_id, 0, 10).await.unwrap();
                assert_eq!(events.len(), 1);
                assert_eq!(events[0].kind, "ready_to_register");
                assert_eq!(events[0].payload["application_id"], id.as_str());
            }
            AcceptedOutcome::Queued => {
                assert_eq!(record.state, ApplicationState::Queued);
                assert!(
                    store
                        .application_certificates(record.id)
                        .await
                        .unwrap()
                        .is_empty()
                );
                assert!(
                    store
                        .events_after(device_id, 0, 10)
                        .await
                        .unwrap()
                        .is_empty()
                );
            }
            AcceptedOutcome::Failed { reason } => {
                assert_eq!(record.state, ApplicationState::Failed);
                assert_eq!(record.failure.as_deref(), Some(reason.as_str()));
                assert!(
                    store
                        .application_certificates(record.id)
                        .await
                        .unwrap()
                        .is_empty()
                );
            }
        }
    }

    fn serial_of(accepted: &AcceptedApplication, index: usize) -> SerialNumber {
        match &accepted.outcome {
            AcceptedOutcome::Issued { certificates, .. } => certificates[index].serial.clone(),
            _ => panic!("not issued"),
        }
    }

    pub async fn nonce_check_reads_without_consuming(f: &Fixture) {
        let store = &f.store;
        let value = nonce(store, 9).await;
        let failure = |result: Result<(), StoreError>| match result {
            Err(StoreError::Nonce(error)) => error,
            other => panic!("{other:?}"),
        };
        // Checking twice leaves it usable; then the one consumer gets it.
        store
            .check_nonce(&value, "application", at(1))
            .await
            .unwrap();
        store
            .check_nonce(&value, "application", at(2))
            .await
            .unwrap();
        assert_eq!(
            failure(store.check_nonce(&value, "login", at(2)).await),
            NonceError::WrongPurpose
        );
        assert_eq!(
            failure(store.check_nonce(&value, "application", at(600)).await),
            NonceError::Expired
        );
        assert_eq!(
            failure(store.check_nonce(&[0x77; 32], "application", at(2)).await),
            NonceError::Unknown
        );
        store
            .consume_nonce(&value, "application", at(3))
            .await
            .unwrap();
        assert_eq!(
            failure(store.check_nonce(&value, "application", at(4)).await),
            NonceError::AlreadyUsed
        );
    }

    pub async fn accepted_applications_are_written_all_or_nothing(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 601).await.id;

        // Issued at once: every row, in one call.
        let first = issued(resident, &nonce(store, 1).await, "se-1", "app-1", [1, 2]);
        let record = store.accept_application(&first).await.unwrap();
        assert_eq!(record.state, ApplicationState::Issued);
        written(store, &first).await;
        let actions: Vec<String> = store
            .usage_of_resident(resident)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.entry.action)
            .collect();
        assert_eq!(actions, ["applied", "issued", "notified"]);
        assert_eq!(check_chain(store, resident).await, 3);
        assert_eq!(store.log_tree_size().await.unwrap(), 3);

        // A replay of its nonce, on another phone with fresh serials: refused as a
        // replay, and nothing of it is written.
        let replay = issued(
            resident,
            &first.nonce.clone().unwrap().0,
            "se-2",
            "app-2",
            [3, 4],
        );
        let error = store.accept_application(&replay).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Nonce(NonceError::AlreadyUsed)),
            "{error:?}"
        );
        left_nothing(store, &replay, true).await;
        assert!(
            store
                .reserve_serial("sign", &serial(3), at(7))
                .await
                .is_ok()
        );

        // A serial already used (here the first application's authentication serial,
        // after a fresh signature serial): refused as such, and nothing is written, not
        // even the nonce's consumption or the signature certificate's serial.
        let clash = issued(resident, &nonce(store, 2).await, "se-3", "app-3", [5, 2]);
        let error = store.accept_application(&clash).await.unwrap_err();
        assert!(
            matches!(&error, StoreError::SerialInUse { issuer, serial: s } if issuer == "auth" && *s == serial(2)),
            "{error:?}"
        );
        left_nothing(store, &clash, false).await;
        assert!(
            store
                .reserve_serial("sign", &serial(5), at(7))
                .await
                .is_ok()
        );
        // The log did not move for either refusal.
        assert_eq!(store.log_tree_size().await.unwrap(), 3);
        assert_eq!(check_chain(store, resident).await, 3);

        // The same application under a fresh serial (what the CA does) goes through,
        // with the nonce the conflict left unused.
        let mut retried = clash.clone();
        if let AcceptedOutcome::Issued { certificates, .. } = &mut retried.outcome {
            certificates[0].serial = serial(6);
            certificates[1].serial = serial(7);
        }
        store.accept_application(&retried).await.unwrap();
        written(store, &retried).await;

        // Queued (outside the service hours) and failed applications.
        let mut queued = issued(resident, &nonce(store, 3).await, "se-4", "app-4", [90, 91]);
        queued.outcome = AcceptedOutcome::Queued;
        queued.history.truncate(1);
        let record = store.accept_application(&queued).await.unwrap();
        assert_eq!(record.state, ApplicationState::Queued);
        written(store, &queued).await;
        assert_eq!(
            store.queued_applications(10).await.unwrap()[0].public_id,
            "app-4"
        );
        let mut failed = issued(resident, &nonce(store, 4).await, "se-5", "app-5", [92, 93]);
        failed.outcome = AcceptedOutcome::Failed {
            reason: "Internal: the key is too small".into(),
        };
        failed.history.truncate(1);
        store.accept_application(&failed).await.unwrap();
        written(store, &failed).await;
        assert_eq!(check_chain(store, resident).await, 8);

        // What cannot be written is refused before the transaction.
        let mut foreign = issued(resident, &nonce(store, 5).await, "se-6", "app-6", [8, 9]);
        if let AcceptedOutcome::Issued { certificates, .. } = &mut foreign.outcome {
            certificates[0].holder = Holder::Device("se-other".into());
        }
        let error = store.accept_application(&foreign).await.unwrap_err();
        assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
        left_nothing(store, &foreign, false).await;
        // An unknown nonce.
        let unknown = issued(resident, &[0xEE; 32], "se-7", "app-7", [10, 11]);
        let error = store.accept_application(&unknown).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Nonce(NonceError::Unknown)),
            "{error:?}"
        );
        assert_eq!(store.log_tree_size().await.unwrap(), 8);
    }

    pub async fn a_failing_job_leaves_its_group_commit_intact(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 611).await.id;
        let neighbour = add(store, 612).await.id;
        let first = issued(resident, &nonce(store, 11).await, "se-a", "app-a", [21, 22]);
        // The same nonce again, in the same batch.
        let replay = issued(
            resident,
            &first.nonce.clone().unwrap().0,
            "se-b",
            "app-b",
            [23, 24],
        );
        // A serial the first job takes earlier in the same transaction.
        let clash = issued(
            neighbour,
            &nonce(store, 12).await,
            "se-c",
            "app-c",
            [25, 22],
        );
        let last = issued(
            neighbour,
            &nonce(store, 13).await,
            "se-d",
            "app-d",
            [26, 27],
        );
        let batch = [first.clone(), replay.clone(), clash.clone(), last.clone()];
        let results = store.accept_applications_together(&batch).await;
        assert_eq!(results.len(), 4);
        assert_eq!(results[0].as_ref().unwrap().public_id, "app-a");
        assert!(
            matches!(results[1], Err(StoreError::Nonce(NonceError::AlreadyUsed))),
            "{:?}",
            results[1]
        );
        assert!(
            matches!(&results[2], Err(StoreError::SerialInUse { serial: s, .. }) if *s == serial(22)),
            "{:?}",
            results[2]
        );
        assert_eq!(results[3].as_ref().unwrap().public_id, "app-d");
        written(store, &first).await;
        written(store, &last).await;
        left_nothing(store, &replay, true).await;
        left_nothing(store, &clash, false).await;
        assert!(
            store
                .reserve_serial("sign", &serial(25), at(7))
                .await
                .is_ok()
        );
        // The log holds the two committed jobs' lines only, each person's chain whole.
        assert_eq!(store.log_tree_size().await.unwrap(), 6);
        assert_eq!(check_chain(store, resident).await, 3);
        assert_eq!(check_chain(store, neighbour).await, 3);
        let leaves = store.log_links(0, 100).await.unwrap();
        assert_eq!(
            leaves.iter().map(|l| l.link.leaf_index).collect::<Vec<_>>(),
            (0..6).collect::<Vec<u64>>()
        );
        assert_eq!(serial_of(&first, 1), serial(22));

        // A batch whose every job fails writes nothing at all.
        let results = store
            .accept_applications_together(&[replay.clone(), clash.clone()])
            .await;
        assert!(results.iter().all(Result::is_err), "{results:?}");
        assert_eq!(store.log_tree_size().await.unwrap(), 6);
    }

    pub async fn a_batch_of_good_jobs_is_written_in_one_go(f: &Fixture) {
        let store = &f.store;
        let resident = add(store, 621).await.id;
        let neighbour = add(store, 622).await.id;
        // Two applications from one phone (the second's token wins, as if written one
        // after the other) and one from another phone, in one batch.
        let first = issued(
            resident,
            &nonce(store, 31).await,
            "se-x",
            "app-x1",
            [41, 42],
        );
        let mut second = issued(
            resident,
            &nonce(store, 32).await,
            "se-x",
            "app-x2",
            [43, 44],
        );
        second.token_hash = vec![0x43; 32];
        let other = issued(
            neighbour,
            &nonce(store, 33).await,
            "se-y",
            "app-y",
            [45, 46],
        );
        let results = store
            .accept_applications_together(&[first.clone(), second.clone(), other.clone()])
            .await;
        let ids: Vec<String> = results
            .iter()
            .map(|result| result.as_ref().unwrap().public_id.clone())
            .collect();
        assert_eq!(ids, ["app-x1", "app-x2", "app-y"]);
        written(store, &other).await;
        let phone = store.device("se-x").await.unwrap().expect("the phone");
        assert_eq!(phone.token_hash, second.token_hash);
        assert_eq!(phone.resident_id, Some(resident));
        let events = store.events_after("se-x", 0, 10).await.unwrap();
        assert_eq!(events.len(), 2);
        for accepted in [&first, &second] {
            let record = store
                .application(&accepted.application.public_id)
                .await
                .unwrap()
                .expect("the application");
            assert_eq!(record.state, ApplicationState::Issued);
            let recorded = store.application_certificates(record.id).await.unwrap();
            assert_eq!(recorded.len(), 2);
            assert!(matches!(
                store
                    .check_nonce(&accepted.nonce.as_ref().unwrap().0, "application", at(6))
                    .await,
                Err(StoreError::Nonce(NonceError::AlreadyUsed))
            ));
        }
        // The lines of the three jobs, in job order, each person's chain whole.
        assert_eq!(store.log_tree_size().await.unwrap(), 9);
        assert_eq!(check_chain(store, resident).await, 6);
        assert_eq!(check_chain(store, neighbour).await, 3);
        let links = store.log_links(0, 100).await.unwrap();
        assert_eq!(
            links.iter().map(|l| l.link.leaf_index).collect::<Vec<_>>(),
            (0..9).collect::<Vec<u64>>()
        );
        let people: Vec<i64> = links.iter().map(|l| l.resident_id.0).collect();
        assert_eq!(people[..6], [resident.0; 6]);
        assert_eq!(people[6..], [neighbour.0; 3]);
        let usage: Vec<i64> = links.iter().map(|l| l.usage_id).collect();
        assert!(usage.windows(2).all(|pair| pair[0] < pair[1]), "{usage:?}");
    }

    pub async fn a_batch_whose_log_append_fails_is_written_job_by_job(f: &Fixture) {
        let store = &f.store;
        let known = add(store, 631).await.id;
        let first_timer = add(store, 632).await.id;
        // `known` has a log id already; `first_timer` has none, and a store without the
        // pseudonym key cannot make one.
        store
            .append_usage(&line(known, "se-k", "login", "-"))
            .await
            .unwrap();
        let keyless = f.database.open_without_log_key().await.unwrap();
        let fine = issued(known, &nonce(store, 31).await, "se-k", "app-k", [41, 42]);
        let refused = issued(
            first_timer,
            &nonce(store, 32).await,
            "se-f",
            "app-f",
            [43, 44],
        );
        let results = keyless
            .accept_applications_together(&[fine.clone(), refused.clone()])
            .await;
        assert_eq!(results[0].as_ref().unwrap().public_id, "app-k");
        assert!(
            matches!(results[1], Err(StoreError::LogPseudonymKeyMissing)),
            "{:?}",
            results[1]
        );
        written(store, &fine).await;
        left_nothing(store, &refused, false).await;
        assert_eq!(check_chain(store, known).await, 4);
        assert_eq!(store.log_tree_size().await.unwrap(), 4);
        // A closed store's writer stops, and no new one starts.
        keyless.close().await;
        let late = issued(
            known,
            &nonce(store, 33).await,
            "se-late",
            "app-late",
            [45, 46],
        );
        let error = keyless.accept_application(&late).await.unwrap_err();
        assert!(matches!(error, StoreError::Database { .. }), "{error:?}");
        left_nothing(store, &late, false).await;
    }

    pub async fn concurrent_accepts_commit_together_and_refuse_replays(f: &Fixture) {
        let store = &f.store;
        let residents = [add(store, 621).await.id, add(store, 622).await.id];
        let mut nonces = Vec::new();
        for n in 0..16u8 {
            nonces.push(nonce(store, 100 + n).await);
        }
        // Two pools, as two processes sharing the database, each with its own writer.
        let other = f.database.open().await.unwrap();
        let mut tasks = Vec::new();
        for n in 0..24usize {
            let store = if n % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            // Jobs 16..24 replay the nonces of jobs 0..8.
            let accepted = issued(
                residents[n % 2],
                &nonces[n % 16],
                &format!("se-{n}"),
                &format!("app-{n}"),
                [1000 + 2 * n as u64, 1001 + 2 * n as u64],
            );
            tasks.push(tokio::spawn(async move {
                let result = store.accept_application(&accepted).await;
                (accepted, result)
            }));
        }
        let mut accepted = 0;
        for task in tasks {
            let (job, result) = task.await.unwrap();
            match result {
                Ok(record) => {
                    assert_eq!(record.state, ApplicationState::Issued);
                    written(store, &job).await;
                    accepted += 1;
                }
                Err(StoreError::Nonce(NonceError::AlreadyUsed)) => {
                    left_nothing(store, &job, true).await;
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(accepted, 16, "one application per nonce");
        assert_eq!(store.log_tree_size().await.unwrap(), 48);
        assert_eq!(
            check_chain(store, residents[0]).await + check_chain(store, residents[1]).await,
            48
        );
    }
}
