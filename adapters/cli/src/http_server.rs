//! A small blocking HTTP/1.1 server with hard bounds, for `serve` and `demo`.
//!
//! Hand-written around `httparse` because the usual small blocking server (`tiny_http`)
//! spawns a thread per connection without limit and sets no read timeouts: a launch endpoint
//! facing the internet must not be exhaustible by slow or numerous clients. Here:
//!
//! - **Connections are capped**, in total and per client address; beyond either cap a
//!   connection is answered `503` at once and closed, without reading it.
//! - **Each request has a deadline** for its head and body together (10 s by default); every
//!   read waits at most for the time left, so a client trickling one byte at a time is cut
//!   off (`408`) when the deadline passes, however often it sends.
//! - **Reading does not hold a worker.** Each admitted connection reads its request on a
//!   thread of its own (small stack; their number is the connection cap); only a complete
//!   request takes one of the `workers` permits to be handled. Slow clients therefore use up
//!   connection slots, not the capacity to answer genuine launches.
//! - **A panic is contained** to its connection: it is caught, answered `500`, and the slot
//!   and permit are released, so the server keeps its full size.
//! - Heads and bodies have caps (`431`, `413`), chunked bodies are refused (`411`), writes
//!   have a timeout, and every response closes its connection.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The bounds of a server.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Requests handled at once (the rest of the admitted connections wait for a permit).
    pub(crate) workers: usize,
    /// Connections open at once; more are answered 503.
    pub(crate) max_connections: usize,
    /// Connections open at once from one client address (0: no limit; behind a load
    /// balancer every connection has the balancer's address).
    pub(crate) max_per_client: usize,
    /// Longest a client may take to send its whole request, head and body.
    pub(crate) request_deadline: Duration,
    /// Longest wait for each write of the response.
    pub(crate) write_timeout: Duration,
    /// Largest request line plus headers.
    pub(crate) max_head: usize,
    /// Largest request body.
    pub(crate) max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            workers: 8,
            max_connections: 256,
            max_per_client: 32,
            request_deadline: Duration::from_secs(10),
            write_timeout: Duration::from_secs(5),
            max_head: 8 * 1024,
            max_body: koppeltaal_host::MAX_FORM_BODY,
        }
    }
}

/// A request as the handler sees it.
pub(crate) struct Request {
    pub(crate) method: String,
    /// The path, without the query.
    pub(crate) path: String,
    /// The query string (after `?`), if any.
    pub(crate) query: Option<String>,
    /// The `Accept` header, if any.
    pub(crate) accept: Option<String>,
    /// The `Cookie` header, if any.
    pub(crate) cookie: Option<String>,
    /// The address of the client (the TCP peer).
    pub(crate) peer: Option<std::net::IpAddr>,
    /// The `Host` header, if any.
    pub(crate) host: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    /// The value of cookie `name`, if the request carries it.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookie.as_deref()?.split(';').find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
    }

    /// The query's parameters.
    pub(crate) fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }
}

/// A response.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: std::borrow::Cow<'static, str>,
    /// More headers (`Location`, `Set-Cookie`); names and values must not contain CR or LF.
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(
        status: u16,
        content_type: impl Into<std::borrow::Cow<'static, str>>,
        body: impl Into<Vec<u8>>,
    ) -> Response {
        Response {
            status,
            content_type: content_type.into(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// With one more header (dropped if its value could split the response).
    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Response {
        if !value.contains(['\r', '\n']) {
            self.headers.push((name, value));
        }
        self
    }

    pub(crate) fn text(status: u16, body: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body)
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// The stack of a connection thread: reading, parsing, verifying a launch (RSA-4096 at most)
/// and, for a handler that fetches keys, a TLS client. Measured need is far below this.
const CONNECTION_STACK: usize = 512 * 1024;

/// The connections open now, in total and per client address.
#[derive(Default)]
struct Connections {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// State shared by the acceptor and the connection threads.
struct Shared {
    limits: Limits,
    handler: Arc<Handler>,
    connections: Mutex<Connections>,
    /// Signalled when a connection closes (for shutdown).
    closed: Condvar,
    /// Free handler permits.
    permits: Mutex<usize>,
    permit_freed: Condvar,
}

impl Shared {
    fn connections(&self) -> MutexGuard<'_, Connections> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a new connection from `client`, unless a cap is reached.
    fn admit(&self, client: IpAddr) -> bool {
        let mut connections = self.connections();
        let from_client = connections.per_client.get(&client).copied().unwrap_or(0);
        let per_client_full =
            self.limits.max_per_client > 0 && from_client >= self.limits.max_per_client;
        if connections.total >= self.limits.max_connections || per_client_full {
            return false;
        }
        connections.total += 1;
        *connections.per_client.entry(client).or_insert(0) += 1;
        true
    }

    fn release(&self, client: IpAddr) {
        let mut connections = self.connections();
        connections.total = connections.total.saturating_sub(1);
        if let Some(count) = connections.per_client.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                connections.per_client.remove(&client);
            }
        }
        self.closed.notify_all();
    }

    /// Takes a handler permit, waiting at most `wait`.
    fn acquire(&self, wait: Duration) -> Option<Permit<'_>> {
        let permits = self.permits.lock().unwrap_or_else(|e| e.into_inner());
        let (mut permits, _) = self
            .permit_freed
            .wait_timeout_while(permits, wait, |free| *free == 0)
            .unwrap_or_else(|e| e.into_inner());
        if *permits == 0 {
            return None;
        }
        *permits -= 1;
        Some(Permit(self))
    }
}

/// A handler permit, given back when dropped (also when the handler panicked).
struct Permit<'s>(&'s Shared);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.permits.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.permit_freed.notify_one();
    }
}

