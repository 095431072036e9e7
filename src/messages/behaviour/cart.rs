//! The cart as the events describe it: `Product Added` / `Product Removed` replayed
//! since the last `Order Completed`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::props;
use super::{CHECKOUT_STARTED, ORDER_COMPLETED, PRODUCT_ADDED, PRODUCT_REMOVED, WISHLIST_TO_CART};
use crate::common::money::Money;

/// One product in the cart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartLine {
    /// `product_id`, or `sku` when an event has no product id.
    pub product_id: String,
    pub name: Option<String>,
    pub category: Option<String>,
    /// Unit price, in `currency` (or the cart's currency when absent).
    pub unit_price: Option<f64>,
    pub currency: Option<String>,
    pub quantity: u32,
}

/// The cart's content, in the order products were first added.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CartState {
    pub lines: Vec<CartLine>,
    /// The `total` of the latest `Checkout Started`, kept only while the cart has not
    /// changed since (shipping, tax and discounts are unknown before checkout).
    pub checkout_total: Option<Money>,
}

impl CartState {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Number of items: the sum of the quantities.
    pub fn item_count(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.quantity)).sum()
    }

    /// Product names in cart order; lines without a name are left out.
    pub fn item_names(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|l| l.name.as_deref())
            .collect()
    }

    /// The cart's currency: the one currency its lines declare. `None` when no line
    /// declares one, or when they disagree (a mixed cart has no meaningful sum).
    pub fn currency(&self) -> Option<&str> {
        let mut declared = self.lines.iter().filter_map(|l| l.currency.as_deref());
        let first = declared.next()?;
        declared.all(|c| c == first).then_some(first)
    }

    /// Σ unit price × quantity, in the cart's currency. `None` for an empty cart, an
    /// unknown or mixed currency, or any line without a price: a wrong amount in a
    /// message is worse than the template's fallback.
    pub fn subtotal(&self) -> Option<Money> {
        if self.lines.is_empty() {
            return None;
        }
        let currency = self.currency()?;
        let mut sum: i64 = 0;
        for line in &self.lines {
            let unit = Money::from_decimal(line.unit_price?, currency)?;
            let line_total = unit.minor().checked_mul(i64::from(line.quantity))?;
            sum = sum.checked_add(line_total)?;
        }
        Money::from_minor(sum, currency)
    }

    /// The checkout's total when one was reported for the current cart, else the
    /// subtotal.
    pub fn total(&self) -> Option<Money> {
        self.checkout_total.clone().or_else(|| self.subtotal())
    }

    /// Applies one event, in time order. Events other than the cart's are ignored.
    pub(crate) fn apply(&mut self, name: &str, properties: &Map<String, Value>) {
        match name {
            PRODUCT_ADDED | WISHLIST_TO_CART => self.add(properties),
            PRODUCT_REMOVED => self.remove(properties),
            ORDER_COMPLETED => *self = CartState::default(),
            CHECKOUT_STARTED => {
                self.checkout_total = props::amount(properties, "total").and_then(|total| {
                    let currency = props::currency(properties, "currency")
                        .or_else(|| self.currency().map(str::to_owned))?;
                    Money::from_decimal(total, &currency)
                });
            }
            _ => {}
        }
    }

    fn add(&mut self, p: &Map<String, Value>) {
        let Some(key) = line_key(p) else { return };
        self.checkout_total = None;
        let quantity = props::quantity(p, "quantity").unwrap_or(1);
        let line = match self.lines.iter_mut().position(|l| l.product_id == key) {
            Some(i) => {
                let line = &mut self.lines[i];
                line.quantity = line.quantity.saturating_add(quantity);
                line
            }
            None => {
                self.lines.push(CartLine {
                    product_id: key,
                    name: None,
                    category: None,
                    unit_price: None,
                    currency: None,
                    quantity,
                });
                self.lines.last_mut().expect("just pushed")
            }
        };
        // The latest add knows the latest name and price.
        let text = |k| props::text(p, k).map(str::to_owned);
        line.name = text("name").or(line.name.take());
        line.category = text("category").or(line.category.take());
        line.unit_price = props::amount(p, "price").or(line.unit_price);
        line.currency = props::currency(p, "currency").or(line.currency.take());
    }

    /// Removes `quantity` items of the product, or the whole line when the event does
    /// not say how many. Removing what is not in the cart changes nothing.
    fn remove(&mut self, p: &Map<String, Value>) {
        let Some(key) = line_key(p) else { return };
        let Some(i) = self.lines.iter().position(|l| l.product_id == key) else {
            return;
        };
        self.checkout_total = None;
        match props::quantity(p, "quantity") {
            Some(q) if q < self.lines[i].quantity => self.lines[i].quantity -= q,
            _ => {
                self.lines.remove(i);
            }
        }
    }
}

