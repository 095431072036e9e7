//! The promo-code rules: when a promo the shopper holds may be used, whether it applies
//! to a cart, what it takes off, and which of several is best. Plain functions over
//! plain data; `now` is always the server-corrected time (`clock::corrected_now`).

use std::cmp::Reverse;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::common::money::normalize_currency;
use crate::common::FieldError;
use crate::common::Money;
use crate::events::{check_cart, Cart};
use crate::protocol::{Discount, PromoOffer};
use crate::text::{clip, quote};

/// A promo the shopper holds: the offer as it arrived and how often it was used.
#[derive(Debug, Clone, PartialEq)]
pub struct Promo {
    pub offer: PromoOffer,
    pub uses: u32,
    pub received_at: DateTime<Utc>,
    /// The push that brought it, for attribution.
    pub message_id: Option<String>,
    pub campaign_id: Option<String>,
}

impl Promo {
    pub fn code(&self) -> &str {
        &self.offer.code
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.offer.expires_at
    }

    pub fn uses_left(&self) -> u32 {
        self.offer.max_uses.saturating_sub(self.uses)
    }

    pub fn state(&self, now: DateTime<Utc>) -> PromoState {
        if now >= self.offer.expires_at {
            PromoState::Expired {
                at: self.offer.expires_at,
            }
        } else if self.uses >= self.offer.max_uses {
            PromoState::UsedUp {
                max_uses: self.offer.max_uses,
            }
        } else {
            PromoState::Active
        }
    }

    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.state(now) == PromoState::Active
    }

    /// What the promo takes off `basket` now, or why it cannot be used.
    pub fn quote(&self, basket: &Basket, now: DateTime<Utc>) -> Result<PromoQuote, PromoRefusal> {
        let code = self.code().to_owned();
        match self.state(now) {
            PromoState::Expired { at } => {
                return Err(PromoRefusal::Expired {
                    code,
                    expired_at: at,
                })
            }
            PromoState::UsedUp { max_uses } => return Err(PromoRefusal::UsedUp { code, max_uses }),
            PromoState::Active => {}
        }
        check_eligible(&self.offer, basket).map_err(|why| PromoRefusal::NotEligible {
            code: code.clone(),
            why,
        })?;
        let discount = discount_for(&self.offer, basket);
        let total = basket.total();
        Ok(PromoQuote {
            code,
            total_after_discount: total
                .remaining_after(&discount)
                .expect("the discount is in the basket's currency"),
            discount,
            expires_at: self.offer.expires_at,
        })
    }
}

/// Whether a held promo may be used at all, cart aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromoState {
    Active,
    Expired { at: DateTime<Utc> },
    UsedUp { max_uses: u32 },
}

/// What a promo would take off a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoQuote {
    pub code: String,
    pub discount: Money,
    /// Subtotal plus known shipping, minus the discount.
    pub total_after_discount: Money,
    pub expires_at: DateTime<Utc>,
}

/// The amounts a promo is judged on: the cart's subtotal and, when the app knows it,
/// the shipping cost, in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basket {
    subtotal: Money,
    shipping: Option<Money>,
}

impl Basket {
    pub fn new(subtotal: Money, shipping: Option<Money>) -> Result<Basket, FieldError> {
        if subtotal.minor() < 0 {
            return Err(FieldError::new("cart", "the subtotal must not be negative"));
        }
        if let Some(shipping) = &shipping {
            if shipping.currency() != subtotal.currency() {
                return Err(FieldError::new(
                    "shipping",
                    format!(
                        "is in {} but the cart is in {}",
                        shipping.currency(),
                        subtotal.currency()
                    ),
                ));
            }
            if shipping.minor() < 0 {
                return Err(FieldError::new("shipping", "must not be negative"));
            }
        }
        Ok(Basket { subtotal, shipping })
    }

