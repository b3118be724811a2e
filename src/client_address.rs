//! The client's address, for limits on anonymous callers: the peer's, unless the peer is one of
//! the operator's trusted proxies, in which case the right-most address in `X-Forwarded-For`
//! that is not itself a trusted proxy (a client can put anything at the left of that header,
//! but not past the proxy that appends to it).

use std::net::IpAddr;

/// Addresses and networks (`10.0.0.0/8`, `::1`) whose `X-Forwarded-For` is believed:
/// `GRANTS_TRUSTED_PROXIES`, comma-separated. Empty: no proxy is trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Reads a comma-separated list of addresses and CIDR networks.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (address, bits) = match part.split_once('/') {
                Some((address, bits)) => (address, Some(bits)),
                None => (part, None),
            };
            let address: IpAddr = address.parse().map_err(|_| format!("{part} is not an address or network"))?;
            let width = if address.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => width,
                Some(bits) => match bits.parse::<u8>() {
                    Ok(n) if n <= width => n,
                    _ => return Err(format!("{part} has a prefix length outside 0-{width}")),
                },
            };
            nets.push((address, bits));
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether `address` is one of the trusted proxies.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|&(net, bits)| within(address, net, bits))
    }

    /// The client behind `peer`, given the request's `X-Forwarded-For` values in order.
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded.flat_map(|value| value.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                // A trusted proxy passed it on: look further left.
                Ok(address) if self.contains(address) => client = address,
                Ok(address) => return address,
                // Whatever a proxy could not vouch for ends the walk at the last one it could.
                Err(_) => return client,
            }
        }
        client
    }
}

/// Whether `address` is in the network `net`/`bits` (an IPv4 address never matches an IPv6
/// network, nor the other way round).
fn within(address: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (address, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_match_by_their_prefix_only() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7, fd00::/8, 172.16.0.0/31").unwrap();
        for inside in ["10.0.0.1", "10.255.255.255", "192.168.1.7", "fd12::1", "172.16.0.1"] {
            assert!(trusted.contains(ip(inside)), "{inside}");
        }
        for outside in ["11.0.0.1", "9.255.255.255", "192.168.1.8", "fe80::1", "172.16.0.2", "::ffff:10.0.0.1"] {
            assert!(!trusted.contains(ip(outside)), "{outside}");
        }
        let everyone = TrustedProxies::parse("0.0.0.0/0").unwrap();
        assert!(everyone.contains(ip("203.0.113.9")) && !everyone.contains(ip("::1")));
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        for bad in ["10.0.0.0/33", "::/129", "proxy.example", "10.0.0.0/x", "10.0.0.0/-1"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted = TrustedProxies::parse("127.0.0.1,10.0.0.0/8").unwrap();
        let header = ["198.51.100.1, 203.0.113.5"];
        // Straight from the internet: the header is the caller's own claim, ignored.
        assert_eq!(trusted.client(ip("203.0.113.77"), header.into_iter()), ip("203.0.113.77"));
        // Through the proxy: the right-most address the proxy did not vouch for. The caller's
        // own claim at the left (198.51.100.1) cannot choose its bucket.
        assert_eq!(trusted.client(ip("127.0.0.1"), header.into_iter()), ip("203.0.113.5"));
        // Through two trusted hops, and across repeated headers in order.
        assert_eq!(
            trusted.client(ip("127.0.0.1"), ["198.51.100.1", "203.0.113.5, 10.1.2.3"].into_iter()),
            ip("203.0.113.5")
        );
        // Nothing past the proxies, or garbage: the last trusted hop.
        assert_eq!(trusted.client(ip("127.0.0.1"), std::iter::empty()), ip("127.0.0.1"));
        assert_eq!(trusted.client(ip("127.0.0.1"), ["10.0.0.9"].into_iter()), ip("10.0.0.9"));
        assert_eq!(trusted.client(ip("127.0.0.1"), ["203.0.113.5, unknown"].into_iter()), ip("127.0.0.1"));
        assert_eq!(trusted.client(ip("127.0.0.1"), ["unknown, 10.0.0.9"].into_iter()), ip("10.0.0.9"));
    }
}
