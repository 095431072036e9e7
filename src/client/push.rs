//! Pushes, deep links and promo codes, as the app calls them. What is decided is pure
//! (`crate::push`): this file feeds it the app's routes, the stored promos and the
//! server-corrected clock, and records what happened.
//!
//! A deep link is delivered once: in the answer to `handle_push` when the app has said
//! its router is ready in this process, otherwise kept in the store until
//! [`Client::deep_link_router_ready`] (so a push that cold-starts the app is not lost).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::recorder::Recorder;
use super::{ClientError, Core};
use crate::common::FieldError;
use crate::events::{Cart, Coupon, Event, JsonValue, Properties};
use crate::messages::CartState;
use crate::net::stored_offset;
use crate::protocol::{check_promo_code, PushPayload, MAX_EVENT_BYTES};
use crate::push::{
    active_promos, best_promo_for, corrected_now, featured_promo, parse_fcm_data, parse_push,
    Basket, DeepLink, DeepLinkError, DeepLinkRoute, DeepLinkRouter, Promo, PromoQuote,
    PromoRefusal,
};
use crate::store::{Counter, PendingLink};

/// A deep link waiting for the app's router longer than this is dropped: the shopper
/// has moved on, and landing them somewhere an hour later would surprise them.
pub const PENDING_LINK_MAX_AGE: Duration = Duration::from_secs(3600);

/// The app's routes and whether its router is ready, for this process only: a new
/// process must say both again.
#[derive(Default)]
pub(crate) struct PushState {
    router: RwLock<DeepLinkRouter>,
    router_ready: AtomicBool,
}

/// What the app should do with an opened push.
#[derive(Debug, Clone, PartialEq)]
pub struct PushAction {
    pub message_id: String,
    pub campaign_id: Option<String>,
    pub send_id: Option<String>,
    pub link: LinkAction,
    /// The promo the push carried, as now held (with any earlier uses of its code).
    pub promo: Option<Promo>,
    /// Whether that promo may be used now (it may have arrived expired).
    pub promo_active: bool,
}

/// What became of a push's deep link.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkAction {
    /// The push has no deep link: open the app where it is.
    None,
    /// Navigate there now (the router is ready); `Deep Link Opened` is recorded.
    Open(DeepLink),
    /// Kept until the app calls `deep_link_router_ready()`, which delivers it.
    Pending { url: String },
    /// The link cannot be routed (host not allowed, no route, malformed); the open
    /// and the promo are recorded all the same.
    Refused { url: String, error: DeepLinkError },
}

impl Core {
    /// Sets the app's deep-link routes (tried in order; the first match wins) and the
    /// hosts its universal/app links may come from. Replaces earlier ones; on an error
    /// the earlier ones stay.
    pub fn set_deep_link_routes(
        &self,
        routes: &[DeepLinkRoute],
        allowed_hosts: &[String],
    ) -> Result<(), ClientError> {
        let router =
            DeepLinkRouter::new(routes, allowed_hosts).map_err(ClientError::InvalidArgument)?;
        *self.push.router.write().unwrap_or_else(|p| p.into_inner()) = router;
        Ok(())
    }

    /// An opened push, as JSON in any platform's shape (FCM `data` map, FCM message,
    /// APNs `userInfo`): records `Push Opened` with its attribution, keeps its promo and
    /// routes (or keeps pending) its deep link, in one commit. A malformed payload
    /// changes nothing.
    pub fn handle_push(&self, payload: &str) -> Result<PushAction, ClientError> {
        let payload = parse_push(payload).map_err(ClientError::InvalidPush)?;
        self.opened(payload)
    }

    /// [`Client::handle_push`] for an FCM `data` map (Android's `RemoteMessage.data`).
    pub fn handle_push_data(
        &self,
        data: &HashMap<String, String>,
    ) -> Result<PushAction, ClientError> {
        let payload = parse_fcm_data(data).map_err(ClientError::InvalidPush)?;
        self.opened(payload)
    }

