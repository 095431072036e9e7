//! What a user's recent events say about them, for templates: the product they last
//! looked at, their favourite category, and their cart. Pure functions over plain
//! event data, so the device and the server derive the same values.

mod cart;
mod props;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::{WireEvent, WireKind};
use crate::segments::UserHistory;

pub use cart::{CartLine, CartState};

pub(crate) const PRODUCT_VIEWED: &str = "Product Viewed";
pub(crate) const PRODUCT_ADDED: &str = "Product Added";
pub(crate) const PRODUCT_REMOVED: &str = "Product Removed";
pub(crate) const WISHLIST_TO_CART: &str = "Wishlist Product Added to Cart";
pub(crate) const CHECKOUT_STARTED: &str = "Checkout Started";
pub(crate) const ORDER_COMPLETED: &str = "Order Completed";

/// Every event name the snapshot reads: a caller holding events by name passes only these.
pub const EVENTS_READ: &[&str] = &[
    PRODUCT_VIEWED,
    PRODUCT_ADDED,
    PRODUCT_REMOVED,
    WISHLIST_TO_CART,
    CHECKOUT_STARTED,
    ORDER_COMPLETED,
];

/// One tracked event, borrowed: its name, its wire properties (the Segment keys,
/// flattened as in `WireEvent::properties`) and when it happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventRef<'a> {
    pub name: &'a str,
    pub properties: &'a Map<String, Value>,
    pub timestamp: DateTime<Utc>,
}

impl<'a> EventRef<'a> {
    pub fn new(
        name: &'a str,
        properties: &'a Map<String, Value>,
        timestamp: DateTime<Utc>,
    ) -> Self {
        Self {
            name,
            properties,
            timestamp,
        }
    }

    /// A `track` wire event; `None` for screens and identifies, so that a screen
    /// named "Product Viewed" is not taken for the event.
    pub fn from_wire(event: &'a WireEvent) -> Option<Self> {
        match (event.kind, &event.name) {
            (WireKind::Track, Some(name)) => {
                Some(Self::new(name, &event.properties, event.timestamp))
            }
            _ => None,
        }
    }
}

/// The product of the most recent `Product Viewed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewedProduct {
    pub product_id: Option<String>,
    pub name: Option<String>,
    pub category: Option<String>,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub viewed_at: DateTime<Utc>,
}

/// Values derived from a user's recent events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BehaviourSnapshot {
    pub last_viewed: Option<ViewedProduct>,
    /// The category seen most often over `Product Viewed` and `Product Added`
    /// (and `Wishlist Product Added to Cart`); a tie goes to the one seen last.
    pub favourite_category: Option<String>,
    pub cart: CartState,
}

/// The snapshot kept up to date one event at a time: what the device holds (and
/// persists) so that the values templates read cost the same per event however long
/// the history. [`BehaviourSnapshot::from_events`] is this fold over sorted events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BehaviourFold {
    last_viewed: Option<ViewedProduct>,
    /// Category → (times seen, position of the latest sighting).
    categories: HashMap<String, (u64, u64)>,
    favourite: Option<String>,
    cart: CartState,
    /// Events folded so far: the position of the next one.
    position: u64,
    /// The latest time folded; an event before it cannot be folded in order.
    latest: Option<DateTime<Utc>>,
}

/// Whether [`BehaviourFold::apply`] could take an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folded {
    /// Folded, or not an event the snapshot reads.
    Yes,
    /// Earlier than an event already folded (a clock set back): the fold no longer
    /// describes the history and must be rebuilt from it, sorted.
    OutOfOrder,
}

