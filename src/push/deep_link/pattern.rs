//! Route patterns: `shop://product/{id}`, `https://shop.example/p/{id}`, `shop://cart`,
//! `https://shop.example/help/{*page}`.
//!
//! A placeholder `{name}` fills one whole path segment and matches any non-empty
//! value; `{*name}` may end a pattern and takes the rest of the path (possibly
//! nothing), joined with `/`. Literal segments match exactly after percent-decoding.
//! Patterns carry no query or fragment: every query parameter of a link comes with
//! the match.
//!
//! A placeholder's value is decoded, so it must not smuggle in what the path's own
//! separators would refuse: a value holding `/` (`%2F`), being `..` (`%2e%2e`) and
//! the like makes the match unsafe, and the link is refused naming the placeholder.

use std::collections::{BTreeMap, HashSet};

use crate::text::url::{check_path_value, decode, split, LinkUrl};
use crate::text::{clip, quote};

/// A parsed route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoutePattern {
    pub scheme: String,
    pub host: Option<String>,
    segments: Vec<Segment>,
}

/// A placeholder whose value a link would make unsafe, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnsafeValue {
    pub name: String,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Rest(String),
}

impl RoutePattern {
    /// Reads a pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<RoutePattern, String> {
        let raw = split(text)?;
        if raw.query.is_some() || raw.fragment {
            return Err(
                "has a query or fragment; a pattern matches the path, and a link's query parameters come with every match"
                    .into(),
            );
        }
        let mut names = HashSet::new();
        let mut segments = Vec::with_capacity(raw.segments.len());
        let last = raw.segments.len().saturating_sub(1);
        for (i, text) in raw.segments.iter().enumerate() {
            let segment = match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(inner) => {
                    let (rest, name) = match inner.strip_prefix('*') {
                        Some(name) => (true, name),
                        None => (false, inner),
                    };
                    check_name(name, text)?;
                    if !names.insert(name.to_owned()) {
                        return Err(format!("uses the placeholder {{{}}} twice", clip(name)));
                    }
                    if rest && i != last {
                        return Err(format!(
                            "{} takes the rest of the path, so it must be the last segment",
                            clip(text)
                        ));
                    }
                    if rest {
                        Segment::Rest(name.to_owned())
                    } else {
                        Segment::Param(name.to_owned())
                    }
                }
                None if text.contains(['{', '}']) => {
                    return Err(format!(
                    "segment {} mixes text and a placeholder; a placeholder fills a whole segment",
                    quote(text)
                ))
                }
                None => {
                    let literal = decode(text, false)?;
                    if literal == "." || literal == ".." {
                        return Err(format!(
                            "segment {} is a dot segment; write the path it stands for",
                            quote(text)
                        ));
                    }
                    Segment::Literal(literal)
                }
            };
            segments.push(segment);
        }
        Ok(RoutePattern {
            scheme: raw.scheme,
            host: raw.host,
            segments,
        })
    }

    /// Whether both patterns match exactly the same links (placeholder names aside).
    pub fn same_links_as(&self, other: &RoutePattern) -> bool {
        self.scheme == other.scheme
            && self.host == other.host
            && self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_))
                    | (Segment::Rest(_), Segment::Rest(_)) => true,
                    _ => false,
                })
    }

    /// The path parameters if `link` matches, or the placeholder it matches with an
    /// unsafe value.
    pub fn matches(&self, link: &LinkUrl) -> Option<Result<BTreeMap<String, String>, UnsafeValue>> {
        if link.scheme != self.scheme || link.host != self.host {
            return None;
        }
        let mut params = BTreeMap::new();
        let mut unsafe_value = None;
        let mut check = |name: &str, value: &str| {
            if let Err(problem) = check_path_value(value) {
                unsafe_value.get_or_insert(UnsafeValue {
                    name: name.to_owned(),
                    problem,
                });
            }
        };
        let mut values = link.segments.iter();
        for segment in &self.segments {
            match segment {
                Segment::Literal(literal) => {
                    if values.next() != Some(literal) {
                        return None;
                    }
                }
                Segment::Param(name) => match values.next() {
                    Some(value) if !value.is_empty() => {
                        check(name, value);
                        params.insert(name.clone(), value.clone());
                    }
                    _ => return None,
                },
                Segment::Rest(name) => {
                    let rest: Vec<&str> = values.by_ref().map(String::as_str).collect();
                    // Joined with `/`, each part must be a segment of its own.
                    for part in &rest {
                        check(name, part);
                    }
                    params.insert(name.clone(), rest.join("/"));
                }
            }
        }
        if values.next().is_some() {
            return None;
        }
        Some(match unsafe_value {
            Some(unsafe_value) => Err(unsafe_value),
            None => Ok(params),
        })
    }
}

