//! Rendering a template against plain data.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::escape::{clean_value, push_html_escaped, push_percent_encoded, MAX_VALUE_CHARS};
use super::field::{Field, FieldType};
use super::{Part, Template};
use crate::common::money::Money;
use crate::messages::behaviour::BehaviourSnapshot;
use crate::text::url::is_safe_link;

/// Where the rendered text goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputMode {
    /// Native text views: values are inserted as they are (after cleaning).
    #[default]
    PlainText,
    /// HTML (a web view): values are HTML-escaped so user data cannot add markup.
    /// The template's own text, fallbacks included, is trusted and left as written.
    Html,
    /// A link (a push's deep link): values are percent-encoded as URL components, so
    /// user data cannot change the link's scheme, host, path or parameters. A URL
    /// field that begins the template is the link itself and is inserted as it is
    /// (such values are only ever safe links). The template's own text is trusted.
    Url,
}

/// Everything a template can draw on; plain data, so the server can build it as
/// easily as the device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderContext {
    /// User traits (`first_name`, `city`, …), as sent by `identify`.
    pub traits: Map<String, Value>,
    /// Values derived from the user's recent events.
    pub behaviour: BehaviourSnapshot,
    /// The promo code the user holds, if any.
    pub promo_code: Option<String>,
    /// Free-shipping thresholds, one per currency, keyed by currency code (from
    /// configuration); a campaign's own thresholds take precedence when rendering its
    /// message. The cart's currency picks the threshold.
    pub free_shipping_thresholds: BTreeMap<String, Money>,
    pub output: OutputMode,
}

/// The rendered text, and the fields whose value was missing so a fallback (the
/// template's, or the field's default) was used, once each in order of appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub fell_back: Vec<Field>,
}

impl Rendered {
    /// Whether every field had a value.
    pub fn is_complete(&self) -> bool {
        self.fell_back.is_empty()
    }
}

impl Template {
    /// Renders the template. Never fails: a missing value takes the template's
    /// fallback, else the field's default, and is reported in `fell_back`.
    pub fn render(&self, ctx: &RenderContext) -> Rendered {
        self.render_with(ctx, &BTreeMap::new())
    }

    /// Renders with `thresholds` taking precedence over the context's.
    pub(crate) fn render_with(
        &self,
        ctx: &RenderContext,
        thresholds: &BTreeMap<String, Money>,
    ) -> Rendered {
        let mut out = Rendered::default();
        for (index, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(text) => out.text.push_str(text),
                Part::Field { field, fallback } => {
                    let value = raw_value(field, ctx, thresholds)
                        .map(|v| clean_value(&v, MAX_VALUE_CHARS))
                        .filter(|v| !v.is_empty());
                    match value {
                        Some(v) => match ctx.output {
                            OutputMode::PlainText => out.text.push_str(&v),
                            OutputMode::Html => push_html_escaped(&mut out.text, &v),
                            OutputMode::Url
                                if index == 0 && field.field_type() == FieldType::Url =>
                            {
                                out.text.push_str(&v)
                            }
                            OutputMode::Url => push_percent_encoded(&mut out.text, &v),
                        },
                        None => {
                            out.text
                                .push_str(fallback.as_deref().unwrap_or(field.default_value()));
                            if !out.fell_back.contains(field) {
                                out.fell_back.push(field.clone());
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// The field's value before cleaning, or `None` when it is unknown.
fn raw_value(
    field: &Field,
    ctx: &RenderContext,
    thresholds: &BTreeMap<String, Money>,
) -> Option<String> {
    let b = &ctx.behaviour;
    let viewed = b.last_viewed.as_ref();
    match field {
        Field::FirstName => {
            trait_value(&ctx.traits, "first_name").or_else(|| trait_value(&ctx.traits, "firstName"))
        }
        Field::LastName => {
            trait_value(&ctx.traits, "last_name").or_else(|| trait_value(&ctx.traits, "lastName"))
        }
        Field::LastViewedProduct => viewed?.name.clone(),
        Field::LastViewedProductUrl => viewed?.url.clone().filter(|u| is_safe_link(u)),
        Field::LastViewedProductImageUrl => viewed?.image_url.clone().filter(|u| is_safe_link(u)),
        Field::FavouriteCategory => b.favourite_category.clone(),
        Field::CartItemCount => Some(b.cart.item_count().to_string()),
        Field::CartItems => {
            let names = b.cart.item_names();
            (!names.is_empty()).then(|| names.join(", "))
        }
        Field::CartTotal => b.cart.total().map(|m| m.to_string()),
        Field::CartSubtotal => b.cart.subtotal().map(|m| m.to_string()),
        Field::FreeShippingRemaining => {
            let subtotal = b.cart.subtotal()?;
            // Matched on the amounts' own currency, so a map keyed `eur` still works.
            let in_currency = |map: &BTreeMap<String, Money>| {
                map.values()
                    .find(|m| m.currency() == subtotal.currency())
                    .cloned()
            };
            let threshold =
                in_currency(thresholds).or_else(|| in_currency(&ctx.free_shipping_thresholds))?;
            threshold.remaining_after(&subtotal).map(|m| m.to_string())
        }
        Field::PromoCode => ctx.promo_code.clone(),
        Field::Trait(key) => trait_value(&ctx.traits, key),
    }
}

/// A trait as text: strings as they are, numbers and booleans in JSON form; null,
/// arrays and objects count as missing.
fn trait_value(traits: &Map<String, Value>, key: &str) -> Option<String> {
    match traits.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}
