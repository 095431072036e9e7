//! Consent: the consent events devices report (read by the server from every batch and
//! by the device's segment history), the permissions document devices download
//! (`GET /v1/permissions`) and the checks on push tokens, time zones, countries and
//! sources. The first byte picks which.
//!
//! - `0`–`4`: a consent event's properties (JSON object) under one of the four consent
//!   event names, or an ordinary one. A report read writes back to properties that
//!   read to the same report.
//! - `5`: a permissions document (JSON up to the first NUL, then the bytes the device's
//!   own permissions are drawn from). The changes a device takes are the server's
//!   latest per channel, one per channel, each superseding the device's.
//! - `6`: a token, zone, country or source: what a check accepts, it accepts again
//!   unchanged (it is the canonical form).

use arbitrary::Unstructured;
use beckon::consent::{
    changes_from_server, check_country, check_push_token, check_source, check_time_zone, state_of,
    with_defaults, Channel, Permission, PermissionState,
};
use beckon::protocol::{
    ConsentReport, PermissionsDocument, PushProvider, CHANNEL_PERMISSION_CHANGED,
    PUSH_PERMISSION_CHANGED, PUSH_TOKEN_REGISTERED, PUSH_TOKEN_REMOVED,
};
use serde_json::Value;

use crate::gen;

pub fn run(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 7 {
        n @ 0..=4 => report(n, rest),
        5 => permissions(rest),
        _ => checks(&String::from_utf8_lossy(rest)),
    }
}

fn report(which: u8, rest: &[u8]) {
    let name = [
        CHANNEL_PERMISSION_CHANGED,
        PUSH_PERMISSION_CHANGED,
        PUSH_TOKEN_REGISTERED,
        PUSH_TOKEN_REMOVED,
        "Product Viewed",
    ][usize::from(which)];
    let Ok(Value::Object(properties)) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    match ConsentReport::read_properties(name, &properties) {
        Ok(Some(report)) => {
            assert_eq!(report.event_name(), name);
            let written = report.properties();
            assert_eq!(
                ConsentReport::read_properties(name, &written),
                Ok(Some(report.clone())),
                "{written:?}"
            );
        }
        Ok(None) => assert_eq!(name, "Product Viewed"),
        Err(err) => {
            assert!(err.field.starts_with("properties."), "{err}");
        }
    }
}

fn permissions(rest: &[u8]) {
    let (text, rest) = gen::split(rest);
    let Ok(document) = serde_json::from_str::<PermissionsDocument>(&text) else {
        return;
    };
    let again: PermissionsDocument =
        serde_json::from_str(&serde_json::to_string(&document).unwrap()).unwrap();
    assert_eq!(again, document);
    let mut u = Unstructured::new(rest);
    let local = local_permissions(&mut u).unwrap_or_default();
    let server = &document.permissions;
    let changes = changes_from_server(&local, server);
    for (i, change) in changes.iter().enumerate() {
        assert!(
            !changes[..i].iter().any(|c| c.channel == change.channel),
            "two changes for {:?}",
            change.channel
        );
        assert!(server.contains(change));
        assert!(
            server
                .iter()
                .filter(|p| p.channel == change.channel)
                .all(|p| !p.supersedes(change)),
            "not the server's latest for {:?}",
            change.channel
        );
        if let Some(current) = local.iter().find(|p| p.channel == change.channel) {
            assert!(change.supersedes(current));
        }
    }
    // Taken, the changes are the device's new state: nothing more to take.
    let mut merged = local.clone();
    for change in &changes {
        merged.retain(|p| p.channel != change.channel);
        merged.push(change.clone());
    }
    assert_eq!(changes_from_server(&merged, server), vec![]);
    let all = with_defaults(&merged);
    assert_eq!(all.len(), Channel::ALL.len());
    for channel in Channel::ALL {
        let _ = state_of(&merged, channel);
    }
}

fn local_permissions(u: &mut Unstructured) -> arbitrary::Result<Vec<Permission>> {
    let mut local = Vec::new();
    for channel in Channel::ALL {
        if u.arbitrary()? {
            local.push(Permission {
                channel,
                state: *u.choose(&PermissionState::ALL)?,
                source: gen::name(u, &["app", "server", "unsubscribe_link"])?,
                updated_at: gen::instant(u)?,
            });
        }
    }
    Ok(local)
}

fn checks(text: &str) {
    for provider in [PushProvider::Fcm, PushProvider::Apns] {
        if let Ok(token) = check_push_token(provider, text) {
            assert_eq!(check_push_token(provider, &token).as_ref(), Ok(&token));
            assert!(token.eq_ignore_ascii_case(text));
        }
    }
    if let Ok(zone) = check_time_zone(text) {
        assert_eq!(check_time_zone(&zone).as_ref(), Ok(&zone));
    }
    if let Ok(country) = check_country(text) {
        assert_eq!(check_country(&country).as_ref(), Ok(&country));
    }
    if check_source(text).is_ok() {
        assert!(!text.is_empty());
    }
}
