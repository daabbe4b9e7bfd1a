//! The stranger's JWKS a probe launch names as its `jku`, served on loopback by the gateway's
//! own HTTP server. A module that fetches it trusts keys a token brings along; the probe reports
//! that even when the module then refuses the launch.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use koppeltaal_gateway::{HttpServer, Limits, Request, Response, TrustedProxies};

/// The running server; stopped when dropped.
pub(crate) struct Bait {
    url: String,
    fetches: Arc<AtomicUsize>,
    server: Option<HttpServer>,
}

impl Bait {
    /// Serves `document` at `http://127.0.0.1:<port>/jwks.json` (any path answers the same).
    pub(crate) fn start(document: String) -> std::io::Result<Bait> {
        let fetches = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&fetches);
        let server = HttpServer::start(
            "127.0.0.1:0",
            Limits::default(),
            TrustedProxies::default(),
            Arc::new(move |_: &Request| {
                counted.fetch_add(1, Ordering::SeqCst);
                Response::new(200, "application/json", document.clone())
            }),
        )?;
        Ok(Bait {
            url: format!("http://{}/jwks.json", server.address()),
            fetches,
            server: Some(server),
        })
    }

    /// The URL to name in a `jku` header.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// How many requests the server has answered.
    pub(crate) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for Bait {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop(Duration::from_secs(1));
        }
    }
}
