//! The runjsonrpc2 command: parse arguments, run the command, print the error chain, exit.

use clap::Parser;
use runjsonrpc2::app::{self, Cli};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Every line carries the process id: a master's and its workers' lines share a log.
    let pid = std::process::id();
    let filter = format!("{},tiny_http=off", cli.log_level());
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(filter))
        .format(move |buf, record| {
            let level = buf.default_level_style(record.level());
            writeln!(buf, "[{level}{:<5}{level:#} runjsonrpc2 {pid}] {}", record.level(), record.args())
        })
        .init();
    match app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code();
            eprintln!("runjsonrpc2: {:#}", anyhow::Error::from(e));
            ExitCode::from(code)
        }
    }
}