    fn opened(&self, payload: PushPayload) -> Result<PushAction, ClientError> {
        let now = Utc::now();
        let (link, pending) = match &payload.deep_link {
            None => (LinkAction::None, None),
            Some(url) => {
                let routed = self
                    .push
                    .router
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .route(url);
                let ready = self.push.router_ready.load(Ordering::SeqCst);
                match routed {
                    Ok(link) if ready => (LinkAction::Open(link), None),
                    // Before the router is ready the link is checked against the routes
                    // already known, so a link that can never be routed is not kept;
                    // without routes yet, it is checked when the router is ready.
                    Err(error) if ready || error != DeepLinkError::NoRoutes => {
                        (refused(url, error), None)
                    }
                    _ => (
                        LinkAction::Pending { url: url.clone() },
                        Some(PendingLink {
                            url: url.clone(),
                            message_id: Some(payload.message_id.clone()),
                            campaign_id: payload.campaign_id.clone(),
                            send_id: payload.send_id.clone(),
                            received_at_ms: now.timestamp_millis(),
                        }),
                    ),
                }
            }
        };
        let promo = payload.promo.as_ref().map(|offer| Promo {
            offer: offer.clone(),
            uses: 0,
            received_at: DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now),
            message_id: Some(payload.message_id.clone()),
            campaign_id: payload.campaign_id.clone(),
        });

