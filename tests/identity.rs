//! Verified identities end to end: the SDK against a real server on loopback that
//! requires them (HMAC and ES256 JWT tokens). Events of a user whose token is refused
//! stay queued until the app hands over a new one, which the SDK asks for through its
//! listener; nothing is lost or stored twice on the way.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use beckon::client::{Client, ClientError, FlushPolicy, IdentityTokenListener};
use beckon::consent::{Channel, PermissionState};
use beckon::events::{Event, JsonValue, Properties};
use beckon::protocol::{
    IdentityProblem, MAX_IDENTITY_TOKEN_BYTES, SEGMENT_ENTERED, SEGMENT_EXITED,
};
use beckon::upload::{FlushOutcome, FlushReport};
use beckon_server::delivery::KeySource;
use beckon_server::identity::{hmac, Enforcement, IdentityConfig};
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

mod common;
use common::{eventually, sdk_config, TestServer};

const SECRET: &str = "identity-test-secret-7c1f0a";
const ES256_PRIVATE: &str = include_str!("../server/tests/fixtures/identity/es256-private.pem");
const ES256_PUBLIC: &str = include_str!("../server/tests/fixtures/identity/es256-public.pem");
const WAIT: Duration = Duration::from_secs(10);

/// A server requiring verified identities for the tests' app key.
fn verifying_server() -> TestServer {
    TestServer::start_with(|config| {
        config.identity = IdentityConfig {
            hmac_secrets: vec![SECRET.into()],
            jwt_keys: vec![KeySource::Inline(ES256_PUBLIC.into())],
            default_enforcement: Enforcement::Required,
            ..Default::default()
        };
    })
}

/// What the app's backend computes for `user_id` with the app's secret.
fn hmac_token(user_id: &str) -> String {
    hmac::sign(SECRET.as_bytes(), user_id)
}

/// An ES256 JWT for `user_id` expiring at `exp` (seconds since the Unix epoch).
fn jwt(user_id: &str, exp: i64) -> String {
    let key = EncodingKey::from_ec_pem(ES256_PRIVATE.as_bytes()).unwrap();
    let claims = json!({"sub": user_id, "exp": exp});
    jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &key).unwrap()
}

fn numbered(name: &str, n: u64) -> Event {
    Event::Custom {
        name: name.into(),
        properties: Properties::from([("n".to_string(), JsonValue::Integer { value: n as i64 })]),
    }
}

/// The app's events in the export (the SDK's segment reports left out), as
/// `(name, user_id)`, after checking no event was stored twice.
fn exported_once(server: &TestServer) -> Vec<(String, Option<String>)> {
    let exported = server.export();
    let ids: HashSet<&str> = exported.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), exported.len(), "an event was stored twice");
    exported
        .iter()
        .filter(|e| e["name"] != SEGMENT_ENTERED && e["name"] != SEGMENT_EXITED)
        .map(|e| {
            let label = e["name"].as_str().or(e["type"].as_str()).unwrap();
            (label.to_owned(), e["user_id"].as_str().map(str::to_owned))
        })
        .collect()
}

fn labelled(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    pairs
        .iter()
        .map(|(label, user)| (label.to_string(), user.map(str::to_owned)))
        .collect()
}

fn delivered(client: &Client) -> FlushReport {
    let report = client.flush(WAIT).unwrap();
    assert_eq!(report.outcome, FlushOutcome::Delivered, "{report:?}");
    report
}

/// A flush the server refuses for `user_id`'s identity: the events stay queued.
fn refused(client: &Client, user_id: &str, problem: IdentityProblem) -> FlushReport {
    let report = client.flush(WAIT).unwrap();
    assert_eq!(report.outcome, FlushOutcome::WillRetry, "{report:?}");
    let error = report.error.clone().unwrap();
    assert!(
        error.contains(&format!("{user_id:?} ({})", problem.as_str())),
        "{error}"
    );
    report
}

