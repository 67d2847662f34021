//! `--allow-from`: a socket filter that drops packets from other networks in the kernel, so a
//! connection from elsewhere is never established, and no byte of it is read.
//!
//! The filter is classic BPF on the listening socket: the kernel runs it on every incoming
//! packet for that socket, the connection's first SYN among them, before any connection exists.

use socket2::{SockFilter, Socket};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A network: an address and how many leading bits of it count (`10.0.0.0/8`, `::1/128`).
/// An IPv4-mapped IPv6 network is kept as the IPv4 one it maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Text that is not a network: `"10.0.0.0/33" is not ADDRESS/BITS: prefix length 33, at most 32`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCidr(String);

impl fmt::Display for BadCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadCidr {}

impl FromStr for Cidr {
    type Err = BadCidr;
    /// `ADDRESS/BITS`, or an address alone for that one host.
    fn from_str(text: &str) -> Result<Cidr, BadCidr> {
        let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
        let addr: IpAddr = addr.parse().map_err(|_| BadCidr(format!("{text:?} is not ADDRESS/BITS: bad address")))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix =
            match prefix {
                "" => max,
                bits => bits.parse::<u8>().ok().filter(|&b| b <= max).ok_or_else(|| {
                    BadCidr(format!("{text:?} is not ADDRESS/BITS: prefix length {bits}, at most {max}"))
                })?,
            };
        Ok(match addr {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => {
                Cidr { addr: IpAddr::V4(v6.to_ipv4_mapped().expect("mapped")), prefix: prefix - 96 }
            }
            _ => Cidr { addr, prefix },
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` is in this network (what the filter decides in the kernel).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask32(self.prefix) & (u32::from(net) ^ u32::from(ip)) == 0,
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 { 0 } else { !0u128 << (128 - u32::from(self.prefix)) };
                mask & (u128::from(net) ^ u128::from(ip)) == 0
            }
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { !0u32 << (32 - u32::from(prefix)) }
}

/// Restricts a listening socket to `networks`; with none, removes an earlier restriction (a
/// socket kept by systemd across restarts keeps its filter).
pub(crate) fn apply(socket: &Socket, networks: &[Cidr]) -> std::io::Result<()> {
    if networks.is_empty() {
        return match socket.detach_filter() {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            other => other,
        };
    }
    socket.attach_filter(&program(networks))
}

// Classic BPF opcodes (linux/filter.h) and the offsets of the kernel's extensions.
const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const AND_K: u16 = 0x54;
const JA: u16 = 0x05;
const JEQ_K: u16 = 0x15;
const RET_K: u16 = 0x06;
/// `SKF_AD_OFF + SKF_AD_PROTOCOL`: the packet's EtherType.
const PROTOCOL: u32 = (-0x1000i32) as u32;
/// `SKF_NET_OFF`: offsets from the network header (the IP header).
const NET: u32 = (-0x10_0000i32) as u32;
const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;
const KEEP: u32 = u32::MAX;
const DROP: u32 = 0;

/// The filter: keep a packet whose source address is in one of `networks`, drop the rest.
/// Every conditional jump is local (the 8-bit offsets of classic BPF); the long ones are `ja`.
fn program(networks: &[Cidr]) -> Vec<SockFilter> {
    let op = |code, k| SockFilter::new(code, 0, 0, k);
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for net in networks {
        match net.addr {
            IpAddr::V4(addr) => {
                let mask = mask32(net.prefix);
                v4.extend([op(LD_W_ABS, NET + 12), op(AND_K, mask)]);
                v4.extend([SockFilter::new(JEQ_K, 0, 1, u32::from(addr) & mask), op(RET_K, KEEP)]);
            }
            IpAddr::V6(addr) => {
                let words: Vec<(u32, u32)> = (0..4)
                    .map(|w| {
                        let bits = u32::from(net.prefix).saturating_sub(32 * w).min(32);
                        let mask = if bits == 0 { 0 } else { !0u32 << (32 - bits) };
                        (mask, (u128::from(addr) >> (96 - 32 * w)) as u32 & mask)
                    })
                    .filter(|&(mask, _)| mask != 0)
                    .collect();
                for (i, &(mask, value)) in words.iter().enumerate() {
                    let left = (words.len() - i - 1) as u8; // word tests after this one
                    let offset = NET + 8 + 4 * (i as u32);
                    v6.extend([op(LD_W_ABS, offset), op(AND_K, mask)]);
                    // On a mismatch skip this network's remaining tests and its `ret`.
                    v6.push(SockFilter::new(JEQ_K, 0, left * 3 + 1, value));
                }
                v6.push(op(RET_K, KEEP));
            }
        }
    }
    v4.push(op(RET_K, DROP));
    v6.push(op(RET_K, DROP));
    let head = 6u32;
    let mut prog = vec![
        op(LD_H_ABS, PROTOCOL),
        SockFilter::new(JEQ_K, 0, 1, ETH_P_IP),
        op(JA, head - 3), // to the IPv4 tests, right after the head
        SockFilter::new(JEQ_K, 0, 1, ETH_P_IPV6),
        op(JA, head - 5 + v4.len() as u32), // to the IPv6 tests
        op(RET_K, DROP),
    ];
    prog.extend(v4);
    prog.extend(v6);
    prog
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_and_contain_their_addresses() {
        let cases = [
            ("10.0.0.0/8", "10.200.3.4", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.1.2.3", "10.1.2.3", true),
            ("10.1.2.3", "10.1.2.4", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "::1", false),
            ("127.0.0.0/8", "::ffff:127.0.0.1", true),
            ("::ffff:10.0.0.0/104", "10.9.9.9", true),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/33", "2001:db8:8000::1", false),
            ("::1", "::1", true),
            ("::/0", "2001:db8::1", true),
            ("::/0", "10.0.0.1", false),
        ];
        for (net, ip, want) in cases {
            let cidr: Cidr = net.parse().unwrap();
            assert_eq!(cidr.contains(ip.parse().unwrap()), want, "{net} contains {ip}");
        }
    }

    #[test]
    fn bad_networks_say_why() {
        let cases = [
            ("10.0.0.0/33", "\"10.0.0.0/33\" is not ADDRESS/BITS: prefix length 33, at most 32"),
            ("::/129", "\"::/129\" is not ADDRESS/BITS: prefix length 129, at most 128"),
            ("10.0.0/8", "\"10.0.0/8\" is not ADDRESS/BITS: bad address"),
            ("10.0.0.0/x", "\"10.0.0.0/x\" is not ADDRESS/BITS: prefix length x, at most 32"),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Cidr>().unwrap_err().to_string(), want);
        }
    }

    /// Runs the filter on the loopback interface: a client from outside the networks cannot
    /// connect (its SYN is dropped, so the connect times out); from inside it can.
    #[test]
    fn the_kernel_drops_connections_from_other_networks() {
        let cases = [
            (vec!["10.0.0.0/8"], false),
            (vec!["10.0.0.0/8", "2001:db8::/32"], false),
            (vec!["2001:db8::/32", "127.0.0.1/32"], true),
            (vec!["127.0.0.0/8"], true),
            (vec!["::/0"], false),
        ];
        for (networks, connects) in cases {
            let networks: Vec<Cidr> = networks.iter().map(|n| n.parse().unwrap()).collect();
            let socket = Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
            apply(&socket, &networks).unwrap();
            socket.listen(16).unwrap();
            let addr = socket.local_addr().unwrap().as_socket().unwrap();
            let got = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(1500));
            assert_eq!(got.is_ok(), connects, "{networks:?}: {got:?}");
            apply(&socket, &[]).unwrap();
        }
    }
}