impl BehaviourFold {
    /// Folds the next event in time order (equal times keep the order given).
    pub fn apply(&mut self, event: EventRef<'_>) -> Folded {
        if !EVENTS_READ.contains(&event.name) {
            return Folded::Yes;
        }
        if self.latest.is_some_and(|latest| event.timestamp < latest) {
            return Folded::OutOfOrder;
        }
        self.latest = Some(event.timestamp);
        let position = self.position;
        self.position += 1;
        let p = event.properties;
        if matches!(
            event.name,
            PRODUCT_VIEWED | PRODUCT_ADDED | WISHLIST_TO_CART
        ) {
            if let Some(category) = props::text(p, "category") {
                let seen = self.categories.entry(category.to_owned()).or_default();
                *seen = (seen.0 + 1, position);
                let count = seen.0;
                // The category just seen is the latest sighting of all: it is the
                // favourite as soon as it is seen at least as often as the favourite.
                let favourite = self
                    .favourite
                    .as_ref()
                    .and_then(|f| self.categories.get(f))
                    .map_or(0, |seen| seen.0);
                if count >= favourite {
                    self.favourite = Some(category.to_owned());
                }
            }
        }
        if event.name == PRODUCT_VIEWED {
            let text = |k| props::text(p, k).map(str::to_owned);
            self.last_viewed = Some(ViewedProduct {
                product_id: props::id(p, "product_id"),
                name: text("name"),
                category: text("category"),
                url: text("url"),
                image_url: text("image_url"),
                viewed_at: event.timestamp,
            });
        }
        self.cart.apply(event.name, p);
        Folded::Yes
    }

    pub fn snapshot(&self) -> BehaviourSnapshot {
        BehaviourSnapshot {
            last_viewed: self.last_viewed.clone(),
            favourite_category: self.favourite.clone(),
            cart: self.cart.clone(),
        }
    }

    pub fn cart(&self) -> &CartState {
        &self.cart
    }

    /// Folds events in any order: sorted by timestamp first (equal timestamps keep
    /// their given order).
    pub fn from_events<'a>(events: impl IntoIterator<Item = EventRef<'a>>) -> Self {
        let mut events: Vec<EventRef<'a>> = events
            .into_iter()
            .filter(|e| EVENTS_READ.contains(&e.name))
            .collect();
        events.sort_by_key(|e| e.timestamp);
        let mut fold = BehaviourFold::default();
        for event in events {
            fold.apply(event);
        }
        fold
    }

    /// [`BehaviourFold::from_events`] over wire events; non-`track` events are skipped.
    pub fn from_wire_events<'a>(events: impl IntoIterator<Item = &'a WireEvent>) -> Self {
        Self::from_events(events.into_iter().filter_map(EventRef::from_wire))
    }
}

