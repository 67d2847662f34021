//! The runjsonrpc2 command: parse arguments, run the command, print the error chain, exit.

use clap::Parser;
use runjsonrpc2::cli::{AuthCommand, Cli, Command};
use runjsonrpc2::command::{self, CommandError};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    // Every line carries the process id: a master's and its workers' lines share a log.
    let pid = std::process::id();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(format!("{level},tiny_http=off")))
        .format(move |buf, record| {
            let level = buf.default_level_style(record.level());
            writeln!(buf, "[{level}{:<5}{level:#} runjsonrpc2 {pid}] {}", record.level(), record.args())
        })
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code();
            eprintln!("runjsonrpc2: {:#}", anyhow::Error::from(e));
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> Result<(), CommandError> {
    match cli.command {
        Some(Command::Serve { config, port }) => {
            let mut settings = runjsonrpc2::config::load(&config)?;
            settings.http.port = port.unwrap_or(settings.http.port);
            serve(&settings, Some(&config))
        }
        Some(Command::New { name }) => {
            let dir = runjsonrpc2::template::create(std::path::Path::new(&name))?;
            println!("created {}: cd {name} && cargo build && runjsonrpc2 serve run.toml", dir.display());
            Ok(())
        }
        Some(Command::Auth { action: AuthCommand::Add { name, allow } }) => {
            use std::io::IsTerminal;
            let stdin = std::io::stdin();
            let terminal = stdin.is_terminal();
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            command::auth_add(&name, &allow, &mut stdin.lock(), terminal, &mut out, &mut err)
        }
        Some(Command::List { modules, common }) => command::list(&common.settings(&modules), std::io::stdout().lock()),
        Some(Command::Call { module, method, params, common }) => {
            let mut settings = common.settings(&[module]);
            settings.prefix = false;
            let result = command::call(&settings, &method, params.as_deref())?;
            println!("{result}");
            Ok(())
        }
        None if cli.modules.is_empty() && cli.common.map.is_empty() => {
            Err(CommandError::Usage("no module given: try `runjsonrpc2 hello` or `runjsonrpc2 --help`".into()))
        }
        None => {
            let mut settings = cli.common.settings(&cli.modules);
            cli.serve.apply(&mut settings);
            if cli.stdio {
                return command::stdio(&settings, std::io::stdin().lock(), std::io::stdout().lock());
            }
            serve(&settings, None)
        }
    }
}

/// Serves, or works for a master when started as its worker (which exits with its own code).
fn serve(settings: &runjsonrpc2::config::Settings, config: Option<&std::path::Path>) -> Result<(), CommandError> {
    if runjsonrpc2::worker::is_worker() {
        std::process::exit(runjsonrpc2::worker::run(settings).into());
    }
    command::serve(settings, config, announce)
}

/// The first stdout line, which scripts and tests wait for.
fn announce(addr: std::net::SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on http://{addr}/");
    let _ = out.flush();
}