        let mut events = vec![self.stamp(&push_opened(&payload), now)?];
        if let LinkAction::Open(link) = &link {
            let ids = Attribution::of(&payload);
            events.push(self.stamp(&deep_link_opened(link, &ids), now)?);
        }
        let payloads: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
        let (held, server_now, recorded) = {
            let mut store = self.recorder.store();
            // Opted out, the shopper still lands where the push points and keeps its
            // promo; only the record of the open is not collected.
            let recorded = self.recorder.collects(&mut store, payloads.len() as u64)?;
            let first = store.record_push_open(
                &payload.message_id,
                now.timestamp_millis(),
                if recorded { &payloads } else { &[] },
                promo.as_ref(),
                pending.as_ref(),
            )?;
            // A push handed over again is the same open: counted once.
            let recorded = recorded && first;
            let held = match &promo {
                Some(p) => store.promo(p.code())?,
                None => None,
            };
            (held, corrected_now(now, stored_offset(&store)), recorded)
        };
        if recorded {
            self.delivered(&payloads);
        }
        Ok(PushAction {
            message_id: payload.message_id,
            campaign_id: payload.campaign_id,
            send_id: payload.send_id,
            link,
            promo_active: held.as_ref().is_some_and(|p| p.is_active(server_now)),
            promo: held,
        })
    }

    /// The app's router is ready: links from pushes opened from now on come back in
    /// [`PushAction`]. Returns the link of a push opened before (a cold start), once;
    /// later calls return `None`. A link kept longer than [`PENDING_LINK_MAX_AGE`] is
    /// dropped. Fails without taking the link when no routes are set.
    pub fn deep_link_router_ready(&self) -> Result<Option<DeepLink>, ClientError> {
        let router = self.push.router.read().unwrap_or_else(|p| p.into_inner());
        if router.is_empty() {
            return Err(ClientError::DeepLink(DeepLinkError::NoRoutes));
        }
        self.push.router_ready.store(true, Ordering::SeqCst);
        let now = Utc::now();
        let max_age = PENDING_LINK_MAX_AGE.as_millis() as i64;
        let pending = self
            .recorder
            .store()
            .take_pending_link(now.timestamp_millis(), max_age)?;
        let Some(pending) = pending else {
            return Ok(None);
        };
        // Taken already: a link that no longer routes is reported once, then gone.
        let link = router.route(&pending.url).map_err(ClientError::DeepLink)?;
        drop(router);
        let ids = Attribution {
            message_id: pending.message_id,
            campaign_id: pending.campaign_id,
            send_id: pending.send_id,
        };
        self.track(&deep_link_opened(&link, &ids))?;
        Ok(Some(link))
    }

    /// A universal/app link (or custom-scheme link) the OS opened the app with, not
    /// from a push: routed at once and recorded as `Deep Link Opened` with its UTM
    /// attribution.
    pub fn open_deep_link(&self, url: &str) -> Result<DeepLink, ClientError> {
        let link = self
            .push
            .router
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .route(url)
            .map_err(ClientError::DeepLink)?;
        self.track(&deep_link_opened(&link, &Attribution::default()))?;
        Ok(link)
    }

    /// The promos that may be used now (on the server's clock), soonest to expire first.
    pub fn active_promos(&self) -> Result<Vec<Promo>, ClientError> {
        let (promos, now) = self.promos_now()?;
        Ok(active_promos(&promos, now).into_iter().cloned().collect())
    }

    /// The active promo taking the most off `cart` (with `shipping`, when known, for
    /// free-shipping promos); ties go to the one expiring first.
    pub fn best_promo_for(
        &self,
        cart: &Cart,
        shipping: Option<f64>,
    ) -> Result<Option<PromoQuote>, ClientError> {
        let basket = Basket::from_cart(cart, shipping).map_err(ClientError::InvalidArgument)?;
        let (promos, now) = self.promos_now()?;
        Ok(best_promo_for(&promos, &basket, now))
    }

    /// Applies promo `code` to `cart` at checkout: counts a use and records
    /// `Coupon Applied` with the discount, in one commit. A promo that is expired,
    /// used up or not eligible is refused with the reason and `Coupon Denied` is
    /// recorded; a code this device does not hold is refused without an event (the
    /// shop's backend may know it).
    pub fn apply_promo(
        &self,
        code: &str,
        cart: &Cart,
        shipping: Option<f64>,
    ) -> Result<PromoQuote, ClientError> {
        check_promo_code(code)
            .map_err(|problem| ClientError::InvalidArgument(FieldError::new("code", problem)))?;
        let basket = Basket::from_cart(cart, shipping).map_err(ClientError::InvalidArgument)?;
        let (promo, server_now) = {
            let store = self.recorder.store();
            (
                store.promo(code)?,
                corrected_now(Utc::now(), stored_offset(&store)),
            )
        };
        let Some(promo) = promo else {
            return Err(ClientError::PromoRefused(PromoRefusal::Unknown {
                code: code.to_owned(),
            }));
        };
        let quote = match promo.quote(&basket, server_now) {
            Ok(quote) => quote,
            Err(refusal) => return self.deny(&promo, cart, refusal),
        };
        let now = Utc::now();
        let applied = self.stamp(&coupon_applied(&promo, cart, &quote), now)?;
        let (counted, recorded) = {
            let mut store = self.recorder.store();
            let recorded = !self.recorder.consent.is_opted_out();
            let event = recorded.then_some(applied.as_slice());
            let counted = store.use_promo(
                promo.code(),
                promo.offer.max_uses,
                now.timestamp_millis(),
                event,
            )?;
            if counted && !recorded {
                store.bump(Counter::DroppedOptedOut, 1)?;
            }
            (counted, recorded)
        };
        if !counted {
            // Another call used it up between the check and the count.
            let refusal = PromoRefusal::UsedUp {
                code: promo.code().to_owned(),
                max_uses: promo.offer.max_uses,
            };
            return self.deny(&promo, cart, refusal);
        }
        if recorded {
            self.delivered(&[&applied]);
        }
        Ok(quote)
    }

    fn deny(
        &self,
        promo: &Promo,
        cart: &Cart,
        refusal: PromoRefusal,
    ) -> Result<PromoQuote, ClientError> {
        self.track(&coupon_denied(promo, cart, &refusal))?;
        Err(ClientError::PromoRefused(refusal))
    }

    /// Every kept promo and the server-corrected time to judge them at.
    fn promos_now(&self) -> Result<(Vec<Promo>, DateTime<Utc>), ClientError> {
        let store = self.recorder.store();
        Ok((
            store.promos()?,
            corrected_now(Utc::now(), stored_offset(&store)),
        ))
    }

    /// The payload of `event`, stamped `at` for the current identity.
    fn stamp(&self, event: &Event, at: DateTime<Utc>) -> Result<Vec<u8>, ClientError> {
        let encoded = event.encode().map_err(ClientError::InvalidEvent)?;
        let wire = self
            .recorder
            .stamp(encoded.kind, Some(encoded.name), encoded.properties, at);
        let payload = serde_json::to_vec(&wire).expect("a JSON map always serializes");
        if payload.len() > MAX_EVENT_BYTES {
            return Err(ClientError::InvalidEvent(FieldError::new(
                "event",
                format!(
                    "is {} bytes, over the {MAX_EVENT_BYTES}-byte limit",
                    payload.len()
                ),
            )));
        }
        Ok(payload)
    }

    /// Events committed by this file's own transactions go on like tracked ones: to
    /// the engagement thread (history, segments, triggers) and toward upload.
    fn delivered(&self, payloads: &[&[u8]]) {
        for payload in payloads {
            self.engagement.recorded(payload);
        }
        self.uploader.nudge();
    }
}

