//! The launch form a portal posts: `application/x-www-form-urlencoded` with one `token`.

use crate::error::HostError;

/// The largest launch form body read: a maximal token, percent-encoded, with room to spare.
pub const MAX_FORM_BODY: usize = 3 * 8192 + 1024;

/// The single `token` field of a launch form.
pub fn form_token(body: &[u8]) -> Result<String, HostError> {
    if body.len() > MAX_FORM_BODY {
        return Err(HostError::BadForm("body too large"));
    }
    let mut tokens = form_urlencoded::parse(body).filter(|(name, _)| name == "token");
    match (tokens.next(), tokens.next()) {
        (Some((_, token)), None) => Ok(token.into_owned()),
        (None, _) => Err(HostError::BadForm("no `token` field")),
        (Some(_), Some(_)) => Err(HostError::BadForm("more than one `token` field")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies() {
        assert_eq!(form_token(b"token=a.b.c").unwrap(), "a.b.c");
        assert_eq!(form_token(b"x=1&token=a%2Eb.c&y").unwrap(), "a.b.c");
        assert!(matches!(form_token(b"x=1"), Err(HostError::BadForm(_))));
        assert!(matches!(
            form_token(b"token=a&token=b"),
            Err(HostError::BadForm(_))
        ));
        assert!(matches!(
            form_token(&vec![b'a'; MAX_FORM_BODY + 1]),
            Err(HostError::BadForm(_))
        ));
        assert_eq!(form_token(b"token=").unwrap(), "");
        assert_eq!(form_token(b"token=%FF%FE").unwrap(), "\u{fffd}\u{fffd}");
    }
}
