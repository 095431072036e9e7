//! Pushes, deep links and promo codes, as apps call them. Conversions only; times
//! cross as epoch milliseconds.

use std::collections::HashMap;

use super::{Beckon, BeckonError};
use crate::client::{LinkAction, PushAction as ClientPushAction};
use crate::events::Cart;
use crate::protocol::Discount;
use crate::push as core;

/// A route the app registers: `name` is what it switches on, `pattern` the links it
/// takes (`shop://product/{id}`, `https://shop.example/p/{id}`, `shop://cart`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeepLinkRoute {
    pub name: String,
    pub pattern: String,
}

/// A link matched to one of the app's routes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeepLink {
    pub route: String,
    /// The link as received.
    pub url: String,
    /// Path placeholders and query parameters (UTM ones excluded), decoded.
    pub params: HashMap<String, String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DiscountKind {
    /// `value` percent of the subtotal.
    Percent,
    /// `value` in `currency`, at most the subtotal.
    Fixed,
    /// The shipping cost.
    FreeShipping,
}

/// A promo code the shopper holds.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Promo {
    pub code: String,
    pub kind: DiscountKind,
    /// The percent or the amount; none for free shipping.
    pub value: Option<f64>,
    pub currency: Option<String>,
    pub expires_at_ms: i64,
    /// Smallest subtotal, in `currency`, it applies to.
    pub min_basket: Option<f64>,
    pub max_uses: u32,
    pub uses: u32,
    pub received_at_ms: i64,
    /// The push that brought it.
    pub message_id: Option<String>,
    pub campaign_id: Option<String>,
}

/// What a promo takes off a cart.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PromoQuote {
    pub code: String,
    pub discount: f64,
    /// Subtotal plus known shipping, minus the discount.
    pub total_after_discount: f64,
    pub currency: String,
    pub expires_at_ms: i64,
}

/// What became of a push's deep link.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum PushLink {
    /// No deep link: open the app where it is.
    None,
    /// Navigate there now.
    Open { link: DeepLink },
    /// Delivered by `deepLinkRouterReady()` once the app's router is ready.
    Pending { url: String },
    /// Cannot be routed; `reason` says why. The open and the promo are recorded.
    Refused { url: String, reason: String },
}

/// What the app should do with an opened push.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PushAction {
    pub message_id: String,
    pub campaign_id: Option<String>,
    pub send_id: Option<String>,
    pub link: PushLink,
    /// The promo the push carried, now held.
    pub promo: Option<Promo>,
    /// Whether that promo may be used now.
    pub promo_active: bool,
}

#[uniffi::export]
impl Beckon {
    /// Sets the app's deep-link routes (the first match wins) and the hosts its
    /// universal/app links may come from (`shop.example`, `*.shop.example`).
    pub fn set_deep_link_routes(
        &self,
        routes: Vec<DeepLinkRoute>,
        allowed_hosts: Vec<String>,
    ) -> Result<(), BeckonError> {
        let routes: Vec<core::DeepLinkRoute> = routes
            .into_iter()
            .map(|r| core::DeepLinkRoute::new(r.name, r.pattern))
            .collect();
        Ok(self.client.set_deep_link_routes(&routes, &allowed_hosts)?)
    }

    /// An opened push, as JSON: the FCM data map, an FCM message or the APNs
    /// `userInfo`. Records the open, keeps the promo and routes the deep link. Throws
    /// `NotBeckonPush` for pushes Beckon did not send.
    pub fn handle_push(&self, payload: String) -> Result<PushAction, BeckonError> {
        Ok(self.client.handle_push(&payload)?.into())
    }

    /// An opened push from its FCM data map (Android's `RemoteMessage.data`).
    pub fn handle_push_data(
        &self,
        data: HashMap<String, String>,
    ) -> Result<PushAction, BeckonError> {
        Ok(self.client.handle_push_data(&data)?.into())
    }

    /// The app's router is ready. Returns the link of a push that opened the app
    /// before (once; then `null`/`nil`).
    pub fn deep_link_router_ready(&self) -> Result<Option<DeepLink>, BeckonError> {
        Ok(self.client.deep_link_router_ready()?.map(DeepLink::from))
    }

    /// A universal/app link the OS opened the app with: routed and recorded.
    pub fn open_deep_link(&self, url: String) -> Result<DeepLink, BeckonError> {
        Ok(self.client.open_deep_link(&url)?.into())
    }

    /// The promos that may be used now, soonest to expire first.
    pub fn active_promos(&self) -> Result<Vec<Promo>, BeckonError> {
        Ok(self
            .client
            .active_promos()?
            .iter()
            .map(Promo::from)
            .collect())
    }

    /// The active promo taking the most off `cart`; `shipping`, when known, prices
    /// free-shipping promos.
    #[uniffi::method(default(shipping = None))]
    pub fn best_promo_for(
        &self,
        cart: Cart,
        shipping: Option<f64>,
    ) -> Result<Option<PromoQuote>, BeckonError> {
        Ok(self
            .client
            .best_promo_for(&cart, shipping)?
            .map(PromoQuote::from))
    }