    /// The basket of a cart: Σ price × quantity (1 when not given) in the cart's
    /// currency, which is `cart.currency` or else the one currency its products
    /// declare. `shipping` is in the same currency. The cart is checked as an event's
    /// would be (`check_cart`) first. Errors name the field.
    pub fn from_cart(cart: &Cart, shipping: Option<f64>) -> Result<Basket, FieldError> {
        check_cart(cart)?;
        let currency = cart_currency(cart)?;
        let mut subtotal: i64 = 0;
        for (i, product) in cart.products.iter().enumerate() {
            let field = |key: &str| format!("cart.products[{i}].{key}");
            let price = product
                .price
                .ok_or_else(|| FieldError::new(field("price"), "is required to price the cart"))?;
            let unit = Money::from_decimal(price, &currency)
                .filter(|m| m.minor() >= 0)
                .ok_or_else(|| {
                    FieldError::new(
                        field("price"),
                        format!("{price} is not a price in {currency}"),
                    )
                })?;
            let quantity = product.quantity.unwrap_or(1);
            if quantity < 1 {
                return Err(FieldError::new(field("quantity"), "must be at least 1"));
            }
            subtotal = unit
                .minor()
                .checked_mul(i64::from(quantity))
                .and_then(|line| subtotal.checked_add(line))
                .ok_or_else(|| FieldError::new("cart", "the subtotal is too large"))?;
        }
        let shipping = shipping
            .map(|amount| {
                Money::from_decimal(amount, &currency).ok_or_else(|| {
                    FieldError::new(
                        "shipping",
                        format!("{amount} is not an amount in {currency}"),
                    )
                })
            })
            .transpose()?;
        let subtotal = Money::from_minor(subtotal, &currency).expect("a checked currency");
        Basket::new(subtotal, shipping)
    }

    pub fn subtotal(&self) -> &Money {
        &self.subtotal
    }

    pub fn shipping(&self) -> Option<&Money> {
        self.shipping.as_ref()
    }

    fn total(&self) -> Money {
        let shipping = self.shipping.as_ref().map_or(0, Money::minor);
        Money::from_minor(
            self.subtotal.minor().saturating_add(shipping),
            self.subtotal.currency(),
        )
        .expect("a checked currency")
    }
}

fn cart_currency(cart: &Cart) -> Result<String, FieldError> {
    if let Some(code) = &cart.currency {
        return normalize_currency(code).ok_or_else(|| {
            FieldError::new(
                "cart.currency",
                format!("{} is not an ISO 4217 code", quote(code)),
            )
        });
    }
    let mut declared = cart.products.iter().filter_map(|p| p.currency.as_deref());
    let Some(first) = declared.next() else {
        return Err(FieldError::new(
            "cart.currency",
            "is required when no product gives its currency",
        ));
    };
    if let Some(other) = declared.find(|c| *c != first) {
        return Err(FieldError::new(
            "cart.currency",
            format!(
                "the products are in both {} and {}; give the cart's currency",
                quote(first),
                quote(other)
            ),
        ));
    }
    normalize_currency(first).ok_or_else(|| {
        FieldError::new(
            "cart.currency",
            format!("{} is not an ISO 4217 code", quote(first)),
        )
    })
}

/// Why a promo does not apply to a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ineligible {
    EmptyCart,
    WrongCurrency { promo: String, cart: String },
    BelowMinimum { minimum: Money, subtotal: Money },
}

impl fmt::Display for Ineligible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ineligible::EmptyCart => f.write_str("the cart is empty"),
            Ineligible::WrongCurrency { promo, cart } => {
                write!(
                    f,
                    "the promo is for carts in {promo}, this cart is in {cart}"
                )
            }
            Ineligible::BelowMinimum { minimum, subtotal } => write!(
                f,
                "the cart subtotal {subtotal} is below the promo's minimum of {minimum}"
            ),
        }
    }
}

/// Why a promo cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromoRefusal {
    #[error("promo code {} is not one this device holds", clip(.code))]
    Unknown { code: String },
    #[error("promo code {} expired at {expired_at}", clip(.code))]
    Expired {
        code: String,
        expired_at: DateTime<Utc>,
    },
    #[error("promo code {} has been used its {max_uses} time(s) already", clip(.code))]
    UsedUp { code: String, max_uses: u32 },
    #[error("promo code {} does not apply: {why}", clip(.code))]
    NotEligible { code: String, why: Ineligible },
}