/// A connection slot, released when dropped (also when its thread panicked).
struct Slot {
    shared: Arc<Shared>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.release(self.client);
    }
}

/// A running server; [`stop`](HttpServer::stop) or drop it to shut it down.
pub(crate) struct HttpServer {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
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
        let shared = Arc::new(Shared {
            permits: Mutex::new(limits.workers.max(1)),
            limits,
            handler,
            connections: Mutex::new(Connections::default()),
            closed: Condvar::new(),
            permit_freed: Condvar::new(),
        });
        let acceptor = {
            let (stop, shared) = (Arc::clone(&stop), Arc::clone(&shared));
            std::thread::spawn(move || accept(&listener, &shared, &stop))
        };
        Ok(HttpServer {
            address,
            stop,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The address it listens on (with the port the system chose for port 0).
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting, lets the connections in flight finish (waiting at most `grace`), and
    /// returns.
    pub(crate) fn stop(mut self, grace: Duration) {
        self.shutdown(grace);
    }

    fn shutdown(&mut self, grace: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.address);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let connections = self.shared.connections();
        let _ = self
            .shared
            .closed
            .wait_timeout_while(connections, grace, |open| open.total > 0);
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if self.acceptor.is_some() {
            self.shutdown(Duration::from_secs(1));
        }
    }
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let client = peer.ip();
        if !shared.admit(client) {
            refuse_fast(&mut stream, "too many connections, try again\n");
            continue;
        }
        let slot = Slot {
            shared: Arc::clone(shared),
            client,
        };
        // If no thread can be made, the closure is dropped unrun (its slot released with it)
        // and the client is told to come back.
        let fallback = stream.try_clone();
        let spawned = std::thread::Builder::new()
            .name("koppeltaal-connection".into())
            .stack_size(CONNECTION_STACK)
            .spawn(move || serve_connection(stream, slot));
        if spawned.is_err()
            && let Ok(mut stream) = fallback
        {
            refuse_fast(&mut stream, "busy, try again\n");
        }
    }
}

/// A 503 for a connection that is not admitted: written without waiting for the client (a
/// full send buffer is its problem), then closed.
fn refuse_fast(stream: &mut TcpStream, why: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let _ = write_response(stream, &Response::text(503, why));
}

fn serve_connection(mut stream: TcpStream, slot: Slot) {
    let shared = &*slot.shared;
    let limits = &shared.limits;
    let _ = stream.set_write_timeout(Some(limits.write_timeout));
    let deadline = Instant::now() + limits.request_deadline;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let request = match read_request(&mut stream, limits, deadline) {
            Ok(request) => request,
            Err(Refusal::Respond(response)) => return Some(response),
            Err(Refusal::Drop) => return None,
        };
        // Handling waits for a permit at most as long as a request may take to arrive.
        let Some(_permit) = shared.acquire(limits.request_deadline) else {
            return Some(Response::text(503, "busy, try again\n"));
        };
        Some((shared.handler)(&request))
    }));
    let response = match outcome {
        Ok(Some(response)) => response,
        Ok(None) => return,
        Err(_) => Response::text(500, "internal error\n"),
    };
    let _ = write_response(&mut stream, &response);
    drop(slot);
}

enum Refusal {
    Respond(Response),
    /// The client went away: nothing to answer.
    Drop,
}

