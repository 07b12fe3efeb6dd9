//! Who is on the other end of the connection, for throttling, sessions and the audit log.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use http::{Extensions, HeaderMap, header};
use ringfence_core::audit::Origin;

use crate::middleware::request_context::RequestId;

#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Client {
    pub fn read(extensions: &Extensions, headers: &HeaderMap) -> Self {
        let ip = extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string());
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        let request_id = extensions.get::<RequestId>().map(|RequestId(id)| id.clone());
        Self { ip, user_agent, request_id }
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

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::read(&parts.extensions, &parts.headers))
    }
}
