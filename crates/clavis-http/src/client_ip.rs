//! The client's IP address, for the per-IP limits: the TCP peer, unless the peer is one of
//! the operator's trusted proxies (`CLAVIS_TRUSTED_PROXIES`, none by default). Then the
//! address comes from the one forwarding header the operator named
//! (`CLAVIS_CLIENT_IP_HEADER`: `X-Forwarded-For`, or RFC 7239 `Forwarded`'s `for=`),
//! read from the right: trusted proxies are skipped, the first other address is the
//! client. A malformed header, or a hop that hides its address (`unknown`, `_hidden`),
//! leaves the peer as the client: nothing a client writes decides unless a trusted proxy
//! vouches for it.
//!
//! Only one header is read: a proxy sets or appends to its own header and passes the
//! other one through untouched, so reading both would let a client choose its address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use ipnet::IpNet;

use crate::AppState;

/// The forwarding header a trusted proxy sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardingHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`
    #[default]
    XForwardedFor,
    /// RFC 7239: `Forwarded: for=client, for=proxy1;proto=https`
    Forwarded,
}

impl ForwardingHeader {
    /// `x-forwarded-for` or `forwarded` (any case).
    pub fn parse(name: &str) -> Result<Self, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "" | "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            other => Err(format!("{other:?} is neither x-forwarded-for nor forwarded")),
        }
    }

    fn name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            Self::Forwarded => axum::http::header::FORWARDED,
        }
    }
}

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardingHeader,
}

impl TrustedProxies {
    /// Comma-separated addresses (`10.0.0.7`, `::1`) and CIDRs (`10.0.0.0/8`); an invalid
    /// entry is an error naming it.
    pub fn parse(list: &str, header: ForwardingHeader) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bare = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')).unwrap_or(entry);
            let net = match (bare.parse::<IpNet>(), bare.parse::<IpAddr>()) {
                (Ok(net), _) => net.trunc(),
                (_, Ok(ip)) => IpNet::from(ip.to_canonical()),
                _ => return Err(format!("{entry:?} is neither an IP address nor a CIDR")),
            };
            nets.push(net);
        }
        Ok(Self { nets, header })
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client's address for a request from `peer` with these headers.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut hops = Vec::new();
        for value in headers.get_all(self.header.name()) {
            let Ok(value) = value.to_str() else { return peer };
            let line: Option<Vec<IpAddr>> = match self.header {
                ForwardingHeader::XForwardedFor => value.split(',').map(|e| parse_node(e.trim())).collect(),
                ForwardingHeader::Forwarded => forwarded_for(value).and_then(|v| v.iter().map(|e| parse_node(e)).collect()),
            };
            match line {
                Some(line) => hops.extend(line),
                None => return peer,
            }
        }
        // From the right: the nearest hop that is not one of ours is the client. If every
        // hop is ours, the request began inside, at the farthest one.
        hops.iter().rev().copied().find(|ip| !self.contains(*ip)).or(hops.first().copied()).unwrap_or(peer)
    }
}

/// One address of a forwarding header: `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`, or any
/// of them with a port. `None` for anything else (`unknown`, `_obfuscated`, garbage).
fn parse_node(s: &str) -> Option<IpAddr> {
    let ip = s.parse::<IpAddr>().ok().or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip())).or_else(|| {
        let inner = s.strip_prefix('[')?.strip_suffix(']')?;
        inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
    })?;
    Some(ip.to_canonical())
}

/// The `for=` values of one `Forwarded` header line, in order (RFC 7239 §4: elements
/// separated by `,`, pairs by `;`, values tokens or quoted strings). `None` when the line
/// is malformed or an element has no `for=`.
fn forwarded_for(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for element in split_unquoted(line, ',')? {
        let mut found = None;
        for pair in split_unquoted(&element, ';')? {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=')?;
            let value = unquote(value.trim())?;
            if name.trim().eq_ignore_ascii_case("for") {
                if found.is_some() {
                    return None;
                }
                found = Some(value);
            }
        }
        out.push(found?);
    }
    Some(out)
}

