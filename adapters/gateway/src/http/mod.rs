//! The gateway's HTTP/1.1 layer: reading requests from untrusted bytes, writing responses,
//! and a bounded blocking server.

mod request;
mod response;
mod server;

pub use request::{Head, HttpError, MAX_HEADERS, Request, is_authority, parse_head};
pub use response::Response;
pub use server::{Handler, HttpServer, Limits};
