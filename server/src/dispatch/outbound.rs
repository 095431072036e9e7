//! What goes to a provider for one due delivery: the push payload (message id, send,
//! campaign, deep link, promo) with the rendered title and body, or the webhook
//! message; and what the provider's answers make of the delivery.

use beckon::consent::Channel;
use beckon::protocol::{PromoOffer, PushPayload};
use serde_json::json;

use crate::delivery::{Attempt, Outbound, Outcome, PushNotification, PushPriority, WebhookChannel};
use crate::store::{AttemptRecord, DeliveryStatus, DueDelivery, SendRecord};

/// What every delivery of one send carries besides its own texts.
#[derive(Debug, Clone, PartialEq)]
pub struct SendExtras {
    pub send_id: String,
    pub campaign_id: Option<String>,
    pub collapse_id: Option<String>,
    pub promo: Option<PromoOffer>,
}

impl SendExtras {
    pub fn of(send: &SendRecord) -> SendExtras {
        SendExtras {
            send_id: send.id.clone(),
            campaign_id: send.campaign_id.clone(),
            collapse_id: send.collapse_id.clone(),
            promo: send.promo.clone(),
        }
    }
}

/// The payload the app reads from the push (`beckon::push::parse_push`).
pub fn push_payload(extras: &SendExtras, due: &DueDelivery) -> PushPayload {
    PushPayload {
        campaign_id: extras.campaign_id.clone(),
        send_id: Some(extras.send_id.clone()),
        deep_link: due.content.deep_link.clone(),
        promo: extras.promo.clone(),
        ..PushPayload::new(due.message_id.clone())
    }
}

/// The message for the provider, or why it cannot be built (the delivery fails).
pub fn outbound(extras: &SendExtras, due: &DueDelivery) -> Result<Outbound, String> {
    let content = &due.content;
    match due.channel {
        Channel::Push => {
            let provider = due
                .provider
                .ok_or("a push delivery names no push provider")?;
            let data = push_payload(extras, due)
                .to_fcm_data()
                .map_err(|err| format!("the push payload is refused: {err}"))?;
            Ok(Outbound::Push {
                provider,
                token: due.recipient.clone(),
                notification: PushNotification {
                    title: content.title.clone(),
                    body: content.body.clone(),
                    data,
                    collapse_id: extras.collapse_id.clone(),
                    expires_at: due.expires_at,
                    priority: PushPriority::High,
                },
            })
        }
        Channel::Email | Channel::Sms | Channel::Whatsapp => {
            let channel = WebhookChannel::for_channel(due.channel)
                .ok_or("no webhook channel for this channel")?;
            Ok(Outbound::Webhook {
                channel,
                user_key: due.user_key.clone(),
                address: due.recipient.clone(),
                // Only email has a subject line; the other channels get the title in
                // `data` for the receiving service to use or not.
                subject: (channel == WebhookChannel::Email).then(|| content.title.clone()),
                body: content.body.clone(),
                data: json!({
                    "message_id": due.message_id,
                    "send_id": extras.send_id,
                    "campaign_id": extras.campaign_id,
                    "title": content.title,
                    "locale": content.locale,
                    "deep_link": content.deep_link,
                    "promo": extras.promo,
                    "expires_at": due.expires_at,
                }),
            })
        }
        Channel::InApp => Err("in-app messages are shown by the app, not sent".into()),
    }
}

/// The delivery's status and detail after the attempts a provider was given.
pub fn settle(attempts: &[Attempt]) -> (DeliveryStatus, String) {
    let Some(last) = attempts.last() else {
        return (DeliveryStatus::Failed, "no attempt was made".into());
    };
    match &last.outcome {
        Outcome::Delivered { provider_id } => (
            DeliveryStatus::Delivered,
            match provider_id {
                Some(id) => format!("accepted as {id}"),
                None => "accepted".into(),
            },
        ),
        Outcome::Unregistered { detail } => (DeliveryStatus::Unregistered, detail.clone()),
        Outcome::Retry { detail, .. } => (
            DeliveryStatus::Failed,
            format!("gave up after {} attempts: {detail}", attempts.len()),
        ),
        Outcome::Failed { detail, .. } => (DeliveryStatus::Failed, detail.clone()),
    }
}

