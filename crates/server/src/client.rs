//! Who is on the other end of the connection, for throttling, sessions and the audit log.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::request::Parts;
use http::{Extensions, HeaderMap, header};
use ringfence_core::audit::Origin;

use crate::HttpSettings;
use crate::middleware::request_context::RequestId;

/// The client's address: the connection's peer, or the client a trusted proxy names.
#[derive(Debug, Clone, Copy)]
struct ClientAddress(IpAddr);

/// Finds the client's address once per request, for everything that records or counts it.
pub(crate) async fn find_client_address(
    State(settings): State<Arc<HttpSettings>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let address = settings.trusted_proxies.client_address(peer.ip(), request.headers());
        request.extensions_mut().insert(ClientAddress(address));
    }
    next.run(request).await
}

#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The client's address, as the audit log and the session list show it.
    pub ip: Option<String>,
    /// What per-address throttles count the client against: see [`throttle_source`].
    pub source: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Client {
    pub fn read(extensions: &Extensions, headers: &HeaderMap) -> Self {
        let addr = extensions.get::<ClientAddress>().map(|ClientAddress(addr)| *addr);
        let ip = addr.map(|addr| addr.to_string());
        let source = addr.map(throttle_source);
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        let request_id = extensions.get::<RequestId>().map(|RequestId(id)| id.clone());
        Self { ip, source, user_agent, request_id }
    }

    /// Where the request came from, as the audit log records it.
    pub fn origin(&self) -> Origin {
        Origin {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

/// What per-address throttles count `addr` against: an IPv4 address itself, an IPv6
/// address's /64, since one subscriber is routinely given a whole /64 and could otherwise
/// spread its requests over as many addresses as it likes. An IPv4-mapped IPv6 address is
/// its IPv4 address.
pub fn throttle_source(addr: IpAddr) -> String {
    match addr.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::read(&parts.extensions, &parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_are_throttled_by_their_64_and_ipv4_by_the_address() {
        let source = |text: &str| throttle_source(text.parse().unwrap());
        assert_eq!(source("203.0.113.7"), "203.0.113.7");
        assert_ne!(source("203.0.113.7"), source("203.0.113.8"));
        assert_eq!(source("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(source("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(source("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(source("2001:db8:1:2::1"), source("2001:db8:1:3::1"));
    }
}
