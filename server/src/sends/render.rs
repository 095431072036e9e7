//! A send's texts for one user: the locale variant chosen, title and body rendered as
//! plain text and the deep link in URL mode, with the shared template engine and the
//! same behaviour values the device derives from the same events.
//!
//! The templates were parsed when the send was created; here they are only rendered.

use beckon::messages::{BehaviourSnapshot, Field, OutputMode, RenderContext, Rendered};
use serde::Serialize;

use super::content::check_send_link;
use super::recipient::Recipient;
use super::request::Send;

/// What one user is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedSend {
    /// The variant's locale tag, as written in the send.
    pub locale: String,
    pub title: String,
    pub body: String,
    pub deep_link: Option<String>,
    /// Fields whose value was missing, so a fallback was used; once each, in order
    /// over title, body and deep link.
    pub fell_back: Vec<Field>,
}

/// Renders `send` for `recipient`. A deep link that the user's values would make
/// invalid (a value in the scheme, a link over the length limit) is replaced by the
/// link rendered without any value, which was checked when the send was created.
pub fn render_send(send: &Send, recipient: &Recipient) -> RenderedSend {
    let content = send.content();
    let (locale, message) = content.variant_for(recipient.locale.as_deref().unwrap_or_default());
    let mut context = RenderContext {
        traits: recipient.traits.clone(),
        behaviour: BehaviourSnapshot::from_history(&recipient.history),
        promo_code: send.promo().map(|p| p.code.clone()),
        free_shipping_thresholds: content.free_shipping_thresholds().clone(),
        output: OutputMode::PlainText,
    };
    let mut fell_back = Vec::new();
    let title = take(message.title.render(&context), &mut fell_back);
    let body = take(message.body.render(&context), &mut fell_back);
    let deep_link = content.deep_link().map(|link| {
        context.output = OutputMode::Url;
        let text = take(link.template().render(&context), &mut fell_back);
        if check_send_link(&text).is_ok() {
            text
        } else {
            link.fallback().to_owned()
        }
    });
    RenderedSend {
        locale: locale.to_owned(),
        title,
        body,
        deep_link,
        fell_back,
    }
}

fn take(rendered: Rendered, fell_back: &mut Vec<Field>) -> String {
    for field in rendered.fell_back {
        if !fell_back.contains(&field) {
            fell_back.push(field);
        }
    }
    rendered.text
}

#[cfg(test)]
mod tests {
    use beckon::protocol::{WireEvent, WireKind};
    use beckon::segments::UserHistory;
    use chrono::{DateTime, Utc};
    use serde_json::{json, Map, Value};

    use super::super::test_support::{request_with, send, utc};
    use super::*;

    fn track(name: &str, at: DateTime<Utc>, properties: Value) -> WireEvent {
        WireEvent {
            id: uuid::Uuid::new_v4().to_string(),
            kind: WireKind::Track,
            name: Some(name.to_owned()),
            properties: properties.as_object().unwrap().clone(),
            traits: Map::new(),
            anonymous_id: "anon-1".into(),
            user_id: Some("u-1".into()),
            timestamp: at,
            context: Map::new(),
        }
    }

    /// Ana, from Brazil, with boots and socks in her cart.
    fn ana() -> Recipient {
        let events = [
            track(
                "Product Added",
                utc("2026-11-30T10:00:00Z"),
                json!({"product_id": "p1", "name": "Boots", "price": 30, "currency": "EUR"}),
            ),
            track(
                "Product Added",
                utc("2026-11-30T10:01:00Z"),
                json!({"product_id": "p2", "name": "Socks", "price": 5, "currency": "EUR"}),
            ),
            track(
                "Product Viewed",
                utc("2026-11-30T10:02:00Z"),
                json!({"product_id": "p3", "name": "Hat", "url": "https://shop.example/p/p3"}),
            ),
        ];
        Recipient {
            user_key: "u-1".into(),
            traits: json!({"first_name": "Ana", "city": "São Paulo"})
                .as_object()
                .unwrap()
                .clone(),
            locale: Some("pt_BR".into()),
            history: UserHistory::from_wire(&events),
            ..Recipient::default()
        }
    }