impl PromoRefusal {
    /// A short machine-readable reason, for the `Coupon Denied` event.
    pub fn reason(&self) -> &'static str {
        match self {
            PromoRefusal::Unknown { .. } => "unknown",
            PromoRefusal::Expired { .. } => "expired",
            PromoRefusal::UsedUp { .. } => "used_up",
            PromoRefusal::NotEligible { .. } => "not_eligible",
        }
    }
}

/// Whether `offer` applies to `basket` (expiry and uses aside).
pub fn check_eligible(offer: &PromoOffer, basket: &Basket) -> Result<(), Ineligible> {
    let cart_currency = basket.subtotal.currency();
    if let Some(currency) = &offer.currency {
        if currency != cart_currency {
            return Err(Ineligible::WrongCurrency {
                promo: currency.clone(),
                cart: cart_currency.to_owned(),
            });
        }
    }
    if basket.subtotal.minor() == 0 {
        return Err(Ineligible::EmptyCart);
    }
    if let Some(minimum) = offer.min_basket.and_then(|m| offer.amount(m)) {
        if basket.subtotal.minor() < minimum.minor() {
            return Err(Ineligible::BelowMinimum {
                minimum,
                subtotal: basket.subtotal.clone(),
            });
        }
    }
    Ok(())
}

/// What `offer` takes off `basket`, in the basket's currency: a percent of the
/// subtotal (rounded to the minor unit), a fixed amount capped at the subtotal, or the
/// shipping cost (nothing when the shipping is not known).
pub fn discount_for(offer: &PromoOffer, basket: &Basket) -> Money {
    let subtotal = basket.subtotal.minor();
    let minor = match offer.discount {
        Discount::Percent { value } => {
            ((subtotal as f64 * value / 100.0).round() as i64).clamp(0, subtotal)
        }
        Discount::Fixed { value } => offer
            .amount(value)
            .map_or(0, |amount| amount.minor().clamp(0, subtotal)),
        Discount::FreeShipping => basket.shipping.as_ref().map_or(0, Money::minor),
    };
    Money::from_minor(minor, basket.subtotal.currency()).expect("a checked currency")
}

/// The promos that may be used now, soonest to expire first.
pub fn active_promos(promos: &[Promo], now: DateTime<Utc>) -> Vec<&Promo> {
    let mut active: Vec<&Promo> = promos.iter().filter(|p| p.is_active(now)).collect();
    active.sort_by(|a, b| (a.expires_at(), a.code()).cmp(&(b.expires_at(), b.code())));
    active
}

/// The eligible promo taking the most off `basket`; on a tie the one expiring first
/// (then the code, so the answer never depends on storage order).
pub fn best_promo_for(promos: &[Promo], basket: &Basket, now: DateTime<Utc>) -> Option<PromoQuote> {
    promos
        .iter()
        .filter_map(|p| p.quote(basket, now).ok())
        .min_by(|a, b| {
            (Reverse(a.discount.minor()), a.expires_at, &a.code).cmp(&(
                Reverse(b.discount.minor()),
                b.expires_at,
                &b.code,
            ))
        })
}

