//! The consent events a device sends, read into typed changes and written back.
//!
//! The SDK writes these events and the server applies them; both go through
//! [`ConsentReport`], so a property means the same thing on each side and an event the
//! server would refuse is refused on the device first.

use serde_json::{Map, Value};

use super::consent::*;
use super::wire_event::{check_id, WireEvent, WireKind};
use crate::common::FieldError;
use crate::consent::{Channel, PermissionState};
use crate::text::quote;

/// The source of a permission change the device reports without naming one.
pub const DEFAULT_DEVICE_SOURCE: &str = "app";

/// One device-to-server consent event. The time of the change is the event's
/// timestamp, which is not part of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentReport {
    /// [`CHANNEL_PERMISSION_CHANGED`]
    PermissionChanged {
        channel: Channel,
        state: PermissionState,
        source: String,
    },
    /// [`PUSH_PERMISSION_CHANGED`]: what the OS lets the app show.
    PushPermissionChanged { granted: bool },
    /// [`PUSH_TOKEN_REGISTERED`]
    PushTokenRegistered {
        provider: PushProvider,
        token: String,
    },
    /// [`PUSH_TOKEN_REMOVED`]
    PushTokenRemoved {
        provider: PushProvider,
        token: String,
    },
}

/// Whether `name` is one of the consent events: what the device reports about its
/// permissions and push tokens, not something the user did in the shop.
pub fn is_consent_report(name: &str) -> bool {
    matches!(
        name,
        CHANNEL_PERMISSION_CHANGED
            | PUSH_PERMISSION_CHANGED
            | PUSH_TOKEN_REGISTERED
            | PUSH_TOKEN_REMOVED
    )
}

impl ConsentReport {
    /// `Ok(None)` for every event that is not a consent event (a screen named like
    /// one is a screen); an error naming the property when a consent event is malformed.
    pub fn read(event: &WireEvent) -> Result<Option<ConsentReport>, FieldError> {
        match (event.kind, event.name.as_deref()) {
            (WireKind::Track, Some(name)) => Self::read_properties(name, &event.properties),
            _ => Ok(None),
        }
    }

    /// [`ConsentReport::read`] over a track event's name and properties.
    pub fn read_properties(
        name: &str,
        properties: &Map<String, Value>,
    ) -> Result<Option<ConsentReport>, FieldError> {
        let report = match name {
            CHANNEL_PERMISSION_CHANGED => ConsentReport::PermissionChanged {
                channel: parse(properties, CHANNEL_PROPERTY)?,
                state: parse(properties, STATE_PROPERTY)?,
                source: match optional_text(properties, SOURCE_PROPERTY)? {
                    Some(source) => {
                        check_id(&field(SOURCE_PROPERTY), source)?;
                        source.to_string()
                    }
                    None => DEFAULT_DEVICE_SOURCE.to_string(),
                },
            },
            PUSH_PERMISSION_CHANGED => match properties.get(GRANTED_PROPERTY) {
                Some(Value::Bool(granted)) => {
                    ConsentReport::PushPermissionChanged { granted: *granted }
                }
                Some(_) => {
                    return Err(FieldError::new(
                        field(GRANTED_PROPERTY),
                        "must be a boolean",
                    ))
                }
                None => return Err(FieldError::new(field(GRANTED_PROPERTY), "is required")),
            },
            PUSH_TOKEN_REGISTERED | PUSH_TOKEN_REMOVED => {
                let provider_name = text(properties, PROVIDER_PROPERTY)?;
                let provider = PushProvider::parse(provider_name).ok_or_else(|| {
                    FieldError::new(
                        field(PROVIDER_PROPERTY),
                        format!(
                            "unknown provider {}; expected one of fcm, apns",
                            quote(provider_name)
                        ),
                    )
                })?;
                let token = text(properties, TOKEN_PROPERTY)?;
                let token = crate::consent::check_push_token(provider, token)
                    .map_err(|e| FieldError::new(field(TOKEN_PROPERTY), e.problem))?;
                if name == PUSH_TOKEN_REGISTERED {
                    ConsentReport::PushTokenRegistered { provider, token }
                } else {
                    ConsentReport::PushTokenRemoved { provider, token }
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(report))
    }

    /// The name of the track event carrying this report.
    pub fn event_name(&self) -> &'static str {
        match self {
            ConsentReport::PermissionChanged { .. } => CHANNEL_PERMISSION_CHANGED,
            ConsentReport::PushPermissionChanged { .. } => PUSH_PERMISSION_CHANGED,
            ConsentReport::PushTokenRegistered { .. } => PUSH_TOKEN_REGISTERED,
            ConsentReport::PushTokenRemoved { .. } => PUSH_TOKEN_REMOVED,
        }
    }

    /// The properties of the track event carrying this report.
    pub fn properties(&self) -> Map<String, Value> {
        let mut properties = Map::new();
        let mut put = |key: &str, value: Value| {
            properties.insert(key.to_string(), value);
        };
        match self {
            ConsentReport::PermissionChanged {
                channel,
                state,
                source,
            } => {
                put(CHANNEL_PROPERTY, channel.as_str().into());
                put(STATE_PROPERTY, state.as_str().into());
                put(SOURCE_PROPERTY, source.as_str().into());
            }
            ConsentReport::PushPermissionChanged { granted } => {
                put(GRANTED_PROPERTY, (*granted).into());
            }
            ConsentReport::PushTokenRegistered { provider, token }
            | ConsentReport::PushTokenRemoved { provider, token } => {
                put(PROVIDER_PROPERTY, provider.as_str().into());
                put(TOKEN_PROPERTY, token.as_str().into());
            }
        }
        properties
    }
}

fn field(key: &str) -> String {
    format!("properties.{key}")
}

fn optional_text<'a>(
    properties: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, FieldError> {
    match properties.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(FieldError::new(field(key), "must be a string")),
    }
}