    /// Applies promo `code` to `cart` at checkout, counting a use. Throws
    /// `PromoExpired`, `PromoUsedUp`, `PromoNotEligible` or `PromoUnknown`, saying why.
    #[uniffi::method(default(shipping = None))]
    pub fn apply_promo(
        &self,
        code: String,
        cart: Cart,
        shipping: Option<f64>,
    ) -> Result<PromoQuote, BeckonError> {
        Ok(self.client.apply_promo(&code, &cart, shipping)?.into())
    }
}

impl From<core::DeepLink> for DeepLink {
    fn from(link: core::DeepLink) -> Self {
        DeepLink {
            route: link.route,
            url: link.url,
            params: link.params.into_iter().collect(),
            utm_source: link.utm.source,
            utm_medium: link.utm.medium,
            utm_campaign: link.utm.campaign,
            utm_term: link.utm.term,
            utm_content: link.utm.content,
        }
    }
}

impl From<&core::Promo> for Promo {
    fn from(promo: &core::Promo) -> Self {
        let offer = &promo.offer;
        let (kind, value) = match offer.discount {
            Discount::Percent { value } => (DiscountKind::Percent, Some(value)),
            Discount::Fixed { value } => (DiscountKind::Fixed, Some(value)),
            Discount::FreeShipping => (DiscountKind::FreeShipping, None),
        };
        Promo {
            code: offer.code.clone(),
            kind,
            value,
            currency: offer.currency.clone(),
            expires_at_ms: offer.expires_at.timestamp_millis(),
            min_basket: offer.min_basket,
            max_uses: offer.max_uses,
            uses: promo.uses,
            received_at_ms: promo.received_at.timestamp_millis(),
            message_id: promo.message_id.clone(),
            campaign_id: promo.campaign_id.clone(),
        }
    }
}

impl From<core::PromoQuote> for PromoQuote {
    fn from(quote: core::PromoQuote) -> Self {
        PromoQuote {
            currency: quote.discount.currency().to_owned(),
            discount: quote.discount.to_decimal(),
            total_after_discount: quote.total_after_discount.to_decimal(),
            expires_at_ms: quote.expires_at.timestamp_millis(),
            code: quote.code,
        }
    }
}

impl From<ClientPushAction> for PushAction {
    fn from(action: ClientPushAction) -> Self {
        PushAction {
            message_id: action.message_id,
            campaign_id: action.campaign_id,
            send_id: action.send_id,
            link: match action.link {
                LinkAction::None => PushLink::None,
                LinkAction::Open(link) => PushLink::Open { link: link.into() },
                LinkAction::Pending { url } => PushLink::Pending { url },
                LinkAction::Refused { url, error } => PushLink::Refused {
                    url,
                    reason: error.to_string(),
                },
            },
            promo: action.promo.as_ref().map(Promo::from),
            promo_active: action.promo_active,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};

    use super::*;
    use crate::client::ClientError;
    use crate::protocol::PromoOffer;

    #[test]
    fn promo_refusals_become_their_own_error_kinds() {
        let code = || "BF10".to_string();
        let cases = [
            (core::PromoRefusal::Unknown { code: code() }, "PromoUnknown"),
            (
                core::PromoRefusal::Expired {
                    code: code(),
                    expired_at: Utc::now(),
                },
                "PromoExpired",
            ),
            (
                core::PromoRefusal::UsedUp {
                    code: code(),
                    max_uses: 1,
                },
                "PromoUsedUp",
            ),
            (
                core::PromoRefusal::NotEligible {
                    code: code(),
                    why: core::Ineligible::EmptyCart,
                },
                "PromoNotEligible",
            ),
        ];
        for (refusal, kind) in cases {
            let said = refusal.to_string();
            let error = BeckonError::from(ClientError::PromoRefused(refusal));
            assert!(format!("{error:?}").starts_with(kind), "{error:?}");
            assert_eq!(error.to_string(), said);
        }
        let not_ours =
            BeckonError::from(ClientError::InvalidPush(core::PushPayloadError::NotBeckon));
        assert!(matches!(not_ours, BeckonError::NotBeckonPush(_)));
    }

    #[test]
    fn promos_cross_with_epoch_milliseconds() {
        let expires_at = Utc::now() + TimeDelta::days(1);
        let promo = core::Promo {
            offer: PromoOffer {
                code: "SHIP".into(),
                discount: Discount::FreeShipping,
                currency: None,
                expires_at,
                min_basket: None,
                max_uses: 2,
            },
            uses: 1,
            received_at: expires_at - TimeDelta::days(2),
            message_id: Some("m".into()),
            campaign_id: None,
        };
        let crossed = Promo::from(&promo);
        assert_eq!(crossed.kind, DiscountKind::FreeShipping);
        assert_eq!(crossed.value, None);
        assert_eq!(crossed.expires_at_ms, expires_at.timestamp_millis());
        assert_eq!(
            crossed.received_at_ms,
            expires_at.timestamp_millis() - 2 * 86_400_000
        );
        assert_eq!((crossed.uses, crossed.max_uses), (1, 2));
    }
}
