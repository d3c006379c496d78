//! Runs the status-service benchmarks once and prints the figures.
//!
//! ```text
//! cargo run --release -p jpki-status --example status_bench -- crl 1000000
//! cargo run --release -p jpki-status --example status_bench -- ocsp 1000 200000
//! cargo run --release -p jpki-status --example status_bench -- crl-store 1000000 1000
//! ```
//!
//! `crl-store` measures the whole publication path: a SQLite database holding
//! `entries` revoked certificates of one shard is read by `StoreStatus`, and the
//! publisher makes the full CRL (read, sort, encode, sign); then `changes` more
//! certificates are revoked and the delta CRL over that base is made.
//!
//! Each run is its own process, so the CRL peak RSS is that run's alone.

use std::process::ExitCode;

mod store {
    //! The `crl-store` benchmark (see the crate docs of the example).

    use std::sync::Arc;
    use std::time::Instant;

    use jpki_crypto::{RsaKeySize, SoftwareRsaKey, SystemClock};
    use jpki_model::{BasicInfo, BirthDate, MyNumber, Purpose, SerialNumber, Sex};
    use jpki_pkix::{CaParams, build_ca_certificate};
    use jpki_status::{
        CrlAuthority, CrlConfig, CrlPublisher, CrlRepository, IssuerId, ShardId, StoreStatus,
    };
    use jpki_store::testing::BulkRevoked;
    use jpki_store::{NewResident, RegistryStore, Store};
    use time::{Duration, OffsetDateTime};

