//! The records the commerce events carry, with the Segment E-commerce v2 keys.

use super::encode::PropertyWriter;
use crate::common::FieldError;

/// A product as shown, carted or ordered.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Product {
    pub product_id: String,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub sku: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub category: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub name: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub brand: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub variant: Option<String>,
    /// Unit price, in `currency`.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub price: Option<f64>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub currency: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub quantity: Option<i32>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub coupon: Option<String>,
    /// Position in the list it was shown in, starting at 1.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub position: Option<i32>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub url: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub image_url: Option<String>,
}

/// A shopping cart's content.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Cart {
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub cart_id: Option<String>,
    pub products: Vec<Product>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub currency: Option<String>,
}

/// An order, or a checkout on its way to becoming one.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Order {
    /// Required on the `Order …` events; a checkout may not have one yet.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub order_id: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub checkout_id: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub affiliation: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub subtotal: Option<f64>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub total: Option<f64>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub revenue: Option<f64>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub shipping: Option<f64>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub tax: Option<f64>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub discount: Option<f64>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub coupon: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub currency: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub products: Vec<Product>,
}

/// A step of the checkout funnel.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct CheckoutStep {
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub checkout_id: Option<String>,
    /// Starts at 1.
    pub step: i32,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub shipping_method: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub payment_method: Option<String>,
}

/// A coupon entered, applied, denied or removed.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Coupon {
    pub coupon_id: String,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub coupon_name: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub order_id: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub cart_id: Option<String>,
    /// Amount taken off, in the order's currency.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub discount: Option<f64>,
    /// Why a coupon was denied.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub reason: Option<String>,
}

/// An internal promotion (banner, tile) shown or clicked.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Promotion {
    pub promotion_id: String,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub creative: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub name: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub position: Option<String>,
}

/// How something was shared.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Share {
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub share_via: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub share_message: Option<String>,
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub recipient: Option<String>,
}

impl Product {
    pub(crate) fn write(&self, w: &mut PropertyWriter) -> Result<(), FieldError> {
        w.id("product_id", &self.product_id)?;
        w.opt_id("sku", &self.sku)?;
        w.opt_text("category", &self.category)?;
        w.opt_text("name", &self.name)?;
        w.opt_text("brand", &self.brand)?;
        w.opt_text("variant", &self.variant)?;
        w.opt_amount("price", self.price)?;
        w.opt_currency("currency", &self.currency)?;
        w.opt_count("quantity", self.quantity)?;
        w.opt_text("coupon", &self.coupon)?;
        w.opt_count("position", self.position)?;
        w.opt_text("url", &self.url)?;
        w.opt_text("image_url", &self.image_url)
    }
}

impl Cart {
    pub(crate) fn write(&self, w: &mut PropertyWriter) -> Result<(), FieldError> {
        w.opt_id("cart_id", &self.cart_id)?;
        w.opt_currency("currency", &self.currency)?;
        w.products("products", &self.products)
    }
}

impl Order {
    pub(crate) fn write(&self, w: &mut PropertyWriter) -> Result<(), FieldError> {
        w.opt_id("order_id", &self.order_id)?;
        w.opt_id("checkout_id", &self.checkout_id)?;
        w.opt_text("affiliation", &self.affiliation)?;
        w.opt_amount("subtotal", self.subtotal)?;
        w.opt_amount("total", self.total)?;
        w.opt_signed("revenue", self.revenue)?;
        w.opt_amount("shipping", self.shipping)?;
        w.opt_amount("tax", self.tax)?;
        w.opt_amount("discount", self.discount)?;
        w.opt_text("coupon", &self.coupon)?;
        w.opt_currency("currency", &self.currency)?;
        w.products("products", &self.products)
    }

    /// The `Order …` events are about one order, so they need its id.
    pub(crate) fn write_placed(&self, w: &mut PropertyWriter) -> Result<(), FieldError> {
        if self.order_id.is_none() {
            return Err(w.error("order_id", "is required"));
        }
        self.write(w)
    }
}

impl CheckoutStep {
    pub(crate) fn write(&self, w: &mut PropertyWriter) -> Result<(), FieldError> {
        w.opt_id("checkout_id", &self.checkout_id)?;
        w.count("step", self.step)?;
        w.opt_text("shipping_method", &self.shipping_method)?;
        w.opt_text("payment_method", &self.payment_method)
    }
}

impl Coupon {
    pub(crate) fn write(&self, w: &mut PropertyWriter) -> Result<(), FieldError> {
        w.id("coupon_id", &self.coupon_id)?;
        w.opt_text("coupon_name", &self.coupon_name)?;
        w.opt_id("order_id", &self.order_id)?;
        w.opt_id("cart_id", &self.cart_id)?;
        w.opt_amount("discount", self.discount)?;
        w.opt_text("reason", &self.reason)
    }
}

impl Promotion {
    pub(crate) fn write(&self, w: &mut PropertyWriter) -> Result<(), FieldError> {
        w.id("promotion_id", &self.promotion_id)?;
        w.opt_text("creative", &self.creative)?;
        w.opt_text("name", &self.name)?;
        w.opt_text("position", &self.position)
    }
}

impl Share {
    pub(crate) fn write(&self, w: &mut PropertyWriter) -> Result<(), FieldError> {
        w.opt_text("share_via", &self.share_via)?;
        w.opt_text("share_message", &self.share_message)?;
        w.opt_text("recipient", &self.recipient)
    }
}