/// Records what it is asked and the thread it is asked on; with a token to give, hands
/// it over from inside the callback, as an app holding a fresh one would.
#[derive(Default)]
struct TokenListener {
    heard: Mutex<Vec<(String, IdentityProblem, String)>>,
    client: OnceLock<Weak<Client>>,
    renewal: Mutex<Option<String>>,
}

impl IdentityTokenListener for TokenListener {
    fn identity_token_needed(&self, user_id: String, problem: IdentityProblem) {
        let thread = std::thread::current().name().unwrap_or("?").to_owned();
        self.heard
            .lock()
            .unwrap()
            .push((user_id.clone(), problem, thread));
        let renewal = self.renewal.lock().unwrap().take();
        if let (Some(token), Some(client)) = (renewal, self.client.get().and_then(Weak::upgrade)) {
            client.set_identity_token(&user_id, &token).unwrap();
        }
    }
}

impl TokenListener {
    fn heard(&self) -> Vec<(String, IdentityProblem)> {
        let heard = self.heard.lock().unwrap();
        for (_, _, thread) in heard.iter() {
            assert_eq!(
                thread, "beckon-upload",
                "listeners run on the upload thread"
            );
        }
        heard.iter().map(|(u, p, _)| (u.clone(), *p)).collect()
    }
}

/// A client of `server` in `dir` whose identity token listener records what it hears.
fn listening_client(dir: &Path, server: &TestServer) -> (Client, Arc<TokenListener>) {
    let client = Client::new(sdk_config(dir, &server.url)).unwrap();
    let listener = Arc::new(TokenListener::default());
    client
        .set_identity_token_listener(Some(listener.clone()))
        .unwrap();
    (client, listener)
}

#[test]
fn events_of_a_user_identified_with_a_valid_token_upload_exactly_once() {
    let server = verifying_server();
    let dir = tempfile::tempdir().unwrap();
    let (client, listener) = listening_client(dir.path(), &server);
    client
        .identify("ana", &Properties::new(), Some(&hmac_token("ana")))
        .unwrap();
    client.track(&numbered("Viewed", 1)).unwrap();
    client.track(&numbered("Viewed", 2)).unwrap();
    delivered(&client);
    // A second flush has nothing to send; nothing is stored twice.
    assert_eq!(delivered(&client).uploaded, 0);
    assert_eq!(
        exported_once(&server),
        labelled(&[
            ("identify", Some("ana")),
            ("Viewed", Some("ana")),
            ("Viewed", Some("ana"))
        ])
    );
    assert!(listener.heard().is_empty());
    assert_eq!(client.stats().unwrap().dropped.rejected_by_server, 0);
}

#[test]
fn anonymous_events_upload_without_a_token_before_identify() {
    let server = verifying_server();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    client.track(&numbered("Browsed", 1)).unwrap();
    delivered(&client);
    client
        .identify("bea", &Properties::new(), Some(&hmac_token("bea")))
        .unwrap();
    client.track(&numbered("Bought", 2)).unwrap();
    delivered(&client);
    assert_eq!(
        exported_once(&server),
        labelled(&[
            ("Browsed", None),
            ("identify", Some("bea")),
            ("Bought", Some("bea"))
        ])
    );
}

