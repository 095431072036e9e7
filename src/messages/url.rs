//! The few URL rules messages need: links and images must be absolute, and a link
//! may never run script or read local files when tapped.

/// Longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// Schemes that run code or open local content; refused for links and images.
const UNSAFE_SCHEMES: &[&str] = &["javascript", "vbscript", "data", "file", "blob", "about"];

/// The URL's scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`),
/// lower-cased, or `None` if it has none.
pub(crate) fn scheme(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_is_letter && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then(|| scheme.to_ascii_lowercase())
}

/// A button's target: absolute (scheme present, something after it), a safe scheme,
/// no whitespace or control characters. Web links need a host; app deep links
/// (`myshop://cart`) only need something after the scheme.
pub fn check_link(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err("must not be empty".into());
    }
    if url.len() > MAX_URL_BYTES {
        return Err(format!(
            "is {} bytes, over the {MAX_URL_BYTES}-byte limit",
            url.len()
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    let Some(scheme) = scheme(url) else {
        return Err(format!(
            "\"{url}\" is not absolute; start it with a scheme such as https:// or yourapp://"
        ));
    };
    if UNSAFE_SCHEMES.contains(&scheme.as_str()) {
        return Err(format!("the {scheme}: scheme is not allowed"));
    }
    let rest = &url[scheme.len() + 1..];
    if rest.is_empty() || rest == "//" {
        return Err(format!("\"{url}\" has nothing after the scheme"));
    }
    if is_web(&scheme) && !has_host(rest) {
        return Err(format!(
            "\"{url}\" needs a host, as in {scheme}://example.com/"
        ));
    }
    Ok(())
}

/// An image: an absolute `http` or `https` URL with a host, since that is all image
/// loaders on both platforms fetch.
pub(crate) fn check_image_url(url: &str) -> Result<(), String> {
    check_link(url)?;
    match scheme(url) {
        Some(s) if is_web(&s) => Ok(()),
        _ => Err("must be an http or https URL".into()),
    }
}

/// Whether a URL taken from user data (a product's page or image) may be put into a
/// message: it must pass [`check_link`].
pub(crate) fn is_safe_link(url: &str) -> bool {
    check_link(url).is_ok()
}

fn is_web(scheme: &str) -> bool {
    scheme == "http" || scheme == "https"
}

fn has_host(rest: &str) -> bool {
    rest.strip_prefix("//")
        .and_then(|r| r.split(['/', '?', '#']).next())
        .is_some_and(|host| !host.is_empty() && !host.starts_with('@') && !host.starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_web_links_and_app_deep_links() {
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
        }
    }

    #[test]
    fn refuses_relative_unsafe_and_malformed_links() {
        let cases = [
            ("", "must not be empty"),
            ("/cart", "is not absolute"),
            ("shop.example/cart", "is not absolute"),
            ("1shop://x", "is not absolute"),
            ("https://", "has nothing after the scheme"),
            ("myshop:", "has nothing after the scheme"),
            ("https:///path", "needs a host"),
            ("https:cart", "needs a host"),
            ("javascript:alert(1)", "javascript: scheme is not allowed"),
            ("JavaScript:alert(1)", "javascript: scheme is not allowed"),
            ("data:text/html,<b>", "data: scheme is not allowed"),
            ("file:///etc/passwd", "file: scheme is not allowed"),
            ("https://shop.example/a b", "spaces or control"),
            ("https://shop.example/\n", "spaces or control"),
        ];
        for (url, problem) in cases {
            let err = check_link(url).unwrap_err();
            assert!(err.contains(problem), "{url}: {err}");
        }
        let long = format!("https://x.example/{}", "a".repeat(MAX_URL_BYTES));
        assert!(check_link(&long).unwrap_err().contains("byte limit"));
    }

    #[test]
    fn images_must_be_fetched_over_http() {
        assert_eq!(check_image_url("https://cdn.example/a.png"), Ok(()));
        assert_eq!(
            check_image_url("myshop://a.png").unwrap_err(),
            "must be an http or https URL"
        );
        assert!(check_image_url("/a.png").is_err());
    }

    #[test]
    fn reads_schemes() {
        assert_eq!(scheme("HTTPS://x").as_deref(), Some("https"));
        assert_eq!(scheme("no-colon"), None);
        assert_eq!(scheme(":x"), None);
        assert!(is_safe_link("https://x.example"));
        assert!(!is_safe_link("javascript:x"));
    }
}
