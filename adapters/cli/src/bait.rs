//! A one-document HTTP server on loopback serving a stranger's JWKS: the `jku` a probe launch
//! names. A module that fetches it trusts keys a token brings along; the probe reports that
//! even when the module then refuses the launch.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The running server; stopped when dropped.
pub(crate) struct Bait {
    url: String,
    fetches: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    address: std::net::SocketAddr,
}

impl Bait {
    /// Serves `document` at `http://127.0.0.1:<port>/jwks.json` (any path answers the same).
    pub(crate) fn start(document: String) -> std::io::Result<Bait> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let (fetches, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let thread = {
            let (fetches, stop) = (Arc::clone(&fetches), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("probe-bait".into())
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        if let Ok(stream) = stream {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            answer(stream, &document);
                        }
                    }
                })?
        };
        Ok(Bait {
            url: format!("http://{address}/jwks.json"),
            fetches,
            stop,
            thread: Some(thread),
            address,
        })
    }

    /// The URL to name in a `jku` header.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// How many connections the server has had.
    pub(crate) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for Bait {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop; it sees `stop` and ends (this connection is not counted).
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(mut stream: TcpStream, document: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let mut request = [0u8; 4096];
    let _ = stream.read(&mut request);
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{document}",
        document.len()
    );
}
