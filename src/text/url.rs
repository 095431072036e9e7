//! Links from outside: reading one into scheme, host, path segments and query
//! parameters, with percent-decoding, and the safety rules every link must pass,
//! whether it is routed to a screen (a push's deep link, a link the OS opened the app
//! with), shown as a button or an image in a message, or put into a message from
//! product data. One reading for all of them, so a link one part accepts is never
//! read differently by another. No normalisation, no IDNA: anything odd is refused
//! rather than guessed at.

use super::quote;

/// Longest link accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// Schemes that run code or open local content; never accepted.
const UNSAFE_SCHEMES: &[&str] = &["javascript", "vbscript", "data", "file", "blob", "about"];

/// Characters RFC 3986 never allows unescaped and that only appear in forged links.
const FORBIDDEN: &[char] = &['"', '<', '>', '\\', '`'];

/// A link, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUrl {
    /// Lower-cased.
    pub scheme: String,
    /// The host of an `http`/`https` link, lower-cased, without port or trailing dot;
    /// an IPv6 literal in brackets, in its canonical form (`[2001:db8::1]`). Custom
    /// schemes have none: in `shop://product/42`, `product` is the first path
    /// segment, as apps read it.
    pub host: Option<String>,
    /// Path segments, percent-decoded (`%2F` stays inside its segment: whoever takes
    /// one as a value checks it with [`check_path_value`]). A trailing slash adds no
    /// segment.
    pub segments: Vec<String>,
    /// Query parameters in order, percent-decoded, `+` read as a space.
    pub query: Vec<(String, String)>,
}

/// A link split at its delimiters, before decoding (shared with route patterns).
pub(crate) struct RawLink<'a> {
    pub scheme: String,
    pub host: Option<String>,
    pub segments: Vec<&'a str>,
    pub query: Option<&'a str>,
    pub fragment: bool,
}

impl LinkUrl {
    /// Reads `text`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<LinkUrl, String> {
        let raw = split(text)?;
        let segments = raw
            .segments
            .iter()
            .map(|s| decode(s, false))
            .collect::<Result<_, _>>()?;
        let mut query = Vec::new();
        for pair in raw.query.unwrap_or_default().split('&') {
            if pair.is_empty() {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key, true)?;
            if !key.is_empty() {
                query.push((key, decode(value, true)?));
            }
        }
        Ok(LinkUrl {
            scheme: raw.scheme,
            host: raw.host,
            segments,
            query,
        })
    }

    pub fn is_web(&self) -> bool {
        is_web(&self.scheme)
    }
}

fn is_web(scheme: &str) -> bool {
    scheme == "http" || scheme == "https"
}

/// A link a message may carry (a button's target, a product's page): one that
/// [`LinkUrl::parse`] reads. Web links need a host; app deep links (`myshop://cart`,
/// `mailto:help@shop.example`) only need something after the scheme.
pub fn check_link(url: &str) -> Result<(), String> {
    LinkUrl::parse(url).map(|_| ())
}

/// An image: an absolute `http` or `https` URL with a host, since that is all image
/// loaders on both platforms fetch.
pub fn check_image_url(url: &str) -> Result<(), String> {
    if LinkUrl::parse(url)?.is_web() {
        Ok(())
    } else {
        Err("must be an http or https URL".into())
    }
}

/// Whether a URL taken from user data (a product's page or image) may be put into a
/// message: it must pass [`check_link`].
pub fn is_safe_link(url: &str) -> bool {
    check_link(url).is_ok()
}

