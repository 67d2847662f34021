//! The method table: a dict-like map from method names to procedures or lazy `module:symbol` targets.

use crate::error::SetupError;
use crate::procedure::Procedure;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock, RwLock};

/// A lazy target, `module:symbol`, resolved on the method's first call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The module: a name (`libNAME.so` on the plugin path) or a path to a library.
    pub module: String,
    /// The exported symbol of the procedure in that module's table.
    pub symbol: String,
}

impl Target {
    /// Parses `module:symbol`; the module may be a path, so the last `:` splits.
    pub fn parse(s: &str) -> Result<Target, SetupError> {
        match s.rsplit_once(':') {
            Some((m, sym)) if !m.is_empty() && !sym.is_empty() && !sym.contains('/') => {
                Ok(Target { module: m.to_owned(), symbol: sym.to_owned() })
            }
            _ => Err(SetupError::Target(s.to_owned())),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.module, self.symbol)
    }
}

/// Turns lazy targets into procedures; the plugin loader is one.
pub trait Resolver: Send + Sync {
    /// The procedure `target` names, or why there is none (logged, and answered -32601).
    fn resolve(&self, target: &Target) -> Result<Arc<dyn Procedure>, Box<dyn std::error::Error + Send + Sync>>;
}

/// One entry of the table: a native procedure, or a lazy `module:symbol` target resolved on
/// its first call.
pub struct Entry(pub(crate) Kind);

pub(crate) enum Kind {
    Native(Arc<dyn Procedure>),
    /// Resolved on first call; only a success is cached.
    Lazy {
        target: Target,
        resolved: OnceLock<Arc<dyn Procedure>>,
        /// A failed resolution was logged at warn; later ones go to debug (clients can repeat them).
        warned: AtomicBool,
    },
}

impl Entry {
    /// An entry that calls `procedure`.
    pub fn native(procedure: impl Procedure + 'static) -> Entry {
        Entry(Kind::Native(Arc::new(procedure)))
    }

    /// An entry for `target`, resolved by the engine's [`Resolver`] on its first call; a
    /// failure is answered -32601 and tried again on the next call.
    pub fn lazy(target: Target) -> Entry {
        Entry(Kind::Lazy { target, resolved: OnceLock::new(), warned: AtomicBool::new(false) })
    }

    /// The lazy target, for entries that have one.
    pub fn target(&self) -> Option<&Target> {
        match &self.0 {
            Kind::Native(_) => None,
            Kind::Lazy { target, .. } => Some(target),
        }
    }

    /// The procedure, if native or already resolved.
    pub fn procedure(&self) -> Option<&Arc<dyn Procedure>> {
        match &self.0 {
            Kind::Native(p) => Some(p),
            Kind::Lazy { resolved, .. } => resolved.get(),
        }
    }
}

/// FNV-1a: method names are short, and the table's keys are set by the operator, never by
/// clients, so a keyed hash buys nothing here.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Map = HashMap<Box<str>, Arc<Entry>, std::hash::BuildHasherDefault<Fnv>>;

/// Method name to entry, shared by every serving thread. Changes take effect for the
/// next call; calls already under way keep the entry they looked up.
#[derive(Default)]
pub struct Methods {
    map: RwLock<Map>,
}

impl Methods {
    /// An empty table.
    pub fn new() -> Methods {
        Methods::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Map> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Map> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts or replaces a native procedure (`rpc['subtract'] = subtract`).
    pub fn insert(&self, name: &str, procedure: impl Procedure + 'static) {
        self.insert_entry(name, Entry::native(procedure));
    }

    /// Inserts or replaces a lazy entry (`methods['sample.add'] = 'sample:add'`).
    pub fn insert_lazy(&self, name: &str, target: &str) -> Result<(), SetupError> {
        let target = Target::parse(target)?;
        self.insert_entry(name, Entry::lazy(target));
        Ok(())
    }

    /// Inserts or replaces an entry made elsewhere (the plugin loader's).
    pub fn insert_entry(&self, name: &str, entry: Entry) {
        self.write().insert(name.into(), Arc::new(entry));
    }

    /// Removes a method (`del rpc['foobar']`); true if it was there.
    pub fn remove(&self, name: &str) -> bool {
        self.write().remove(name).is_some()
    }

    /// The entry of `name`; it stays valid after a change of the table.
    pub fn get(&self, name: &str) -> Option<Arc<Entry>> {
        self.read().get(name).cloned()
    }

    /// Whether `name` is in the table (`'foobar' in rpc.methods`).
    pub fn contains(&self, name: &str) -> bool {
        self.read().contains_key(name)
    }

    /// How many methods the table holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the table holds no method.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the table, sorted by name.
    pub fn entries(&self) -> Vec<(String, Arc<Entry>)> {
        let mut v: Vec<_> = self.read().iter().map(|(k, e)| (k.to_string(), e.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