/// The code in-app message templates get as `promo_code`: the best active promo for
/// the shopper's cart, else the active one received last.
pub(super) fn featured_promo_code(
    recorder: &Recorder,
    cart: &CartState,
    now: DateTime<Utc>,
) -> Option<String> {
    let (promos, offset) = {
        let store = recorder.store();
        (store.promos().ok()?, stored_offset(&store))
    };
    let basket = cart.subtotal().and_then(|s| Basket::new(s, None).ok());
    featured_promo(&promos, basket.as_ref(), corrected_now(now, offset))
        .map(|p| p.code().to_owned())
}

fn refused(url: &str, error: DeepLinkError) -> LinkAction {
    LinkAction::Refused {
        url: url.to_owned(),
        error,
    }
}

/// The push a deep link came from, if any.
#[derive(Default)]
struct Attribution {
    message_id: Option<String>,
    campaign_id: Option<String>,
    send_id: Option<String>,
}

impl Attribution {
    fn of(payload: &PushPayload) -> Attribution {
        Attribution {
            message_id: Some(payload.message_id.clone()),
            campaign_id: payload.campaign_id.clone(),
            send_id: payload.send_id.clone(),
        }
    }
}

fn text(value: &str) -> JsonValue {
    JsonValue::Text {
        value: value.to_owned(),
    }
}

fn push_opened(payload: &PushPayload) -> Event {
    let mut properties = Properties::new();
    if let Some(send_id) = &payload.send_id {
        properties.insert("send_id".into(), text(send_id));
    }
    if let Some(url) = &payload.deep_link {
        properties.insert("deep_link".into(), text(url));
    }
    if let Some(promo) = &payload.promo {
        properties.insert("promo_code".into(), text(&promo.code));
    }
    Event::PushOpened {
        message_id: payload.message_id.clone(),
        campaign_id: payload.campaign_id.clone(),
        properties,
    }
}

fn deep_link_opened(link: &DeepLink, ids: &Attribution) -> Event {
    let mut properties = Properties::new();
    properties.insert("route".into(), text(&link.route));
    if let Some(send_id) = &ids.send_id {
        properties.insert("send_id".into(), text(send_id));
    }
    for (key, value) in link.utm.pairs() {
        properties.insert(key.into(), text(value));
    }
    Event::DeepLinkOpened {
        url: link.url.clone(),
        message_id: ids.message_id.clone(),
        campaign_id: ids.campaign_id.clone(),
        properties,
    }
}

/// The promo's attribution and currency, beside the Segment coupon keys.
fn coupon_properties(promo: &Promo, currency: Option<&str>) -> Properties {
    let mut properties = Properties::new();
    if let Some(currency) = currency {
        properties.insert("currency".into(), text(currency));
    }
    if let Some(id) = &promo.message_id {
        properties.insert("message_id".into(), text(id));
    }
    if let Some(id) = &promo.campaign_id {
        properties.insert("campaign_id".into(), text(id));
    }
    properties
}

fn coupon_applied(promo: &Promo, cart: &Cart, quote: &PromoQuote) -> Event {
    Event::CouponApplied {
        coupon: Coupon {
            coupon_id: promo.code().to_owned(),
            cart_id: cart.cart_id.clone(),
            discount: Some(quote.discount.to_decimal()),
            ..Default::default()
        },
        properties: coupon_properties(promo, Some(quote.discount.currency())),
    }
}

fn coupon_denied(promo: &Promo, cart: &Cart, refusal: &PromoRefusal) -> Event {
    let mut properties = coupon_properties(promo, None);
    properties.insert("detail".into(), text(&refusal.to_string()));
    Event::CouponDenied {
        coupon: Coupon {
            coupon_id: promo.code().to_owned(),
            cart_id: cart.cart_id.clone(),
            reason: Some(refusal.reason().to_owned()),
            ..Default::default()
        },
        properties,
    }
}