/// Splits a link into its parts, checking characters, scheme and host.
pub(crate) fn split(text: &str) -> Result<RawLink<'_>, String> {
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    if text.len() > MAX_URL_BYTES {
        return Err(format!(
            "is {} bytes, over the {MAX_URL_BYTES}-byte limit",
            text.len()
        ));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || FORBIDDEN.contains(c))
    {
        return Err(format!("must not contain {bad:?}; percent-encode it"));
    }
    let scheme = scheme(text).ok_or_else(|| {
        format!(
            "{} is not absolute; start it with a scheme such as https:// or yourapp://",
            quote(text)
        )
    })?;
    if UNSAFE_SCHEMES.contains(&scheme.as_str()) {
        return Err(format!("the {scheme}: scheme is not allowed"));
    }
    let rest = &text[scheme.len() + 1..];
    if rest.is_empty() || rest == "//" {
        return Err(format!("{} has nothing after the scheme", quote(text)));
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((before, _)) => (before, true),
        None => (rest, false),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let (host, path) = if is_web(&scheme) {
        let after = rest
            .strip_prefix("//")
            .ok_or_else(|| format!("needs a host, as in {scheme}://shop.example/"))?;
        let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
        (Some(host_of(authority)?), path)
    } else {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.trim_matches('/').is_empty() && query.is_none() {
            return Err(format!("{} has nothing after the scheme", quote(text)));
        }
        (None, path)
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut segments: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    };
    if segments.last() == Some(&"") {
        segments.pop();
    }
    Ok(RawLink {
        scheme,
        host,
        segments,
        query,
        fragment,
    })
}

/// The scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`), lower-cased.
fn scheme(text: &str) -> Option<String> {
    let (scheme, _) = text.split_once(':')?;
    let mut chars = scheme.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_is_letter && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then(|| scheme.to_ascii_lowercase())
}

/// The host of an authority, as [`host`] gives it, after checking the port.
fn host_of(authority: &str) -> Result<String, String> {
    if authority.contains('@') {
        // `https://shop.example@evil.example/` goes to evil.example.
        return Err("must not carry a user name or password".into());
    }
    // An IPv6 literal holds colons of its own: the port comes after its bracket.
    let port_from = match authority.starts_with('[') {
        true => authority.find(']').map_or(authority.len(), |end| end + 1),
        false => authority.rfind(':').unwrap_or(authority.len()),
    };
    let (host_text, port) = authority.split_at(port_from);
    if let Some(port) = port.strip_prefix(':') {
        check_port(authority, port)?;
    } else if !port.is_empty() {
        return Err(format!("{} has a malformed port", quote(authority)));
    }
    host(host_text)
}

/// A port: digits only (so no sign or space), 1 to 65535. Port 0 means "any port" to
/// a socket, never a server a link can reach.
fn check_port(authority: &str, port: &str) -> Result<(), String> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{} has a malformed port", quote(authority)));
    }
    match port.parse::<u16>() {
        Ok(1..) => Ok(()),
        _ => Err(format!(
            "{} has port {}, outside 1 to 65535",
            quote(authority),
            super::clip(port)
        )),
    }
}

/// A host as links and allowed-host lists name it: a DNS name, lower-cased and
/// without its trailing dot, or an IPv6 literal in brackets, in canonical form so that
/// `[0:0::1]` and `[::1]` are the same host. Either then goes through the same rules
/// (an app's allowed hosts), whatever its spelling.
pub(crate) fn host(text: &str) -> Result<String, String> {
    if let Some(inside) = text.strip_prefix('[') {
        let address = inside
            .strip_suffix(']')
            .and_then(|address| address.parse::<std::net::Ipv6Addr>().ok())
            .ok_or_else(|| {
                format!(
                    "{} is not an IPv6 address in brackets, such as [2001:db8::1]",
                    quote(text)
                )
            })?;
        return Ok(format!("[{address}]"));
    }
    let host = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    check_host_name(&host)?;
    Ok(host)
}

/// A DNS name: labels of letters, digits and `-`, separated by dots.
pub(crate) fn check_host_name(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("has no host".into());
    }
    let valid = host.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if valid {
        Ok(())
    } else {
        Err(format!("{} is not a host name", quote(host)))
    }
}

