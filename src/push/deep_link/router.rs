//! The app's deep-link routes and allowed hosts, and routing a link to a route name
//! with its parameters and attribution.

use std::collections::{BTreeMap, BTreeSet};

use super::pattern::RoutePattern;
use crate::common::FieldError;
use crate::protocol::check_name;
use crate::text::url::{check_host_name, host, LinkUrl};
use crate::text::{clip, quote};

/// The UTM parameters, read as attribution rather than route parameters.
/// The most routes an app may register: far more than any app's screens, and it keeps
/// routing (which tries them in order) and the check for overlapping patterns cheap.
pub const MAX_ROUTES: usize = 256;
/// The most entries of `allowed_hosts` (`*.shop.example` covers every subdomain).
pub const MAX_ALLOWED_HOSTS: usize = 64;

pub const UTM_KEYS: [&str; 5] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];

/// One route the app registers: a name it switches on and the pattern of its links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeepLinkRoute {
    pub name: String,
    pub pattern: String,
}

impl DeepLinkRoute {
    pub fn new(name: impl Into<String>, pattern: impl Into<String>) -> DeepLinkRoute {
        DeepLinkRoute {
            name: name.into(),
            pattern: pattern.into(),
        }
    }
}

/// A link matched to a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeepLink {
    /// The name of the route that matched.
    pub route: String,
    /// The link as received.
    pub url: String,
    /// Path placeholders, then query parameters (UTM ones excluded), decoded. A query
    /// parameter never overrides a path placeholder; a repeated one keeps its first value.
    pub params: BTreeMap<String, String>,
    pub utm: Utm,
}

/// Campaign attribution carried by a link's UTM parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub term: Option<String>,
    pub content: Option<String>,
}

impl Utm {
    /// The parameters that are set, as `(utm_source, value)` pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        UTM_KEYS
            .into_iter()
            .zip([
                &self.source,
                &self.medium,
                &self.campaign,
                &self.term,
                &self.content,
            ])
            .filter_map(|(key, value)| Some((key, value.as_deref()?)))
    }

    fn slot(&mut self, key: &str) -> Option<&mut Option<String>> {
        match key {
            "utm_source" => Some(&mut self.source),
            "utm_medium" => Some(&mut self.medium),
            "utm_campaign" => Some(&mut self.campaign),
            "utm_term" => Some(&mut self.term),
            "utm_content" => Some(&mut self.content),
            _ => None,
        }
    }
}

/// Why a link was not routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeepLinkError {
    #[error("deep link {} is malformed: {problem}", quote(.url))]
    Malformed { url: String, problem: String },
    #[error("deep link {}: the {}: scheme is not one the app registered routes for", quote(.url), clip(.scheme))]
    SchemeNotRegistered { url: String, scheme: String },
    #[error("deep link {}: host {} is not one of the app's allowed hosts", quote(.url), quote(.host))]
    HostNotAllowed { url: String, host: String },
    #[error("deep link {} matches none of the app's routes", quote(.url))]
    NoMatchingRoute { url: String },
    /// The link matched a route, but the value it gives a path placeholder could lead
    /// the app out of the path (`../..`).
    #[error("deep link {}: parameter {{{}}} of route {} {problem}", quote(.url), clip(.name), clip(.route))]
    UnsafeParameter {
        url: String,
        route: String,
        name: String,
        problem: String,
    },
    #[error("no deep-link routes are set; set the app's routes first")]
    NoRoutes,
}

/// A host the app accepts universal/app links for: exact, or `*.shop.example` for
/// every subdomain (not `shop.example` itself).
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    Exact(String),
    Subdomains(String),
}

impl HostRule {
    fn allows(&self, host: &str) -> bool {
        match self {
            HostRule::Exact(exact) => host == exact,
            HostRule::Subdomains(parent) => host
                .strip_suffix(parent.as_str())
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        }
    }
}

/// The app's routes, tried in the order given (the first match wins), and the hosts
/// its web links may come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeepLinkRouter {
    routes: Vec<(String, RoutePattern)>,
    hosts: Vec<HostRule>,
    /// Custom schemes the routes use: links in any other are refused.
    schemes: BTreeSet<String>,
}