/// One attempt as stored.
pub fn attempt_record(attempt: &Attempt) -> AttemptRecord {
    let (http_status, detail) = match &attempt.outcome {
        Outcome::Delivered { provider_id } => (None, provider_id.clone()),
        Outcome::Unregistered { detail } => (None, Some(detail.clone())),
        Outcome::Retry { status, detail, .. } | Outcome::Failed { status, detail } => {
            (*status, Some(detail.clone()))
        }
    };
    AttemptRecord {
        number: attempt.number,
        started_at: attempt.started_at,
        finished_at: attempt.finished_at,
        outcome: attempt.outcome.kind().to_owned(),
        http_status,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use beckon::protocol::{Discount, PushProvider};
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::store::DeliveryContent;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn extras() -> SendExtras {
        SendExtras {
            send_id: "send-1".into(),
            campaign_id: Some("xmas".into()),
            collapse_id: Some("xmas-2026".into()),
            promo: Some(PromoOffer {
                code: "XMAS10".into(),
                discount: Discount::Percent { value: 10.0 },
                currency: None,
                expires_at: at("2026-12-31T23:59:59Z"),
                min_basket: None,
                max_uses: 1,
            }),
        }
    }

    fn due(channel: Channel, recipient: &str) -> DueDelivery {
        DueDelivery {
            id: 7,
            send_id: "send-1".into(),
            user_key: "ana".into(),
            channel,
            provider: (channel == Channel::Push).then_some(PushProvider::Apns),
            recipient: recipient.into(),
            message_id: "m-1".into(),
            deliver_at: at("2026-12-24T09:00:00Z"),
            expires_at: Some(at("2026-12-24T13:00:00Z")),
            content: DeliveryContent {
                locale: "pt-BR".into(),
                title: "Oi Ana".into(),
                body: "Use XMAS10".into(),
                deep_link: Some("shop://cart?code=XMAS10".into()),
            },
            planned_at: at("2026-12-01T10:00:00Z"),
        }
    }

    fn attempt(number: u32, outcome: Outcome) -> Attempt {
        Attempt {
            number,
            started_at: at("2026-12-24T09:00:00Z"),
            finished_at: at("2026-12-24T09:00:01Z"),
            outcome,
        }
    }

    #[test]
    fn a_push_carries_the_payload_the_app_parses() {
        let Outbound::Push {
            provider,
            token,
            notification,
        } = outbound(&extras(), &due(Channel::Push, "tok")).unwrap()
        else {
            panic!("not a push")
        };
        assert_eq!((provider, token.as_str()), (PushProvider::Apns, "tok"));
        assert_eq!(notification.title, "Oi Ana");
        assert_eq!(notification.body, "Use XMAS10");
        assert_eq!(notification.collapse_id.as_deref(), Some("xmas-2026"));
        assert_eq!(notification.expires_at, Some(at("2026-12-24T13:00:00Z")));
        let data: HashMap<String, String> = notification.data.into_iter().collect();
        let payload = beckon::push::parse_fcm_data(&data).unwrap();
        assert_eq!(payload.message_id, "m-1");
        assert_eq!(payload.send_id.as_deref(), Some("send-1"));
        assert_eq!(payload.campaign_id.as_deref(), Some("xmas"));
        assert_eq!(
            payload.deep_link.as_deref(),
            Some("shop://cart?code=XMAS10")
        );
        assert_eq!(payload.promo, extras().promo);
    }

    #[test]
    fn a_payload_devices_would_refuse_fails_the_delivery() {
        let mut bad = due(Channel::Push, "tok");
        bad.content.deep_link = Some("javascript:alert(1)".into());
        let err = outbound(&extras(), &bad).unwrap_err();
        assert!(err.contains("beckon.deep_link"), "{err}");
        let mut no_provider = due(Channel::Push, "tok");
        no_provider.provider = None;
        assert!(outbound(&extras(), &no_provider).is_err());
        assert!(outbound(&extras(), &due(Channel::InApp, "")).is_err());
    }

    #[test]
    fn email_gets_a_subject_and_sms_the_title_in_data() {
        let Outbound::Webhook {
            channel,
            address,
            subject,
            body,
            data,
            user_key,
        } = outbound(&extras(), &due(Channel::Email, "ana@shop.example")).unwrap()
        else {
            panic!("not a webhook")
        };
        assert_eq!(channel, WebhookChannel::Email);
        assert_eq!(
            (address.as_str(), user_key.as_str()),
            ("ana@shop.example", "ana")
        );
        assert_eq!(subject.as_deref(), Some("Oi Ana"));
        assert_eq!(body, "Use XMAS10");
        assert_eq!(data["message_id"], "m-1");
        assert_eq!(data["promo"]["code"], "XMAS10");
        let Outbound::Webhook { subject, data, .. } =
            outbound(&extras(), &due(Channel::Sms, "+351910000000")).unwrap()
        else {
            panic!("not a webhook")
        };
        assert_eq!(subject, None);
        assert_eq!(data["title"], "Oi Ana");
    }

    #[test]
    fn the_last_attempt_settles_the_delivery() {
        let retry = |n| {
            attempt(
                n,
                Outcome::Retry {
                    after: Some(Duration::from_secs(1)),
                    status: Some(429),
                    detail: "FCM: 429 QUOTA_EXCEEDED".into(),
                },
            )
        };
        let delivered = attempt(
            3,
            Outcome::Delivered {
                provider_id: Some("projects/p/messages/1".into()),
            },
        );
        assert_eq!(
            settle(&[retry(1), retry(2), delivered.clone()]),
            (
                DeliveryStatus::Delivered,
                "accepted as projects/p/messages/1".into()
            )
        );
        assert_eq!(
            settle(&[retry(1), retry(2)]),
            (
                DeliveryStatus::Failed,
                "gave up after 2 attempts: FCM: 429 QUOTA_EXCEEDED".into()
            )
        );
        let gone = attempt(
            1,
            Outcome::Unregistered {
                detail: "FCM: 404 UNREGISTERED".into(),
            },
        );
        assert_eq!(settle(&[gone]).0, DeliveryStatus::Unregistered);
        assert_eq!(settle(&[]).0, DeliveryStatus::Failed);

        let stored = attempt_record(&retry(1));
        assert_eq!(
            (stored.number, stored.outcome.as_str(), stored.http_status),
            (1, "retry", Some(429))
        );
        assert_eq!(stored.detail.as_deref(), Some("FCM: 429 QUOTA_EXCEEDED"));
        let stored = attempt_record(&delivered);
        assert_eq!(stored.outcome, "delivered");
        assert_eq!(stored.detail.as_deref(), Some("projects/p/messages/1"));
    }
}
