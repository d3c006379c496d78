//! Benchmark of the store-backed verifiable usage log (docs/benchmarks.md, "Verifiable
//! usage log"):
//!
//! ```sh
//! cargo run --release -p jpki-authority --example usage_log_bench -- [sqlite|postgres] [APPENDS] [CONCURRENCY] [HISTORY]
//! ```
//!
//! 1. APPENDS usage lines (default 2,000), each in its own transaction as the portal
//!    writes them (row + chain link + leaf), from CONCURRENCY writers (default 8), over
//!    64 people: appends per second.
//! 2. The log service opens on them (reads the leaves, builds the tree), signs a head,
//!    and builds every person's history bundle: an inclusion proof for every appended
//!    entry. Appends with proof generation per second = APPENDS / (1. + 2.).
//! 3. One person with HISTORY lines (default 10,000; written 500 per transaction): the
//!    bundle build (every entry's proof), its JSON size, its offline verification, and
//!    the history pages (newest 50; a rare action; a time window) and a full export.
//! 4. The operator's audit of the whole log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use jpki_authority::usage_log::{UsageLog, UsageLogConfig, audit};
use jpki_crypto::SystemClock;
use jpki_log::LogKey;
use jpki_model::{BasicInfo, BirthDate, MyNumber, Sex};
use jpki_store::testing::test_pseudonym_key;
use jpki_store::{
    LifecycleBatch, LifecycleStore, NewResident, PhoneStore, RegistryStore, ResidentId, Store,
    UsageEntry, UsageLogStore, UsageOutcome, UsageQuery, UsageStore,
};
use time::OffsetDateTime;

const PEOPLE: u64 = 64;

fn my_number(n: u64) -> MyNumber {
    let text = format!("{n:011}");
    let mut digits = [0u8; 11];
    for (digit, byte) in digits.iter_mut().zip(text.bytes()) {
        *digit = byte - b'0';
    }
    MyNumber::from_first_eleven(&digits).unwrap()
}