    fn content(deep_link: &str) -> Value {
        json!({
            "default_locale": "en",
            "variants": {
                "en": {"title": "Hi {{first_name | there}}", "body": "{{cart_items}} wait. Code {{promo_code}}"},
                "pt": {"title": "Olá {{first_name | você}}", "body": "{{cart_items}} esperam. Código {{promo_code}}"}
            },
            "deep_link": deep_link,
            "promo": {"code": "VOLTA10", "discount": {"percent": 10}, "expires_at": "2026-12-31T23:59:59Z"}
        })
    }

    #[test]
    fn renders_the_users_locale_with_their_traits_cart_and_promo() {
        let s = send(request_with(json!({"content": content(
            "shop://stores/{{trait.city | all}}?from={{last_viewed_product | none}}&code={{promo_code}}"
        )})));
        let rendered = render_send(&s, &ana());
        assert_eq!(
            rendered,
            RenderedSend {
                locale: "pt".into(),
                title: "Olá Ana".into(),
                body: "Boots, Socks esperam. Código VOLTA10".into(),
                deep_link: Some("shop://stores/S%C3%A3o%20Paulo?from=Hat&code=VOLTA10".into()),
                fell_back: vec![],
            }
        );
    }

    #[test]
    fn an_unknown_user_gets_the_default_locale_and_fallbacks() {
        let s = send(request_with(
            json!({"content": content("{{last_viewed_product_url | shop://home}}?utm_source=push")}),
        ));
        let rendered = render_send(&s, &Recipient::default());
        assert_eq!(rendered.locale, "en");
        assert_eq!(rendered.title, "Hi there");
        assert_eq!(rendered.body, " wait. Code VOLTA10");
        assert_eq!(
            rendered.deep_link.as_deref(),
            Some("shop://home?utm_source=push")
        );
        assert_eq!(
            rendered.fell_back,
            vec![
                Field::FirstName,
                Field::CartItems,
                Field::LastViewedProductUrl
            ]
        );
        // With a product viewed, its own page is the link.
        let rendered = render_send(&s, &ana());
        assert_eq!(
            rendered.deep_link.as_deref(),
            Some("https://shop.example/p/p3?utm_source=push")
        );
    }

    #[test]
    fn a_link_devices_would_refuse_in_a_push_falls_back_to_the_plain_one() {
        // Found by fuzzing (fuzz/corpus/server_send): a product page whose URL has a
        // broken percent escape is a link messages accept, but not a push's deep link.
        let s = send(request_with(json!({"content": content(
            "{{last_viewed_product_url | https://shop.example/}}?utm_source=push"
        )})));
        let events = [track(
            "Product Viewed",
            utc("2026-11-30T10:02:00Z"),
            json!({"product_id": "p3", "url": "https://shop.example/p/%zz"}),
        )];
        let user = Recipient {
            history: UserHistory::from_wire(&events),
            ..ana()
        };
        assert_eq!(
            render_send(&s, &user).deep_link.as_deref(),
            Some("https://shop.example/?utm_source=push")
        );
    }

    #[test]
    fn a_link_the_users_values_would_break_falls_back_to_the_plain_one() {
        let s = send(request_with(
            json!({"content": content("{{trait.target | shop://home}}")}),
        ));
        let mut user = ana();
        user.traits
            .insert("target".into(), json!("javascript:alert(document.cookie)"));
        assert_eq!(
            render_send(&s, &user).deep_link.as_deref(),
            Some("shop://home")
        );
        user.traits.insert("target".into(), json!("shop://sale"));
        // A text value is a component even at the start: encoded, then not a link.
        assert_eq!(
            render_send(&s, &user).deep_link.as_deref(),
            Some("shop://home")
        );
    }

    #[test]
    fn a_campaigns_texts_use_its_free_shipping_threshold() {
        let s = send(json!({"schema_version": 1, "audience": {"campaign": "free-shipping"}}));
        let rendered = render_send(&s, &ana());
        assert_eq!(rendered.locale, "pt-BR");
        assert_eq!(rendered.title, "Oi Ana");
        assert_eq!(rendered.body, "Faltam 15.00 EUR para o frete grátis");
        assert_eq!(rendered.deep_link, None);
    }

    #[test]
    fn values_stay_text_in_titles() {
        let s = send(request_with(json!({"content": content("shop://home")})));
        let mut user = ana();
        user.traits
            .insert("first_name".into(), json!("{{promo_code}}\n<b>x</b>"));
        assert_eq!(render_send(&s, &user).title, "Olá {{promo_code}} <b>x</b>");
    }
}
