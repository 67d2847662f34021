//! Secrets: Argon2id hashes for the file, and a per-process cache of verified credentials so
//! that the slow hash runs once per user, not once per request.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use base64ct::{Base64UrlUnpadded, Encoding};
use siphasher::sip128::{Hasher128, SipHasher24};
use std::hash::Hasher;
use std::io::Read;
use std::sync::{Condvar, Mutex, OnceLock};

/// The largest Argon2 memory cost a file may ask for, in KiB: each verification allocates it.
const MAX_MEMORY_KIB: u32 = 256 * 1024;
/// The largest time cost and parallelism a file may ask for.
const MAX_PASSES: u32 = 16;

/// Checks that a file's hash is an Argon2id PHC string with bounded costs, and returns them.
pub(super) fn check_hash(text: &str) -> Result<Params, String> {
    let hash = PasswordHash::new(text).map_err(|e| format!("hash is not a PHC string ($argon2id$v=19$m=...): {e}"))?;
    if hash.algorithm != argon2::ARGON2ID_IDENT {
        return Err(format!("hash algorithm {}, supported argon2id", hash.algorithm));
    }
    let params = Params::try_from(&hash).map_err(|e| format!("bad argon2id parameters: {e}"))?;
    if params.m_cost() > MAX_MEMORY_KIB {
        return Err(format!("argon2id memory {} KiB, at most {MAX_MEMORY_KIB}", params.m_cost()));
    }
    if params.t_cost() > MAX_PASSES || params.p_cost() > MAX_PASSES {
        let (t, p) = (params.t_cost(), params.p_cost());
        return Err(format!("argon2id passes {t} and lanes {p}, at most {MAX_PASSES} each"));
    }
    if hash.salt.is_none_or(|s| s.len() < 8) || hash.hash.is_none() {
        return Err("argon2id hash without a salt of 8 bytes or more, or without its output".into());
    }
    Ok(params)
}

/// The costs of the costliest of `costs`, with its lanes and output length; the defaults for
/// none. The costliest takes the most memory times passes: without argon2's `parallel` feature
/// the lanes run one after another, so the time goes with that product. The decoy takes them,
/// so that an unknown name takes as long as the file's slowest user (issue #26).
pub(super) fn costliest<'p>(costs: impl IntoIterator<Item = &'p Params>) -> Params {
    let work = |p: &&Params| (u64::from(p.m_cost()) * u64::from(p.t_cost()), p.p_cost());
    let Some(p) = costs.into_iter().max_by_key(work) else { return Params::default() };
    Params::new(p.m_cost(), p.t_cost(), p.p_cost(), p.output_len()).unwrap_or_default()
}

/// Hashes a secret for the file: Argon2id with the recommended costs (19 MiB, 2 passes, 1
/// lane) and a random 16-byte salt.
pub fn hash_secret(secret: &[u8]) -> std::io::Result<String> {
    hash_with(secret, Params::default())
}

/// Hashes a secret with Argon2id (version 19) at the given costs and a random 16-byte salt.
fn hash_with(secret: &[u8], costs: Params) -> std::io::Result<String> {
    let salt: [u8; 16] = random_bytes()?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, costs);
    let hash = argon2.hash_password_with_salt(secret, &salt).map_err(std::io::Error::other)?;
    Ok(hash.to_string())
}

/// A new secret: 32 random bytes in URL-safe base64 without padding (43 characters), encoded
/// by base64ct in constant time.
pub fn random_secret() -> std::io::Result<String> {
    let bytes: [u8; 32] = random_bytes()?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}

