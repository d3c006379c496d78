//! Runs the status-service benchmarks once and prints the figures.
//!
//! ```text
//! cargo run --release -p jpki-status --example status_bench -- crl 1000000
//! cargo run --release -p jpki-status --example status_bench -- ocsp 1000 200000
//! ```
//!
//! Each run is its own process, so the CRL peak RSS is that run's alone.

use std::process::ExitCode;

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
        _ => {
            eprintln!("usage: status_bench crl [entries] | ocsp [certificates] [queries]");
            ExitCode::FAILURE
        }
    }
}
