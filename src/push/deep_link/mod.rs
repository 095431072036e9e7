//! Deep links: the app registers named route patterns and the hosts its universal/app
//! links come from; a link is read, checked against them and matched to a route name
//! with its parameters and UTM attribution.
//!
//! - Custom schemes (`shop://product/42`) are routed only in a scheme some pattern
//!   uses; web links (`https://shop.example/p/42`) only from an allowed host.
//! - Patterns are tried in the order the app gave; the first match wins.
//! - Path placeholders and query parameters are percent-decoded; `utm_*` parameters
//!   become [`Utm`] attribution instead of parameters.
//!
//! The pattern syntax for app teams is in `src/push/README.md`.

mod pattern;
mod router;

pub use crate::text::url::LinkUrl;
pub use router::{
    DeepLink, DeepLinkError, DeepLinkRoute, DeepLinkRouter, Utm, MAX_ALLOWED_HOSTS, MAX_ROUTES,
    UTM_KEYS,
};
