//! Page latency of the citizen's dashboard and usage history for a person with many
//! history lines (docs/benchmarks.md, "Web pages").
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/web-rel cargo run --release -p jpki-web --example web_bench -- \
//!     --entries 10000 --requests 1000 [--postgres]
//! ```
//!
//! The whole system boots in-process (testkit: SQLite in a temporary directory, or a
//! fresh PostgreSQL schema with `--postgres`) and serves the pages on loopback. One
//! resident gets a My Number card and a registered phone (four certificates), then
//! `--entries` usage lines (a mix of every kind, written through the store's usage log
//! in transactions of 500), and a session. Then, for each page, 50 untimed requests and
//! `--requests` timed ones, one at a time over one keep-alive connection, each timed from
//! sending the request to the last byte of the body. Nearest-rank percentiles.
//!
//! The floor, measured in the same run: the same client fetching the static stylesheet
//! (router, middleware, loopback; no store), and the store's history query alone (the
//! first page, in process, no HTTP).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use jpki_app::PortalClient;
use jpki_app::flows::{self, AuthUnlock};
use jpki_crypto::{Clock, random_bytes, sha256};
use jpki_store::{
    LifecycleBatch, LifecycleStore, NewSession, PhoneStore, RelyingStore, UsageEntry, UsageOutcome,
    UsageQuery, UsageStore,
};
use jpki_testkit::Sandbox;
use time::Duration as TimeDuration;

const ACTIONS: &[(&str, Option<&str>)] = &[
    ("login", None),
    ("platform_login", Some("Example Bank")),
    ("submitted", None),
    ("sign_request", Some("Example Insurer")),
    ("platform_register", Some("Example Securities")),
    ("pin_reset", None),
];

struct Args {
    entries: usize,
    requests: usize,
    postgres: bool,
}

fn args() -> Args {
    let mut args = Args {
        entries: 10_000,
        requests: 1_000,
        postgres: false,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--entries" => {
                args.entries = iter
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--entries N")
            }
            "--requests" => {
                args.requests = iter
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--requests N")
            }
            "--postgres" => args.postgres = true,
            other => panic!("unknown argument {other:?} (--entries N, --requests N, --postgres)"),
        }
    }
    args
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
    max: Duration,
    bytes: usize,
}

