//! Deep links and route patterns: the app's routes and allowed hosts
//! (`setDeepLinkRoutes`) and the links routed through them (`openDeepLink`, pushes).
//!
//! The input is text, one entry a line (links and patterns hold no whitespace):
//! `@HOST` adds an allowed host, `>NAME PATTERN` a route, `=VALUE` sets the value
//! placeholders are filled with, and any other line is a link to route.
//!
//! Checked: the router is built or refused with a typed error; a routed link names a
//! registered route and keeps its URL, a refusal agrees with the link's parser; and
//! every accepted pattern matches the link made by filling its placeholders with
//! (percent-encoded) values, which come back decoded.

use beckon::push::{DeepLinkError, DeepLinkRoute, DeepLinkRouter, LinkUrl};
use beckon::text::url::MAX_URL_BYTES as MAX_LINK_BYTES;

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut hosts = Vec::new();
    let mut routes = Vec::new();
    let mut links = Vec::new();
    let mut value = "a b?c#d%e&f=g+ü".to_owned();
    for line in text.split('\n') {
        if let Some(host) = line.strip_prefix('@') {
            hosts.push(host.to_owned());
        } else if let Some(route) = line.strip_prefix('>') {
            let (name, pattern) = route.split_once(' ').unwrap_or((route, ""));
            routes.push(DeepLinkRoute::new(name, pattern));
        } else if let Some(v) = line.strip_prefix('=') {
            if !v.is_empty() && !v.chars().any(char::is_control) {
                value = v.to_owned();
            }
        } else {
            links.push(line.to_owned());
        }
    }
    let router = match DeepLinkRouter::new(&routes, &hosts) {
        Ok(router) => router,
        Err(err) => {
            assert!(!err.field.is_empty(), "{err}");
            // Refused: try the links against the hosts alone, and against no routes.
            let empty = DeepLinkRouter::new(&[], &[]).expect("no routes is a valid router");
            for link in &links {
                assert_eq!(empty.route(link).unwrap_err(), DeepLinkError::NoRoutes);
            }
            return;
        }
    };
    for link in &links {
        route(&router, &routes, link);
    }
    for (i, r) in routes.iter().enumerate() {
        let (link, expected) = fill(&r.pattern, &value);
        if link.len() > MAX_LINK_BYTES {
            continue;
        }
        let routed = match router.route(&link) {
            Ok(routed) => routed,
            // A path parameter that decodes to something leaving its segment (`/`, `..`)
            // is refused by design, naming the parameter.
            Err(DeepLinkError::UnsafeParameter { name, .. }) => {
                assert!(expected.iter().any(|(n, _)| *n == name), "{name}");
                continue;
            }
            Err(e) => panic!(
                "routes[{i}] {:?} does not match its own link {link:?}: {e}",
                r.pattern
            ),
        };
        if routed.route == r.name {
            for (name, value) in expected {
                assert_eq!(
                    routed.params.get(&name),
                    Some(&value),
                    "routes[{i}] {:?} → {link:?}: {:?}",
                    r.pattern,
                    routed.params
                );
            }
        }
    }
}

fn route(router: &DeepLinkRouter, routes: &[DeepLinkRoute], link: &str) {
    let parsed = LinkUrl::parse(link);
    match router.route(link) {
        Ok(routed) => {
            assert!(parsed.is_ok(), "{link:?} routed but does not parse");
            assert!(routes.iter().any(|r| r.name == routed.route));
            assert_eq!(routed.url, link);
            // UTM parameters of the query are attribution; each appears once.
            let utm: Vec<_> = routed.utm.pairs().map(|(key, _)| key).collect();
            let mut unique = utm.clone();
            unique.dedup();
            assert_eq!(utm, unique);
        }
        Err(DeepLinkError::Malformed { problem, .. }) => {
            assert_eq!(parsed.err().as_deref(), Some(problem.as_str()));
        }
        Err(DeepLinkError::NoRoutes) => assert!(routes.is_empty()),
        Err(err) => {
            assert!(parsed.is_ok(), "{link:?}: {err}");
            let _ = err.to_string();
        }
    }
}

/// The link a pattern stands for once its placeholders are filled: `{name}` with
/// `value` (escaped whole), `{*name}` with two segments. Returns the parameters the
/// match must give back.
fn fill(pattern: &str, value: &str) -> (String, Vec<(String, String)>) {
    let mut expected = Vec::new();
    let pieces: Vec<String> = pattern
        .split('/')
        .map(
            |piece| match piece.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(inner) => match inner.strip_prefix('*') {
                    Some(name) => {
                        expected.push((name.to_owned(), format!("{value}/{value}")));
                        format!("{}/{}", escape(value), escape(value))
                    }
                    None => {
                        expected.push((inner.to_owned(), value.to_owned()));
                        escape(value)
                    }
                },
                None => piece.to_owned(),
            },
        )
        .collect();
    (pieces.join("/"), expected)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn escape(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