/// A placeholder name: a letter or `_`, then letters, digits or `_`; `utm_` names are
/// taken by attribution.
fn check_name(name: &str, placeholder: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "placeholder {} needs a name of letters, digits and _, such as {{id}}",
            clip(placeholder)
        ));
    }
    if name.starts_with("utm_") {
        return Err(format!(
            "placeholder {}: utm_ names are reserved for attribution",
            clip(placeholder)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pattern: &str, link: &str) -> Option<Vec<(String, String)>> {
        let pattern = RoutePattern::parse(pattern).unwrap();
        pattern.matches(&LinkUrl::parse(link).unwrap()).map(|p| {
            p.unwrap_or_else(|e| panic!("{link}: {e:?}"))
                .into_iter()
                .collect()
        })
    }

    /// The placeholder an unsafe value was given to, and why.
    fn refused(pattern: &str, link: &str) -> UnsafeValue {
        let pattern = RoutePattern::parse(pattern).unwrap();
        match pattern.matches(&LinkUrl::parse(link).unwrap()) {
            Some(Err(unsafe_value)) => unsafe_value,
            other => panic!("{link}: {other:?}"),
        }
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn placeholders_take_whole_decoded_segments() {
        assert_eq!(
            params("shop://product/{id}", "shop://product/42"),
            Some(vec![pair("id", "42")])
        );
        assert_eq!(
            params(
                "https://shop.example/p/{id}",
                "https://SHOP.example:443/p/caf%C3%A9"
            ),
            Some(vec![pair("id", "café")])
        );
        assert_eq!(params("shop://cart", "shop://cart/"), Some(vec![]));
        assert_eq!(
            params("shop://c/{a}/x/{b}", "shop://c/1/x/2"),
            Some(vec![pair("a", "1"), pair("b", "2")])
        );
    }

    #[test]
    fn an_unsafe_value_names_the_placeholder_it_went_to() {
        let unsafe_value = refused("shop://c/{a}/x/{b}", "shop://c/1/x/%2e%2e%2f%2e%2e");
        assert_eq!(unsafe_value.name, "b");
        assert!(
            unsafe_value.problem.contains("path separator"),
            "{unsafe_value:?}"
        );
        let unsafe_value = refused("shop://c/{a}/x/{b}", "shop://c/%2e/x/..");
        assert_eq!(unsafe_value.name, "a", "the first one, in path order");
        let unsafe_value = refused("shop://help/{*page}", "shop://help/a/b/%2e%2e");
        assert_eq!(unsafe_value.name, "page");
        // A link that does not match is not refused for its values.
        let pattern = RoutePattern::parse("shop://product/{id}").unwrap();
        assert_eq!(
            pattern.matches(&LinkUrl::parse("shop://other/%2e%2e").unwrap()),
            None
        );
    }

    #[test]
    fn everything_must_line_up() {
        for (pattern, link) in [
            ("shop://product/{id}", "shop://product"),
            ("shop://product/{id}", "shop://product//"),
            ("shop://product/{id}", "shop://product/42/reviews"),
            ("shop://product/{id}", "shop://Product/42"),
            ("shop://product/{id}", "other://product/42"),
            ("https://shop.example/p/{id}", "http://shop.example/p/42"),
            (
                "https://shop.example/p/{id}",
                "https://www.shop.example/p/42",
            ),
            ("shop://cart", "shop://cart/items"),
        ] {
            assert_eq!(params(pattern, link), None, "{pattern} {link}");
        }
    }

    #[test]
    fn a_rest_placeholder_takes_the_remaining_path() {
        let pattern = "https://shop.example/help/{*page}";
        assert_eq!(
            params(pattern, "https://shop.example/help/returns/eu"),
            Some(vec![pair("page", "returns/eu")])
        );
        assert_eq!(
            params(pattern, "https://shop.example/help"),
            Some(vec![pair("page", "")])
        );
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        let cases = [
            ("shop://product/{}", "needs a name"),
            ("shop://product/{1d}", "needs a name"),
            ("shop://product/{id-x}", "needs a name"),
            ("shop://product/{id", "mixes text and a placeholder"),
            ("shop://product/p-{id}", "mixes text and a placeholder"),
            ("shop://c/{id}/{id}", "uses the placeholder {id} twice"),
            ("shop://c/{*rest}/more", "must be the last segment"),
            ("shop://c/{utm_source}", "reserved for attribution"),
            ("shop://search?q={q}", "has a query or fragment"),
            ("shop://cart#top", "has a query or fragment"),
            ("https://{host}/p", "is not a host name"),
            ("product/{id}", "is not absolute"),
            ("javascript://x", "not allowed"),
            ("shop://a/../b", "is a dot segment"),
            ("shop://a/%2E", "is a dot segment"),
        ];
        for (pattern, problem) in cases {
            let err = RoutePattern::parse(pattern).unwrap_err();
            assert!(err.contains(problem), "{pattern}: {err}");
        }
    }
}
