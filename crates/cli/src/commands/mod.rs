//! One module per subcommand.

mod bench;
mod card;
mod demo;
mod init;
mod pcsc;
mod phone;
mod resident;
mod se_vendor;
mod serve;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let data_dir = cli.data_dir.as_deref();
    match cli.command {
        Command::Init(args) => init::run(data_dir, args).await?,
        Command::Resident(command) => resident::run(data_dir, command).await?,
        Command::Card(command) => card::run(data_dir, command).await?,
        Command::Serve(args) => serve::run(data_dir, args).await?,
        Command::Phone(command) => phone::run(data_dir, command).await?,
        Command::SeVendor(command) => se_vendor::run(data_dir, command).await?,
        Command::Demo(args) => demo::run(args).await?,
        Command::Bench(command) => bench::run(command)?,
    }
    Ok(ExitCode::SUCCESS)
}
