//! Strong entity tags from content, and `If-None-Match` (RFC 9110 §13.1.2).

use axum::http::header::IF_NONE_MATCH;
use axum::http::HeaderMap;

/// A strong ETag for exactly these bytes: the 128-bit FNV-1a hash, quoted.
///
/// FNV-1a is not cryptographic, which is fine here: only the admin writes the content,
/// and 128 bits make an accidental collision between two versions implausible. It is
/// defined byte by byte, so the tag never changes across builds, platforms or restarts.
pub fn strong_etag(content: &[u8]) -> String {
    format!("\"{:032x}\"", fnv1a_128(content))
}

fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET_BASIS: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u128::from(byte)).wrapping_mul(PRIME)
    })
}

/// Whether the request's `If-None-Match` names `etag` (or is `*`), so the client's copy
/// is current. Uses the weak comparison the RFC prescribes for this header: `W/"x"`
/// matches `"x"`. Every `If-None-Match` header line is read.
pub fn client_has(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn fnv1a_128_matches_the_published_test_vectors() {
        assert_eq!(fnv1a_128(b""), 0x6c62272e07bb014262b821756295c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228cb696f1a8caf78912b704e4a8964);
        assert_eq!(fnv1a_128(b"foobar"), 0x343e1662793c64bf6f0d3597ba446f18);
    }

    #[test]
    fn etags_are_quoted_and_differ_with_the_content() {
        let tag = strong_etag(b"{}");
        assert_eq!(tag.len(), 34);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_eq!(tag, strong_etag(b"{}"));
        assert_ne!(tag, strong_etag(b"{ }"));
    }

    #[test]
    fn if_none_match_lists_stars_and_weak_tags() {
        let etag = "\"abc\"";
        let with = |values: &[&'static str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(IF_NONE_MATCH, HeaderValue::from_static(value));
            }
            client_has(&headers, etag)
        };
        assert!(!with(&[]));
        assert!(with(&["\"abc\""]));
        assert!(with(&["W/\"abc\""]));
        assert!(with(&["\"x\", \"abc\""]));
        assert!(with(&["\"x\"", "\"abc\""]));
        assert!(with(&["*"]));
        assert!(!with(&["\"abcd\""]));
        assert!(!with(&["abc"]));
        assert!(!with(&["\"ABC\""]));
    }
}
