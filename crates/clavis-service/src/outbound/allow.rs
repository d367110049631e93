//! Which addresses outbound requests may reach: every public address, and the
//! special-purpose ones only if the operator's allowlist (`CLAVIS_OUTBOUND_ALLOW`) names
//! them by CIDR or by host name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// `CLAVIS_OUTBOUND_ALLOW`, parsed: networks and exact host names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    nets: Vec<IpNet>,
    /// Lower case, without a trailing dot.
    hosts: Vec<String>,
}

impl Allowlist {
    /// Comma-separated CIDRs (`10.0.0.0/8`, `fd00::/8`), addresses (`127.0.0.1` = /32,
    /// `::1` = /128) and host names (`keys.internal.example`). An invalid entry is an
    /// error naming it.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut allow = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bare = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')).unwrap_or(entry);
            if let Ok(net) = bare.parse::<IpNet>() {
                allow.nets.push(canonical_net(net.trunc()));
            } else if let Ok(ip) = bare.parse::<IpAddr>() {
                allow.nets.push(canonical_net(IpNet::from(ip)));
            } else if is_host_name(entry) {
                allow.hosts.push(entry.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(format!("{entry:?} is neither a CIDR, an IP address nor a host name"));
            }
        }
        Ok(allow)
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty() && self.hosts.is_empty()
    }

    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(&ip))
    }

    pub fn contains_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

/// `::ffff:10.0.0.0/104` is `10.0.0.0/8`: addresses are compared in canonical form.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(net),
            None => net,
        },
        _ => net,
    }
}

fn is_host_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        // All-numeric names would be mistyped addresses (`10.0.0`), not hosts.
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Whether `ip` is anything but a public unicast address: unspecified, loopback, private
/// (RFC 1918, RFC 4193), shared (CGNAT), link-local, multicast, broadcast, reserved,
/// documentation and benchmarking ranges, and IPv6 forms embedding such an IPv4 address
/// (mapped, compatible, NAT64, 6to4).
pub fn is_special_purpose(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", 0.0.0.0 included
        || a == 10
        || a == 127
        || a == 100 && (64..128).contains(&b) // shared address space (CGNAT), RFC 6598
        || a == 169 && b == 254
        || a == 172 && (16..32).contains(&b)
        || a == 192 && b == 168
        || a == 192 && b == 0 && (c == 0 || c == 2) // IETF protocol assignments, TEST-NET-1
        || a == 198 && (b == 18 || b == 19) // benchmarking
        || a == 198 && b == 51 && c == 100 // TEST-NET-2
        || a == 203 && b == 0 && c == 113 // TEST-NET-3
        || a >= 224 // multicast, reserved, 255.255.255.255
}

fn special_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| special_v4(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8));
    match s {
        // ::/96 (unspecified, loopback, IPv4-compatible) and ::ffff:0:0/96 (IPv4-mapped):
        // the embedded address decides, and `::`, `::1` are special in any case.
        [0, 0, 0, 0, 0, 0 | 0xffff, hi, lo] => ip.is_unspecified() || ip.is_loopback() || embedded(hi, lo),
        // NAT64 (RFC 6052): the gateway would connect to the embedded address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => embedded(hi, lo),
        [0x64, 0xff9b, 1, ..] => true,            // local-use NAT64, RFC 8215
        [0x100, 0, 0, 0, ..] => true,             // discard-only, RFC 6666
        [0x2001, 0..=0x1ff, ..] => true,          // IETF protocol assignments (Teredo, benchmarking, …)
        [0x2001, 0xdb8, ..] => true,              // documentation
        [0x2002, hi, lo, ..] => embedded(hi, lo), // 6to4
        [first, ..] => {
            first & 0xfe00 == 0xfc00 // unique local, fc00::/7
                || first & 0xffc0 == 0xfe80 // link-local, fe80::/10
                || first & 0xffc0 == 0xfec0 // site-local (deprecated), fec0::/10
                || first & 0xff00 == 0xff00 // multicast
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_special_purpose_ranges_are_refused_public_ones_not() {
        for refused in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(is_special_purpose(ip(refused)), "{refused}");
        }
        for public in ["1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.1", "172.15.0.1", "172.32.0.1", "192.169.0.1", "223.255.255.255"] {
            assert!(!is_special_purpose(ip(public)), "{public}");
        }
    }

    #[test]
    fn ipv6_special_purpose_ranges_and_embedded_ipv4_are_refused() {
        for refused in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "100::1",
            "64:ff9b:1::1",
            // IPv4-mapped, -compatible, NAT64 and 6to4 forms of special IPv4 addresses.
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
        ] {
            assert!(is_special_purpose(ip(refused)), "{refused}");
        }
        for public in ["2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"] {
            assert!(!is_special_purpose(ip(public)), "{public}");
        }
    }

    #[test]
    fn allowlist_of_cidrs_addresses_and_host_names() {
        let allow = Allowlist::parse(" 10.1.0.0/16, 127.0.0.1 ,fd00::/8,::1, Keys.Internal.Example., [fe80::1] ,").unwrap();
        assert!(allow.contains_ip(ip("10.1.200.3")));
        assert!(!allow.contains_ip(ip("10.2.0.1")));
        assert!(allow.contains_ip(ip("127.0.0.1")));
        assert!(allow.contains_ip(ip("::ffff:127.0.0.1")), "mapped forms match their IPv4 entry");
        assert!(!allow.contains_ip(ip("127.0.0.2")), "a bare address is a /32");
        assert!(allow.contains_ip(ip("fd00:1::5")));
        assert!(allow.contains_ip(ip("::1")));
        assert!(!allow.contains_ip(ip("::2")), "a bare IPv6 address is a /128");
        assert!(allow.contains_ip(ip("fe80::1")));
        assert!(allow.contains_host("keys.internal.example"));
        assert!(allow.contains_host("KEYS.internal.example."));
        assert!(!allow.contains_host("other.internal.example"));
        assert!(!allow.contains_host("sub.keys.internal.example"), "names match exactly");
        let mapped = Allowlist::parse("::ffff:192.168.0.0/112").unwrap();
        assert!(mapped.contains_ip(ip("192.168.3.4")));
        assert!(Allowlist::parse("").unwrap().is_empty());
        assert!(Allowlist::parse(" , ").unwrap().is_empty());
    }

    #[test]
    fn invalid_allowlist_entries_are_named() {
        for bad in ["10.0.0.0/33", "300.1.1.1", "10.0.0", "http://x.example", "a b", "-bad.example", "fd00::/129", "x/8"] {
            let err = Allowlist::parse(&format!("127.0.0.1,{bad}")).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn policy_permits_public_addresses_and_allowlisted_special_ones() {
        let policy = super::super::Policy { allow: Allowlist::parse("10.0.0.0/8,jwks.corp.example").unwrap() };
        assert!(policy.permits(None, ip("93.184.216.34")));
        assert!(policy.permits(None, ip("10.9.9.9")));
        assert!(!policy.permits(None, ip("192.168.0.1")));
        assert!(policy.permits(Some("jwks.corp.example"), ip("192.168.0.1")), "an allowlisted name may resolve anywhere");
        assert!(!policy.permits(Some("other.corp.example"), ip("192.168.0.1")));
        assert!(!policy.permits(Some("jwks.corp.example.evil.example"), ip("127.0.0.1")));
    }
}
