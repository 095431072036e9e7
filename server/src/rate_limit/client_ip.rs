//! Which client a request comes from, for the per-IP limit.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::http::{HeaderMap, HeaderName};

/// The client's address: the last value of `header` when the operator named one (a
/// trusted proxy appends the address it saw), else the connection's peer. A header
/// that is missing or unreadable falls back to the peer.
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    header: Option<&HeaderName>,
) -> Option<IpAddr> {
    let forwarded = header
        .and_then(|name| headers.get_all(name).iter().next_back())
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(parse_address);
    forwarded.or(peer)
}

/// `192.0.2.7`, `2001:db8::1`, or either with a port (`192.0.2.7:4711`, `[2001:db8::1]:4711`).
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
}

/// The bucket an address counts in: an IPv4 address (IPv4-mapped IPv6 included) alone,
/// an IPv6 address with its /64, which one subscriber usually holds whole.
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_peer_unless_a_configured_header_names_the_client() {
        let peer = Some(ip("10.0.0.9"));
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 203.0.113.5"),
        );
        let xff = HeaderName::from_static("x-forwarded-for");
        assert_eq!(client_ip(&headers, peer, None), peer, "header not trusted");
        assert_eq!(
            client_ip(&headers, peer, Some(&xff)),
            Some(ip("203.0.113.5")),
            "the last value: the one the proxy added"
        );

        let real_ip = HeaderName::from_static("x-real-ip");
        assert_eq!(client_ip(&headers, peer, Some(&real_ip)), peer, "missing");
        headers.insert(&real_ip, HeaderValue::from_static("not an address"));
        assert_eq!(
            client_ip(&headers, peer, Some(&real_ip)),
            peer,
            "unreadable"
        );
        headers.insert(&real_ip, HeaderValue::from_static("[2001:db8::1]:4711"));
        assert_eq!(
            client_ip(&headers, peer, Some(&real_ip)),
            Some(ip("2001:db8::1"))
        );
        headers.insert(&real_ip, HeaderValue::from_static("192.0.2.7:80"));
        assert_eq!(
            client_ip(&headers, peer, Some(&real_ip)),
            Some(ip("192.0.2.7"))
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64_prefix() {
        assert_eq!(bucket(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(bucket(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(
            bucket(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
    }
}