/// The promo to show the shopper (the `promo_code` of message templates): the best
/// for their cart when one applies to it, else the active one received last.
pub fn featured_promo<'a>(
    promos: &'a [Promo],
    basket: Option<&Basket>,
    now: DateTime<Utc>,
) -> Option<&'a Promo> {
    if let Some(best) = basket.and_then(|b| best_promo_for(promos, b, now)) {
        return promos.iter().find(|p| p.code() == best.code);
    }
    promos.iter().filter(|p| p.is_active(now)).max_by(|a, b| {
        (a.received_at, Reverse(a.expires_at()), Reverse(a.code())).cmp(&(
            b.received_at,
            Reverse(b.expires_at()),
            Reverse(b.code()),
        ))
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::events::Product;

    fn now() -> DateTime<Utc> {
        "2026-11-20T10:00:00Z".parse().unwrap()
    }

    fn promo(code: &str, discount: Discount) -> Promo {
        Promo {
            offer: PromoOffer {
                code: code.into(),
                discount,
                currency: Some("EUR".into()),
                expires_at: now() + TimeDelta::days(3),
                min_basket: None,
                max_uses: 1,
            },
            uses: 0,
            received_at: now() - TimeDelta::hours(1),
            message_id: None,
            campaign_id: None,
        }
    }

    fn eur(amount: f64) -> Money {
        Money::from_decimal(amount, "EUR").unwrap()
    }

    fn basket(subtotal: f64, shipping: Option<f64>) -> Basket {
        Basket::new(eur(subtotal), shipping.map(eur)).unwrap()
    }

    fn product(price: Option<f64>, quantity: Option<i32>, currency: Option<&str>) -> Product {
        Product {
            product_id: "p".into(),
            price,
            quantity,
            currency: currency.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn a_promo_is_active_until_it_expires_or_is_used_up() {
        let mut p = promo("A", Discount::Percent { value: 10.0 });
        assert_eq!(p.state(now()), PromoState::Active);
        let expiry = p.expires_at();
        assert_eq!(
            p.state(expiry - TimeDelta::milliseconds(1)),
            PromoState::Active
        );
        assert_eq!(p.state(expiry), PromoState::Expired { at: expiry });
        p.uses = 1;
        assert_eq!(p.state(now()), PromoState::UsedUp { max_uses: 1 });
        assert_eq!(p.uses_left(), 0);
        p.offer.max_uses = 3;
        assert!(p.is_active(now()));
        assert_eq!(p.uses_left(), 2);
    }

    #[test]
    fn discounts_follow_their_kind() {
        let b = basket(80.0, Some(4.95));
        let percent = promo("P", Discount::Percent { value: 12.5 });
        assert_eq!(discount_for(&percent.offer, &b), eur(10.0));
        // 33.3 % of 0.10 EUR is 0.0333 EUR: rounded to the cent.
        assert_eq!(
            discount_for(
                &promo("P", Discount::Percent { value: 33.3 }).offer,
                &basket(0.10, None)
            ),
            eur(0.03)
        );
        let fixed = promo("F", Discount::Fixed { value: 15.0 });
        assert_eq!(discount_for(&fixed.offer, &b), eur(15.0));
        assert_eq!(
            discount_for(&fixed.offer, &basket(9.99, None)),
            eur(9.99),
            "capped"
        );
        let free = promo("S", Discount::FreeShipping);
        assert_eq!(discount_for(&free.offer, &b), eur(4.95));
        assert_eq!(discount_for(&free.offer, &basket(80.0, None)), eur(0.0));
        let quote = percent.quote(&b, now()).unwrap();
        assert_eq!(quote.total_after_discount, eur(74.95));
        assert_eq!(
            percent
                .quote(&basket(80.0, None), now())
                .unwrap()
                .total_after_discount,
            eur(70.0)
        );
    }

    #[test]
    fn eligibility_checks_currency_minimum_and_emptiness() {
        let mut p = promo("MIN50", Discount::Fixed { value: 5.0 });
        p.offer.min_basket = Some(50.0);
        assert_eq!(check_eligible(&p.offer, &basket(50.0, None)), Ok(()));
        assert_eq!(
            check_eligible(&p.offer, &basket(49.99, None)),
            Err(Ineligible::BelowMinimum {
                minimum: eur(50.0),
                subtotal: eur(49.99)
            })
        );
        let usd = Basket::new(Money::from_decimal(80.0, "USD").unwrap(), None).unwrap();
        assert_eq!(
            check_eligible(&p.offer, &usd),
            Err(Ineligible::WrongCurrency {
                promo: "EUR".into(),
                cart: "USD".into()
            })
        );
        let mut any_currency = promo("ANY", Discount::Percent { value: 5.0 });
        any_currency.offer.currency = None;
        assert_eq!(check_eligible(&any_currency.offer, &usd), Ok(()));
        assert_eq!(
            check_eligible(&any_currency.offer, &basket(0.0, None)),
            Err(Ineligible::EmptyCart)
        );
    }

    #[test]
    fn a_quote_refuses_with_the_reason() {
        let mut p = promo("BF10", Discount::Percent { value: 10.0 });
        p.offer.min_basket = Some(50.0);
        let expired = p.quote(&basket(80.0, None), p.expires_at()).unwrap_err();
        assert_eq!(expired.reason(), "expired");
        assert!(
            expired.to_string().contains("BF10 expired at 2026-11-23"),
            "{expired}"
        );
        let small = p.quote(&basket(20.0, None), now()).unwrap_err();
        assert_eq!(small.reason(), "not_eligible");
        assert_eq!(
            small.to_string(),
            "promo code BF10 does not apply: the cart subtotal 20.00 EUR is below the promo's minimum of 50.00 EUR"
        );
        p.uses = 1;
        let used = p.quote(&basket(80.0, None), now()).unwrap_err();
        assert_eq!(used.reason(), "used_up");
        assert!(used.to_string().contains("used its 1 time(s)"), "{used}");
    }

    #[test]
    fn the_best_promo_takes_the_most_off_and_ties_go_to_the_first_to_expire() {
        let b = basket(100.0, Some(20.0));
        let ten_percent = promo("TEN", Discount::Percent { value: 10.0 });
        let fifteen_off = promo("FIFTEEN", Discount::Fixed { value: 15.0 });
        let free_shipping = promo("SHIP", Discount::FreeShipping);
        let mut expired = promo("HALF", Discount::Percent { value: 50.0 });
        expired.offer.expires_at = now() - TimeDelta::seconds(1);
        let promos = vec![
            ten_percent.clone(),
            fifteen_off.clone(),
            free_shipping,
            expired,
        ];
        let best = best_promo_for(&promos, &b, now()).unwrap();
        assert_eq!(
            (best.code.as_str(), best.discount.clone()),
            ("SHIP", eur(20.0))
        );
        // Without shipping known, fixed 15 beats 10 %.
        assert_eq!(
            best_promo_for(&promos, &basket(100.0, None), now())
                .unwrap()
                .code,
            "FIFTEEN"
        );
        // A tie: 15 EUR both ways; the one expiring first wins.
        let mut also_fifteen = promo("ALSO15", Discount::Percent { value: 15.0 });
        also_fifteen.offer.expires_at = now() + TimeDelta::days(1);
        let tied = vec![fifteen_off, also_fifteen];
        assert_eq!(
            best_promo_for(&tied, &basket(100.0, None), now())
                .unwrap()
                .code,
            "ALSO15"
        );
        assert_eq!(best_promo_for(&[], &b, now()), None);
        let usd = Basket::new(Money::from_decimal(100.0, "USD").unwrap(), None).unwrap();
        assert_eq!(best_promo_for(&[ten_percent], &usd, now()), None);
    }

    #[test]
    fn active_promos_are_listed_soonest_expiry_first() {
        let mut late = promo("LATE", Discount::FreeShipping);
        late.offer.expires_at = now() + TimeDelta::days(9);
        let soon = promo("SOON", Discount::FreeShipping);
        let mut used = promo("USED", Discount::FreeShipping);
        used.uses = 1;
        let promos = [late, used, soon];
        let codes: Vec<&str> = active_promos(&promos, now())
            .iter()
            .map(|p| p.code())
            .collect();
        assert_eq!(codes, ["SOON", "LATE"]);
    }

    #[test]
    fn the_featured_promo_is_the_best_for_the_cart_or_else_the_latest() {
        let mut older = promo("OLDER", Discount::Fixed { value: 20.0 });
        older.received_at = now() - TimeDelta::days(2);
        let mut newer = promo("NEWER", Discount::Percent { value: 5.0 });
        newer.received_at = now() - TimeDelta::hours(1);
        let promos = [older, newer];
        let code =
            |basket: Option<&Basket>| featured_promo(&promos, basket, now()).map(Promo::code);
        assert_eq!(code(Some(&basket(100.0, None))), Some("OLDER"));
        assert_eq!(code(None), Some("NEWER"));
        // A cart nothing applies to falls back to the latest.
        let usd = Basket::new(Money::from_decimal(100.0, "USD").unwrap(), None).unwrap();
        assert_eq!(code(Some(&usd)), Some("NEWER"));
        assert_eq!(
            featured_promo(&promos, None, now() + TimeDelta::days(30)),
            None
        );
    }

    #[test]
    fn a_cart_becomes_a_basket_or_says_what_is_missing() {
        let cart = Cart {
            products: vec![
                product(Some(19.99), Some(2), Some("EUR")),
                product(Some(5.0), None, None),
            ],
            ..Default::default()
        };
        let b = Basket::from_cart(&cart, Some(3.5)).unwrap();
        assert_eq!(b.subtotal(), &eur(44.98));
        assert_eq!(b.shipping(), Some(&eur(3.5)));

        let cases: Vec<(Cart, Option<f64>, &str, &str)> = vec![
            (
                Cart {
                    products: vec![product(Some(1.0), None, None)],
                    ..Default::default()
                },
                None,
                "cart.currency",
                "is required",
            ),
            (
                Cart {
                    products: vec![
                        product(Some(1.0), None, Some("EUR")),
                        product(Some(1.0), None, Some("USD")),
                    ],
                    ..Default::default()
                },
                None,
                "cart.currency",
                "both \"EUR\" and \"USD\"",
            ),
            (
                Cart {
                    currency: Some("EURO".into()),
                    ..Default::default()
                },
                None,
                "cart.currency",
                "ISO 4217",
            ),
            (
                Cart {
                    currency: Some("EUR".into()),
                    products: vec![product(None, None, None)],
                    ..Default::default()
                },
                None,
                "cart.products[0].price",
                "required",
            ),
            (
                Cart {
                    currency: Some("EUR".into()),
                    products: vec![product(Some(-1.0), None, None)],
                    ..Default::default()
                },
                None,
                "cart.products[0].price",
                "must not be negative",
            ),
            (
                Cart {
                    currency: Some("EUR".into()),
                    products: vec![product(Some(1.0), Some(0), None)],
                    ..Default::default()
                },
                None,
                "cart.products[0].quantity",
                "at least 1",
            ),
            (
                Cart {
                    currency: Some("EUR".into()),
                    products: vec![product(Some(1.0), None, None)],
                    ..Default::default()
                },
                Some(f64::NAN),
                "shipping",
                "not an amount",
            ),
            (
                Cart {
                    currency: Some("EUR".into()),
                    products: vec![product(Some(1.0), None, None)],
                    ..Default::default()
                },
                Some(-2.0),
                "shipping",
                "must not be negative",
            ),
            (
                Cart {
                    currency: Some("EUR".into()),
                    products: vec![Product {
                        product_id: "p".repeat(300),
                        price: Some(1.0),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                None,
                "cart.products[0].product_id",
                "over the 256-byte limit",
            ),
            (
                Cart {
                    currency: Some("EUR".into()),
                    products: vec![product(Some(1.0), None, None); 2_000],
                    ..Default::default()
                },
                None,
                "cart",
                "over the 32768-byte limit of an event",
            ),
        ];
        for (cart, shipping, field, problem) in cases {
            let err = Basket::from_cart(&cart, shipping).unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(err.problem.contains(problem), "{err}");
        }
    }

    #[test]
    fn refusals_show_only_the_start_of_a_long_code() {
        let code = "C".repeat(10_000);
        let message = PromoRefusal::Unknown { code }.to_string();
        assert!(message.len() < 200 && message.contains('…'), "{message}");
    }
}
