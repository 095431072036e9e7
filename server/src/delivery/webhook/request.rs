//! The JSON body the webhook receives for one message.

use serde::Serialize;

use crate::delivery::message::WebhookChannel;

#[derive(Serialize)]
pub(crate) struct WebhookMessage<'a> {
    pub channel: WebhookChannel,
    pub user_key: &'a str,
    pub address: &'a str,
    pub subject: Option<&'a str>,
    pub body: &'a str,
    pub data: &'a serde_json::Value,
}

/// The body, or why it must not be sent.
pub(crate) fn webhook_body(message: &WebhookMessage<'_>) -> Result<Vec<u8>, String> {
    if message.address.trim().is_empty() {
        return Err(format!("no {} address", message.channel.as_str()));
    }
    if message.body.is_empty() {
        return Err("the message body is empty".into());
    }
    serde_json::to_vec(message).map_err(|err| format!("cannot serialize the message: {err}"))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn message<'a>(data: &'a Value) -> WebhookMessage<'a> {
        WebhookMessage {
            channel: WebhookChannel::Sms,
            user_key: "user-1",
            address: "+351910000000",
            subject: None,
            body: "Your code SPRING10 ends tonight",
            data,
        }
    }

    #[test]
    fn the_body_names_every_field() {
        let data = json!({"campaign_id": "c1"});
        let body: Value = serde_json::from_slice(&webhook_body(&message(&data)).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "channel": "sms",
                "user_key": "user-1",
                "address": "+351910000000",
                "subject": null,
                "body": "Your code SPRING10 ends tonight",
                "data": {"campaign_id": "c1"}
            })
        );
    }

    #[test]
    fn refuses_a_missing_address_or_body() {
        let data = Value::Null;
        let no_address = WebhookMessage {
            address: " ",
            ..message(&data)
        };
        assert_eq!(webhook_body(&no_address).unwrap_err(), "no sms address");
        let no_body = WebhookMessage {
            body: "",
            ..message(&data)
        };
        assert!(webhook_body(&no_body).unwrap_err().contains("empty"));
    }
}
