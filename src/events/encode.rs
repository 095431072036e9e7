//! Encoding typed events into wire properties, validating as it goes: an event can
//! only be encoded if every field holds, so nothing unchecked can reach the queue.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use super::commerce::{Cart, Product};
use super::event::{Event, TYPED_EVENT_NAMES};
use super::value::{Properties, NOT_FINITE};
use crate::common::FieldError;
use crate::protocol::{
    check_id, check_key, check_name, WireKind, MAX_EVENT_BYTES, SEGMENT_ENTERED, SEGMENT_EXITED,
};
use crate::text::{clip, quote};

/// A typed event turned into the name and properties it has on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    pub kind: WireKind,
    pub name: String,
    pub properties: Map<String, Value>,
}

/// Writes Segment property keys into a map, checking each value; `scope` names where a
/// value came from in error messages ("order.products[2].price"). Paths are only
/// spelled out for an error: `track` pays nothing for them on valid input.
pub(crate) struct PropertyWriter {
    map: Map<String, Value>,
    scope: Cow<'static, str>,
}

impl PropertyWriter {
    fn new() -> Self {
        Self {
            map: Map::new(),
            scope: Cow::Borrowed(""),
        }
    }

    fn path(&self, key: &str) -> String {
        if self.scope.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.scope)
        }
    }

    pub(crate) fn error(&self, key: &str, problem: &str) -> FieldError {
        FieldError::new(self.path(key), problem)
    }

    /// Runs `write` with errors reported under `scope`, writing into the same map:
    /// the spec flattens a single product's keys into the event's properties.
    fn scoped(
        &mut self,
        scope: &'static str,
        write: impl FnOnce(&mut Self) -> Result<(), FieldError>,
    ) -> Result<(), FieldError> {
        let outer = std::mem::replace(&mut self.scope, Cow::Borrowed(scope));
        let result = write(self);
        self.scope = outer;
        result
    }

    fn put(&mut self, key: &str, value: Value) {
        self.map.insert(key.to_owned(), value);
    }

    pub(crate) fn id(&mut self, key: &str, value: &str) -> Result<(), FieldError> {
        check_id(key, value).map_err(|e| self.error(key, &e.problem))?;
        self.put(key, Value::String(value.to_owned()));
        Ok(())
    }

    pub(crate) fn opt_id(&mut self, key: &str, value: &Option<String>) -> Result<(), FieldError> {
        value.as_deref().map_or(Ok(()), |v| self.id(key, v))
    }

    /// Required free text: may hold anything but must not be blank.
    pub(crate) fn text(&mut self, key: &str, value: &str) -> Result<(), FieldError> {
        if value.trim().is_empty() {
            return Err(self.error(key, "must not be empty"));
        }
        self.put(key, Value::String(value.to_owned()));
        Ok(())
    }

    pub(crate) fn opt_text(&mut self, key: &str, value: &Option<String>) -> Result<(), FieldError> {
        if let Some(v) = value {
            self.put(key, Value::String(v.clone()));
        }
        Ok(())
    }

    /// A price or amount: finite and not negative.
    pub(crate) fn opt_amount(&mut self, key: &str, value: Option<f64>) -> Result<(), FieldError> {
        match value {
            Some(v) if v < 0.0 => Err(self.error(key, "must not be negative")),
            _ => self.opt_signed(key, value),
        }
    }

    /// A finite amount that may be negative (revenue after refunds).
    pub(crate) fn opt_signed(&mut self, key: &str, value: Option<f64>) -> Result<(), FieldError> {
        if let Some(v) = value {
            let number = Number::from_f64(v).ok_or_else(|| self.error(key, NOT_FINITE))?;
            self.put(key, Value::Number(number));
        }
        Ok(())
    }

    /// An ISO 4217 code such as `EUR`.
    pub(crate) fn opt_currency(
        &mut self,
        key: &str,
        value: &Option<String>,
    ) -> Result<(), FieldError> {
        if let Some(code) = value {
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(self.error(key, "must be a three-letter ISO 4217 code such as EUR"));
            }
            self.put(key, Value::String(code.clone()));
        }
        Ok(())
    }

    /// A count or position, starting at 1.
    pub(crate) fn count(&mut self, key: &str, value: i32) -> Result<(), FieldError> {
        if value < 1 {
            return Err(self.error(key, "must be at least 1"));
        }
        self.put(key, Value::Number(value.into()));
        Ok(())
    }

    pub(crate) fn opt_count(&mut self, key: &str, value: Option<i32>) -> Result<(), FieldError> {
        value.map_or(Ok(()), |v| self.count(key, v))
    }

    fn opt_rating(&mut self, key: &str, value: Option<f64>) -> Result<(), FieldError> {
        self.opt_signed(key, value)
    }

    pub(crate) fn products(&mut self, key: &str, products: &[Product]) -> Result<(), FieldError> {
        if products.is_empty() {
            return Ok(());
        }
        let mut items = Vec::with_capacity(products.len());
        for (i, product) in products.iter().enumerate() {
            let mut item = PropertyWriter {
                map: Map::new(),
                scope: Cow::Owned(format!("{}[{i}]", self.path(key))),
            };
            product.write(&mut item)?;
            items.push(Value::Object(item.map));
        }
        self.put(key, Value::Array(items));
        Ok(())
    }

    /// Merges the app's free-form properties. A key that repeats a typed field is an
    /// error rather than a silent overwrite, because either choice would lose data.
    fn extra(&mut self, properties: &Properties) -> Result<(), FieldError> {
        for (key, value) in properties {
            check_key("properties", key)?;
            let path = || format!("properties.{}", clip(key));
            if self.map.contains_key(key) {
                return Err(FieldError::new(
                    path(),
                    "repeats a typed field of this event; set the field instead",
                ));
            }
            let json = value.to_json_with(&path)?;
            self.map.insert(key.clone(), json);
        }
        Ok(())
    }
}

