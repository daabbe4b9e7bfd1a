//! Every status code as a named constant, so that C code never hard-codes a number: the
//! core's codes (1xx-8xx), the host's (9xx). Generated from the error tables by
//! `KOPPELTAAL_BLESS_HEADER=1 cargo test -p koppeltaal-ffi --test header`; a test checks it.

/// 100: token is longer than the configured maximum.
pub const KOPPELTAAL_TOKEN_TOO_LARGE: i32 = 100;
/// 101: token is not a compact JWS of three dot-separated segments.
pub const KOPPELTAAL_MALFORMED_TOKEN: i32 = 101;
/// 102: token is an encrypted (JWE) launch.
pub const KOPPELTAAL_ENCRYPTED_TOKEN: i32 = 102;
/// 103: a token segment is not canonical unpadded base64url.
pub const KOPPELTAAL_INVALID_BASE64: i32 = 103;
/// 104: token has no signature.
pub const KOPPELTAAL_MISSING_SIGNATURE: i32 = 104;
/// 105: the decrypted content is not a signed compact JWS.
pub const KOPPELTAAL_NOT_SIGNED_INSIDE: i32 = 105;
/// 200: header, payload or key set is not a well-formed JSON object.
pub const KOPPELTAAL_INVALID_JSON: i32 = 200;
/// 201: JSON nests too deeply.
pub const KOPPELTAAL_JSON_TOO_DEEP: i32 = 201;
/// 202: a member appears more than once.
pub const KOPPELTAAL_DUPLICATE_MEMBER: i32 = 202;
/// 203: a member has the wrong JSON type.
pub const KOPPELTAAL_INVALID_MEMBER_TYPE: i32 = 203;
/// 204: a time claim is not a whole, non-negative number of seconds.
pub const KOPPELTAAL_INVALID_NUMERIC_DATE: i32 = 204;
/// 205: a value is longer than this verifier accepts.
pub const KOPPELTAAL_VALUE_TOO_LONG: i32 = 205;
/// 206: an object has too many members.
pub const KOPPELTAAL_TOO_MANY_MEMBERS: i32 = 206;
/// 300: algorithm none or HMAC is never accepted for this token.
pub const KOPPELTAAL_FORBIDDEN_ALGORITHM: i32 = 300;
/// 301: algorithm is not supported.
pub const KOPPELTAAL_UNSUPPORTED_ALGORITHM: i32 = 301;
/// 302: algorithm is not allowed by the policy.
pub const KOPPELTAAL_ALGORITHM_NOT_ALLOWED: i32 = 302;
/// 303: header has no kid.
pub const KOPPELTAAL_MISSING_KEY_ID: i32 = 303;
/// 304: header carries its own key (jwk, jku, x5u or x5c).
pub const KOPPELTAAL_EMBEDDED_KEY: i32 = 304;
/// 305: header lists critical extensions (crit).
pub const KOPPELTAAL_UNSUPPORTED_CRITICAL: i32 = 305;
/// 306: header typ is not the expected type.
pub const KOPPELTAAL_UNEXPECTED_TYPE: i32 = 306;
/// 307: header has no alg.
pub const KOPPELTAAL_MISSING_ALGORITHM: i32 = 307;
/// 308: key management RSA1_5 or dir is never accepted.
pub const KOPPELTAAL_FORBIDDEN_KEY_MANAGEMENT: i32 = 308;
/// 309: key management algorithm is not supported.
pub const KOPPELTAAL_UNSUPPORTED_KEY_MANAGEMENT: i32 = 309;
/// 310: content encryption (enc) is missing or not supported.
pub const KOPPELTAAL_UNSUPPORTED_CONTENT_ENCRYPTION: i32 = 310;
/// 311: encrypted content is compressed (zip).
pub const KOPPELTAAL_COMPRESSED_CONTENT: i32 = 311;
/// 312: encrypted content is not a JWT (cty).
pub const KOPPELTAAL_UNEXPECTED_CONTENT_TYPE: i32 = 312;
/// 400: issuer is not trusted.
pub const KOPPELTAAL_WRONG_ISSUER: i32 = 400;
/// 401: no key of the issuer has this kid.
pub const KOPPELTAAL_UNKNOWN_KEY_ID: i32 = 401;
/// 402: the key with this kid may not verify this token.
pub const KOPPELTAAL_KEY_NOT_USABLE: i32 = 402;
/// 403: RSA key is smaller than 2048 bits.
pub const KOPPELTAAL_KEY_TOO_SMALL: i32 = 403;
/// 404: RSA key is larger than 4096 bits.
pub const KOPPELTAAL_KEY_TOO_LARGE: i32 = 404;
/// 405: key parameters are malformed.
pub const KOPPELTAAL_INVALID_KEY: i32 = 405;
/// 406: signature has the wrong length.
pub const KOPPELTAAL_INVALID_SIGNATURE_LENGTH: i32 = 406;
/// 407: signature value is out of range for the key.
pub const KOPPELTAAL_SIGNATURE_OUT_OF_RANGE: i32 = 407;
/// 408: signature does not verify.
pub const KOPPELTAAL_BAD_SIGNATURE: i32 = 408;
/// 409: no decryption key fits this token.
pub const KOPPELTAAL_UNKNOWN_DECRYPTION_KEY: i32 = 409;
/// 410: the token could not be decrypted.
pub const KOPPELTAAL_DECRYPTION_FAILED: i32 = 410;
/// 500: a required claim is missing.
pub const KOPPELTAAL_MISSING_CLAIM: i32 = 500;
/// 501: a required claim is empty.
pub const KOPPELTAAL_EMPTY_CLAIM: i32 = 501;
/// 502: token is meant for another audience.
pub const KOPPELTAAL_WRONG_AUDIENCE: i32 = 502;
/// 503: token has expired.
pub const KOPPELTAAL_EXPIRED: i32 = 503;
/// 504: token is not valid yet (nbf).
pub const KOPPELTAAL_NOT_YET_VALID: i32 = 504;
/// 505: token was issued in the future (iat).
pub const KOPPELTAAL_ISSUED_IN_FUTURE: i32 = 505;
/// 506: token lifetime exceeds the maximum.
pub const KOPPELTAAL_LIFETIME_TOO_LONG: i32 = 506;
/// 507: exp is not after iat.
pub const KOPPELTAAL_EXPIRES_BEFORE_ISSUED: i32 = 507;
/// 508: sub or patient is not a FHIR person reference.
pub const KOPPELTAAL_BAD_PERSON_REFERENCE: i32 = 508;
/// 509: intent is not a FHIR RequestIntent code.
pub const KOPPELTAAL_INVALID_INTENT: i32 = 509;
/// 510: the id_token was issued to another client (azp).
pub const KOPPELTAAL_WRONG_AUTHORIZED_PARTY: i32 = 510;
/// 511: the id_token's nonce is not the one sent.
pub const KOPPELTAAL_NONCE_MISMATCH: i32 = 511;
/// 600: token has been used before.
pub const KOPPELTAAL_REPLAYED: i32 = 600;
/// 601: replay guard is full of unexpired tokens.
pub const KOPPELTAAL_REPLAY_STORE_FULL: i32 = 601;
/// 602: token's replay-protection window has closed.
pub const KOPPELTAAL_REPLAY_WINDOW_CLOSED: i32 = 602;
/// 700: document is not a JWKS.
pub const KOPPELTAAL_INVALID_KEY_SET: i32 = 700;
/// 701: key set has more keys than its capacity.
pub const KOPPELTAAL_TOO_MANY_KEYS: i32 = 701;
/// 702: configuration value is out of range.
pub const KOPPELTAAL_INVALID_CONFIGURATION: i32 = 702;
/// 801: output could not be written.
pub const KOPPELTAAL_WRITE_FAILED: i32 = 801;
/// 802: the signer failed to sign.
pub const KOPPELTAAL_SIGNING_FAILED: i32 = 802;
/// 900: refusing plain http to a host that is not loopback.
pub const KOPPELTAAL_INSECURE_URL: i32 = 900;
/// 901: not a usable URL.
pub const KOPPELTAAL_INVALID_URL: i32 = 901;
/// 902: could not connect.
pub const KOPPELTAAL_UNREACHABLE: i32 = 902;
/// 903: no answer in time.
pub const KOPPELTAAL_TIMEOUT: i32 = 903;
/// 904: too many redirects.
pub const KOPPELTAAL_TOO_MANY_REDIRECTS: i32 = 904;
/// 905: response larger than the configured cap.
pub const KOPPELTAAL_RESPONSE_TOO_LARGE: i32 = 905;
/// 906: unexpected HTTP status.
pub const KOPPELTAAL_STATUS: i32 = 906;
/// 907: unexpected response.
pub const KOPPELTAAL_INVALID_RESPONSE: i32 = 907;
/// 908: the authorization server refused the request.
pub const KOPPELTAAL_O_AUTH: i32 = 908;
/// 909: a key could not be read, parsed, generated or written.
pub const KOPPELTAAL_KEY: i32 = 909;
/// 910: input/output failure.
pub const KOPPELTAAL_IO: i32 = 910;
/// 911: the token is not active.
pub const KOPPELTAAL_INACTIVE: i32 = 911;
/// 912: the launch form is malformed.
pub const KOPPELTAAL_BAD_FORM: i32 = 912;
/// 913: replay store unavailable.
pub const KOPPELTAAL_REPLAY_STORE_UNAVAILABLE: i32 = 913;
/// 914: the server refused the request.
pub const KOPPELTAAL_REFUSED: i32 = 914;
/// 915: the launch names a FHIR server that is not trusted.
pub const KOPPELTAAL_UNKNOWN_FHIR_SERVER: i32 = 915;
/// 916: the launch's state is unknown, used or expired.
pub const KOPPELTAAL_UNKNOWN_STATE: i32 = 916;
/// 917: too many launches are in progress.
pub const KOPPELTAAL_TOO_MANY_PENDING_LAUNCHES: i32 = 917;
/// 918: too many expensive requests from this client.
pub const KOPPELTAAL_THROTTLED: i32 = 918;
/// 919: the audit outbox is full.
pub const KOPPELTAAL_OUTBOX_FULL: i32 = 919;
/// 920: the audit event is larger than the outbox keeps.
pub const KOPPELTAAL_AUDIT_EVENT_TOO_LARGE: i32 = 920;
