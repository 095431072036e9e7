//! A campaign's content for one user: the locale variant chosen, every template
//! rendered.

use serde::Serialize;

use super::campaign::Campaign;
use super::template::{Field, RenderContext, Rendered};

/// A message ready to display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedMessage {
    pub campaign_id: String,
    /// Identifies this impression in `In-App Message Shown/Clicked/Dismissed`.
    /// Rendering is pure, so it is `None` here; the SDK sets one per impression with
    /// [`RenderedMessage::with_message_id`].
    pub message_id: Option<String>,
    /// The variant's locale tag, as written in the campaign.
    pub locale: String,
    pub title: String,
    pub body: String,
    pub image_url: Option<String>,
    pub buttons: Vec<RenderedButton>,
    /// Fields (over title, body and labels) whose value was missing, so a fallback
    /// was used; once each, in order of appearance.
    pub fell_back: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedButton {
    pub id: String,
    pub label: String,
    pub url: String,
}

impl RenderedMessage {
    pub fn with_message_id(mut self, message_id: impl Into<String>) -> Self {
        self.message_id = Some(message_id.into());
        self
    }
}

/// Renders `campaign` for a user whose locale is `locale` (see
/// [`super::choose_locale`]). The campaign's free-shipping thresholds take precedence
/// over the context's; the context's output mode applies to every text. URLs are
/// the campaign's own, already validated, and are not templates.
pub fn render_message(
    campaign: &Campaign,
    locale: &str,
    context: &RenderContext,
) -> RenderedMessage {
    let (tag, variant) = campaign.variant_for(locale);
    let thresholds = campaign.free_shipping_threshold();
    let mut fell_back: Vec<Field> = Vec::new();
    let mut render = |template: &super::template::Template| {
        let Rendered {
            text,
            fell_back: missing,
        } = template.render_with(context, thresholds);
        for field in missing {
            if !fell_back.contains(&field) {
                fell_back.push(field);
            }
        }
        text
    };
    let title = render(&variant.title);
    let body = render(&variant.body);
    let buttons = variant
        .buttons
        .iter()
        .map(|b| RenderedButton {
            id: b.id.clone(),
            label: render(&b.label),
            url: b.url.clone(),
        })
        .collect();
    RenderedMessage {
        campaign_id: campaign.id().to_owned(),
        message_id: None,
        locale: tag.to_owned(),
        title,
        body,
        image_url: variant.image_url.clone(),
        buttons,
        fell_back,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::common::money::Money;
    use crate::messages::behaviour::CartLine;
    use crate::messages::template::OutputMode;

    fn campaign() -> Campaign {
        Campaign::parse(
            &json!({
                "schema_version": 1,
                "id": "free-shipping",
                "name": "Free shipping nudge",
                "status": "active",
                "trigger": {"event": "Product Added"},
                "free_shipping_threshold": {"EUR": 50},
                "default_locale": "en",
                "variants": {
                    "en": {
                        "title": "Hi {{first_name | there}}",
                        "body": "Add {{free_shipping_remaining}} more for free shipping",
                        "image_url": "https://cdn.example/truck.png",
                        "buttons": [
                            {"id": "cart", "label": "View {{cart_item_count}} items", "url": "myshop://cart"},
                            {"id": "later", "label": "Later, {{first_name|friend}}", "url": "myshop://dismiss"}
                        ]
                    },
                    "pt-BR": {
                        "title": "Olá {{first_name | você}}",
                        "body": "Faltam {{free_shipping_remaining}} para o frete grátis"
                    }
                }
            })
            .to_string(),
        )
        .unwrap()
    }

    fn context() -> RenderContext {
        let mut ctx = RenderContext::default();
        ctx.traits.insert("first_name".into(), json!("Anna"));
        ctx.behaviour.cart.lines = vec![CartLine {
            product_id: "p1".into(),
            name: Some("Sneakers".into()),
            category: None,
            unit_price: Some(37.5),
            currency: Some("EUR".into()),
            quantity: 1,
        }];
        ctx
    }

    #[test]
    fn renders_the_default_variant_with_buttons() {
        let m = render_message(&campaign(), "de-DE", &context());
        assert_eq!(
            m,
            RenderedMessage {
                campaign_id: "free-shipping".into(),
                message_id: None,
                locale: "en".into(),
                title: "Hi Anna".into(),
                body: "Add 12.50 EUR more for free shipping".into(),
                image_url: Some("https://cdn.example/truck.png".into()),
                buttons: vec![
                    RenderedButton {
                        id: "cart".into(),
                        label: "View 1 items".into(),
                        url: "myshop://cart".into()
                    },
                    RenderedButton {
                        id: "later".into(),
                        label: "Later, Anna".into(),
                        url: "myshop://dismiss".into()
                    },
                ],
                fell_back: vec![],
            }
        );
    }

    #[test]
    fn picks_the_locale_variant() {
        let m = render_message(&campaign(), "pt_BR", &context());
        assert_eq!(m.locale, "pt-BR");
        assert_eq!(m.title, "Olá Anna");
        assert_eq!(m.body, "Faltam 12.50 EUR para o frete grátis");
        assert_eq!(m.image_url, None);
        assert!(m.buttons.is_empty());
        assert_eq!(
            render_message(&campaign(), "pt", &context()).locale,
            "pt-BR"
        );
    }

    #[test]
    fn the_campaign_threshold_wins_over_the_context() {
        let mut ctx = context();
        ctx.free_shipping_thresholds =
            BTreeMap::from([("EUR".into(), Money::from_decimal(100.0, "EUR").unwrap())]);
        assert_eq!(
            render_message(&campaign(), "en", &ctx).body,
            "Add 12.50 EUR more for free shipping"
        );
    }

    #[test]
    fn reports_fallbacks_across_all_texts_once() {
        let m = render_message(&campaign(), "en", &RenderContext::default());
        assert_eq!(m.title, "Hi there");
        assert_eq!(m.body, "Add  more for free shipping");
        assert_eq!(m.buttons[1].label, "Later, friend");
        assert_eq!(
            m.fell_back,
            vec![Field::FirstName, Field::FreeShippingRemaining]
        );
    }

    #[test]
    fn html_output_escapes_values_in_every_text() {
        let mut ctx = context();
        ctx.output = OutputMode::Html;
        ctx.traits
            .insert("first_name".into(), json!("<img src=x onerror=alert(1)>"));
        let m = render_message(&campaign(), "en", &ctx);
        assert_eq!(m.title, "Hi &lt;img src=x onerror=alert(1)&gt;");
        assert_eq!(
            m.buttons[1].label,
            "Later, &lt;img src=x onerror=alert(1)&gt;"
        );
    }

    #[test]
    fn message_ids_are_attached_by_the_caller() {
        let m = render_message(&campaign(), "en", &context()).with_message_id("0190-impression");
        assert_eq!(m.message_id.as_deref(), Some("0190-impression"));
    }

    #[test]
    fn serializes_for_the_server_preview() {
        let m = render_message(&campaign(), "xx", &RenderContext::default());
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v["fell_back"],
            json!(["first_name", "free_shipping_remaining"])
        );
        assert_eq!(v["locale"], json!("en"));
        assert_eq!(v["message_id"], json!(null));
    }
}
