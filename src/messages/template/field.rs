//! The closed set of fields a template may use.

use std::borrow::Cow;
use std::fmt;

use crate::messages::suggest::closest;
use crate::protocol::MAX_KEY_BYTES;

/// Prefix of custom trait fields: `{{trait.city}}`.
pub const TRAIT_PREFIX: &str = "trait.";

/// A value a template can insert. The set is closed so a typo is caught when a
/// campaign is created, not when a message is shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Trait `first_name` (or `firstName`).
    FirstName,
    /// Trait `last_name` (or `lastName`).
    LastName,
    /// `name` of the most recent `Product Viewed`.
    LastViewedProduct,
    /// `url` of the most recent `Product Viewed`.
    LastViewedProductUrl,
    /// `image_url` of the most recent `Product Viewed`.
    LastViewedProductImageUrl,
    /// Most frequent `category` over viewed and added products.
    FavouriteCategory,
    /// Number of items in the cart (sum of quantities); `0` for an empty cart.
    CartItemCount,
    /// Names of the products in the cart, comma separated.
    CartItems,
    /// The checkout total if known, else the subtotal, in the cart's currency.
    CartTotal,
    /// Σ price × quantity, in the cart's currency.
    CartSubtotal,
    /// Free-shipping threshold minus the cart subtotal, in the cart's currency, floored at zero.
    FreeShippingRemaining,
    /// The promo code the user holds (from a push, or given by the app).
    PromoCode,
    /// Any user trait: `trait.<key>`.
    Trait(String),
}

/// What kind of value a field holds, which decides how it is formatted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Plain text.
    Text,
    /// An absolute URL; only safe schemes are inserted (never `javascript:` or `data:`).
    Url,
    /// A whole number.
    Count,
    /// Texts joined with `, `.
    TextList,
    /// An amount with its currency: `12.50 EUR`.
    Money,
    /// A trait: text as is, numbers and booleans in JSON form.
    Any,
}

/// Why a name is not a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NameProblem {
    Empty,
    Unknown { suggestion: Option<String> },
    BadTraitKey(&'static str),
}

impl Field {
    /// Every field except `trait.<key>`, in documentation order.
    pub const NAMED: [Field; 12] = [
        Field::FirstName,
        Field::LastName,
        Field::LastViewedProduct,
        Field::LastViewedProductUrl,
        Field::LastViewedProductImageUrl,
        Field::FavouriteCategory,
        Field::CartItemCount,
        Field::CartItems,
        Field::CartTotal,
        Field::CartSubtotal,
        Field::FreeShippingRemaining,
        Field::PromoCode,
    ];

    /// The name written in templates.
    pub fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::LastViewedProduct => "last_viewed_product",
            Field::LastViewedProductUrl => "last_viewed_product_url",
            Field::LastViewedProductImageUrl => "last_viewed_product_image_url",
            Field::FavouriteCategory => "favourite_category",
            Field::CartItemCount => "cart_item_count",
            Field::CartItems => "cart_items",
            Field::CartTotal => "cart_total",
            Field::CartSubtotal => "cart_subtotal",
            Field::FreeShippingRemaining => "free_shipping_remaining",
            Field::PromoCode => "promo_code",
            Field::Trait(key) => return Cow::Owned(format!("{TRAIT_PREFIX}{key}")),
        })
    }

    pub fn field_type(&self) -> FieldType {
        match self {
            Field::FirstName
            | Field::LastName
            | Field::LastViewedProduct
            | Field::FavouriteCategory
            | Field::PromoCode => FieldType::Text,
            Field::LastViewedProductUrl | Field::LastViewedProductImageUrl => FieldType::Url,
            Field::CartItemCount => FieldType::Count,
            Field::CartItems => FieldType::TextList,
            Field::CartTotal | Field::CartSubtotal | Field::FreeShippingRemaining => {
                FieldType::Money
            }
            Field::Trait(_) => FieldType::Any,
        }
    }

    /// What is inserted when the value is missing and the template gives no
    /// fallback: `0` for the item count, empty text for everything else.
    pub fn default_value(&self) -> &'static str {
        match self {
            Field::CartItemCount => "0",
            _ => "",
        }
    }

    /// The field a name stands for (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Field> {
        Self::parse_name(name).ok()
    }

    pub(crate) fn parse_name(name: &str) -> Result<Field, NameProblem> {
        if name.is_empty() {
            return Err(NameProblem::Empty);
        }
        if let Some(key) = name.strip_prefix(TRAIT_PREFIX) {
            check_trait_key(key).map_err(NameProblem::BadTraitKey)?;
            return Ok(Field::Trait(key.to_owned()));
        }
        if let Some(field) = Self::NAMED.iter().find(|f| f.name() == name) {
            return Ok(field.clone());
        }
        let names: Vec<Cow<'static, str>> = Self::NAMED.iter().map(Field::name).collect();
        let suggestion = closest(name, names.iter().map(|n| n.as_ref()))
            .map(str::to_owned)
            .or_else(|| {
                // `{{city}}` was probably meant as a custom trait.
                check_trait_key(name)
                    .is_ok()
                    .then(|| format!("{TRAIT_PREFIX}{name}"))
            });
        Err(NameProblem::Unknown { suggestion })
    }
}