/// Reads once into `buffer`, waiting at most until `deadline`.
fn read_before(
    stream: &mut TcpStream,
    buffer: &mut [u8],
    deadline: Instant,
) -> Result<usize, Refusal> {
    let too_slow = || Refusal::Respond(Response::text(408, "request took too long\n"));
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(too_slow());
    }
    stream
        .set_read_timeout(Some(left))
        .map_err(|_| Refusal::Drop)?;
    match stream.read(buffer) {
        Ok(0) => Err(Refusal::Drop),
        Ok(read) => Ok(read),
        Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Err(too_slow())
        }
        Err(_) => Err(Refusal::Drop),
    }
}

fn read_request(
    stream: &mut TcpStream,
    limits: &Limits,
    deadline: Instant,
) -> Result<Request, Refusal> {
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
        let read = read_before(stream, &mut chunk, deadline)?;
        buffer.extend_from_slice(&chunk[..read]);
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
        let read = read_before(stream, &mut chunk[..want], deadline)?;
        body.extend_from_slice(&chunk[..read]);
    }
    let target = parsed.path.unwrap_or("");
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (target.to_owned(), None),
    };
    Ok(Request {
        method: parsed.method.unwrap_or("").to_owned(),
        path,
        query,
        accept: header("accept"),
        cookie: header("cookie"),
        peer: stream.peer_addr().ok().map(|address| address.ip()),
        host: header("host"),
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
        303 => "See Other",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(limits: Limits) -> HttpServer {
        let handler: Arc<Handler> = Arc::new(|request: &Request| match request.path.as_str() {
            "/panic" => panic!("a handler bug"),
            "/slow" => {
                std::thread::sleep(Duration::from_millis(300));
                Response::text(200, "slow\n")
            }
            _ => Response::text(200, "ok\n"),
        });
        HttpServer::start("127.0.0.1:0", limits, handler).unwrap()
    }

    /// Sends `request` and returns the status line's code (0 when the connection closed
    /// without an answer).
    fn status(address: SocketAddr, request: &[u8]) -> u16 {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let _ = stream.write_all(request);
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    fn get(path: &str) -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
    }

    #[test]
    fn a_panicking_handler_is_answered_500_and_the_server_keeps_its_size() {
        let server = server(Limits {
            workers: 2,
            ..Limits::default()
        });
        for _ in 0..6 {
            assert_eq!(status(server.address(), &get("/panic")), 500);
        }
        // Every permit came back: two slow requests at once still run side by side.
        let started = Instant::now();
        let slow: Vec<_> = (0..2)
            .map(|_| {
                let address = server.address();
                std::thread::spawn(move || status(address, &get("/slow")))
            })
            .collect();
        for thread in slow {
            assert_eq!(thread.join().unwrap(), 200);
        }
        assert!(
            started.elapsed() < Duration::from_millis(550),
            "the two slow requests ran in parallel: {:?}",
            started.elapsed()
        );
        assert_eq!(status(server.address(), &get("/")), 200);
        assert_eq!(server.shared.connections().total, 0, "every slot released");
    }

    #[test]
    fn a_request_that_takes_longer_than_its_deadline_is_cut_off() {
        let server = server(Limits {
            request_deadline: Duration::from_millis(600),
            ..Limits::default()
        });
        let mut stream = TcpStream::connect(server.address()).unwrap();
        let started = Instant::now();
        // One byte every 100 ms: every single read is quick, the request as a whole is not.
        let mut answer = String::new();
        for byte in b"POST /launch HTTP/1.1\r\nContent-Length: 100\r\n\r\n"
            .iter()
            .cycle()
            .take(40)
        {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn connections_beyond_the_caps_are_refused_at_once() {
        let server = server(Limits {
            max_connections: 3,
            max_per_client: 0,
            ..Limits::default()
        });
        // Three connections that send nothing hold every slot.
        let idle: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(server.address()).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        assert_eq!(status(server.address(), &get("/")), 503);
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(idle);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(status(server.address(), &get("/")), 200);

        let per_client = server_with_per_client_cap(2);
        let idle: Vec<TcpStream> = (0..2)
            .map(|_| TcpStream::connect(per_client.address()).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            status(per_client.address(), &get("/")),
            503,
            "from 127.0.0.1"
        );
        // Another loopback address is another client.
        assert_eq!(
            status_from("127.0.0.2", per_client.address(), &get("/")),
            200
        );
        drop(idle);
    }

    fn server_with_per_client_cap(cap: usize) -> HttpServer {
        server(Limits {
            max_per_client: cap,
            ..Limits::default()
        })
    }

    /// Like [`status`], from a chosen local address.
    fn status_from(local: &str, address: SocketAddr, request: &[u8]) -> u16 {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let local: SocketAddr = format!("{local}:0").parse().unwrap();
        socket.bind(&local.into()).unwrap();
        socket.connect(&address.into()).unwrap();
        let mut stream: TcpStream = socket.into();
        stream.write_all(request).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }
}