/// Checks a cart handed over on its own (to price promos) as `Cart Viewed` checks it:
/// every field, and no larger than an event may be. Errors name the field
/// (`cart.products[2].product_id`).
pub fn check_cart(cart: &Cart) -> Result<(), FieldError> {
    let mut w = PropertyWriter::new();
    w.scoped("cart", |w| cart.write(w))?;
    let bytes = serde_json::to_vec(&w.map).map_or(usize::MAX, |json| json.len());
    if bytes > MAX_EVENT_BYTES {
        return Err(FieldError::new(
            "cart",
            format!("is {bytes} bytes, over the {MAX_EVENT_BYTES}-byte limit of an event"),
        ));
    }
    Ok(())
}

impl Event {
    /// Validates the event and returns its wire name and properties.
    pub fn encode(&self) -> Result<EncodedEvent, FieldError> {
        use Event::*;
        let mut w = PropertyWriter::new();
        let mut kind = WireKind::Track;
        match self {
            ProductsSearched { query, .. } => w.text("query", query)?,
            ProductListViewed {
                list_id,
                category,
                products,
                ..
            } => {
                w.opt_id("list_id", list_id)?;
                w.opt_text("category", category)?;
                w.products("products", products)?;
            }
            ProductClicked { product, .. } | ProductViewed { product, .. } => {
                w.scoped("product", |w| product.write(w))?
            }
            ProductAdded {
                cart_id, product, ..
            }
            | ProductRemoved {
                cart_id, product, ..
            } => {
                w.opt_id("cart_id", cart_id)?;
                w.scoped("product", |w| product.write(w))?;
            }
            CartViewed { cart, .. } => w.scoped("cart", |w| cart.write(w))?,
            CheckoutStarted { order, .. } => w.scoped("order", |w| order.write(w))?,
            CheckoutStepViewed { step, .. } | CheckoutStepCompleted { step, .. } => {
                w.scoped("step", |w| step.write(w))?
            }
            PaymentInfoEntered { order_id, step, .. } => {
                w.opt_id("order_id", order_id)?;
                w.scoped("step", |w| step.write(w))?;
            }
            OrderCompleted { order, .. }
            | OrderUpdated { order, .. }
            | OrderRefunded { order, .. }
            | OrderCancelled { order, .. } => w.scoped("order", |w| order.write_placed(w))?,
            CouponEntered { coupon, .. }
            | CouponApplied { coupon, .. }
            | CouponDenied { coupon, .. }
            | CouponRemoved { coupon, .. } => w.scoped("coupon", |w| coupon.write(w))?,
            PromotionViewed { promotion, .. } | PromotionClicked { promotion, .. } => {
                w.scoped("promotion", |w| promotion.write(w))?
            }
            ProductAddedToWishlist {
                wishlist_id,
                wishlist_name,
                product,
                ..
            }
            | ProductRemovedFromWishlist {
                wishlist_id,
                wishlist_name,
                product,
                ..
            } => {
                w.opt_id("wishlist_id", wishlist_id)?;
                w.opt_text("wishlist_name", wishlist_name)?;
                w.scoped("product", |w| product.write(w))?;
            }
            WishlistProductAddedToCart {
                wishlist_id,
                wishlist_name,
                cart_id,
                product,
                ..
            } => {
                w.opt_id("wishlist_id", wishlist_id)?;
                w.opt_text("wishlist_name", wishlist_name)?;
                w.opt_id("cart_id", cart_id)?;
                w.scoped("product", |w| product.write(w))?;
            }
            ProductShared { product, share, .. } => {
                w.scoped("product", |w| product.write(w))?;
                w.scoped("share", |w| share.write(w))?;
            }
            CartShared {
                cart_id,
                products,
                share,
                ..
            } => {
                w.opt_id("cart_id", cart_id)?;
                w.products("products", products)?;
                w.scoped("share", |w| share.write(w))?;
            }
            ProductReviewed {
                product_id,
                review_id,
                review_body,
                rating,
                ..
            } => {
                w.id("product_id", product_id)?;
                w.opt_id("review_id", review_id)?;
                w.opt_text("review_body", review_body)?;
                w.opt_rating("rating", *rating)?;
            }
            Screen { name, .. } => {
                check_name("name", name)?;
                kind = WireKind::Screen;
            }
            ApplicationOpened {
                from_background,
                url,
                ..
            } => {
                w.put("from_background", Value::Bool(*from_background));
                w.opt_text("url", url)?;
            }
            ApplicationBackgrounded { .. } => {}
            PushOpened {
                message_id,
                campaign_id,
                ..
            } => {
                w.id("message_id", message_id)?;
                w.opt_id("campaign_id", campaign_id)?;
            }
            DeepLinkOpened {
                url,
                message_id,
                campaign_id,
                ..
            } => {
                w.text("url", url)?;
                w.opt_id("message_id", message_id)?;
                w.opt_id("campaign_id", campaign_id)?;
            }
            InAppMessageShown {
                message_id,
                campaign_id,
                ..
            }
            | InAppMessageDismissed {
                message_id,
                campaign_id,
                ..
            } => {
                w.id("message_id", message_id)?;
                w.id("campaign_id", campaign_id)?;
            }
            InAppMessageClicked {
                message_id,
                campaign_id,
                button_id,
                ..
            } => {
                w.id("message_id", message_id)?;
                w.id("campaign_id", campaign_id)?;
                w.opt_id("button_id", button_id)?;
            }
            Custom { name, .. } => {
                check_name("name", name)?;
                if let Some(typed) = TYPED_EVENT_NAMES
                    .iter()
                    .find(|t| t.eq_ignore_ascii_case(name))
                {
                    return Err(FieldError::new(
                        "name",
                        format!(
                            "{} is a typed event; use Event.{} instead",
                            quote(name),
                            typed.replace([' ', '-'], "")
                        ),
                    ));
                }
                if let Some(own) = [SEGMENT_ENTERED, SEGMENT_EXITED]
                    .iter()
                    .find(|own| own.eq_ignore_ascii_case(name))
                {
                    return Err(FieldError::new(
                        "name",
                        format!("\"{own}\" is recorded by Beckon itself"),
                    ));
                }
            }
        }
        w.extra(self.extra_properties())?;
        Ok(EncodedEvent {
            kind,
            name: self.name().to_owned(),
            properties: w.map,
        })
    }
}

#[cfg(test)]
mod tests;
