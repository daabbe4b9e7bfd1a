//! The gateway's HTTP request reader on arbitrary bytes: never panics, and a head it accepts
//! keeps its bounds (within the head cap, a body within the body cap, a valid Host); the
//! client resolution over its headers, as a trusted proxy's, never panics either.
#![no_main]

use koppeltaal_gateway::http::{is_authority, parse_head};
use koppeltaal_gateway::TrustedProxies;
use libfuzzer_sys::fuzz_target;

const MAX_HEAD: usize = 8 * 1024;
const MAX_BODY: usize = 16 * 1024;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(Some(head)) = parse_head(bytes, MAX_HEAD, MAX_BODY) {
        assert!(head.len <= bytes.len() && head.len <= MAX_HEAD);
        assert!(head.content_length <= MAX_BODY);
        if let Some((_, host)) = head.headers.iter().find(|(name, _)| name == "host") {
            assert!(is_authority(host));
        }
        let proxies = TrustedProxies::new(vec!["127.0.0.0/8".parse().unwrap()]);
        let _ = proxies.client("127.0.0.1".parse().unwrap(), &head.headers);
    }
});
