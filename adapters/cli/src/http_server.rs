//! A small blocking HTTP/1.1 server with hard bounds, for `serve` and `demo`.
//!
//! Hand-written around `httparse` because the usual small blocking server (`tiny_http`)
//! spawns a thread per connection without limit and sets no read timeouts: a launch endpoint
//! facing the internet must not be exhaustible by slow or numerous clients. Here a fixed
//! pool of workers serves connections from a bounded queue (a full queue is answered `503`
//! at once), every socket has read and write timeouts, request heads and bodies have caps,
//! and every response closes its connection.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The bounds of a server.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Connections served at once.
    pub(crate) workers: usize,
    /// Connections accepted and waiting for a worker; more are answered 503.
    pub(crate) queue: usize,
    /// Longest wait for each read and write on a socket.
    pub(crate) io_timeout: Duration,
    /// Largest request line plus headers.
    pub(crate) max_head: usize,
    /// Largest request body.
    pub(crate) max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            workers: 8,
            queue: 64,
            io_timeout: Duration::from_secs(5),
            max_head: 8 * 1024,
            max_body: koppeltaal_host::MAX_FORM_BODY,
        }
    }
}

/// A request as the handler sees it.
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    /// The `Accept` header, if any.
    pub(crate) accept: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// A response.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(
        status: u16,
        content_type: &'static str,
        body: impl Into<Vec<u8>>,
    ) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
        }
    }

    pub(crate) fn text(status: u16, body: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body)
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A running server; [`stop`](HttpServer::stop) or drop it to shut it down.
pub(crate) struct HttpServer {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl HttpServer {
    /// Listens on `address` and serves with `handler`.
    pub(crate) fn start(
        address: &str,
        limits: Limits,
        handler: Arc<Handler>,
    ) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(address)?;
        let address = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (sender, receiver) = sync_channel::<TcpStream>(limits.queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = (0..limits.workers.max(1))
            .map(|_| {
                let (receiver, handler, limits) =
                    (Arc::clone(&receiver), Arc::clone(&handler), limits.clone());
                std::thread::spawn(move || work(&receiver, handler.as_ref(), &limits))
            })
            .collect();
        let acceptor = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || accept(&listener, &sender, &stop, &limits))
        };
        Ok(HttpServer {
            address,
            stop,
            acceptor: Some(acceptor),
            workers,
        })
    }

    /// The address it listens on (with the port the system chose for port 0).
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until the process ends.
    pub(crate) fn wait(mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }

    /// Stops accepting, lets the workers finish, and returns.
    pub(crate) fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag; dropping its sender ends the workers.
        let _ = TcpStream::connect(self.address);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if self.acceptor.is_some() {
            self.shutdown();
        }
    }
}

fn accept(
    listener: &TcpListener,
    queue: &SyncSender<TcpStream>,
    stop: &AtomicBool,
    limits: &Limits,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(limits.io_timeout));
        let _ = stream.set_write_timeout(Some(limits.io_timeout));
        match queue.try_send(stream) {
            Ok(()) => {}
            Err(TrySendError::Full(mut stream)) => {
                let _ = write_response(&mut stream, &Response::text(503, "busy, try again\n"));
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

fn work(queue: &Mutex<Receiver<TcpStream>>, handler: &Handler, limits: &Limits) {
    loop {
        let next = queue.lock().map(|receiver| receiver.recv());
        let Ok(Ok(mut stream)) = next else { return };
        let response = match read_request(&mut stream, limits) {
            Ok(request) => handler(&request),
            Err(Refusal::Respond(response)) => response,
            Err(Refusal::Drop) => continue,
        };
        let _ = write_response(&mut stream, &response);
    }
}

enum Refusal {
    Respond(Response),
    /// The client went away or was too slow: nothing to answer.
    Drop,
}

fn read_request(stream: &mut TcpStream, limits: &Limits) -> Result<Request, Refusal> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = find_head_end(&buffer) {
            break end;
        }
        if buffer.len() > limits.max_head {
            return Err(Refusal::Respond(Response::text(
                431,
                "request head too large\n",
            )));
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(Refusal::Drop),
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    let bad = || Refusal::Respond(Response::text(400, "malformed request\n"));
    if !matches!(
        parsed.parse(&buffer[..head_end]),
        Ok(httparse::Status::Complete(_))
    ) {
        return Err(bad());
    }
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| String::from_utf8_lossy(header.value).trim().to_owned())
    };
    if header("transfer-encoding").is_some() {
        return Err(Refusal::Respond(Response::text(
            411,
            "send a Content-Length\n",
        )));
    }
    let length = match header("content-length") {
        None => 0,
        Some(value) => value.parse::<usize>().map_err(|_| bad())?,
    };
    if length > limits.max_body {
        return Err(Refusal::Respond(Response::text(
            413,
            "request body too large\n",
        )));
    }
    let mut body = buffer[head_end..].to_vec();
    body.truncate(length);
    while body.len() < length {
        let want = (length - body.len()).min(chunk.len());
        match stream.read(&mut chunk[..want]) {
            Ok(0) | Err(_) => return Err(Refusal::Drop),
            Ok(read) => body.extend_from_slice(&chunk[..read]),
        }
    }
    Ok(Request {
        method: parsed.method.unwrap_or("").to_owned(),
        path: parsed.path.unwrap_or("").to_owned(),
        accept: header("accept"),
        body,
    })
}

fn find_head_end(buffer: &[u8]) -> Option<usize> {
    buffer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

fn write_response(stream: &mut TcpStream, response: &Response) -> io::Result<()> {
    let reason = match response.status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}
