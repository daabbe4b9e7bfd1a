//! Koppeltaal's trace headers (TOP-KT-011) on every request this crate sends: `X-Request-Id`
//! a new UUIDv4 per request, `X-Correlation-Id` the id of the request that caused this one,
//! `X-Trace-Id` passed on unchanged along a chain.
//!
//! The [`HttpClient`](crate::http::HttpClient) sends a fresh `X-Request-Id` always, and the
//! other two from the [`TraceContext`] the calling thread is in: a module enters one for each
//! incoming request ([`TraceContext::enter`]), and every call its clients make while handling
//! it (keys fetched, a token introspected, a code exchanged, a FHIR request) carries them.
//!
//! ```
//! use koppeltaal_host::trace::TraceContext;
//! let incoming = TraceContext::new("5d0a1e34-0e0a-4d4e-8f6c-3b3c6a1f9b11", Some("trace-7"));
//! let seen = incoming.enter(|| TraceContext::current());
//! assert_eq!(seen, Some(incoming));
//! assert_eq!(TraceContext::current(), None, "left again");
//! ```

use std::cell::RefCell;

/// The ids a request passes on to the requests it causes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// Sent as `X-Correlation-Id`: the id of the request being handled.
    pub correlation_id: String,
    /// Sent as `X-Trace-Id`, when the incoming request had one (else the receiving server
    /// makes one).
    pub trace_id: Option<String>,
}

thread_local! {
    static CURRENT: RefCell<Option<TraceContext>> = const { RefCell::new(None) };
}

impl TraceContext {
    /// The context of a request whose id is `request_id`, on the trace `trace_id`.
    pub fn new(request_id: &str, trace_id: Option<&str>) -> TraceContext {
        TraceContext {
            correlation_id: request_id.to_owned(),
            trace_id: trace_id.map(str::to_owned),
        }
    }

    /// Runs `work` in this context: every request this thread sends meanwhile carries it.
    /// The context before is restored afterwards, also when `work` panics.
    pub fn enter<T>(&self, work: impl FnOnce() -> T) -> T {
        struct Restore(Option<TraceContext>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|current| *current.borrow_mut() = previous);
            }
        }
        let previous = CURRENT.with(|current| current.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        work()
    }

    /// The context this thread is in, if any.
    pub fn current() -> Option<TraceContext> {
        CURRENT.with(|current| current.borrow().clone())
    }

    /// The trace headers of one outgoing request: a new `X-Request-Id`, and this thread's
    /// `X-Correlation-Id` and `X-Trace-Id` when it is in a context.
    pub fn outgoing_headers() -> Vec<(&'static str, String)> {
        let mut headers = vec![("X-Request-Id", crate::random::new_jti())];
        if let Some(context) = TraceContext::current() {
            headers.push(("X-Correlation-Id", context.correlation_id));
            if let Some(trace) = context.trace_id {
                headers.push(("X-Trace-Id", trace));
            }
        }
        headers
    }
}