impl DeepLinkRouter {
    /// Checks and compiles the routes. Errors name the entry (`routes[2].pattern`,
    /// `allowed_hosts[0]`) and say why: a duplicate name, a bad pattern, a web pattern
    /// whose host is not allowed, a pattern that repeats an earlier one.
    pub fn new(
        routes: &[DeepLinkRoute],
        allowed_hosts: &[String],
    ) -> Result<DeepLinkRouter, FieldError> {
        for (field, count, max) in [
            ("routes", routes.len(), MAX_ROUTES),
            ("allowed_hosts", allowed_hosts.len(), MAX_ALLOWED_HOSTS),
        ] {
            if count > max {
                return Err(FieldError::new(
                    field,
                    format!("has {count} entries, over the limit of {max}"),
                ));
            }
        }
        let mut hosts = Vec::with_capacity(allowed_hosts.len());
        for (i, entry) in allowed_hosts.iter().enumerate() {
            let field = format!("allowed_hosts[{i}]");
            let normalized = entry.trim().to_ascii_lowercase();
            // Written as links write them, so `[0:0::1]` allows `https://[::1]/`.
            let rule = match normalized.strip_prefix("*.") {
                Some(parent) => {
                    check_host_name(parent).map(|()| HostRule::Subdomains(parent.to_owned()))
                }
                None => host(&normalized).map(HostRule::Exact),
            };
            let rule = rule.map_err(|problem| {
                FieldError::new(
                    &field,
                    format!("{problem}; give a host such as shop.example or *.shop.example"),
                )
            })?;
            hosts.push(rule);
        }
        let mut router = DeepLinkRouter {
            routes: Vec::with_capacity(routes.len()),
            hosts,
            schemes: BTreeSet::new(),
        };
        for (i, route) in routes.iter().enumerate() {
            check_name(&format!("routes[{i}].name"), &route.name)?;
            let field = format!("routes[{i}].pattern");
            if let Some(j) = router.routes.iter().position(|(n, _)| *n == route.name) {
                return Err(FieldError::new(
                    format!("routes[{i}].name"),
                    format!("{} is already the name of routes[{j}]", quote(&route.name)),
                ));
            }
            let pattern = RoutePattern::parse(&route.pattern).map_err(|problem| {
                FieldError::new(&field, format!("{} {problem}", quote(&route.pattern)))
            })?;
            if let Some(host) = &pattern.host {
                if !router.allows_host(host) {
                    return Err(FieldError::new(
                        field,
                        format!(
                            "host {} is not in allowed_hosts; add it there first",
                            quote(host)
                        ),
                    ));
                }
            } else {
                router.schemes.insert(pattern.scheme.clone());
            }
            if let Some((j, (earlier, _))) = router
                .routes
                .iter()
                .enumerate()
                .find(|(_, (_, p))| p.same_links_as(&pattern))
            {
                return Err(FieldError::new(
                    field,
                    format!(
                        "{} matches the same links as routes[{j}] ({}), which would always match first",
                        quote(&route.pattern),
                        clip(earlier),
                    ),
                ));
            }
            router.routes.push((route.name.clone(), pattern));
        }
        Ok(router)
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|rule| rule.allows(host))
    }

    /// The route `url` goes to, with its parameters and UTM attribution.
    pub fn route(&self, url: &str) -> Result<DeepLink, DeepLinkError> {
        if self.routes.is_empty() {
            return Err(DeepLinkError::NoRoutes);
        }
        let link = LinkUrl::parse(url).map_err(|problem| DeepLinkError::Malformed {
            url: url.to_owned(),
            problem,
        })?;
        match &link.host {
            Some(host) if !self.allows_host(host) => {
                return Err(DeepLinkError::HostNotAllowed {
                    url: url.to_owned(),
                    host: host.clone(),
                })
            }
            None if !self.schemes.contains(&link.scheme) => {
                return Err(DeepLinkError::SchemeNotRegistered {
                    url: url.to_owned(),
                    scheme: link.scheme.clone(),
                })
            }
            _ => {}
        }
        let (route, matched) = self
            .routes
            .iter()
            .find_map(|(name, pattern)| Some((name, pattern.matches(&link)?)))
            .ok_or_else(|| DeepLinkError::NoMatchingRoute {
                url: url.to_owned(),
            })?;
        // The first route matching decides: a later one must not take a link the app's
        // own route for it refused.
        let mut params = matched.map_err(|unsafe_value| DeepLinkError::UnsafeParameter {
            url: url.to_owned(),
            route: route.clone(),
            name: unsafe_value.name,
            problem: unsafe_value.problem,
        })?;
        let mut utm = Utm::default();
        for (key, value) in link.query {
            match utm.slot(&key) {
                Some(slot) => {
                    slot.get_or_insert(value);
                }
                None => {
                    params.entry(key).or_insert(value);
                }
            }
        }
        Ok(DeepLink {
            route: route.clone(),
            url: url.to_owned(),
            params,
            utm,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop_router() -> DeepLinkRouter {
        DeepLinkRouter::new(
            &[
                DeepLinkRoute::new("new_arrivals", "shop://product/new"),
                DeepLinkRoute::new("product", "shop://product/{id}"),
                DeepLinkRoute::new("cart", "shop://cart"),
                DeepLinkRoute::new("web_product", "https://shop.example/p/{id}"),
                DeepLinkRoute::new("help", "https://help.shop.example/{*page}"),
            ],
            &["shop.example".into(), "*.shop.example".into()],
        )
        .unwrap()
    }

    #[test]
    fn the_number_of_routes_and_hosts_is_bounded() {
        let routes = |n: usize| -> Vec<DeepLinkRoute> {
            (0..n)
                .map(|i| DeepLinkRoute::new(format!("r{i}"), format!("shop://r{i}/{{id}}")))
                .collect()
        };
        let hosts =
            |n: usize| -> Vec<String> { (0..n).map(|i| format!("h{i}.shop.example")).collect() };
        DeepLinkRouter::new(&routes(MAX_ROUTES), &hosts(MAX_ALLOWED_HOSTS)).unwrap();
        let error = DeepLinkRouter::new(&routes(MAX_ROUTES + 1), &[]).unwrap_err();
        assert_eq!(error.field, "routes");
        assert!(
            error
                .to_string()
                .contains("257 entries, over the limit of 256"),
            "{error}"
        );
        let error = DeepLinkRouter::new(&[], &hosts(MAX_ALLOWED_HOSTS + 1)).unwrap_err();
        assert_eq!(error.field, "allowed_hosts");
        assert!(
            error
                .to_string()
                .contains("65 entries, over the limit of 64"),
            "{error}"
        );
    }

    #[test]
    fn routes_custom_schemes_and_web_links_with_params_and_utm() {
        let router = shop_router();
        let link = router
            .route("shop://product/42?color=blue&utm_source=push&utm_campaign=bf%2026&id=x")
            .unwrap();
        assert_eq!(link.route, "product");
        assert_eq!(
            link.params,
            BTreeMap::from([
                ("id".to_string(), "42".to_string()),
                ("color".to_string(), "blue".to_string()),
            ]),
            "a query parameter never overrides a path placeholder"
        );
        assert_eq!(link.utm.source.as_deref(), Some("push"));
        assert_eq!(link.utm.campaign.as_deref(), Some("bf 26"));
        assert_eq!(
            link.utm.pairs().collect::<Vec<_>>(),
            [("utm_source", "push"), ("utm_campaign", "bf 26")]
        );
        assert_eq!(
            link.url,
            "shop://product/42?color=blue&utm_source=push&utm_campaign=bf%2026&id=x"
        );

        let web = router
            .route("https://Shop.Example/p/sku%207?utm_medium=email&utm_medium=sms")
            .unwrap();
        assert_eq!(web.route, "web_product");
        assert_eq!(web.params["id"], "sku 7");
        assert_eq!(web.utm.medium.as_deref(), Some("email"), "first value wins");
        assert_eq!(router.route("shop://cart").unwrap().route, "cart");
        assert_eq!(
            router
                .route("https://help.shop.example/returns/eu")
                .unwrap()
                .params["page"],
            "returns/eu"
        );
    }

    #[test]
    fn a_parameter_that_could_climb_the_path_refuses_the_link_naming_it() {
        let router = shop_router();
        let cases = [
            (
                "https://shop.example/p/%2e%2e%2f%2e%2e",
                "web_product",
                "id",
                "\"../..\"",
            ),
            (
                "https://shop.example/p/%2E%2E",
                "web_product",
                "id",
                "dot segment",
            ),
            (
                "https://shop.example/p/..",
                "web_product",
                "id",
                "dot segment",
            ),
            (
                "https://shop.example/p/.",
                "web_product",
                "id",
                "dot segment",
            ),
            (
                "https://shop.example/p/.%2e",
                "web_product",
                "id",
                "dot segment",
            ),
            ("shop://product/a%2Fb", "product", "id", "path separator"),
            ("shop://product/a%5Cb", "product", "id", "path separator"),
            (
                "shop://product/%252e%252e",
                "product",
                "id",
                "decoded again",
            ),
            ("shop://product/%252F", "product", "id", "decoded again"),
            (
                "shop://product/%EF%BC%8E%EF%BC%8E",
                "product",
                "id",
                "dot segment",
            ),
            ("shop://product/%E2%80%A5", "product", "id", "dot segment"),
            (
                "shop://product/a%EF%BC%8Fb",
                "product",
                "id",
                "path separator",
            ),
            (
                "https://help.shop.example/a/../../etc",
                "help",
                "page",
                "dot segment",
            ),
            (
                "https://help.shop.example/a/%2e%2e/b",
                "help",
                "page",
                "dot segment",
            ),
            (
                "https://help.shop.example/a%2Fb/c",
                "help",
                "page",
                "path separator",
            ),
        ];
        for (url, route, name, problem) in cases {
            match router.route(url) {
                Err(DeepLinkError::UnsafeParameter {
                    route: r,
                    name: n,
                    problem: p,
                    ..
                }) => {
                    assert_eq!((r.as_str(), n.as_str()), (route, name), "{url}");
                    assert!(p.contains(problem), "{url}: {p}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        let message = router
            .route("https://shop.example/p/%2e%2e%2f%2e%2e")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("parameter {id} of route web_product decodes to \"../..\""),
            "{message}"
        );
        // Dots and percent signs inside a value are fine.
        for (url, id) in [
            ("shop://product/...", "..."),
            ("shop://product/..x", "..x"),
            ("shop://product/v1.2", "v1.2"),
            ("shop://product/50%25off", "50%off"),
            ("shop://product/100%2525", "100%25"),
        ] {
            assert_eq!(router.route(url).unwrap().params["id"], id, "{url}");
        }
        // A dot segment around the route's literals leaves no route to match.
        assert!(matches!(
            router.route("shop://product/../cart"),
            Err(DeepLinkError::NoMatchingRoute { .. })
        ));
    }

    #[test]
    fn ipv6_hosts_are_read_and_must_be_allowed_like_any_host() {
        let router = shop_router();
        assert!(matches!(
            router.route("https://[::1]/p/1"),
            Err(DeepLinkError::HostNotAllowed { host, .. }) if host == "[::1]"
        ));
        let router = DeepLinkRouter::new(
            &[DeepLinkRoute::new("p", "https://[0:0::1]/p/{id}")],
            &["[0:0:0:0:0:0:0:1]".into()],
        )
        .unwrap();
        for url in [
            "https://[::1]/p/7",
            "https://[::1]:8443/p/7",
            "HTTPS://[0::1]/p/7",
        ] {
            assert_eq!(router.route(url).unwrap().params["id"], "7", "{url}");
        }
        assert!(matches!(
            router.route("https://[::2]/p/7"),
            Err(DeepLinkError::HostNotAllowed { .. })
        ));
        let err = DeepLinkRouter::new(&[], &["*.[::1]".into()]).unwrap_err();
        assert_eq!(err.field, "allowed_hosts[0]");
        let err = DeepLinkRouter::new(&[], &["[::1".into()]).unwrap_err();
        assert!(err.problem.contains("not an IPv6 address"), "{err}");
    }

    #[test]
    fn the_first_matching_route_wins() {
        let router = shop_router();
        assert_eq!(
            router.route("shop://product/new").unwrap().route,
            "new_arrivals"
        );
        assert_eq!(
            router.route("shop://product/newer").unwrap().route,
            "product"
        );
    }

    #[test]
    fn refuses_links_from_elsewhere() {
        let router = shop_router();
        let refused = |url: &str| router.route(url).unwrap_err();
        assert!(matches!(
            refused("https://evil.example/p/1"),
            DeepLinkError::HostNotAllowed { host, .. } if host == "evil.example"
        ));
        assert!(matches!(
            refused("https://shop.example.evil.example/p/1"),
            DeepLinkError::HostNotAllowed { .. }
        ));
        assert!(matches!(
            refused("https://notshop.example/p/1"),
            DeepLinkError::HostNotAllowed { .. }
        ));
        assert!(matches!(
            refused("https://shop.example@evil.example/p/1"),
            DeepLinkError::Malformed { .. }
        ));
        assert!(matches!(
            refused("othershop://product/1"),
            DeepLinkError::SchemeNotRegistered { scheme, .. } if scheme == "othershop"
        ));
        assert!(matches!(
            refused("shop://wishlist"),
            DeepLinkError::NoMatchingRoute { .. }
        ));
        // Allowed host, but no route for it.
        assert!(matches!(
            refused("https://www.shop.example/p/1"),
            DeepLinkError::NoMatchingRoute { .. }
        ));
        let message = refused("javascript:alert(1)").to_string();
        assert!(
            message.contains("javascript: scheme is not allowed"),
            "{message}"
        );
        let long = format!("shop://x/{}", "y".repeat(500));
        let message = refused(&long).to_string();
        assert!(message.len() < 250, "{message}");
        assert_eq!(
            DeepLinkRouter::default().route("shop://cart"),
            Err(DeepLinkError::NoRoutes)
        );
    }

    #[test]
    fn errors_show_only_the_start_of_long_input() {
        let huge = format!("shop://p/{}", "x".repeat(1 << 20));
        let err = DeepLinkRouter::new(&[DeepLinkRoute::new("p", huge)], &[]).unwrap_err();
        assert_eq!(err.field, "routes[0].pattern");
        assert!(err.problem.len() < 300, "{}", err.problem);
        assert!(err.problem.contains("…\" is"), "{}", err.problem);
        let router = shop_router();
        for url in [
            format!("{}://x", "s".repeat(1_000)),
            format!("https://{}.example/p/1", "h".repeat(1_000)),
            format!("shop://{}", "w".repeat(1_000)),
            format!("shop://p/%zz{}", "q".repeat(1_000)),
        ] {
            let message = router.route(&url).unwrap_err().to_string();
            assert!(message.len() < 400, "{message}");
            assert!(message.contains('…'), "{message}");
        }
    }

    #[test]
    fn bad_configuration_names_the_entry() {
        let route = DeepLinkRoute::new;
        let hosts = vec!["shop.example".to_string()];
        let cases: Vec<(Vec<DeepLinkRoute>, Vec<String>, &str, &str)> = vec![
            (
                vec![route("p", "shop://p/{id}"), route("p", "shop://q/{id}")],
                hosts.clone(),
                "routes[1].name",
                "already the name of routes[0]",
            ),
            (
                vec![route(" ", "shop://p")],
                hosts.clone(),
                "routes[0].name",
                "empty",
            ),
            (
                vec![route("p", "shop://p/{ id }")],
                hosts.clone(),
                "routes[0].pattern",
                "must not contain ' '",
            ),
            (
                vec![route("p", "shop://p/x{id}")],
                hosts.clone(),
                "routes[0].pattern",
                "placeholder fills a whole segment",
            ),
            (
                vec![route("w", "https://other.example/p/{id}")],
                hosts.clone(),
                "routes[0].pattern",
                "host \"other.example\" is not in allowed_hosts",
            ),
            (
                vec![route("a", "shop://p/{id}"), route("b", "shop://p/{sku}")],
                hosts.clone(),
                "routes[1].pattern",
                "same links as routes[0] (a)",
            ),
            (
                vec![],
                vec!["https://shop.example".into()],
                "allowed_hosts[0]",
                "is not a host name",
            ),
            (vec![], vec!["".into()], "allowed_hosts[0]", "has no host"),
        ];
        for (routes, hosts, field, problem) in cases {
            let err = DeepLinkRouter::new(&routes, &hosts).unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(err.problem.contains(problem), "{err}");
        }
    }

    #[test]
    fn host_rules_are_case_insensitive_and_wildcards_need_a_subdomain() {
        let router = DeepLinkRouter::new(
            &[
                DeepLinkRoute::new("home", "https://shop.example/"),
                DeepLinkRoute::new("m", "https://m.shop.example/"),
            ],
            &[" Shop.Example ".into(), "*.SHOP.example".into()],
        )
        .unwrap();
        assert_eq!(router.route("https://SHOP.EXAMPLE").unwrap().route, "home");
        assert_eq!(router.route("https://m.shop.example/").unwrap().route, "m");
        let only_subdomains = DeepLinkRouter::new(&[], &["*.shop.example".into()]).unwrap();
        assert!(only_subdomains.allows_host("a.b.shop.example"));
        assert!(!only_subdomains.allows_host("shop.example"));
        assert!(!only_subdomains.allows_host(".shop.example"));
    }
}
