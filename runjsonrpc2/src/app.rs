//! The `runjsonrpc2` command as one library call: what the binary runs, for those who want
//! exactly the command's behaviour (the master and its workers, config files, `auth add`).
//!
//! ```no_run
//! use clap::Parser;
//! let cli = runjsonrpc2::app::Cli::parse_from(["runjsonrpc2", "--port", "0", "hello"]);
//! if let Err(e) = runjsonrpc2::app::run(cli) {
//!     eprintln!("runjsonrpc2: {:#}", anyhow::Error::from(e));
//! }
//! ```

pub use crate::cli::Cli;
pub use crate::failure::CommandError;

use crate::cli::{AuthCommand, Command};
use crate::command;
use std::io::Write;
use std::path::Path;

/// Runs the command `cli` describes, to its end: serving returns after SIGINT, SIGTERM or
/// SIGQUIT. A process started as a worker by a master serves as one and exits with its own
/// code, never returning. [`CommandError::exit_code`] is the documented exit code.
pub fn run(cli: Cli) -> Result<(), CommandError> {
    match cli.command {
        Some(Command::Serve { config, overrides }) => {
            let mut settings = crate::config::load(&config)?;
            overrides.apply_given(&mut settings).map_err(CommandError::Usage)?;
            serve(&settings, Some(&config))
        }
        Some(Command::New { name }) => {
            let dir = crate::template::create(Path::new(&name))?;
            println!("created {}: cd {name} && cargo build && runjsonrpc2 serve run.toml", dir.display());
            Ok(())
        }
        Some(Command::List { modules, json, common }) => {
            command::list(&common.settings(&modules), json, std::io::stdout().lock())
        }
        Some(Command::Call { args, remote, common }) => command::call_command(&args, &remote, &common),
        Some(Command::Auth { action: AuthCommand::Add { name, allow } }) => {
            use std::io::IsTerminal;
            let stdin = std::io::stdin();
            let terminal = stdin.is_terminal();
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            command::auth_add(&name, &allow, &mut stdin.lock(), terminal, &mut out, &mut err)
        }
        None if cli.modules.is_empty() && cli.common.map.is_empty() => {
            Err(CommandError::Usage("no module given: try `runjsonrpc2 hello` or `runjsonrpc2 --help`".into()))
        }
        None => {
            let mut settings = cli.common.settings(&cli.modules);
            if cli.stdio
                && let given @ [_, ..] = cli.serve.given().as_slice()
            {
                let given = given.join(", ");
                return Err(CommandError::Usage(format!("--stdio serves no HTTP: {given} would be ignored")));
            }
            cli.serve.apply(&mut settings).map_err(CommandError::Usage)?;
            if cli.stdio {
                return command::stdio(&settings, std::io::stdin().lock(), std::io::stdout().lock());
            }
            serve(&settings, None)
        }
    }
}

/// Serves, or works for a master when started as its worker (which exits with its own code).
fn serve(settings: &crate::config::Settings, config: Option<&Path>) -> Result<(), CommandError> {
    if crate::worker::is_worker() {
        std::process::exit(crate::worker::run(settings).into());
    }
    command::serve(settings, config, announce)
}

/// The first stdout line, which scripts and tests wait for.
fn announce(address: &crate::server::Address) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {address}");
    let _ = out.flush();
}