fn line_key(p: &Map<String, Value>) -> Option<String> {
    props::id(p, "product_id").or_else(|| props::id(p, "sku"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn replay(events: &[(&str, Value)]) -> CartState {
        let mut cart = CartState::default();
        for (name, props) in events {
            cart.apply(name, props.as_object().unwrap());
        }
        cart
    }

    fn add(id: &str, name: &str, price: f64, quantity: u32) -> (&'static str, Value) {
        (
            PRODUCT_ADDED,
            json!({"product_id": id, "name": name, "price": price, "currency": "EUR", "quantity": quantity}),
        )
    }

    fn eur(amount: f64) -> Option<Money> {
        Money::from_decimal(amount, "EUR")
    }

    #[test]
    fn add_add_remove_keeps_the_rest() {
        let cart = replay(&[
            add("p1", "Sneakers", 25.0, 1),
            add("p2", "Socks", 6.25, 2),
            add("p1", "Sneakers", 25.0, 1),
            (PRODUCT_REMOVED, json!({"product_id": "p1", "quantity": 1})),
        ]);
        assert_eq!(cart.item_count(), 3);
        assert_eq!(cart.item_names(), vec!["Sneakers", "Socks"]);
        assert_eq!(cart.currency(), Some("EUR"));
        assert_eq!(cart.subtotal(), eur(37.5));
        assert_eq!(cart.total(), eur(37.5));
    }

    #[test]
    fn removing_without_quantity_or_too_many_drops_the_line() {
        let cart = replay(&[
            add("p1", "A", 1.0, 3),
            add("p2", "B", 1.0, 1),
            (PRODUCT_REMOVED, json!({"product_id": "p1"})),
        ]);
        assert_eq!(cart.item_names(), vec!["B"]);
        let cart = replay(&[
            add("p1", "A", 1.0, 2),
            (PRODUCT_REMOVED, json!({"product_id": "p1", "quantity": 5})),
        ]);
        assert!(cart.is_empty());
    }

    #[test]
    fn removing_what_is_not_there_changes_nothing() {
        let cart = replay(&[
            add("p1", "A", 1.0, 1),
            (PRODUCT_REMOVED, json!({"product_id": "nope"})),
            (PRODUCT_REMOVED, json!({"name": "no id"})),
        ]);
        assert_eq!(cart.item_count(), 1);
    }

    #[test]
    fn an_order_empties_the_cart() {
        let cart = replay(&[
            add("p1", "A", 10.0, 1),
            (ORDER_COMPLETED, json!({"order_id": "o1"})),
            add("p2", "B", 4.0, 1),
        ]);
        assert_eq!(cart.item_names(), vec!["B"]);
        assert_eq!(cart.subtotal(), eur(4.0));
        let emptied = replay(&[add("p1", "A", 10.0, 1), (ORDER_COMPLETED, json!({}))]);
        assert_eq!(emptied, CartState::default());
    }

    #[test]
    fn defaults_quantity_to_one_and_keeps_the_latest_details() {
        let cart = replay(&[
            (
                PRODUCT_ADDED,
                json!({"product_id": "p1", "name": "Old", "price": 5.0}),
            ),
            (
                PRODUCT_ADDED,
                json!({"product_id": "p1", "name": "New", "price": 6.0, "currency": "usd"}),
            ),
            (
                WISHLIST_TO_CART,
                json!({"sku": "S-1", "name": "Scarf", "price": 4.0}),
            ),
        ]);
        assert_eq!(cart.lines[0].quantity, 2);
        assert_eq!(cart.lines[0].name.as_deref(), Some("New"));
        assert_eq!(cart.lines[1].product_id, "S-1");
        assert_eq!(cart.currency(), Some("USD"));
        assert_eq!(cart.subtotal(), Money::from_decimal(16.0, "USD"));
    }

    #[test]
    fn unknown_prices_or_currencies_give_no_subtotal() {
        let no_price = replay(&[
            add("p1", "A", 1.0, 1),
            (
                PRODUCT_ADDED,
                json!({"product_id": "p2", "currency": "EUR"}),
            ),
        ]);
        assert_eq!(no_price.subtotal(), None);
        assert_eq!(no_price.item_count(), 2);
        let no_currency = replay(&[(PRODUCT_ADDED, json!({"product_id": "p1", "price": 2.0}))]);
        assert_eq!(no_currency.subtotal(), None);
        let mixed = replay(&[
            add("p1", "A", 1.0, 1),
            (
                PRODUCT_ADDED,
                json!({"product_id": "p2", "price": 1.0, "currency": "USD"}),
            ),
        ]);
        assert_eq!(mixed.currency(), None);
        assert_eq!(mixed.subtotal(), None);
        assert_eq!(CartState::default().subtotal(), None);
    }

    #[test]
    fn sums_exactly_in_minor_units() {
        let cart = replay(&[add("p1", "A", 0.1, 3), add("p2", "B", 0.2, 1)]);
        assert_eq!(cart.subtotal(), eur(0.5));
        assert_eq!(cart.subtotal().unwrap().to_string(), "0.50 EUR");
    }

    #[test]
    fn the_checkout_total_holds_until_the_cart_changes() {
        let checkout = (CHECKOUT_STARTED, json!({"total": 42.9, "currency": "EUR"}));
        let cart = replay(&[add("p1", "A", 37.5, 1), checkout.clone()]);
        assert_eq!(cart.total(), eur(42.9));
        assert_eq!(cart.subtotal(), eur(37.5));
        let changed = replay(&[add("p1", "A", 37.5, 1), checkout, add("p2", "B", 2.5, 1)]);
        assert_eq!(changed.total(), eur(40.0));
        let no_currency = replay(&[
            add("p1", "A", 37.5, 1),
            (CHECKOUT_STARTED, json!({"total": 40})),
        ]);
        assert_eq!(no_currency.total(), eur(40.0), "takes the cart's currency");
    }

    #[test]
    fn overflowing_sums_give_no_subtotal() {
        let cart = replay(&[add("p1", "A", 1e13, u32::MAX)]);
        assert_eq!(cart.subtotal(), None);
        assert_eq!(cart.item_count(), u64::from(u32::MAX));
    }
}