async fn measure(http: &reqwest::Client, url: &str, cookie: &str, requests: usize) -> Stats {
    let fetch = || async {
        let response = http.get(url).header("cookie", cookie).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.bytes().await.unwrap().len()
    };
    for _ in 0..50 {
        fetch().await;
    }
    let mut times = Vec::with_capacity(requests);
    let mut bytes = 0;
    for _ in 0..requests {
        let start = Instant::now();
        bytes = fetch().await;
        times.push(start.elapsed());
    }
    times.sort();
    Stats {
        p50: percentile(&times, 50.0),
        p99: percentile(&times, 99.0),
        mean: times.iter().sum::<Duration>() / times.len() as u32,
        max: *times.last().unwrap(),
        bytes,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let (sandbox, _guard) = if args.postgres {
        let (store, guard) = jpki_store::testing::postgres_test_store()
            .await
            .unwrap()
            .expect("PostgreSQL at 127.0.0.1:5432 (JPKI_TEST_POSTGRES_URL)");
        let config = jpki_authority::phone::PhoneConfig {
            service_hours: jpki_authority::phone::ServiceHours::ALWAYS,
            ..Default::default()
        };
        (
            Sandbox::new(store, jpki_testkit::default_now(), config)
                .await
                .unwrap(),
            guard,
        )
    } else {
        Sandbox::sqlite().await.unwrap()
    };
    let url = sandbox.serve().await.unwrap();
    let client = PortalClient::new(&url).unwrap();

    // A person with a card and a registered phone.
    let resident = sandbox.resident("公的 太郎", "1990-01-02").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.phone().unwrap();
    let pins = jpki_testkit::phone_pins().unwrap();
    flows::apply(
        &mut phone,
        &client,
        &mut card,
        &jpki_testkit::card_password().unwrap(),
        &[
            jpki_api::PhoneKind::Signature,
            jpki_api::PhoneKind::Authentication,
        ],
        &pins,
    )
    .await
    .unwrap();
    flows::wait(&mut phone, &client, Duration::from_secs(10), false, |_| {})
        .await
        .unwrap();
    flows::register(
        &mut phone,
        &client,
        AuthUnlock::Pin(&jpki_testkit::phone_auth_pin().unwrap()),
    )
    .await
    .unwrap();
    let device = phone.se.serial().as_str().to_owned();

    // The history lines, through the store's usage log, 500 per transaction.
    let started = Instant::now();
    let now = sandbox.clock.now();
    let existing = sandbox
        .store
        .usage_of_resident(resident.id)
        .await
        .unwrap()
        .len();
    let mut written = 0;
    while written < args.entries {
        let mut batch = LifecycleBatch::new(now);
        for n in written..(written + 500).min(args.entries) {
            let (action, party) = ACTIONS[n % ACTIONS.len()];
            batch.usage.push(UsageEntry {
                resident_id: resident.id,
                at: now - TimeDuration::minutes((args.entries - n) as i64),
                device_id: Some(device.clone()),
                action: action.into(),
                outcome: if n % 17 == 0 {
                    UsageOutcome::Refused
                } else {
                    UsageOutcome::Ok
                },
                detail: match party {
                    Some(party) => serde_json::json!({ "relying_party": party }),
                    None => serde_json::json!({ "n": n }),
                },
            });
        }
        written += batch.usage.len();
        sandbox.store.apply_lifecycle(&batch).await.unwrap();
    }
    let total = sandbox
        .store
        .usage_of_resident(resident.id)
        .await
        .unwrap()
        .len();
    assert_eq!(total, existing + args.entries);
    eprintln!(
        "{} history lines written in {:.1} s ({} backend)",
        args.entries,
        started.elapsed().as_secs_f64(),
        sandbox.store.backend_kind()
    );

    // A session, as the login would make it.
    let token = random_bytes(32).unwrap();
    sandbox
        .store
        .create_session(&NewSession {
            token_hash: sha256(&token).to_vec(),
            resident_id: resident.id,
            created_at: now,
            expires_at: now + TimeDuration::hours(24),
            login_challenge: None,
        })
        .await
        .unwrap();
    let cookie = format!("__Host-jpki-session={}", jpki_api::encode_token(&token));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // The store's query alone (the floor under the history page).
    let query = UsageQuery {
        limit: 50,
        ..UsageQuery::default()
    };
    let mut store_times = Vec::new();
    for round in 0..(50 + args.requests) {
        let start = Instant::now();
        let page = sandbox.store.usage_page(resident.id, &query).await.unwrap();
        if round >= 50 {
            store_times.push(start.elapsed());
        }
        assert_eq!(page.records.len(), 50);
    }
    store_times.sort();

    println!(
        "person with {total} history lines, 4 certificates; {} timed requests per page, sequential, one keep-alive connection ({} backend)",
        args.requests,
        sandbox.store.backend_kind()
    );
    println!("| page | p50 | p99 | mean | max | bytes |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, path) in [
        (
            "static stylesheet (floor: router + headers + loopback)",
            "/static/style.css",
        ),
        ("dashboard", "/dashboard"),
        ("history, first page (50 lines)", "/history"),
        ("history, page 100 (lines 4,951–5,000)", "PAGE100"),
        ("history, kind = login", "/history?kind=login"),
        ("history, one day", "/history?from=2026-11-20&to=2026-11-20"),
    ] {
        let path = if path == "PAGE100" {
            // The cursor 99 pages down: the id after which page 100 starts.
            let all = sandbox.store.usage_of_resident(resident.id).await.unwrap();
            let cursor = all[all.len() - 99 * 50].id;
            format!("/history?before={cursor}")
        } else {
            path.to_owned()
        };
        let stats = measure(&http, &format!("{url}{path}"), &cookie, args.requests).await;
        println!(
            "| {label} | {} | {} | {} | {} | {} |",
            ms(stats.p50),
            ms(stats.p99),
            ms(stats.mean),
            ms(stats.max),
            stats.bytes
        );
    }
    println!(
        "| store: first history page alone (no HTTP) | {} | {} | {} | {} | — |",
        ms(percentile(&store_times, 50.0)),
        ms(percentile(&store_times, 99.0)),
        ms(store_times.iter().sum::<Duration>() / store_times.len() as u32),
        ms(*store_times.last().unwrap()),
    );
    let exports = (args.requests / 20).max(10);
    let csv = measure(&http, &format!("{url}/history.csv"), &cookie, exports).await;
    println!(
        "| CSV export of all {total} lines ({exports} requests) | {} | {} | {} | {} | {} |",
        ms(csv.p50),
        ms(csv.p99),
        ms(csv.mean),
        ms(csv.max),
        csv.bytes
    );
}