impl BehaviourSnapshot {
    /// Derives the snapshot from events in any order: they are sorted by timestamp
    /// first (events with equal timestamps keep their given order). The caller picks
    /// how far back to look; the cart only counts events after the last
    /// `Order Completed` anyway.
    pub fn from_events<'a>(events: impl IntoIterator<Item = EventRef<'a>>) -> Self {
        BehaviourFold::from_events(events).snapshot()
    }

    /// [`BehaviourSnapshot::from_events`] over wire events; non-`track` events are skipped.
    pub fn from_wire_events(events: &[WireEvent]) -> Self {
        BehaviourFold::from_wire_events(events).snapshot()
    }

    /// The snapshot of an indexed history, reading only the [`EVENTS_READ`] groups.
    /// The device renders in-app messages and the server renders sends through this
    /// one path, so both derive the same values from the same events.
    pub fn from_history(history: &UserHistory) -> Self {
        Self::from_events(EVENTS_READ.iter().flat_map(|name| {
            history
                .events(name)
                .iter()
                .map(move |e| EventRef::new(name, &e.properties, e.timestamp))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    struct Log(Vec<(String, Map<String, Value>, DateTime<Utc>)>);

    impl Log {
        fn new() -> Self {
            Log(Vec::new())
        }
        fn at(mut self, second: i64, name: &str, props: Value) -> Self {
            let ts = Utc.timestamp_opt(1_700_000_000 + second, 0).unwrap();
            self.0
                .push((name.to_owned(), props.as_object().unwrap().clone(), ts));
            self
        }
        fn snapshot(&self) -> BehaviourSnapshot {
            BehaviourSnapshot::from_events(self.0.iter().map(|(n, p, t)| EventRef::new(n, p, *t)))
        }
    }

    #[test]
    fn an_empty_history_knows_nothing() {
        let s = Log::new().snapshot();
        assert_eq!(s, BehaviourSnapshot::default());
        assert_eq!(s.cart.item_count(), 0);
    }

    #[test]
    fn last_viewed_is_the_latest_by_timestamp_not_by_order() {
        let s = Log::new()
            .at(20, PRODUCT_VIEWED, json!({"product_id": "p2", "name": "Boots", "url": "https://s.example/p2", "image_url": "https://cdn.example/p2.jpg"}))
            .at(10, PRODUCT_VIEWED, json!({"product_id": "p1", "name": "Sandals"}))
            .snapshot();
        let viewed = s.last_viewed.unwrap();
        assert_eq!(viewed.name.as_deref(), Some("Boots"));
        assert_eq!(viewed.product_id.as_deref(), Some("p2"));
        assert_eq!(viewed.url.as_deref(), Some("https://s.example/p2"));
        assert_eq!(
            viewed.image_url.as_deref(),
            Some("https://cdn.example/p2.jpg")
        );
        assert_eq!(
            viewed.viewed_at,
            Utc.timestamp_opt(1_700_000_020, 0).unwrap()
        );
    }

    #[test]
    fn favourite_category_counts_views_and_adds_and_breaks_ties_by_recency() {
        let s = Log::new()
            .at(1, PRODUCT_VIEWED, json!({"category": "Shoes"}))
            .at(
                2,
                PRODUCT_ADDED,
                json!({"product_id": "p", "category": "Bags"}),
            )
            .at(3, PRODUCT_VIEWED, json!({"category": "Shoes"}))
            .at(4, "Product Clicked", json!({"category": "Hats"}))
            .at(5, "Product Clicked", json!({"category": "Hats"}))
            .at(6, "Product Clicked", json!({"category": "Hats"}))
            .snapshot();
        assert_eq!(
            s.favourite_category.as_deref(),
            Some("Shoes"),
            "clicks do not count"
        );

        let tie = Log::new()
            .at(1, PRODUCT_VIEWED, json!({"category": "Shoes"}))
            .at(2, PRODUCT_VIEWED, json!({"category": "Bags"}))
            .at(3, PRODUCT_VIEWED, json!({"category": "Shoes"}))
            .at(4, PRODUCT_VIEWED, json!({"category": "Bags"}))
            .snapshot();
        assert_eq!(tie.favourite_category.as_deref(), Some("Bags"));

        let blank = Log::new()
            .at(1, PRODUCT_VIEWED, json!({"category": " "}))
            .snapshot();
        assert_eq!(blank.favourite_category, None);
    }

    #[test]
    fn the_cart_is_replayed_since_the_last_order() {
        let s = Log::new()
            .at(
                1,
                PRODUCT_ADDED,
                json!({"product_id": "old", "name": "Old", "price": 9.0, "currency": "EUR"}),
            )
            .at(2, ORDER_COMPLETED, json!({"order_id": "o1"}))
            .at(
                3,
                PRODUCT_ADDED,
                json!({"product_id": "p1", "name": "Sneakers", "price": 25.0, "currency": "EUR"}),
            )
            .at(
                4,
                PRODUCT_ADDED,
                json!({"product_id": "p2", "name": "Socks", "price": 12.5, "currency": "EUR"}),
            )
            .at(
                5,
                PRODUCT_ADDED,
                json!({"product_id": "p3", "name": "Cap", "price": 15.0, "currency": "EUR"}),
            )
            .at(6, PRODUCT_REMOVED, json!({"product_id": "p3"}))
            .snapshot();
        assert_eq!(s.cart.item_names(), vec!["Sneakers", "Socks"]);
        assert_eq!(s.cart.subtotal().unwrap().to_string(), "37.50 EUR");
    }

    #[test]
    fn an_order_recorded_with_an_earlier_timestamp_resets_only_what_came_before() {
        let s = Log::new()
            .at(5, PRODUCT_ADDED, json!({"product_id": "p1"}))
            .at(1, ORDER_COMPLETED, json!({"order_id": "o1"}))
            .snapshot();
        assert_eq!(s.cart.item_count(), 1);
    }

    #[test]
    fn a_history_gives_the_snapshot_of_its_track_events() {
        let wire = |kind, name: &str, second: i64, props: Value| WireEvent {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            name: Some(name.to_owned()),
            properties: props.as_object().unwrap().clone(),
            traits: Map::new(),
            anonymous_id: "a".into(),
            user_id: None,
            timestamp: Utc.timestamp_opt(1_700_000_000 + second, 0).unwrap(),
            context: Map::new(),
        };
        let events = [
            wire(
                WireKind::Track,
                PRODUCT_VIEWED,
                1,
                json!({"name": "Boots", "category": "Shoes"}),
            ),
            wire(
                WireKind::Track,
                PRODUCT_ADDED,
                2,
                json!({"product_id": "p1", "name": "Boots", "price": 80.0, "currency": "EUR", "category": "Shoes"}),
            ),
            // A screen with an event's name is not that event, on either path.
            wire(WireKind::Screen, PRODUCT_VIEWED, 3, json!({"name": "Hat"})),
            wire(
                WireKind::Track,
                "Segment Entered",
                4,
                json!({"segment_id": "s"}),
            ),
        ];
        let history = UserHistory::from_wire(&events);
        let from_history = BehaviourSnapshot::from_history(&history);
        assert_eq!(from_history, BehaviourSnapshot::from_wire_events(&events));
        assert_eq!(
            from_history.last_viewed.unwrap().name.as_deref(),
            Some("Boots")
        );
        assert_eq!(from_history.cart.item_count(), 1);
        assert_eq!(
            BehaviourSnapshot::from_history(&UserHistory::new()),
            BehaviourSnapshot::default()
        );
    }

    #[test]
    fn reads_wire_events_and_skips_screens() {
        let wire = |kind, name: &str| WireEvent {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            name: Some(name.to_owned()),
            properties: json!({"product_id": "p1", "name": "Boots"})
                .as_object()
                .unwrap()
                .clone(),
            traits: Map::new(),
            anonymous_id: "a".into(),
            user_id: None,
            timestamp: Utc::now(),
            context: Map::new(),
        };
        let s = BehaviourSnapshot::from_wire_events(&[wire(WireKind::Screen, PRODUCT_VIEWED)]);
        assert_eq!(s.last_viewed, None);
        let s = BehaviourSnapshot::from_wire_events(&[wire(WireKind::Track, PRODUCT_VIEWED)]);
        assert_eq!(s.last_viewed.unwrap().name.as_deref(), Some("Boots"));
    }

    #[test]
    fn folding_one_event_at_a_time_gives_the_snapshot_of_the_whole_history() {
        let names: Vec<&str> = EVENTS_READ
            .iter()
            .copied()
            .chain(["Product Clicked"])
            .collect();
        let categories = ["Shoes", "Bags", "Hats", " "];
        let mut log = Log::new();
        let mut fold = BehaviourFold::default();
        for i in 0..600usize {
            let name = names[(i * 7 + i / 3) % names.len()];
            let props = json!({
                "product_id": format!("p{}", i % 5),
                "name": format!("Product {}", i % 5),
                "category": categories[(i * i) % categories.len()],
                "price": (i % 40) as f64 + 0.5,
                "currency": "EUR",
                "total": 99.0,
            });
            // Two events per second: equal times keep their order.
            log = log.at((i / 2) as i64, name, props);
            let (n, p, t) = log.0.last().unwrap();
            assert_eq!(fold.apply(EventRef::new(n, p, *t)), Folded::Yes);
            if i % 25 == 0 {
                assert_eq!(fold.snapshot(), log.snapshot(), "after {i} events");
            }
        }
        assert_eq!(fold.snapshot(), log.snapshot());
        let saved = serde_json::to_vec(&fold).unwrap();
        let restored: BehaviourFold = serde_json::from_slice(&saved).unwrap();
        assert_eq!(restored, fold);
    }

    #[test]
    fn an_event_dated_before_what_was_folded_is_refused_and_changes_nothing() {
        let mut fold = BehaviourFold::default();
        let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        let viewed = json!({"product_id": "p1", "name": "Boots"});
        let viewed = viewed.as_object().unwrap();
        assert_eq!(
            fold.apply(EventRef::new(PRODUCT_VIEWED, viewed, t(10))),
            Folded::Yes
        );
        let before = fold.clone();
        assert_eq!(
            fold.apply(EventRef::new(PRODUCT_ADDED, viewed, t(5))),
            Folded::OutOfOrder
        );
        assert_eq!(fold, before);
        // Events the snapshot does not read are never out of order.
        assert_eq!(
            fold.apply(EventRef::new("Search", viewed, t(1))),
            Folded::Yes
        );
        assert_eq!(
            fold.apply(EventRef::new(PRODUCT_ADDED, viewed, t(10))),
            Folded::Yes
        );
        assert_eq!(fold.snapshot().cart.item_count(), 1);
    }
}
