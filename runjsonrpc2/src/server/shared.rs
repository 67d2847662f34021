//! What every connection thread of one server shares.

use super::HttpConfig;
use super::deadline::Deadlines;
use super::stop::Stopper;
use crate::engine::JsonRpc;
use crate::signature::Extras;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};

/// The current users of `--auth`, if any (a single process replaces them on SIGHUP).
pub(crate) type Users = Arc<std::sync::RwLock<Option<Arc<crate::auth::Users>>>>;

pub(crate) struct Shared {
    pub(crate) rpc: Arc<JsonRpc>,
    pub(crate) extras: Arc<Extras>,
    pub(crate) config: HttpConfig,
    pub(crate) stopper: Stopper,
    pub(crate) deadlines: Arc<Deadlines>,
    /// Failed logins per address (`--auth`).
    pub(crate) failures: crate::auth::Failures,
    pub(crate) users: Users,
    /// Requests served, for `max_requests`.
    pub(crate) served: AtomicU64,
    /// Calls running now.
    pub(crate) calls: AtomicUsize,
    /// The access log, if any.
    pub(crate) access: Option<Arc<super::access::AccessLog>>,
}