async fn resident(store: &Store, n: u64) -> ResidentId {
    let info = BasicInfo::new(
        "公的 計測",
        None,
        "東京都千代田区霞が関2-1-2",
        None,
        BirthDate::parse("1980-01-01").unwrap(),
        Sex::Female,
    )
    .unwrap();
    store
        .add_resident(
            &NewResident {
                my_number: my_number(n),
                basic_info: info,
            },
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap()
        .id
}

fn line(resident: ResidentId, n: u64, action: &str) -> UsageEntry {
    UsageEntry {
        resident_id: resident,
        at: OffsetDateTime::now_utc(),
        device_id: Some("JP0000000000000000001".into()),
        action: action.into(),
        outcome: UsageOutcome::Ok,
        detail: serde_json::json!({
            "relying_party": "Example 銀行",
            "certificate": "phone_auth",
            "serial": format!("{n:032X}"),
        }),
    }
}

fn per_second(count: u64, elapsed: Duration) -> String {
    format!("{:.0}", count as f64 / elapsed.as_secs_f64())
}

fn millis(elapsed: Duration) -> String {
    format!("{:.2} ms", elapsed.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let postgres = args.first().is_some_and(|a| a == "postgres");
    let appends: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let concurrency: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let history: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10_000);
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
        "SQLite (WAL, synchronous=FULL)"
    };
    println!("Verifiable usage log on {backend}");
    let mut people = Vec::new();
    for n in 0..PEOPLE {
        people.push(resident(&store, n + 1).await);
    }

    // 1. Appends, one transaction each, from concurrent writers.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..concurrency {
        let store = store.clone();
        let people = people.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = writer;
            while n < appends {
                let person = people[(n % PEOPLE) as usize];
                store.append_usage(&line(person, n, "login")).await.unwrap();
                n += concurrency;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let append_time = started.elapsed();
    println!(
        "  {appends} appends ({concurrency} writers, one transaction each): {} = {}/s",
        millis(append_time),
        per_second(appends, append_time)
    );

    // 2. The service: open (read every leaf), sign, a bundle per person.
    let started = Instant::now();
    let log = UsageLog::open(
        store.clone(),
        LogKey::generate_p256().unwrap(),
        test_pseudonym_key().unwrap(),
        Arc::new(SystemClock),
        UsageLogConfig {
            min_sign_interval: Duration::ZERO,
        },
    )
    .await
    .unwrap();
    let open_time = started.elapsed();
    let started = Instant::now();
    let mut proven = 0;
    for person in &people {
        proven += log
            .history_bundle(*person, None)
            .await
            .unwrap()
            .entries
            .len() as u64;
    }
    let proof_time = started.elapsed();
    assert_eq!(proven, appends);
    println!(
        "  open the log (read {appends} leaves): {}; sign + {PEOPLE} bundles ({proven} inclusion proofs): {}",
        millis(open_time),
        millis(proof_time)
    );
    println!(
        "  appends with an inclusion proof for every entry: {}/s",
        per_second(appends, append_time + open_time + proof_time)
    );

    // 3. One person with a long history.
    let big = resident(&store, PEOPLE + 1).await;
    let started = Instant::now();
    let mut written = 0;
    while written < history {
        let mut batch = LifecycleBatch::new(OffsetDateTime::now_utc());
        for _ in 0..500.min(history - written) {
            // One line in a hundred is a suspension: the rare action of the filter.
            let action = if written % 100 == 99 {
                "suspended"
            } else {
                "login"
            };
            batch.usage.push(line(big, written, action));
            written += 1;
        }
        store.apply_lifecycle(&batch).await.unwrap();
    }
    let batch_time = started.elapsed();
    println!(
        "  {history} lines of one person, 500 per transaction: {} = {}/s",
        millis(batch_time),
        per_second(history, batch_time)
    );
    let started = Instant::now();
    let bundle = log.history_bundle(big, None).await.unwrap();
    let bundle_time = started.elapsed();
    assert_eq!(bundle.entries.len() as u64, history);
    let json = bundle.to_json().unwrap();
    let started = Instant::now();
    let parsed = jpki_log::HistoryBundle::from_json(&json).unwrap();
    let verified = jpki_log::verify_bundle(&parsed, log.public_key()).unwrap();
    let verify_time = started.elapsed();
    assert_eq!(verified.entries.len() as u64, history);
    println!(
        "  bundle of {history} entries (tree of {} leaves): build {}, {:.1} MB of JSON, parse + verify {}",
        bundle.tree_head.tree_size,
        millis(bundle_time),
        json.len() as f64 / 1e6,
        millis(verify_time)
    );

    // The history pages of that person.
    let runs = 200u32;
    let page = |query: UsageQuery| {
        let store = store.clone();
        async move {
            let started = Instant::now();
            let mut rows = 0;
            for _ in 0..runs {
                rows = store.usage_page(big, &query).await.unwrap().records.len();
            }
            (started.elapsed() / runs, rows)
        }
    };
    let (newest, rows) = page(UsageQuery {
        limit: 50,
        ..UsageQuery::default()
    })
    .await;
    println!(
        "  history page, newest 50 of {history}: {} ({rows} rows)",
        millis(newest)
    );
    let (rare, rows) = page(UsageQuery {
        limit: 50,
        actions: vec!["suspended".into()],
        ..UsageQuery::default()
    })
    .await;
    println!(
        "  history page, a rare action (1 in 100): {} ({rows} rows)",
        millis(rare)
    );
    let all = store.usage_of_resident(big).await.unwrap();
    let middle = all[all.len() / 2].entry.at;
    let (window, rows) = page(UsageQuery {
        limit: 50,
        to: Some(middle),
        ..UsageQuery::default()
    })
    .await;
    println!(
        "  history page, lines before the middle of the history: {} ({rows} rows)",
        millis(window)
    );
    let started = Instant::now();
    let mut after = 0;
    let mut exported = 0;
    loop {
        let chunk = store.usage_export(big, after, 500).await.unwrap();
        let Some(last) = chunk.last() else { break };
        after = last.id;
        exported += chunk.len();
    }
    println!(
        "  export of {exported} lines, 500 a page: {}",
        millis(started.elapsed())
    );

    // 4. The operator's audit.
    let started = Instant::now();
    let report = audit(&store, log.public_key(), &test_pseudonym_key().unwrap())
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    println!(
        "  audit of the whole log ({} leaves, {} people, {} heads): {}",
        report.tree_size,
        report.persons,
        report.tree_heads,
        millis(started.elapsed())
    );
    assert_eq!(store.log_tree_size().await.unwrap(), appends + history);
}