    fn rss(field: &str) -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
        })
    }

    fn mib(kilobytes: Option<u64>) -> String {
        kilobytes.map_or_else(
            || "n/a".to_owned(),
            |kb| format!("{:.1} MiB", kb as f64 / 1024.0),
        )
    }

    pub async fn crl_store(entries: u64, changes: u64) -> Result<(), String> {
        let fail = |what: &'static str| move |error: String| format!("{what}: {error}");
        // JPKI_BENCH_POSTGRES=1: a fresh schema of JPKI_TEST_POSTGRES_URL instead of SQLite.
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut _postgres = None;
        let store = if std::env::var("JPKI_BENCH_POSTGRES").is_ok_and(|v| v == "1") {
            let (store, guard) = jpki_store::testing::postgres_test_store()
                .await
                .map_err(|e| e.to_string())?
                .ok_or("PostgreSQL is not reachable")?;
            _postgres = Some(guard);
            println!("database: PostgreSQL ({})", store.location());
            store
        } else {
            println!(
                "database: SQLite (WAL, synchronous=FULL) in {}",
                dir.path().display()
            );
            Store::open_sqlite(&dir.path().join("bench.db"))
                .await
                .map_err(|e| e.to_string())?
        };
        let now = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .map_err(|e| e.to_string())?;
        let resident = store
            .add_resident(
                &NewResident {
                    my_number: MyNumber::from_first_eleven(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
                        .map_err(|e| e.to_string())?,
                    basic_info: BasicInfo::new(
                        "ベンチ 太郎",
                        None,
                        "東京都千代田区",
                        None,
                        BirthDate::parse("1990-01-01").map_err(|e| e.to_string())?,
                        Sex::Male,
                    )
                    .map_err(|e| e.to_string())?,
                },
                now,
            )
            .await
            .map_err(|e| e.to_string())?;
        store
            .save_device("BENCH", &[1; 32], now)
            .await
            .map_err(|e| e.to_string())?;
        let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).map_err(|e| e.to_string())?;
        let params = CaParams::new(
            Purpose::Authentication,
            SerialNumber::from_hex("01").map_err(|e| e.to_string())?,
            now - Duration::days(1),
            now + Duration::days(3650),
        );
        let ca_der = build_ca_certificate(&params, &key).map_err(|e| e.to_string())?;
        let issuer = IssuerId::new("bench").map_err(|e| e.to_string())?;
        let shard = ShardId::new(0);

        // The population: `entries` revoked certificates, revoked an hour ago.
        let started = Instant::now();
        let loaded = jpki_store::testing::bulk_revoked_certificates(
            &store,
            &BulkRevoked {
                issuer: "bench",
                shard: 0,
                count: entries,
                resident: resident.id,
                device: "BENCH",
                at: now - Duration::hours(1),
                not_after: now + Duration::days(1000),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        println!(
            "loaded {loaded} revoked certificates in {:?}",
            started.elapsed()
        );

        let repository = Arc::new(CrlRepository::new());
        let publisher = CrlPublisher::new(
            Arc::new(StoreStatus::new(store.clone(), Arc::new(SystemClock))),
            vec![
                CrlAuthority::new(issuer.clone(), &ca_der, Arc::new(key), 1)
                    .map_err(|e| e.to_string())?,
            ],
            CrlConfig::new("http://127.0.0.1:8080"),
            repository,
        )
        .map_err(|e| e.to_string())
        .map_err(fail("publisher"))?;

        // How much of it is reading the database.
        let started = Instant::now();
        let listed = jpki_store::StatusStore::listed_certificates(&store, "bench", 0, now)
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "reading {} listed certificates from the database: {:?}",
            listed.len(),
            started.elapsed()
        );
        drop(listed);

        // The full CRL: read the shard from the database, sort, encode, sign.
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let before = rss("VmRSS");
        let started = Instant::now();
        let pair = publisher
            .publish_full(&issuer, shard, now)
            .await
            .map_err(|e| e.to_string())?;
        let full_time = started.elapsed();
        let peak = rss("VmHWM");
        println!(
            "full CRL: {} entries, {} bytes, {:?} (read + sort + encode + sign; with its empty delta)\n  RSS before {}, peak {} (peak reset: {reset})",
            pair.full.entries,
            pair.full.der.len(),
            full_time,
            mib(before),
            mib(peak),
        );

        // `changes` more revocations after the base, then the delta.
        let later = now + Duration::seconds(1);
        jpki_store::testing::bulk_revoked_certificates(
            &store,
            &BulkRevoked {
                issuer: "bench",
                shard: 0,
                count: changes,
                resident: resident.id,
                device: "BENCH",
                at: later,
                not_after: now + Duration::days(1000),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let started = Instant::now();
        let delta = publisher
            .publish_delta(&issuer, shard, now + Duration::seconds(2))
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "delta CRL: {} entries, {} bytes, {:?} (changes since the base, read by index); peak {} (reset: {reset})",
            delta.entries,
            delta.der.len(),
            started.elapsed(),
            mib(rss("VmHWM")),
        );
        store.close().await;
        Ok(())
    }
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "n/a".to_owned(),
        |b| format!("{:.1} MiB", b as f64 / 1048576.0),
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: usize| {
        args.get(index)
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    match args.first().map(String::as_str) {
        Some("crl") => match jpki_status::bench::bench_crl(number(1, 1_000_000)) {
            Ok(report) => {
                println!(
                    "CRL: {} entries, {} bytes\n  build entries   {:?}\n  encode + sign   {:?}\n  parse (CrlView) {:?}\n  RSS before {}, peak {} (peak reset: {})",
                    report.entries,
                    report.der_bytes,
                    report.build_entries,
                    report.encode_and_sign,
                    report.parse,
                    mib(report.rss_before_bytes),
                    mib(report.peak_rss_bytes),
                    report.peak_reset,
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("bench_crl failed: {error}");
                ExitCode::FAILURE
            }
        },
        Some("ocsp") => {
            let runtime = match tokio::runtime::Builder::new_current_thread().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("no runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            let result = runtime.block_on(jpki_status::bench::bench_ocsp_presigned(
                number(1, 1000),
                number(2, 200_000),
            ));
            match result {
                Ok(report) => {
                    println!(
                        "OCSP pre-signed: {} certificates ({} signatures in {:?})\n  {} GET queries in {:?}: {:?} per query, {:.0} queries/s, {} signatures while serving, {} bytes per response",
                        report.certificates,
                        report.presign_signatures,
                        report.presign,
                        report.queries,
                        report.serve,
                        report.per_query,
                        report.queries_per_second,
                        report.signatures_while_serving,
                        report.response_bytes,
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("bench_ocsp_presigned failed: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("crl-store") => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("no runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            let entries = u64::try_from(number(1, 1_000_000)).unwrap_or(1_000_000);
            let changes = u64::try_from(number(2, 1_000)).unwrap_or(1_000);
            match runtime.block_on(store::crl_store(entries, changes)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("crl-store failed: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!(
                "usage: status_bench crl [entries] | ocsp [certificates] [queries] | crl-store [entries] [changes]"
            );
            ExitCode::FAILURE
        }
    }
}