/// Percent-decodes `text` (and reads `+` as a space in query strings). Refuses broken
/// escapes, bytes that are not UTF-8 and decoded control characters, which no route
/// parameter should ever hold.
pub(crate) fn decode(text: &str, plus_is_space: bool) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                // Two hex digits: `from_str_radix` alone would also take `+1`.
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(byte) = hex else {
                    let escape: String = text[i..].chars().take(3).collect();
                    return Err(format!("{} is not a valid percent escape", quote(&escape)));
                };
                out.push(byte);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    let decoded = String::from_utf8(out)
        .map_err(|_| format!("{} decodes to bytes that are not UTF-8", quote(text)))?;
    if decoded.chars().any(char::is_control) {
        return Err(format!("{} decodes to a control character", quote(text)));
    }
    Ok(decoded)
}

/// Characters that Unicode compatibility normalisation (NFKC, which some file and
/// URL APIs apply) turns into a dot, a run of dots, a slash or a backslash: a value
/// holding them may become a separator or a dot segment further down the app.
const LOOKALIKES: &[(char, &str)] = &[
    ('\u{2024}', "."),   // one dot leader
    ('\u{2025}', ".."),  // two dot leader
    ('\u{2026}', "..."), // horizontal ellipsis
    ('\u{FE52}', "."),   // small full stop
    ('\u{FF0E}', "."),   // fullwidth full stop
    ('\u{FF0F}', "/"),   // fullwidth solidus
    ('\u{FE68}', "\\"),  // small reverse solidus
    ('\u{FF3C}', "\\"),  // fullwidth reverse solidus
];