#[test]
fn a_jwt_expiring_while_events_wait_is_renewed_through_the_listener() {
    let server = verifying_server();
    let dir = tempfile::tempdir().unwrap();
    let client = Arc::new(Client::new(sdk_config(dir.path(), &server.url)).unwrap());
    let listener = Arc::new(TokenListener::default());
    listener.client.set(Arc::downgrade(&client)).unwrap();
    client
        .set_identity_token_listener(Some(listener.clone()))
        .unwrap();
    // Valid for 4 more seconds: the server allows a minute of clock difference.
    let issued = Instant::now();
    let short_lived = jwt("cleo", Utc::now().timestamp() - 56);
    client
        .identify("cleo", &Properties::new(), Some(&short_lived))
        .unwrap();
    client.track(&numbered("Viewed", 1)).unwrap();
    delivered(&client);

    client.track(&numbered("Viewed", 2)).unwrap();
    client.track(&numbered("Added", 3)).unwrap();
    std::thread::sleep(Duration::from_secs(5).saturating_sub(issued.elapsed()));
    *listener.renewal.lock().unwrap() = Some(jwt("cleo", Utc::now().timestamp() + 3600));
    refused(&client, "cleo", IdentityProblem::Expired);
    // The listener handed a fresh token over from inside the callback: the worker
    // retries at once, not after its backoff.
    assert!(eventually(WAIT, || client.stats().unwrap().queued_events == 0));
    delivered(&client);

    assert_eq!(
        listener.heard(),
        [("cleo".into(), IdentityProblem::Expired)]
    );
    assert_eq!(
        exported_once(&server),
        labelled(&[
            ("identify", Some("cleo")),
            ("Viewed", Some("cleo")),
            ("Viewed", Some("cleo")),
            ("Added", Some("cleo"))
        ])
    );
    let stats = client.stats().unwrap();
    assert_eq!(stats.dropped.rejected_by_server, 0);
    assert!(stats.retries >= 1);
}

#[test]
fn without_a_valid_token_events_are_held_not_dropped_until_one_is_set() {
    let server = verifying_server();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    client.identify("dan", &Properties::new(), None).unwrap();
    client.track(&numbered("Viewed", 1)).unwrap();
    client.track(&numbered("Viewed", 2)).unwrap();
    refused(&client, "dan", IdentityProblem::Missing);
    refused(&client, "dan", IdentityProblem::Missing);
    let stats = client.stats().unwrap();
    assert_eq!(stats.queued_events, 3, "{stats:?}");
    assert_eq!(stats.dropped.rejected_by_server, 0);
    assert!(stats.last_error.unwrap().contains("\"dan\" (missing)"));
    assert!(server.export().is_empty());

    // A listener set after the refusal still hears of it, once.
    let listener = Arc::new(TokenListener::default());
    client
        .set_identity_token_listener(Some(listener.clone()))
        .unwrap();
    assert!(eventually(WAIT, || !listener.heard().is_empty()));
    assert_eq!(listener.heard(), [("dan".into(), IdentityProblem::Missing)]);

    // Another user's token is no proof.
    client
        .set_identity_token("dan", &hmac_token("eve"))
        .unwrap();
    assert!(eventually(WAIT, || listener.heard().len() == 2));
    assert_eq!(
        listener.heard()[1],
        ("dan".into(), IdentityProblem::Invalid)
    );
    refused(&client, "dan", IdentityProblem::Invalid);

    client
        .set_identity_token("dan", &hmac_token("dan"))
        .unwrap();
    delivered(&client);
    assert_eq!(
        exported_once(&server),
        labelled(&[
            ("identify", Some("dan")),
            ("Viewed", Some("dan")),
            ("Viewed", Some("dan"))
        ])
    );
    assert_eq!(listener.heard().len(), 2);
    assert_eq!(client.stats().unwrap().queued_events, 0);
}

