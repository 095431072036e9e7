//! Request rates: a client over its rate gets 429 with `Retry-After` and is served
//! again after it; other clients (another address, another app key) are unaffected;
//! `/healthz` is never limited. Clients on 127.0.0.2 and 127.0.0.3 are other addresses
//! of the loopback interface.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use beckon::protocol::{APP_KEY_HEADER, SYNC_PATH};
use beckon_server::Rate;
use common::{TestServer, ADMIN_TOKEN, APP_KEY};
use reqwest::{RequestBuilder, Response, StatusCode};

/// Another app key of the test configuration.
const OTHER_APP_KEY: &str = "other-app-key";

fn client_from(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, last_octet]))
        .build()
        .unwrap()
}

/// Sends `request` until it is refused; checks the first `burst` were served (tokens
/// refill at one per second, so a slow machine may be served a few more) and returns
/// the refusal.
async fn until_refused(burst: u32, request: impl Fn() -> RequestBuilder) -> Response {
    for sent in 0..burst + 5 {
        let response = request().send().await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(
                sent >= burst,
                "refused after {sent} requests, burst {burst}"
            );
            return response;
        }
        assert!(response.status().is_success() || response.status() == 401);
    }
    panic!("never refused");
}

/// Checks the 429: JSON `rate_limited` naming the limit, and a `Retry-After` of
/// whole seconds; returns it.
async fn retry_after(response: Response, names: &str) -> Duration {
    let seconds: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let message =
        common::assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(message.contains(names), "{message}");
    assert!((1..=2).contains(&seconds), "Retry-After: {seconds}");
    Duration::from_secs(seconds)
}

/// A rate slow enough for tests: `burst` at once, then one per second.
fn slow(burst: u32) -> Rate {
    Rate {
        per_second: 1,
        burst,
    }
}

async fn status(request: RequestBuilder) -> StatusCode {
    request.send().await.unwrap().status()
}

/// After `wait`, `request` is served again; the one refusal was counted under `scope`.
async fn served_after(wait: Duration, request: RequestBuilder, server: &TestServer, scope: &str) {
    tokio::time::sleep(wait).await;
    assert_eq!(
        status(request).await,
        StatusCode::OK,
        "served after Retry-After"
    );
    let series = format!(r#"beckon_http_rate_limited_total{{scope="{scope}"}}"#);
    assert_eq!(server.metric(&series).await, 1.0);
}

fn sync(http: &reqwest::Client, server: &TestServer, app_key: &str) -> RequestBuilder {
    http.get(server.endpoint(SYNC_PATH))
        .header(APP_KEY_HEADER, app_key)
}

#[tokio::test]
async fn a_client_over_its_ip_rate_waits_while_other_addresses_go_on() {
    const BURST: u32 = 3;
    let server = TestServer::start_with(|config| config.rates.per_ip = slow(BURST)).await;
    let (greedy, other) = (client_from(1), client_from(2));

    let refused = until_refused(BURST, || sync(&greedy, &server, APP_KEY)).await;
    let wait = retry_after(refused, "from this address").await;
    for _ in 0..5 {
        let health = greedy.get(server.endpoint("/healthz"));
        assert_eq!(status(health).await, StatusCode::OK, "never limited");
    }
    let elsewhere = sync(&other, &server, APP_KEY);
    assert_eq!(status(elsewhere).await, StatusCode::OK, "another address");

    served_after(wait, sync(&greedy, &server, APP_KEY), &server, "ip").await;
}

#[tokio::test]
async fn an_app_key_over_its_rate_waits_while_other_keys_go_on() {
    const BURST: u32 = 4;
    let server = TestServer::start_with(|config| config.rates.per_app_key = slow(BURST)).await;
    // Several addresses: the app key's rate holds whatever address it comes from.
    let clients: Vec<_> = (1..=3).map(client_from).collect();
    let turn = AtomicUsize::new(0);
    let refused = until_refused(BURST, || {
        let n = turn.fetch_add(1, Ordering::Relaxed);
        sync(&clients[n % clients.len()], &server, APP_KEY)
    })
    .await;
    let wait = retry_after(refused, "with this app key").await;

    let other_key = sync(&clients[0], &server, OTHER_APP_KEY);
    assert_eq!(status(other_key).await, StatusCode::OK, "another app key");
    let unknown = sync(&clients[0], &server, "unknown-key");
    assert_eq!(status(unknown).await, StatusCode::UNAUTHORIZED);

    served_after(
        wait,
        sync(&clients[1], &server, APP_KEY),
        &server,
        "app_key",
    )
    .await;
}

#[tokio::test]
async fn guessing_the_admin_token_is_limited_before_the_token_is_checked() {
    const BURST: u32 = 3;
    let server = TestServer::start_with(|config| config.rates.per_ip = slow(BURST)).await;
    let guesser = client_from(3);
    let admin = |token: &str| {
        guesser
            .get(server.endpoint("/v1/admin/segments"))
            .bearer_auth(token)
    };
    let refused = until_refused(BURST, || admin("guess")).await;
    retry_after(refused, "from this address").await;
    // Even the right token waits: the address is over its rate.
    assert_eq!(
        status(admin(ADMIN_TOKEN)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn behind_a_proxy_the_configured_header_names_the_client() {
    let server = TestServer::start_with(|config| {
        config.rates.per_ip = slow(1);
        config.rates.client_ip_header = Some("X-Forwarded-For".into());
    })
    .await;
    // One proxy (one peer address) in front of two clients.
    let proxy = client_from(1);
    let from = |client: &str| {
        sync(&proxy, &server, APP_KEY).header("x-forwarded-for", format!("10.9.9.9, {client}"))
    };
    assert_eq!(status(from("203.0.113.1")).await, StatusCode::OK);
    assert_eq!(
        status(from("203.0.113.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(status(from("203.0.113.2")).await, StatusCode::OK);
}
