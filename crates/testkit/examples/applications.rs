//! Benchmark: phone applications processed per second end to end over HTTP — the RA's
//! checks (card signature and chain, attestations, CSRs), two certificates signed, stored
//! durably, the phone's notification queued — next to the raw RSA-2048 signing rate of the
//! same machine in the same run (the bound is two CA signatures per application).
//!
//! ```sh
//! cargo run --release -p jpki-testkit --example applications -- [COUNT] [CONCURRENCY] [postgres]
//! ```
//! Applications are prepared first (nonces, SE attestations, card signatures: the phone's
//! and the card's work, not the server's) and then submitted with CONCURRENCY clients.
//! With `RUST_LOG=sqlx::query=debug` every statement run through sqlx is logged to stderr
//! with its time (the group-commit writer's SQLite statements do not go through sqlx).
//! After the figures, the CPU time the submission phase took, by thread (Linux: from
//! `/proc/self/task/*/schedstat`), with the time each group of threads spent runnable but
//! waiting for a core.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jpki_api::{KeyRequest, NoncePurpose, PhoneKind, decode_token, encode_der};
use jpki_app::PortalClient;
use jpki_app::flows;
use jpki_authority::phone::{PhoneConfig, ServiceHours};
use jpki_crypto::{RsaKeySize, Signer, SoftwareRsaKey};
use jpki_reader::JpkiAp;
use jpki_se::{Interface, SlotUsage};
use jpki_testkit::Sandbox;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `RUST_LOG=sqlx::query=debug` logs every statement with its time (docs/benchmarks.md
    // sums them per statement text).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(400);
    let concurrency: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(16);
    let postgres = args.get(2).is_some_and(|a| a == "postgres");
    if cfg!(debug_assertions) {
        eprintln!("note: debug build; run with --release for figures worth recording");
    }

    let (store, _guard) = if postgres {
        jpki_store::testing::postgres_test_store()
            .await
            .unwrap()
            .expect("PostgreSQL at JPKI_TEST_POSTGRES_URL")
    } else {
        jpki_store::testing::sqlite_test_store().await.unwrap()
    };
    let backend = if postgres {
        "PostgreSQL"
    } else {
        "SQLite (synchronous=FULL)"
    };
    let config = PhoneConfig {
        service_hours: ServiceHours::ALWAYS,
        ..PhoneConfig::default()
    };
    let sandbox = Sandbox::new(store, time::OffsetDateTime::now_utc(), config)
        .await
        .unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 計測", "1980-01-01").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.phone().unwrap();
    let pins = jpki_testkit::phone_pins().unwrap();
    let kinds = [PhoneKind::Signature, PhoneKind::Authentication];
    let card_password = jpki_testkit::card_password().unwrap();

    // Keys are generated once; each application attests them again over its own nonce.
    let first = client.nonce(NoncePurpose::Application).await.unwrap();
    let (device, keys) = flows::prepare_keys(&mut phone, &first.nonce, &kinds, &pins).unwrap();
    eprintln!("preparing {count} applications …");
    let mut requests = Vec::with_capacity(count);
    for _ in 0..count {
        let nonce = client.nonce(NoncePurpose::Application).await.unwrap();
        let nonce_bytes = decode_token(&nonce.nonce).unwrap();
        let identity = jpki_app::portal_app_identity().unwrap();
        let mut ap = JpkiAp::select(phone.se.open_session(Interface::Omapi(identity))).unwrap();
        let attested: Vec<KeyRequest> = keys
            .iter()
            .map(|key| {
                let usage = match key.kind {
                    PhoneKind::Signature => SlotUsage::Signature,
                    PhoneKind::Authentication => SlotUsage::Authentication,
                };
                let bundle = jpki_se::host::attest_key(&mut ap, usage, &nonce_bytes).unwrap();
                KeyRequest {
                    kind: key.kind,
                    csr: key.csr.clone(),
                    attestation: encode_der(bundle.statement()),
                }
            })
            .collect();
        drop(ap);
        requests.push(
            flows::sign_application(
                &mut card,
                &card_password,
                nonce.nonce,
                &kinds,
                device.clone(),
                attested,
            )
            .unwrap(),
        );
    }

    // The raw bound, measured on this machine just before and just after the submissions:
    // the host's speed drifts, and the mean of the two follows it better than either.
    let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
    let raw_before = raw_signing_rate(&key);

    eprintln!("submitting with {concurrency} concurrent clients …");
    let requests = std::sync::Arc::new(tokio::sync::Mutex::new(requests));
    let threads_before = thread_times();
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, requests) = (client.clone(), requests.clone());
        workers.push(tokio::spawn(async move {
            let mut done = 0usize;
            loop {
                let Some(request) = requests.lock().await.pop() else {
                    break;
                };
                let accepted = client.submit(&request).await.unwrap();
                assert_eq!(accepted.state, jpki_api::ApplicationState::Issued);
                done += 1;
            }
            done
        }));
    }
    let mut processed = 0;
    for worker in workers {
        processed += worker.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let threads_after = thread_times();
    let raw_after = raw_signing_rate(&key);
    let raw = (raw_before + raw_after) / 2.0;
    let rate = processed as f64 / elapsed;
    let bound = raw / 2.0;
    println!("backend                      {backend}");
    println!("applications                 {processed} in {elapsed:.2} s, {concurrency} clients");
    println!("applications per second      {rate:.1}");
    println!(
        "raw RSA-2048 signatures/s    {raw:.1} (one thread; {raw_before:.1} before the submissions, {raw_after:.1} after)"
    );
    println!("bound (2 CA signatures each) {bound:.1}");
    println!(
        "ratio                        {:.1}% (target ≥ 60%)",
        100.0 * rate / bound
    );
    print_thread_times(&threads_before, &threads_after, elapsed, processed);
}