#[test]
fn a_user_without_a_valid_token_does_not_hold_back_anyone_else() {
    let server = verifying_server();
    let dir = tempfile::tempdir().unwrap();
    let (client, listener) = listening_client(dir.path(), &server);
    // A user signs out before their events left, and the backend will not vouch for
    // them any more: their token had expired.
    let expired = jwt("hal", Utc::now().timestamp() - 3600);
    client
        .identify("hal", &Properties::new(), Some(&expired))
        .unwrap();
    client.track(&numbered("Hal Viewed", 1)).unwrap();
    client.reset().unwrap();
    client.track(&numbered("Anonymous Viewed", 2)).unwrap();
    client
        .identify("ivy", &Properties::new(), Some(&hmac_token("ivy")))
        .unwrap();
    client.track(&numbered("Ivy Bought", 3)).unwrap();

    // Everything but hal's events goes; the flush says what still waits, and why.
    let report = refused(&client, "hal", IdentityProblem::Expired);
    assert_eq!(report.queued, 2, "{report:?}");
    assert_eq!(
        exported_once(&server),
        labelled(&[
            ("Anonymous Viewed", None),
            ("identify", Some("ivy")),
            ("Ivy Bought", Some("ivy"))
        ])
    );
    // Later events keep going while hal waits.
    client.track(&numbered("Ivy Viewed", 4)).unwrap();
    let report = refused(&client, "hal", IdentityProblem::Expired);
    assert_eq!(report.uploaded, 1, "{report:?}");
    assert_eq!(listener.heard(), [("hal".into(), IdentityProblem::Expired)]);
    assert_eq!(client.stats().unwrap().dropped.rejected_by_server, 0);

    // A token for hal after all: the held events go, once, and nothing else moves.
    client
        .set_identity_token("hal", &hmac_token("hal"))
        .unwrap();
    delivered(&client);
    let stored: BTreeSet<(String, Option<String>)> = exported_once(&server).into_iter().collect();
    let expected: BTreeSet<(String, Option<String>)> = labelled(&[
        ("identify", Some("hal")),
        ("Hal Viewed", Some("hal")),
        ("Anonymous Viewed", None),
        ("identify", Some("ivy")),
        ("Ivy Bought", Some("ivy")),
        ("Ivy Viewed", Some("ivy")),
    ])
    .into_iter()
    .collect();
    assert_eq!(stored, expected);
    assert_eq!(client.stats().unwrap().queued_events, 0);
}

#[test]
fn events_queued_before_a_logout_upload_with_their_own_users_token() {
    let server = verifying_server();
    let dir = tempfile::tempdir().unwrap();
    {
        let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
        client
            .identify("fay", &Properties::new(), Some(&hmac_token("fay")))
            .unwrap();
        client.track(&numbered("Fay Viewed", 1)).unwrap();
        client.reset().unwrap();
        client.track(&numbered("Anonymous Viewed", 2)).unwrap();
        client
            .identify("gus", &Properties::new(), Some(&hmac_token("gus")))
            .unwrap();
        client.track(&numbered("Gus Viewed", 3)).unwrap();
        client.shutdown();
    }
    // The tokens outlive the process, as the queued events do.
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    delivered(&client);
    assert_eq!(
        exported_once(&server),
        labelled(&[
            ("identify", Some("fay")),
            ("Fay Viewed", Some("fay")),
            ("Anonymous Viewed", None),
            ("identify", Some("gus")),
            ("Gus Viewed", Some("gus"))
        ])
    );
}

fn sms_state(client: &Client) -> PermissionState {
    let permissions = client.permissions().unwrap();
    permissions
        .into_iter()
        .find(|p| p.channel == Channel::Sms)
        .unwrap()
        .state
}

#[test]
fn the_permissions_fetch_carries_the_token_and_is_refused_without_it() {
    let server = verifying_server();
    let (status, answer) = server.admin_put(
        "/v1/admin/users/hal/permissions/sms",
        &json!({"state": "opted_in"}),
    );
    assert_eq!(status, 200, "{answer}");
    let dir = tempfile::tempdir().unwrap();
    let (client, listener) = listening_client(dir.path(), &server);
    client.identify("hal", &Properties::new(), None).unwrap();

    client.sync(WAIT).unwrap();
    assert_eq!(sms_state(&client), PermissionState::Subscribed);
    assert_eq!(listener.heard(), [("hal".into(), IdentityProblem::Missing)]);

    client
        .set_identity_token("hal", &hmac_token("hal"))
        .unwrap();
    client.sync(WAIT).unwrap();
    assert_eq!(sms_state(&client), PermissionState::OptedIn);
    assert_eq!(listener.heard().len(), 1);
}

