//! Starts the three mock providers on loopback, writes the credentials a Beckon server
//! needs to reach them into a directory, prints the matching server environment, and
//! runs until interrupted.
//!
//! ```text
//! beckon-mock-providers [DIR]
//! ```

use std::path::PathBuf;

use beckon_mock_providers::{MockApns, MockFcm, MockWebhook};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("beckon-mock-providers"));
    std::fs::create_dir_all(&dir)?;

    let fcm = MockFcm::start().await;
    let apns = MockApns::start().await;
    let webhook = MockWebhook::start().await;

    let service_account = dir.join("fcm-service-account.TEST-KEY.json");
    std::fs::write(&service_account, fcm.service_account_json())?;
    let apns_key = dir.join("apns-key.TEST-KEY.p8");
    std::fs::write(&apns_key, &apns.key().pem)?;
    let apns_ca = dir.join("apns-mock-ca.pem");
    std::fs::write(&apns_ca, apns.ca_pem())?;

    // Scripts read these lines (KEY=VALUE) to configure the server.
    println!("BECKON_FCM_SERVICE_ACCOUNT={}", service_account.display());
    println!("BECKON_FCM_BASE_URL={}", fcm.url());
    println!("BECKON_APNS_KEY={}", apns_key.display());
    println!("BECKON_APNS_KEY_ID={}", apns.key().key_id);
    println!("BECKON_APNS_TEAM_ID={}", apns.key().team_id);
    println!("BECKON_APNS_TOPIC={}", apns.topic());
    println!("BECKON_APNS_BASE_URL={}", apns.url());
    println!("BECKON_APNS_EXTRA_ROOT_CA={}", apns_ca.display());
    println!("BECKON_WEBHOOK_URL={}", webhook.url());
    println!("BECKON_WEBHOOK_SECRET={}", webhook.secret());
    println!("beckon-mock-providers ready");

    stopped().await;
    eprintln!("fcm: {:?}", fcm.counters());
    eprintln!("apns: {:?}", apns.counters());
    eprintln!("webhook: {:?}", webhook.counters());
    Ok(())
}

/// Ctrl-C, or SIGTERM from a script stopping the mocks.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