fn text<'a>(properties: &'a Map<String, Value>, key: &str) -> Result<&'a str, FieldError> {
    optional_text(properties, key)?.ok_or_else(|| FieldError::new(field(key), "is required"))
}

fn parse<T: std::str::FromStr<Err = crate::consent::UnknownName>>(
    properties: &Map<String, Value>,
    key: &str,
) -> Result<T, FieldError> {
    text(properties, key)?
        .parse()
        .map_err(|err: crate::consent::UnknownName| FieldError::new(field(key), err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn event(kind: WireKind, name: &str, properties: Value) -> WireEvent {
        WireEvent {
            id: "00000000-0000-4000-8000-000000000000".into(),
            kind,
            name: Some(name.into()),
            properties: props(properties),
            traits: Map::new(),
            anonymous_id: "anon".into(),
            user_id: None,
            timestamp: "2025-01-01T00:00:00Z".parse().unwrap(),
            context: Map::new(),
        }
    }

    #[test]
    fn every_report_round_trips_through_its_event() {
        let reports = [
            ConsentReport::PermissionChanged {
                channel: Channel::Sms,
                state: PermissionState::OptedIn,
                source: "settings_screen".into(),
            },
            ConsentReport::PushPermissionChanged { granted: false },
            ConsentReport::PushTokenRegistered {
                provider: PushProvider::Fcm,
                token: "fcm:APA91b-x_y".into(),
            },
            ConsentReport::PushTokenRemoved {
                provider: PushProvider::Apns,
                token: "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90".into(),
            },
        ];
        for report in reports {
            let sent = event(
                WireKind::Track,
                report.event_name(),
                Value::Object(report.properties()),
            );
            assert_eq!(ConsentReport::read(&sent), Ok(Some(report)));
        }
    }

    #[test]
    fn other_events_and_screens_are_not_reports() {
        let permission = json!({"channel": "email", "state": "unsubscribed"});
        assert_eq!(
            ConsentReport::read(&event(
                WireKind::Track,
                "Product Viewed",
                permission.clone()
            )),
            Ok(None)
        );
        assert_eq!(
            ConsentReport::read(&event(
                WireKind::Screen,
                CHANNEL_PERMISSION_CHANGED,
                permission
            )),
            Ok(None)
        );
    }

    #[test]
    fn a_permission_change_without_a_source_comes_from_the_app() {
        let read = ConsentReport::read_properties(
            CHANNEL_PERMISSION_CHANGED,
            &props(json!({"channel": "email", "state": "unsubscribed"})),
        );
        assert_eq!(
            read,
            Ok(Some(ConsentReport::PermissionChanged {
                channel: Channel::Email,
                state: PermissionState::Unsubscribed,
                source: DEFAULT_DEVICE_SOURCE.into(),
            }))
        );
    }

    #[test]
    fn malformed_reports_name_the_property_and_the_problem() {
        let cases = [
            (
                CHANNEL_PERMISSION_CHANGED,
                json!({"channel": "fax", "state": "opted_in"}),
                "properties.channel: unknown channel \"fax\"; expected one of push, in_app, \
                 email, sms, whatsapp",
            ),
            (
                CHANNEL_PERMISSION_CHANGED,
                json!({"channel": "sms", "state": "yes"}),
                "properties.state: unknown state \"yes\"; expected one of subscribed, \
                 opted_in, unsubscribed",
            ),
            (
                CHANNEL_PERMISSION_CHANGED,
                json!({"state": "opted_in"}),
                "properties.channel: is required",
            ),
            (
                CHANNEL_PERMISSION_CHANGED,
                json!({"channel": "sms", "state": 1}),
                "properties.state: must be a string",
            ),
            (
                CHANNEL_PERMISSION_CHANGED,
                json!({"channel": "sms", "state": "opted_in", "source": " "}),
                "properties.source: must not be empty",
            ),
            (
                PUSH_PERMISSION_CHANGED,
                json!({"granted": "yes"}),
                "properties.granted: must be a boolean",
            ),
            (
                PUSH_PERMISSION_CHANGED,
                json!({}),
                "properties.granted: is required",
            ),
            (
                PUSH_TOKEN_REGISTERED,
                json!({"provider": "hms", "token": "t"}),
                "properties.provider: unknown provider \"hms\"; expected one of fcm, apns",
            ),
            (
                PUSH_TOKEN_REGISTERED,
                json!({"provider": "apns", "token": "not-hex"}),
                "properties.token: an APNs token is hexadecimal; found 'n' at byte 0",
            ),
            (
                PUSH_TOKEN_REMOVED,
                json!({"provider": "fcm", "token": "has space"}),
                "properties.token: an FCM token is printable ASCII without spaces; found ' ' at byte 3",
            ),
            (
                PUSH_TOKEN_REMOVED,
                json!({"provider": "fcm", "token": ""}),
                "properties.token: must not be empty",
            ),
            (
                PUSH_TOKEN_REGISTERED,
                json!({"provider": "fcm"}),
                "properties.token: is required",
            ),
        ];
        for (name, properties, expected) in cases {
            let err = ConsentReport::read_properties(name, &props(properties)).unwrap_err();
            assert_eq!(err.to_string(), expected);
        }
        let long = "a".repeat(crate::consent::MAX_PUSH_TOKEN_BYTES + 1);
        let err = ConsentReport::read_properties(
            PUSH_TOKEN_REGISTERED,
            &props(json!({"provider": "apns", "token": long})),
        )
        .unwrap_err();
        assert!(err.problem.contains("over the 4096-byte limit"), "{err}");
    }
}