#[test]
fn bad_tokens_are_refused_with_a_typed_error_naming_the_argument() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(sdk_config(dir.path(), "http://127.0.0.1:9")).unwrap();
    let huge = "a".repeat(MAX_IDENTITY_TOKEN_BYTES + 904);
    for bad in [
        "",
        "two words",
        " ",
        "caf\u{e9}",
        "line\nbreak",
        huge.as_str(),
    ] {
        let field = |result: Result<(), ClientError>| match result {
            Err(ClientError::InvalidArgument(error)) => error.field,
            other => panic!("{bad:?}: {other:?}"),
        };
        assert_eq!(
            field(client.identify("ivy", &Properties::new(), Some(bad))),
            "identity_token"
        );
        assert_eq!(
            field(client.set_identity_token("ivy", bad)),
            "identity_token"
        );
    }
    assert_eq!(
        match client.set_identity_token(" ", &hmac_token("ivy")) {
            Err(ClientError::InvalidArgument(error)) => error.field,
            other => panic!("{other:?}"),
        },
        "user_id"
    );
    assert_eq!(client.user_id(), None, "a refused identify changes nothing");
    assert_eq!(client.stats().unwrap().queued_events, 0);
}

const CHILD_DIR: &str = "BECKON_IDENTITY_CHILD_DIR";
const CHILD_URL: &str = "BECKON_IDENTITY_CHILD_URL";
const HELD_USER: &str = "held-user";

/// An SDK that tries to upload every few events (and is refused for want of a token).
fn eager_config(dir: &Path, url: &str) -> beckon::client::BeckonConfig {
    let mut config = sdk_config(dir, url);
    config.flush_policy = FlushPolicy {
        flush_at: 5,
        ..config.flush_policy
    };
    config
}

/// The child's work: identify without a token and track events while the server
/// refuses every batch, acknowledging each event on stdout once `track` returned. Does
/// nothing when run as an ordinary test.
#[test]
fn identity_child_tracks_while_refused_until_killed() {
    let (Ok(dir), Ok(url)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_URL)) else {
        return;
    };
    let client = Client::new(eager_config(Path::new(&dir), &url)).unwrap();
    client
        .identify(HELD_USER, &Properties::new(), None)
        .unwrap();
    // The events below are tracked while the user's are already refused.
    refused(&client, HELD_USER, IdentityProblem::Missing);
    for n in 0.. {
        client.track(&numbered("Held", n)).unwrap();
        println!("acked {n}");
    }
}

#[test]
fn a_sigkill_while_events_wait_for_a_token_loses_none() {
    let server = verifying_server();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        (CHILD_DIR, dir.path().to_str().unwrap().to_owned()),
        (CHILD_URL, server.url.clone()),
    ];
    let kill_after = 40 + fastrand::usize(..200);
    let acked: BTreeSet<u64> = common::run_child_and_kill(
        "identity_child_tracks_while_refused_until_killed",
        &env,
        kill_after,
    )
    .iter()
    .map(|n| n.parse().unwrap())
    .collect();
    assert!(acked.len() >= kill_after);

    let client = Client::new(eager_config(dir.path(), &server.url)).unwrap();
    let stats = client.stats().unwrap();
    assert!(
        stats.retries >= 1,
        "the child's uploads were refused: {stats:?}"
    );
    assert_eq!(stats.dropped.rejected_by_server, 0);
    assert!(server.export().is_empty());
    client
        .set_identity_token(HELD_USER, &hmac_token(HELD_USER))
        .unwrap();
    delivered(&client);
    let stored: Vec<Value> = server
        .export()
        .into_iter()
        .filter(|e| e["name"] == "Held")
        .collect();
    let numbers: BTreeSet<u64> = stored
        .iter()
        .map(|e| e["properties"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers.len(), stored.len(), "no event stored twice");
    let missing: Vec<_> = acked.difference(&numbers).collect();
    assert!(missing.is_empty(), "acknowledged events lost: {missing:?}");
    assert!(stored.iter().all(|e| e["user_id"] == HELD_USER));
}