/// Trait keys in templates: 1 to 128 bytes of letters, digits, `_`, `-` and `.`.
fn check_trait_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("needs a trait key after \"trait.\", as in trait.city");
    }
    if key.len() > MAX_KEY_BYTES {
        return Err("has a trait key over 128 bytes");
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err("has a trait key with characters other than letters, digits, _, - and .");
    }
    Ok(())
}

/// A field serializes as its template name (`first_name`, `trait.city`).
impl serde::Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_field_round_trips_through_its_name() {
        for field in Field::NAMED {
            assert_eq!(Field::from_name(&field.name()), Some(field.clone()));
            assert_eq!(field.to_string(), field.name());
        }
        let t = Field::from_name("trait.loyalty_tier").unwrap();
        assert_eq!(t, Field::Trait("loyalty_tier".into()));
        assert_eq!(t.name(), "trait.loyalty_tier");
        assert_eq!(t.field_type(), FieldType::Any);
    }

    #[test]
    fn fields_have_types_and_defaults() {
        assert_eq!(Field::FreeShippingRemaining.field_type(), FieldType::Money);
        assert_eq!(Field::CartItems.field_type(), FieldType::TextList);
        assert_eq!(Field::LastViewedProductUrl.field_type(), FieldType::Url);
        assert_eq!(Field::CartItemCount.field_type(), FieldType::Count);
        assert_eq!(Field::PromoCode.field_type(), FieldType::Text);
        assert_eq!(Field::CartItemCount.default_value(), "0");
        assert_eq!(Field::FirstName.default_value(), "");
    }

    #[test]
    fn unknown_names_come_with_suggestions() {
        let unknown = |name| match Field::parse_name(name) {
            Err(NameProblem::Unknown { suggestion }) => suggestion,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(unknown("frist_name").as_deref(), Some("first_name"));
        assert_eq!(unknown("FIRST_NAME").as_deref(), Some("first_name"));
        assert_eq!(
            unknown("favorite_category").as_deref(),
            Some("favourite_category")
        );
        assert_eq!(unknown("city").as_deref(), Some("trait.city"));
        assert_eq!(unknown("what is this?"), None);
    }

    #[test]
    fn refuses_empty_names_and_bad_trait_keys() {
        assert_eq!(Field::parse_name(""), Err(NameProblem::Empty));
        for bad in ["trait.", "trait.a b", "trait.<b>", "trait.{x"] {
            assert!(
                matches!(Field::parse_name(bad), Err(NameProblem::BadTraitKey(_))),
                "{bad}"
            );
        }
        let long = format!("trait.{}", "k".repeat(MAX_KEY_BYTES + 1));
        assert!(matches!(
            Field::parse_name(&long),
            Err(NameProblem::BadTraitKey(_))
        ));
        assert!(Field::from_name(&format!("trait.{}", "k".repeat(MAX_KEY_BYTES))).is_some());
    }
}
