//! The client's address behind reverse proxies.
//!
//! `Forwarded` (RFC 7239) and `X-Forwarded-For` are written by whoever sends the request,
//! so they are believed only when the TCP peer is a proxy the operator named. Each proxy
//! appends the address it saw, so the chain is read from the right: proxies the operator
//! trusts are skipped, and the first address that is not one of them is the client. What
//! lies left of it was written by that client and may be anything. Only the one header the
//! operator's proxies write is read: a proxy passes the other one on as the client sent it.
//! A chain that cannot be read (garbage, an `unknown` or obfuscated hop, too many hops)
//! leaves the peer's own address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::{HeaderMap, HeaderValue, header};
use ipnet::IpNet;

/// The proxies whose forwarding header is believed, and which header they write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ProxyHeader,
}

/// The header the trusted proxies write the client's address in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For`: what most proxies and load balancers write.
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

impl ProxyHeader {
    /// `x-forwarded-for` or `forwarded`, as the setting names them.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ProxyHeader::XForwardedFor),
            "forwarded" => Ok(ProxyHeader::Forwarded),
            _ => {
                Err("expected x-forwarded-for or forwarded: the header the trusted proxies write".to_owned())
            }
        }
    }
}

/// Hops read before a chain counts as unreadable: real chains have a handful.
const MAX_HOPS: usize = 32;
/// Longest header line read; a longer one counts as unreadable.
const MAX_LINE: usize = 8 * 1024;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// What a chain of one header says about the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chain {
    Absent,
    Client(IpAddr),
    Unreadable,
}

impl TrustedProxies {
    /// A comma-separated list of CIDRs (`10.0.0.0/8, fd00::/8`) or single addresses; empty
    /// for none.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim) {
            if item.is_empty() {
                if list.trim().is_empty() {
                    break;
                }
                return Err("an empty entry in the list".to_owned());
            }
            let net = match item.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => item.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!("`{item}` is not a CIDR such as 10.0.0.0/8 or fd00::/8, nor an IP address")
                })?,
            };
            nets.push(net);
        }
        Ok(Self { nets, header: ProxyHeader::default() })
    }

    /// These proxies, writing the client's address in `header`.
    pub fn writing(self, header: ProxyHeader) -> Self {
        Self { header, ..self }
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// True when `addr` (an IPv4-mapped IPv6 address as its IPv4 address) is a trusted proxy.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.nets.iter().any(|net| net.contains(&addr))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy whose
    /// forwarding headers name the client.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let chain = match self.header {
            ProxyHeader::Forwarded => {
                self.walk(headers.get_all(header::FORWARDED).iter(), split_forwarded, forwarded_for)
            }
            ProxyHeader::XForwardedFor => {
                self.walk(headers.get_all(X_FORWARDED_FOR).iter(), split_plain, node)
            }
        };
        match chain {
            Chain::Client(client) => client,
            Chain::Absent | Chain::Unreadable => peer,
        }
    }

    /// Reads a header's chain from its last hop back.
    fn walk<'a>(
        &self,
        lines: impl DoubleEndedIterator<Item = &'a HeaderValue>,
        split: fn(&str) -> Vec<&str>,
        address_of: fn(&str) -> Option<IpAddr>,
    ) -> Chain {
        let mut chain = Chain::Absent;
        let mut hops = 0;
        for line in lines.rev() {
            let Some(text) = line.to_str().ok().filter(|text| text.len() <= MAX_LINE) else {
                return Chain::Unreadable;
            };
            for hop in split(text).into_iter().rev() {
                hops += 1;
                match address_of(hop) {
                    Some(addr) if hops <= MAX_HOPS && self.contains(addr) => chain = Chain::Client(addr),
                    Some(addr) if hops <= MAX_HOPS => return Chain::Client(addr),
                    _ => return Chain::Unreadable,
                }
            }
        }
        // Every hop was a trusted proxy: the leftmost was written by one, so it stands.
        chain
    }
}

fn split_plain(text: &str) -> Vec<&str> {
    text.split(',').collect()
}

fn split_forwarded(text: &str) -> Vec<&str> {
    split_outside_quotes(text, ',')
}

/// `text` split at `separator`, except inside RFC 9110 quoted strings (with `\` escapes).
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ if c == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The address in one `Forwarded` element's `for=` parameter; `None` when it has no single
/// one, or names an `unknown` or obfuscated node.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut found = None;
    for pair in split_outside_quotes(element, ';') {
        let (name, value) = pair.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("for") {
            if found.is_some() {
                return None;
            }
            let value = value.trim();
            let unquoted = match value.strip_prefix('"') {
                Some(rest) => rest.strip_suffix('"')?,
                None => value,
            };
            // Addresses hold no quoted pairs; a node that needs them is no address.
            found = Some(node(unquoted)?);
        }
    }
    found
}

