//! Where the server is: the configured URL read once, checked, and the URLs of the
//! API's endpoints under it.

use http::Uri;
use rustls_pki_types::ServerName;

/// Where the server is: the parts of the configured URL that a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub(crate) https: bool,
    /// The host as DNS and TLS see it: a name, or an IP address (IPv6 without brackets).
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `host[:port]` as configured: the `Host` header.
    pub(crate) authority: String,
    /// The configured path without its trailing slash: `""` or `/beckon`.
    pub(crate) base_path: String,
}

impl Endpoint {
    /// Reads a server URL such as `https://api.shop.example` or
    /// `http://127.0.0.1:8080/beckon/`. Says why when it cannot be used.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let uri: Uri = url.parse().map_err(|e: http::uri::InvalidUri| {
            format!("{e} (a host name that is not ASCII must be given in its xn-- form)")
        })?;
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            _ => return Err("the scheme must be http or https".into()),
        };
        let Some(authority) = uri.authority() else {
            return Err("it has no host".into());
        };
        if authority.as_str().contains('@') {
            return Err("it must not hold a user name or password".into());
        }
        let bracketed = authority.host();
        let host = bracketed
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(bracketed);
        if host.is_empty() {
            return Err("it has no host".into());
        }
        // After the host: nothing, or `:` and a port (empty meaning the default one).
        let port = match &authority.as_str()[bracketed.len()..] {
            "" | ":" => None,
            port => match port[1..].parse::<u16>() {
                Ok(port) if port > 0 => Some(port),
                _ => return Err(format!("{port:?} is not a port")),
            },
        };
        if uri.query().is_some() || url.contains('#') {
            return Err("it must not have a query or fragment".into());
        }
        if https && ServerName::try_from(host).is_err() {
            return Err(format!("{host:?} is not a host name or IP address"));
        }
        Ok(Endpoint {
            https,
            host: host.to_owned(),
            port: port.unwrap_or(if https { 443 } else { 80 }),
            authority: match port {
                Some(port) => format!("{bracketed}:{port}"),
                None => bracketed.to_owned(),
            },
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The path of an API endpoint under the configured base: `/beckon` + `/v1/sync`.
    pub fn path(&self, endpoint: &str) -> String {
        format!("{}{endpoint}", self.base_path)
    }

    /// The whole URL of an API endpoint, for people.
    pub fn url(&self, endpoint: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path(endpoint))
    }
}

/// `application/x-www-form-urlencoded` text of one query parameter value, as a form
/// (and the server's query parser) reads it.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parts_of_a_server_url() {
        let e = Endpoint::parse("https://api.shop.example").unwrap();
        assert_eq!(
            (e.https, e.host.as_str(), e.port, e.authority.as_str()),
            (true, "api.shop.example", 443, "api.shop.example")
        );
        assert_eq!(e.url("/v1/batch"), "https://api.shop.example/v1/batch");
        let e = Endpoint::parse("http://127.0.0.1:8080/beckon/").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 8080));
        assert_eq!(e.path("/v1/sync"), "/beckon/v1/sync");
        let e = Endpoint::parse("HTTPS://[::1]:8443/").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.authority.as_str()),
            ("::1", 8443, "[::1]:8443")
        );
        assert_eq!(e.url("/v1/batch"), "https://[::1]:8443/v1/batch");
        let e = Endpoint::parse("http://shop.example:/x").unwrap();
        assert_eq!((e.port, e.authority.as_str()), (80, "shop.example"));
    }

    #[test]
    fn refuses_server_urls_it_cannot_use() {
        for (url, why) in [
            ("", "empty"),
            ("api.shop.example", "scheme"),
            ("ftp://shop.example", "scheme"),
            ("mailto:x@y", "scheme"),
            ("https://shop.example/?a=1", "query"),
            ("https://shop.example/#top", "fragment"),
            ("https://user:secret@shop.example", "password"),
            ("https://shop.example:99999", "port"),
            ("https://shop.example:0", "port"),
            ("https://shop example", "invalid"),
            ("https://münchen.example", "xn--"),
            ("https://shop..example", "host name"),
        ] {
            let error = Endpoint::parse(url).unwrap_err();
            assert!(error.contains(why), "{url}: {error}");
        }
    }

    #[test]
    fn form_encodes_as_a_query_parser_decodes() {
        assert_eq!(form_encode("user-1_a.b*"), "user-1_a.b*");
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