/// Whether a decoded path segment may stand for a value on its own (a route
/// parameter the app may put into a path or a file name): it must not hold a path
/// separator (`/`, `\`), be a dot segment (`.`, `..`) that climbs the path, nor turn
/// into either once lookalike characters are normalised or the value is
/// percent-decoded a second time (`%252e%252e`). The error says which, with the value.
pub fn check_path_value(value: &str) -> Result<(), String> {
    let problem = |value: &str| -> Option<&'static str> {
        let mut folded = String::with_capacity(value.len());
        for c in value.chars() {
            match LOOKALIKES.iter().find(|(lookalike, _)| *lookalike == c) {
                Some((_, ascii)) => folded.push_str(ascii),
                None => folded.push(c),
            }
        }
        if folded.contains(['/', '\\']) {
            Some("holds a path separator, and a parameter is one path segment")
        } else if folded == "." || folded == ".." {
            Some("is a dot segment, which would climb the path")
        } else {
            None
        }
    };
    if let Some(problem) = problem(value) {
        return Err(format!("decodes to {}, which {problem}", quote(value)));
    }
    // Whatever decodes it again (a web view, a router of the app's own) must not get
    // a separator or a dot segment out of it either.
    if let Ok(again) = decode(value, false) {
        if let Some(problem) = problem(&again) {
            return Err(format!(
                "decodes to {}, which decoded again {problem}",
                quote(value)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> LinkUrl {
        LinkUrl::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn reads_custom_scheme_links_as_paths() {
        let link = parse("Shop://product/42/?color=dark%20blue&size=M+L#reviews");
        assert_eq!(link.scheme, "shop");
        assert_eq!(link.host, None);
        assert_eq!(link.segments, ["product", "42"]);
        assert_eq!(
            link.query,
            [
                ("color".to_string(), "dark blue".to_string()),
                ("size".to_string(), "M L".to_string())
            ]
        );
        assert_eq!(parse("shop:cart").segments, ["cart"]);
        assert_eq!(parse("shop:///cart").segments, ["cart"]);
    }

    #[test]
    fn reads_web_links_with_host_port_and_decoded_segments() {
        let link = parse("HTTPS://Shop.Example.:8443/p/caf%C3%A9%2Fnoir?utm_source=push");
        assert_eq!(link.scheme, "https");
        assert_eq!(link.host.as_deref(), Some("shop.example"));
        assert_eq!(link.segments, ["p", "café/noir"]);
        assert!(link.is_web());
        assert_eq!(parse("https://shop.example").segments, Vec::<String>::new());
        assert_eq!(
            parse("https://shop.example/").segments,
            Vec::<String>::new()
        );
        assert_eq!(parse("https://shop.example/a//b").segments, ["a", "", "b"]);
    }

    #[test]
    fn refuses_broken_unsafe_and_forged_links() {
        let cases = [
            ("", "must not be empty"),
            ("/product/42", "is not absolute"),
            ("1shop://x", "is not absolute"),
            ("shop://", "nothing after the scheme"),
            ("shop:", "nothing after the scheme"),
            ("javascript:alert(1)", "javascript: scheme is not allowed"),
            ("FILE:///etc/passwd", "file: scheme is not allowed"),
            ("https:shop.example/p", "needs a host"),
            ("https:///p", "has no host"),
            (
                "https://shop.example@evil.example/",
                "user name or password",
            ),
            ("https://shop.example:80a/", "malformed port"),
            ("https://shop.example:/", "malformed port"),
            ("https://shop.example:+80/", "malformed port"),
            (
                "https://shop.example:99999/p/1",
                "port 99999, outside 1 to 65535",
            ),
            (
                "https://shop.example:65536/",
                "port 65536, outside 1 to 65535",
            ),
            ("https://shop.example:0/", "port 0, outside 1 to 65535"),
            (
                "https://shop.example:00000/",
                "port 00000, outside 1 to 65535",
            ),
            (
                "https://shop.example:123456789012345678901234567890/",
                "outside 1 to 65535",
            ),
            ("https://shop.example:80:80/", "is not a host name"),
            ("https://[::1/p", "not an IPv6 address"),
            ("https://[::1]x/p", "malformed port"),
            ("https://[::1]:/p", "malformed port"),
            ("https://[::1]:0/p", "outside 1 to 65535"),
            ("https://[::1]:70000/p", "outside 1 to 65535"),
            ("https://[:::1]/p", "not an IPv6 address"),
            ("https://[fe80::1%25eth0]/p", "not an IPv6 address"),
            ("https://[v1.shop]/p", "not an IPv6 address"),
            ("https://[127.0.0.1]/p", "not an IPv6 address"),
            ("https://[]/p", "not an IPv6 address"),
            ("https://::1/p", "is not a host name"),
            ("https://user@[::1]/p", "user name or password"),
            ("shop://product/%+1", "not a valid percent escape"),
            ("https://shop_example/", "is not a host name"),
            ("https://-shop.example/", "is not a host name"),
            ("https://shop..example/", "is not a host name"),
            ("shop://product/4 2", "must not contain ' '"),
            ("shop://product/\"42\"", "must not contain '\"'"),
            ("shop://product/4\n2", "must not contain '\\n'"),
            ("shop://product/%4", "\"%4\" is not a valid percent escape"),
            (
                "shop://product/%zz",
                "\"%zz\" is not a valid percent escape",
            ),
            ("shop://product/%FF", "not UTF-8"),
            ("shop://product/%0A", "control character"),
            ("shop://x?q=%00", "control character"),
        ];
        for (text, problem) in cases {
            let err = LinkUrl::parse(text).unwrap_err();
            assert!(err.contains(problem), "{text:?}: {err}");
        }
        let long = format!("shop://p/{}", "a".repeat(MAX_URL_BYTES));
        assert!(LinkUrl::parse(&long).unwrap_err().contains("byte limit"));
    }

    #[test]
    fn ports_from_1_to_65535_are_accepted_and_not_part_of_the_host() {
        for (url, host) in [
            ("https://shop.example:1/p", "shop.example"),
            ("https://shop.example:65535/p", "shop.example"),
            ("https://shop.example:08080/p", "shop.example"),
            ("http://127.0.0.1:8080/p", "127.0.0.1"),
        ] {
            assert_eq!(parse(url).host.as_deref(), Some(host), "{url}");
        }
    }

    #[test]
    fn ipv6_literal_hosts_are_read_in_canonical_form() {
        for (url, host) in [
            ("https://[::1]/p/1", "[::1]"),
            ("https://[::1]:8443/p/1", "[::1]"),
            ("https://[0:0:0:0:0:0:0:1]/", "[::1]"),
            ("https://[2001:DB8::A]/", "[2001:db8::a]"),
            ("https://[::ffff:192.0.2.1]/", "[::ffff:192.0.2.1]"),
        ] {
            let link = parse(url);
            assert_eq!(link.host.as_deref(), Some(host), "{url}");
        }
        assert_eq!(parse("https://[::1]/p/1").segments, ["p", "1"]);
        assert_eq!(check_link("https://[::1]/p/1"), Ok(()));
        assert_eq!(check_image_url("https://[2001:db8::1]:8443/a.png"), Ok(()));
    }

    #[test]
    fn path_values_must_not_hold_separators_or_be_dot_segments() {
        for ok in [
            "42", "café", "...", "..x", "x..", "a.b", "50%off", "%", "100%25", " ",
        ] {
            assert_eq!(check_path_value(ok), Ok(()), "{ok}");
        }
        for (bad, problem) in [
            ("a/b", "path separator"),
            ("../..", "path separator"),
            ("a\\b", "path separator"),
            (".", "dot segment"),
            ("..", "dot segment"),
            ("\u{FF0E}\u{FF0E}", "dot segment"),
            ("\u{2025}", "dot segment"),
            (".\u{2024}", "dot segment"),
            ("\u{FE52}", "dot segment"),
            ("a\u{FF0F}b", "path separator"),
            ("a\u{FF3C}b", "path separator"),
            ("a\u{FE68}b", "path separator"),
            ("%2e%2e", "decoded again is a dot segment"),
            ("%2E", "decoded again is a dot segment"),
            ("a%2fb", "decoded again holds a path separator"),
            ("a%5Cb", "decoded again holds a path separator"),
        ] {
            let err = check_path_value(bad).unwrap_err();
            assert!(err.contains(problem), "{bad:?}: {err}");
        }
        let long = format!("{}/", "x".repeat(10_000));
        assert!(check_path_value(&long).unwrap_err().len() < 200);
    }

    #[test]
    fn query_pairs_without_value_or_key_are_handled() {
        let link = parse("shop://search?q&=x&&a=1=2");
        assert_eq!(
            link.query,
            [
                ("q".to_string(), String::new()),
                ("a".to_string(), "1=2".to_string())
            ]
        );
    }

    #[test]
    fn messages_take_web_links_app_deep_links_and_mail_links() {
        for url in [
            "https://shop.example/cart",
            "http://shop.example",
            "HTTPS://Shop.Example/a?b=c#d",
            "myshop://cart",
            "myshop:cart",
            "my-shop+x.y://product/42",
            "mailto:help@shop.example",
        ] {
            assert_eq!(check_link(url), Ok(()), "{url}");
            assert!(is_safe_link(url), "{url}");
        }
    }

    #[test]
    fn messages_refuse_what_routing_refuses() {
        for url in [
            "/cart",
            "https://",
            "https:///path",
            "https:cart",
            "JavaScript:alert(1)",
            "https://shop.example@evil.example/",
            "https://shop.example/a b",
            "https://shop.example/<script>",
            "myshop://p/%zz",
        ] {
            assert_eq!(check_link(url), LinkUrl::parse(url).map(|_| ()), "{url}");
            assert!(check_link(url).is_err(), "{url}");
            assert!(!is_safe_link(url), "{url}");
        }
    }

    #[test]
    fn images_must_be_fetched_over_http() {
        assert_eq!(check_image_url("https://cdn.example/a.png"), Ok(()));
        assert_eq!(
            check_image_url("myshop://a.png").unwrap_err(),
            "must be an http or https URL"
        );
        assert!(check_image_url("/a.png")
            .unwrap_err()
            .contains("is not absolute"));
        assert!(check_image_url("data:image/png;base64,AAAA")
            .unwrap_err()
            .contains("data: scheme is not allowed"));
    }
}