/// Base64 of `bytes` in the standard alphabet (ending `+/`) or the URL-safe one (`-_`), with
/// `=` padding or without: the server's tests encode credentials with it.
#[cfg(test)]
pub(crate) fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    use base64ct::{Base64, Base64Unpadded, Base64Url};
    assert!(alphabet.starts_with(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"));
    match (&alphabet[62..], pad) {
        (b"+/", true) => Base64::encode_string(bytes),
        (b"+/", false) => Base64Unpadded::encode_string(bytes),
        (b"-_", true) => Base64Url::encode_string(bytes),
        (b"-_", false) => Base64UrlUnpadded::encode_string(bytes),
        _ => panic!("no base64 alphabet ends {:?}", &alphabet[62..]),
    }
}

fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// Verifies credentials against the file's hashes, remembering those that passed.
///
/// The cache holds, per user, a 128-bit SipHash-2-4 MAC of the secret last verified, under a
/// key drawn at start and never written anywhere: a hit costs one MAC (some 300 instructions
/// for a short credential) and a constant-time comparison. It holds no secret and no hash usable outside this process, and only
/// credentials that passed Argon2id enter it, so guessing still costs an Argon2id run.
pub(super) struct Verifier {
    key: [u8; 16],
    pub(super) cached: Mutex<Vec<Option<[u8; 16]>>>,
    /// Argon2id runs allowed at once (one per core): each allocates its memory cost.
    pub(super) permits: Mutex<usize>,
    freed: Condvar,
    /// The costs of the decoy: the file's costliest ([`costliest`]).
    pub(super) decoy_costs: Params,
    /// The hash an unknown name is checked against, so that it takes as long as a known one.
    decoy: OnceLock<String>,
    /// Counts the Argon2id runs under way, for the tests of the cap.
    #[cfg(test)]
    pub(super) probe: Probe,
}

/// The Argon2id runs under way and their peak, in tests only; each run is held `hold` longer,
/// so that runs overlap whenever the cap lets them.
#[cfg(test)]
#[derive(Default)]
pub(super) struct Probe {
    running: std::sync::atomic::AtomicUsize,
    pub(super) peak: std::sync::atomic::AtomicUsize,
    pub(super) hold: std::time::Duration,
}

#[cfg(test)]
impl Probe {
    fn enter(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let running = self.running.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(running, SeqCst);
        std::thread::sleep(self.hold);
    }

    fn leave(&self) {
        self.running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Verifier {
    /// A verifier for `users` users, whose decoy hash will take `decoy_costs`.
    pub(super) fn new(users: usize, decoy_costs: Params) -> Verifier {
        Verifier {
            key: random_bytes().unwrap_or_else(|e| panic!("cannot read /dev/urandom: {e}")),
            cached: Mutex::new(vec![None; users]),
            permits: Mutex::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
            freed: Condvar::new(),
            decoy_costs,
            decoy: OnceLock::new(),
            #[cfg(test)]
            probe: Probe::default(),
        }
    }

    /// Whether `secret` is user `index`'s (whose file hash is `hash`); `None` for an unknown
    /// name, which is still checked against a decoy hash.
    pub(super) fn verify(&self, index: Option<usize>, hash: Option<&str>, name: &str, secret: &[u8]) -> bool {
        let mac = self.mac(name, secret);
        if let Some(i) = index
            && let Some(known) = self.cached.lock().unwrap_or_else(|p| p.into_inner())[i]
            && constant_time_eq(&known, &mac)
        {
            return true;
        }
        let passed = self.argon2(hash, secret) && index.is_some();
        if passed && let Some(i) = index {
            self.cached.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(mac);
        }
        passed
    }

    /// Whether `secret` matches `hash` (the decoy for `None`), in at most one Argon2id run per
    /// permit; the decoy is made at its first use under the same permit, as costly as a run.
    fn argon2(&self, hash: Option<&str>, secret: &[u8]) -> bool {
        let mut permits = self.permits.lock().unwrap_or_else(|p| p.into_inner());
        while *permits == 0 {
            permits = self.freed.wait(permits).unwrap_or_else(|p| p.into_inner());
        }
        *permits -= 1;
        drop(permits);
        #[cfg(test)]
        self.probe.enter();
        let decoy =
            || self.decoy.get_or_init(|| hash_with(b"decoy", self.decoy_costs.clone()).unwrap_or_default()).as_str();
        let passed = Argon2::default().verify_password(secret, hash.unwrap_or_else(decoy)).is_ok();
        #[cfg(test)]
        self.probe.leave();
        *self.permits.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.freed.notify_one();
        passed
    }

    fn mac(&self, name: &str, secret: &[u8]) -> [u8; 16] {
        let mut mac = SipHasher24::new_with_key(&self.key);
        mac.write(name.as_bytes());
        mac.write(&[0]); // names hold no NUL, so name and secret cannot shift into each other
        mac.write(secret);
        mac.finish128().as_bytes()
    }
}

/// Compares without an early exit, so the time taken does not tell where two MACs differ.
pub(super) fn constant_time_eq(a: &[u8; 16], b: &[u8; 16]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}
