//! Failed logins per address: past a few in a minute, an address is refused without a check.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts an address may make in one window.
pub const LIMIT: u32 = 5;
/// The window, counted from an address's first failure in it.
pub const WINDOW: Duration = Duration::from_secs(60);
/// The most addresses tracked at once; past it, expired windows are dropped first, and an
/// address that still finds no room is not limited.
const TRACKED: usize = 10_000;

/// Failed logins per address in this process (IPv6 addresses by their /64 network, which one
/// host usually holds whole).
#[derive(Debug, Default)]
pub struct Failures {
    windows: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

impl Failures {
    /// How long `ip` must wait when it has failed [`LIMIT`] times in the current window.
    pub fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        self.blocked_at(ip, Instant::now)
    }

    fn blocked_at(&self, ip: IpAddr, now: impl FnOnce() -> Instant) -> Option<Duration> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.is_empty() {
            return None; // no failure yet: neither the clock nor a hash of the address
        }
        let w = windows.get(&key(ip))?;
        let now = now();
        let end = w.start + WINDOW;
        (w.failures >= LIMIT && now < end).then(|| end - now)
    }

    /// Counts a failed attempt from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        self.failed_at(ip, Instant::now());
    }

    fn failed_at(&self, ip: IpAddr, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let key = key(ip);
        if windows.len() >= TRACKED && !windows.contains_key(&key) {
            windows.retain(|_, w| now < w.start + WINDOW);
            if windows.len() >= TRACKED {
                return;
            }
        }
        let w = windows.entry(key).or_insert(Window { start: now, failures: 0 });
        if now >= w.start + WINDOW {
            *w = Window { start: now, failures: 0 };
        }
        w.failures += 1;
    }
}

fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & (!0u128 << 64)).into()),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_the_limit_until_its_window_ends() {
        let f = Failures::default();
        let (ip, other) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..LIMIT - 1 {
            f.failed_at(ip, t0);
        }
        assert_eq!(f.blocked_at(ip, || t0), None);
        f.failed_at(ip, t0);
        assert_eq!(f.blocked_at(ip, || t0 + Duration::from_secs(10)), Some(WINDOW - Duration::from_secs(10)));
        assert_eq!(f.blocked_at(other, || t0), None);
        assert_eq!(f.blocked_at(ip, || t0 + WINDOW), None);
        f.failed_at(ip, t0 + WINDOW); // a new window, from its old one's end: one failure
        assert_eq!(f.blocked_at(ip, || t0 + WINDOW), None);
        for _ in 0..LIMIT - 1 {
            f.failed_at(ip, t0 + WINDOW);
        }
        assert_eq!(f.blocked_at(ip, || t0 + WINDOW + Duration::from_secs(1)), Some(WINDOW - Duration::from_secs(1)));
    }

    #[test]
    fn the_public_path_reads_the_clock() {
        let f = Failures::default();
        let ip = "10.0.0.1".parse().unwrap();
        for _ in 0..LIMIT - 1 {
            f.failed(ip);
        }
        assert_eq!(f.blocked(ip), None);
        f.failed(ip);
        let wait = f.blocked(ip).unwrap();
        assert!(wait > WINDOW - Duration::from_secs(10) && wait <= WINDOW, "{wait:?}");
    }

    /// The `i`th of the addresses that fill the table.
    fn address(i: usize) -> IpAddr {
        IpAddr::V4((0x0a00_0000 + u32::try_from(i).unwrap()).into())
    }

    #[test]
    fn at_capacity_expired_windows_make_room_and_live_ones_stay() {
        let f = Failures::default();
        let (t0, half) = (Instant::now(), WINDOW / 2);
        // The table full: the first half of the addresses failed at t0, the rest half a window later.
        for i in 0..TRACKED {
            f.failed_at(address(i), if i < TRACKED / 2 { t0 } else { t0 + half });
        }
        let (old, live, new) = (address(0), address(TRACKED - 1), address(TRACKED));
        for _ in 0..LIMIT - 1 {
            f.failed_at(old, t0); // at the limit
        }
        for _ in 0..LIMIT - 2 {
            f.failed_at(live, t0 + half); // one short of it
        }
        assert_eq!(f.windows.lock().unwrap().len(), TRACKED);
        assert!(f.blocked_at(old, || t0 + half).is_some());
        assert_eq!(f.blocked_at(live, || t0 + half), None);
        // Full, every window live: a tracked address still counts, a new one is not limited.
        f.failed_at(live, t0 + half);
        for _ in 0..LIMIT {
            f.failed_at(new, t0 + half);
        }
        assert_eq!(f.blocked_at(live, || t0 + half), Some(WINDOW));
        assert_eq!(f.blocked_at(new, || t0 + half), None);
        assert_eq!(f.windows.lock().unwrap().len(), TRACKED);
        // A moment before the first half expires, still no room.
        let before = t0 + WINDOW - Duration::from_nanos(1);
        for _ in 0..LIMIT {
            f.failed_at(new, before);
        }
        assert_eq!(f.blocked_at(new, || before), None);
        // At their end the first half is dropped, the second half stays, and the new one counts.
        let end = t0 + WINDOW;
        for _ in 0..LIMIT {
            f.failed_at(new, end);
        }
        assert_eq!(f.windows.lock().unwrap().len(), TRACKED / 2 + 1);
        assert_eq!(f.blocked_at(old, || end), None);
        assert_eq!(f.blocked_at(live, || end), Some(half));
        assert_eq!(f.blocked_at(new, || end), Some(WINDOW));
    }

    #[test]
    fn addresses_are_keyed_by_host() {
        let cases = [
            ("192.0.2.7", "192.0.2.7"),
            ("::ffff:192.0.2.7", "192.0.2.7"),
            ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"),
            ("::1", "::"),
        ];
        for (ip, want) in cases {
            assert_eq!(key(ip.parse().unwrap()), want.parse::<IpAddr>().unwrap(), "{ip}");
        }
    }
}
