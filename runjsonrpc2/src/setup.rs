//! What every serving process builds from its settings (the single process, each worker,
//! `list`, `call`, `stdio`): the engine with its modules registered, and the HTTP
//! configuration with its auth file read.

use crate::config::Settings;
use crate::engine::JsonRpc;
use crate::failure::CommandError;
use crate::plugin::{Loader, PluginError, SearchPath};
use crate::server;
use std::sync::Arc;

/// An engine with its plugins registered (its resolver is the loader that opened them).
pub struct Built {
    pub rpc: JsonRpc,
    pub plugins: Vec<Arc<crate::plugin::Plugin>>,
    /// What `rpc.discover` describes, and the loader that describes lazy entries.
    pub(crate) service: (Arc<crate::discover::Service>, Arc<Loader>),
}

/// Opens the modules, registers their methods lazily, adds the maps and the error codes.
pub fn build(s: &Settings) -> Result<Built, CommandError> {
    let loader = Arc::new(Loader::new(SearchPath::standard(&s.plugin_paths)));
    let mut rpc = JsonRpc::new();
    rpc.set_resolver(loader.clone());
    rpc.set_limits(s.limits);
    let plugins = s.modules.iter().map(|m| loader.register(&rpc, m, s.prefix)).collect::<Result<Vec<_>, _>>()?;
    for (name, target) in &s.maps {
        let t = crate::table::Target::parse(target)?;
        // Check the module name now; the library itself is opened on the first call.
        loader.search().find(&t.module).map_err(PluginError::BadName)?;
        rpc.methods().insert_lazy(name, target)?;
    }
    for (kind, code) in &s.errors {
        rpc.map_error(kind, *code)?;
    }
    let service = Arc::new(service(s, &rpc, &plugins));
    if !s.no_discover {
        let (service, loader) = (service.clone(), loader.clone());
        rpc.methods().insert(crate::discover::DISCOVER, crate::raw(move |_, _| Ok(service.document(&loader))));
    }
    if s.http.metrics {
        crate::metrics::enable();
        rpc.set_observer(Arc::new(crate::metrics::call));
    }
    Ok(Built { rpc, plugins, service: (service, loader) })
}

/// What the OpenRPC document describes: the table as built, less what the server fills.
fn service(s: &Settings, rpc: &JsonRpc, plugins: &[Arc<crate::plugin::Plugin>]) -> crate::discover::Service {
    let names: Vec<&str> = plugins.iter().map(|p| p.descriptor.name.as_str()).collect();
    let title = if names.is_empty() { "runjsonrpc2".to_owned() } else { format!("runjsonrpc2: {}", names.join(", ")) };
    let version = match plugins {
        [] => env!("CARGO_PKG_VERSION").to_owned(),
        [one] => one.descriptor.version.clone(),
        many => many
            .iter()
            .map(|p| format!("{} {}", p.descriptor.name, p.descriptor.version))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut server_filled: Vec<String> = s.extras.names().map(str::to_owned).collect();
    server_filled.extend([server::CALLER.to_owned(), server::REMOTE_ADDR.to_owned()]);
    let error_codes = s.errors.clone();
    crate::discover::Service { title, version, entries: rpc.methods().entries(), server_filled, error_codes }
}

/// The HTTP settings with the auth file read (each serving process reads it afresh).
pub fn http_config(s: &Settings) -> Result<server::HttpConfig, CommandError> {
    let mut http = s.http.clone();
    if let Some(file) = &s.auth {
        let users = crate::auth::Users::load(file)?;
        if users.is_empty() {
            log::warn!("{} holds no user: every request but /health will be refused", file.display());
        }
        http.auth = Some(Arc::new(users));
    }
    Ok(http)
}