/// RSA-2048 PKCS#1 v1.5 signatures per second on one thread, over 1.5 s.
fn raw_signing_rate(key: &SoftwareRsaKey) -> f64 {
    let message = vec![0x5A; 1200];
    let start = Instant::now();
    let mut signatures = 0u64;
    while start.elapsed() < Duration::from_millis(1500) {
        key.sign(&message).unwrap();
        signatures += 1;
    }
    signatures as f64 / start.elapsed().as_secs_f64()
}

/// Per thread: its name, nanoseconds on a CPU, nanoseconds runnable but waiting for one.
fn thread_times() -> BTreeMap<u64, (String, u64, u64)> {
    let mut times = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return times;
    };
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<u64>().ok())
        else {
            continue;
        };
        let path = task.path();
        let (Ok(comm), Ok(schedstat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("schedstat")),
        ) else {
            continue;
        };
        let mut fields = schedstat
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        let (run, wait) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
        times.insert(tid, (comm.trim().to_owned(), run, wait));
    }
    times
}

/// The submission phase's CPU by group of threads (names without their trailing number).
fn print_thread_times(
    before: &BTreeMap<u64, (String, u64, u64)>,
    after: &BTreeMap<u64, (String, u64, u64)>,
    elapsed: f64,
    processed: usize,
) {
    if after.is_empty() {
        return;
    }
    let mut groups: BTreeMap<String, (f64, f64, usize)> = BTreeMap::new();
    for (tid, (name, run, wait)) in after {
        let (run0, wait0) = before.get(tid).map_or((0, 0), |(_, r, w)| (*r, *w));
        let group = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
        let entry = groups.entry(group.to_owned()).or_default();
        entry.0 += run.saturating_sub(run0) as f64 / 1e6;
        entry.1 += wait.saturating_sub(wait0) as f64 / 1e6;
        entry.2 += 1;
    }
    let total: f64 = groups.values().map(|(run, _, _)| run).sum();
    println!(
        "CPU while submitting         {total:.0} ms ({:.2} cores of the wall time, {:.3} ms per application)",
        total / 1e3 / elapsed,
        total / processed.max(1) as f64
    );
    println!("  threads                              on CPU ms   waiting for a core ms");
    let mut rows: Vec<_> = groups.into_iter().collect();
    rows.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    for (group, (run, wait, count)) in rows {
        if run < 1.0 && wait < 1.0 {
            continue;
        }
        println!("  {:<30} ×{count:<3} {run:>9.1} {wait:>12.1}", group);
    }
}