/// Splits on `sep` outside quoted strings; `None` for an unterminated quote.
fn split_unquoted(s: &str, sep: char) -> Option<Vec<String>> {
    let (mut parts, mut current, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    if quoted || escaped {
        return None;
    }
    parts.push(current);
    Some(parts)
}

/// A token as it is, a quoted string without its quotes and escapes.
fn unquote(v: &str) -> Option<String> {
    let Some(inner) = v.strip_prefix('"') else {
        return (!v.is_empty() && !v.contains(['"', '\\'])).then(|| v.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// The client's address (see the module): `ClientIp(ip)` in a handler's arguments.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = <ConnectInfo<SocketAddr> as FromRequestParts<AppState>>::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state).await?;
        Ok(Self(state.trusted_proxies.client_ip(peer.ip(), &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, v.parse().unwrap());
        }
        h
    }

    fn xff(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list, ForwardingHeader::XForwardedFor).unwrap()
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_send() {
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(TrustedProxies::default().client_ip(ip("198.51.100.1"), &h), ip("198.51.100.1"), "no proxies configured");
        assert_eq!(xff("10.0.0.0/8").client_ip(ip("198.51.100.1"), &h), ip("198.51.100.1"), "peer not among them");
    }

    #[test]
    fn from_the_right_trusted_hops_are_skipped() {
        let p = xff("10.0.0.0/8, 192.0.2.7");
        let peer = ip("10.1.1.1");
        assert_eq!(p.client_ip(peer, &headers("x-forwarded-for", &["203.0.113.9"])), ip("203.0.113.9"));
        // The client wrote the left part itself: only the hop our proxies saw counts.
        let h = headers("x-forwarded-for", &["1.1.1.1, 203.0.113.9, 192.0.2.7"]);
        assert_eq!(p.client_ip(peer, &h), ip("203.0.113.9"));
        // Several header lines are one list, in order.
        let h = headers("x-forwarded-for", &["1.1.1.1", "203.0.113.9", "10.2.2.2"]);
        assert_eq!(p.client_ip(peer, &h), ip("203.0.113.9"));
        // Every hop ours: the farthest one.
        assert_eq!(p.client_ip(peer, &headers("x-forwarded-for", &["10.3.3.3, 10.2.2.2"])), ip("10.3.3.3"));
        // No header: the proxy itself.
        assert_eq!(p.client_ip(peer, &HeaderMap::new()), peer);
        // Ports and brackets, IPv6, IPv4-mapped peers.
        let h = headers("x-forwarded-for", &["[2001:db8::5]:4711, 203.0.113.9:80"]);
        assert_eq!(p.client_ip(peer, &h), ip("203.0.113.9"));
        assert_eq!(p.client_ip(ip("::ffff:10.1.1.1"), &headers("x-forwarded-for", &["2001:db8::5"])), ip("2001:db8::5"));
        assert_eq!(xff("::1").client_ip(ip("::1"), &headers("x-forwarded-for", &["[2001:db8::5]"])), ip("2001:db8::5"));
    }

    #[test]
    fn malformed_headers_leave_the_peer() {
        let p = xff("10.0.0.0/8");
        let peer = ip("10.1.1.1");
        for bad in ["", "203.0.113.9,", "not-an-ip", "203.0.113.9, unknown", "999.1.1.1", "203.0.113.9 1.2.3.4"] {
            assert_eq!(p.client_ip(peer, &headers("x-forwarded-for", &[bad])), peer, "{bad:?}");
        }
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", axum::http::HeaderValue::from_bytes(b"203.0.113.9\xff").unwrap());
        assert_eq!(p.client_ip(peer, &h), peer, "not ASCII");
    }

    #[test]
    fn forwarded_for_values_rfc_7239() {
        let p = TrustedProxies::parse("10.0.0.0/8", ForwardingHeader::Forwarded).unwrap();
        let peer = ip("10.1.1.1");
        let one = |v: &str| p.client_ip(peer, &headers("forwarded", &[v]));
        assert_eq!(one("for=203.0.113.9"), ip("203.0.113.9"));
        assert_eq!(one("for=1.1.1.1, for=203.0.113.9;proto=https;by=10.0.0.1"), ip("203.0.113.9"));
        assert_eq!(one("For=\"[2001:db8:cafe::17]:4711\""), ip("2001:db8:cafe::17"));
        assert_eq!(one("for=203.0.113.9, for=10.2.2.2"), ip("203.0.113.9"), "trusted hops skipped");
        assert_eq!(one("proto=https;for=\"203.0.113.9\";host=\"a,b;c\""), ip("203.0.113.9"), "quoted separators");
        for bad in ["for=unknown", "for=_hidden", "proto=https", "for=203.0.113.9;for=1.1.1.1", "for=\"203.0.113.9", "for", "for=1.1.1.1,,"] {
            assert_eq!(one(bad), peer, "{bad:?}");
        }
        // Only the configured header counts.
        assert_eq!(p.client_ip(peer, &headers("x-forwarded-for", &["203.0.113.9"])), peer);
        assert_eq!(xff("10.0.0.0/8").client_ip(peer, &headers("forwarded", &["for=203.0.113.9"])), peer);
    }

    #[test]
    fn settings_parse() {
        assert!(TrustedProxies::parse("", ForwardingHeader::XForwardedFor).unwrap().is_empty());
        assert!(TrustedProxies::parse(" 127.0.0.1 , ::1, 10.0.0.0/8, [fd00::1] ", ForwardingHeader::XForwardedFor).is_ok());
        let err = TrustedProxies::parse("10.0.0.0/8, proxy.internal", ForwardingHeader::XForwardedFor).unwrap_err();
        assert!(err.contains("proxy.internal"), "{err}");
        assert_eq!(ForwardingHeader::parse("Forwarded"), Ok(ForwardingHeader::Forwarded));
        assert_eq!(ForwardingHeader::parse("X-Forwarded-For"), Ok(ForwardingHeader::XForwardedFor));
        assert!(ForwardingHeader::parse("x-real-ip").is_err());
    }
}