/// An address with an optional port: `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:443` (RFC 7239 §6).
fn node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(addr.to_canonical());
    }
    let addr = match text.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']')?;
            if !after.is_empty() && !after.strip_prefix(':').is_some_and(is_port) {
                return None;
            }
            IpAddr::V6(host.parse::<Ipv6Addr>().ok()?)
        }
        None => {
            let (host, port) = text.split_once(':')?;
            if !is_port(port) {
                return None;
            }
            IpAddr::V4(host.parse::<Ipv4Addr>().ok()?)
        }
    };
    Some(addr.to_canonical())
}

/// A port number, or an obfuscated port (`_` and letters, digits, `.`, `_`, `-`).
fn is_port(text: &str) -> bool {
    match text.strip_prefix('_') {
        Some(rest) => {
            !rest.is_empty()
                && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        }
        None => text.parse::<u16>().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted() -> TrustedProxies {
        TrustedProxies::parse("10.0.0.0/8, 2001:db8:ffff::/48, 192.0.2.10").unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// The client found behind the proxy 10.0.0.1 for these header lines, the proxies
    /// writing `Forwarded` when every line is one, `X-Forwarded-For` otherwise.
    fn client(lines: &[(&str, &[u8])]) -> IpAddr {
        let header = match lines.iter().all(|(name, _)| *name == "forwarded") {
            true => ProxyHeader::Forwarded,
            false => ProxyHeader::XForwardedFor,
        };
        client_via(header, lines)
    }

    fn client_via(header: ProxyHeader, lines: &[(&str, &[u8])]) -> IpAddr {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        trusted().writing(header).client_address(ip("10.0.0.1"), &headers)
    }

    const PROXY: &str = "10.0.0.1";

    #[test]
    fn cidrs_and_addresses_parse_and_bad_entries_are_refused() {
        let list = trusted();
        assert!(list.contains(ip("10.200.3.4")));
        assert!(list.contains(ip("::ffff:10.0.0.9")), "IPv4-mapped peers are their IPv4 address");
        assert!(list.contains(ip("2001:db8:ffff:1::1")));
        assert!(list.contains(ip("192.0.2.10")));
        assert!(!list.contains(ip("192.0.2.11")));
        assert!(!list.contains(ip("2001:db8:fffe::1")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("  ").unwrap().is_empty());
        assert_eq!(
            TrustedProxies::parse("10.1.2.3/8").unwrap(),
            TrustedProxies::parse("10.0.0.0/8").unwrap()
        );
        for bad in
            ["10.0.0.0/33", "proxy.internal", "10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/8,,fd00::/8", "::/129"]
        {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let mut headers = HeaderMap::new();
        headers.insert(X_FORWARDED_FOR, HeaderValue::from_static("198.51.100.7"));
        headers.insert(header::FORWARDED, HeaderValue::from_static("for=198.51.100.7"));
        assert_eq!(trusted().client_address(ip("203.0.113.5"), &headers), ip("203.0.113.5"));
        assert_eq!(TrustedProxies::default().client_address(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        assert_eq!(client(&[("x-forwarded-for", b"198.51.100.7")]), ip("198.51.100.7"));
        // The leftmost entry is the client's own claim.
        assert_eq!(client(&[("x-forwarded-for", b"203.0.113.99, 198.51.100.7")]), ip("198.51.100.7"));
        // Trusted proxies in the chain are skipped.
        assert_eq!(
            client(&[("x-forwarded-for", b"203.0.113.99, 198.51.100.7, 10.1.1.1, 10.2.2.2")]),
            ip("198.51.100.7")
        );
        // Each proxy may add a line of its own.
        assert_eq!(
            client(&[("x-forwarded-for", b"203.0.113.99"), ("x-forwarded-for", b"198.51.100.7, 10.1.1.1")]),
            ip("198.51.100.7")
        );
        // A chain of trusted proxies only: the leftmost, written by a trusted one.
        assert_eq!(client(&[("x-forwarded-for", b"10.9.9.9, 10.1.1.1")]), ip("10.9.9.9"));
        assert_eq!(client(&[("x-forwarded-for", b"198.51.100.7:51234")]), ip("198.51.100.7"));
        assert_eq!(client(&[("x-forwarded-for", b"2001:db8:1::7")]), ip("2001:db8:1::7"));
        assert_eq!(client(&[("x-forwarded-for", b"[2001:db8:1::7]:443")]), ip("2001:db8:1::7"));
        assert_eq!(client(&[("x-forwarded-for", b"::ffff:198.51.100.7")]), ip("198.51.100.7"));
    }

    #[test]
    fn forwarded_elements_are_read_per_rfc_7239() {
        assert_eq!(client(&[("forwarded", b"for=198.51.100.7")]), ip("198.51.100.7"));
        assert_eq!(
            client(&[("forwarded", b"For=\"198.51.100.7:8080\";proto=https;by=10.0.0.1")]),
            ip("198.51.100.7")
        );
        assert_eq!(client(&[("forwarded", b"for=\"[2001:db8:cafe::17]:4711\"")]), ip("2001:db8:cafe::17"));
        assert_eq!(client(&[("forwarded", b"for=\"[2001:db8:cafe::17]\"")]), ip("2001:db8:cafe::17"));
        assert_eq!(client(&[("forwarded", b"for=\"[2001:db8:cafe::17]:_port-1\"")]), ip("2001:db8:cafe::17"));
        assert_eq!(
            client(&[("forwarded", b"for=203.0.113.99, for=198.51.100.7;proto=https, for=10.1.1.1")]),
            ip("198.51.100.7")
        );
        // A quoted comma or semicolon does not split an element.
        assert_eq!(client(&[("forwarded", b"for=198.51.100.7;by=\"a,b;c\"")]), ip("198.51.100.7"));
        assert_eq!(
            client(&[("forwarded", b"for=203.0.113.99"), ("forwarded", b"for=198.51.100.7")]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn only_the_header_the_proxies_write_is_read() {
        // The proxy appends to X-Forwarded-For; the client made up a Forwarded header,
        // readable or not: it is not read, and cannot turn the client into the proxy.
        for forged in [b"for=203.0.113.99".as_slice(), b"for=unknown", b"garbage"] {
            let lines = [("forwarded", forged), ("x-forwarded-for", b"198.51.100.7".as_slice())];
            assert_eq!(client_via(ProxyHeader::XForwardedFor, &lines), ip("198.51.100.7"));
        }
        let lines = [("x-forwarded-for", b"203.0.113.99".as_slice()), ("forwarded", b"for=198.51.100.7")];
        assert_eq!(client_via(ProxyHeader::Forwarded, &lines), ip("198.51.100.7"));
        // A header the proxies do not write, alone, names nobody.
        assert_eq!(client_via(ProxyHeader::Forwarded, &[("x-forwarded-for", b"198.51.100.7")]), ip(PROXY));
        assert_eq!(client_via(ProxyHeader::XForwardedFor, &[("forwarded", b"for=198.51.100.7")]), ip(PROXY));
        assert_eq!(ProxyHeader::parse(" Forwarded ").unwrap(), ProxyHeader::Forwarded);
        assert_eq!(ProxyHeader::parse("X-Forwarded-For").unwrap(), ProxyHeader::XForwardedFor);
        assert!(ProxyHeader::parse("x-real-ip").is_err());
    }

    #[test]
    fn unreadable_chains_leave_the_peer() {
        let cases: &[&[(&str, &[u8])]] = &[
            &[("forwarded", b"for=unknown")],
            &[("forwarded", b"for=_hidden")],
            &[("forwarded", b"for=\"_gazonk\", for=10.1.1.1")],
            &[("forwarded", b"for=198.51.100.7;for=203.0.113.9")],
            &[("forwarded", b"proto=https")],
            &[("forwarded", b"for=\"198.51.100.7")],
            &[("forwarded", b"for=[2001:db8::1]x")],
            &[("forwarded", b"for=\"[2001:db8::1]:99999\"")],
            &[("forwarded", b"for=\"[fe80::1%25eth0]\"")],
            &[("forwarded", b"garbage")],
            &[("forwarded", b"")],
            &[("x-forwarded-for", b"")],
            &[("x-forwarded-for", b"198.51.100.7, ")],
            &[("x-forwarded-for", b"not-an-ip")],
            &[("x-forwarded-for", b"198.51.100.7:port")],
            &[("x-forwarded-for", b"999.1.1.1")],
            // Header values hold no control bytes but tab (the HTTP parser refuses them),
            // and `obs-text` bytes are no text.
            &[("x-forwarded-for", b"198.51.100.7\t\t,\t")],
            &[("x-forwarded-for", b"198.51.100.7, \xff\xfe")],
            &[("x-forwarded-for", b"\"198.51.100.7\"")],
        ];
        for lines in cases {
            assert_eq!(client(lines), ip(PROXY), "{lines:?}");
        }
        // An unreadable hop left of the client does not matter: it is never reached.
        assert_eq!(client(&[("x-forwarded-for", b"garbage, 198.51.100.7")]), ip("198.51.100.7"));
    }

    #[test]
    fn huge_headers_and_long_chains_leave_the_peer() {
        let hops = vec!["10.1.1.1"; MAX_HOPS + 1].join(", ");
        assert_eq!(client(&[("x-forwarded-for", hops.as_bytes())]), ip(PROXY));
        let within = format!("198.51.100.7, {}", vec!["10.1.1.1"; MAX_HOPS - 1].join(", "));
        assert_eq!(client(&[("x-forwarded-for", within.as_bytes())]), ip("198.51.100.7"));
        let huge = format!("{}198.51.100.7", " ".repeat(MAX_LINE));
        assert_eq!(client(&[("x-forwarded-for", huge.as_bytes())]), ip(PROXY));
        let many_lines: Vec<(&str, &[u8])> =
            (0..1000).map(|_| ("x-forwarded-for", b"10.1.1.1".as_slice())).collect();
        assert_eq!(client(&many_lines), ip(PROXY));
        let quotes = "\"".repeat(MAX_LINE);
        assert_eq!(client(&[("forwarded", quotes.as_bytes())]), ip(PROXY));
        let escapes = format!("for=\"{}", "\\".repeat(MAX_LINE - 10));
        assert_eq!(client(&[("forwarded", escapes.as_bytes())]), ip(PROXY));
    }
}
