//! `CommandError`: why a command failed, and its documented exit code.

use crate::error::SetupError;
use crate::master::MasterError;
use crate::plugin::PluginError;
use crate::server::ServeError;

/// Why a command failed. Exit code 2 for setup mistakes, 1 for failures at run time.
#[derive(Debug)]
pub enum CommandError {
    /// A module could not be found, opened or read (exit 2).
    Plugin(PluginError),
    /// A method, map or error code could not be set up (exit 2).
    Setup(SetupError),
    /// A run.toml that cannot be used (exit 2).
    Config(crate::config::ConfigError),
    /// The socket could not be bound (exit 2), or serving failed (exit 1).
    Serve(ServeError),
    /// A command line that does not make sense (exit 2).
    Usage(String),
    /// Reading or writing failed (exit 1).
    Io(std::io::Error),
    /// `call` got an error answer (it is printed on stderr), or `call --url URL -` got some
    /// (exit 1).
    Answered(String),
    /// `call --url`: the server could not be reached, answered an HTTP error, or answered
    /// something that is not JSON-RPC (exit 3).
    Remote(String),
    /// The master failed: no worker could start (with the worker's exit code), or signals
    /// could not be set up (exit 1).
    Master(crate::master::MasterError),
    /// An auth file that cannot be used (exit 2).
    Auth(crate::auth::AuthError),
}

impl CommandError {
    /// The documented exit code: 2 for usage, configuration and plugin loading, 3 when `call
    /// --url` gets no JSON-RPC answer, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Remote(_) => 3,
            CommandError::Plugin(_) | CommandError::Setup(_) | CommandError::Config(_) | CommandError::Usage(_) => 2,
            CommandError::Auth(_) => 2,
            CommandError::Serve(ServeError::Bind { .. }) => 2,
            CommandError::Master(MasterError::Start { code, .. }) => *code,
            CommandError::Serve(_) | CommandError::Io(_) | CommandError::Answered(_) | CommandError::Master(_) => 1,
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::Plugin(e) => e.fmt(f),
            CommandError::Setup(e) => e.fmt(f),
            CommandError::Config(e) => e.fmt(f),
            CommandError::Serve(e) => e.fmt(f),
            CommandError::Usage(m) | CommandError::Answered(m) | CommandError::Remote(m) => f.write_str(m),
            CommandError::Io(e) => e.fmt(f),
            CommandError::Master(e) => e.fmt(f),
            CommandError::Auth(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CommandError {
    /// The wrapped error's own source (its message is this one's), so `{:#}` prints each once.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CommandError::Serve(e) => e.source(),
            CommandError::Master(e) => e.source(),
            CommandError::Plugin(e) => e.source(),
            _ => None,
        }
    }
}

macro_rules! from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for CommandError {
            fn from(e: $t) -> CommandError {
                CommandError::$v(e)
            }
        }
    )*};
}
from!(PluginError => Plugin, SetupError => Setup, crate::config::ConfigError => Config, ServeError => Serve, std::io::Error => Io, MasterError => Master, crate::auth::AuthError => Auth);
