//! Prints [`jpki_log::bench`]'s figures until `jpki bench log` does:
//! `cargo run --release -p jpki-log --example log_bench`.

use jpki_log::{LogBenchConfig, bench};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = bench(&LogBenchConfig::default())?;
    println!("{report:#?}");
    Ok(())
}
