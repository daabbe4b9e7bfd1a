//! The stranger's JWKS a probe launch names as its `jku`, served on loopback by the gateway's
//! own HTTP server. A module that fetches it trusts keys a token brings along; the probe reports
//! that even when the module then refuses the launch.

use std::sync::Arc;
use std::time::Duration;

use koppeltaal_gateway::{HttpServer, Limits, Request, Response, TrustedProxies};

/// The running server; stopped when dropped.
pub(crate) struct Bait {
    url: String,
    server: Option<HttpServer>,
}

impl Bait {
    /// Serves `document` at `http://127.0.0.1:<port>/jwks.json` (any path answers the same).
    pub(crate) fn start(document: String) -> std::io::Result<Bait> {
        let server = HttpServer::start(
            "127.0.0.1:0",
            Limits::default(),
            TrustedProxies::default(),
            Arc::new(move |_: &Request| Response::new(200, "application/json", document.clone())),
        )?;
        Ok(Bait {
            url: format!("http://{}/jwks.json", server.address()),
            server: Some(server),
        })
    }

    /// The URL to name in a `jku` header.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// How many connections the server has had: every attempt to fetch it counts, even one
    /// whose request the server's reader refused.
    pub(crate) fn fetches(&self) -> u64 {
        self.server
            .as_ref()
            .map_or(0, HttpServer::connections_accepted)
    }
}

impl Drop for Bait {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop(Duration::from_secs(1));
        }
    }
}
