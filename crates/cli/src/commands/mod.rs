//! One module per subcommand.

mod bench;
mod card;
mod demo;
mod hotline;
mod init;
pub mod log;
mod pcsc;
mod phone;
mod resident;
mod rp;
mod se_vendor;
mod serve;
mod status;
mod verify;

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
        Command::Verify(args) => return verify::run(data_dir, args),
        Command::Rp(command) => rp::run(data_dir, command).await?,
        Command::Demo(args) => demo::run(args).await?,
        Command::Bench(command) => bench::run(command)?,
        Command::Hotline(command) => hotline::hotline(data_dir, command).await?,
        Command::Operator(command) => hotline::operator(data_dir, command).await?,
        Command::Verifier(command) => hotline::verifier(data_dir, command).await?,
        Command::Crl(command) => hotline::crl(data_dir, command).await?,
        Command::Log(command) => return log::run(data_dir, command).await,
    }
    Ok(ExitCode::SUCCESS)
}
