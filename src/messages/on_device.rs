//! In-app messages on the device: the synced campaigns, what was shown when, and the
//! decision and rendering for a trigger that just fired. Plain data and pure updates;
//! the SDK's engagement thread owns one and persists the impressions it reports.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::campaign::{Campaign, FiredTrigger};
use super::render_message::{render_message, RenderedMessage};
use super::select::{clamp_to_now, select, NoMessage, SelectionPolicy, UserState};
use super::template::RenderContext;

/// Messages shown this long ago may still be clicked or dismissed; older ones are
/// forgotten so the map stays small.
const REMEMBER_SHOWN: Duration = Duration::from_secs(24 * 3600);

#[derive(Default)]
pub struct DeviceMessages {
    campaigns: Vec<Campaign>,
    policy: SelectionPolicy,
    user: UserState,
    /// Message id → (campaign id, when shown), for clicks and dismissals.
    shown: HashMap<String, (String, DateTime<Utc>)>,
}

impl DeviceMessages {
    /// Starts with the synced campaigns and the stored impressions (campaign id, time).
    pub fn new(
        campaigns: Vec<Campaign>,
        policy: SelectionPolicy,
        impressions: impl IntoIterator<Item = (String, DateTime<Utc>)>,
    ) -> DeviceMessages {
        let mut user = UserState::default();
        for (campaign, at) in impressions {
            user.impressions.entry(campaign).or_default().push(at);
        }
        DeviceMessages {
            campaigns,
            policy,
            user,
            shown: HashMap::new(),
        }
    }

    pub fn replace_campaigns(&mut self, campaigns: Vec<Campaign>, policy: SelectionPolicy) {
        self.campaigns = campaigns;
        self.policy = policy;
    }

    pub fn campaigns(&self) -> &[Campaign] {
        &self.campaigns
    }

    /// The campaign to show for `fired`, rendered for the user, or why there is none.
    /// `context` (the user's traits, behaviour and promo code) is asked for only when a
    /// campaign is chosen: most events fire nothing, and a promo code is read from the
    /// store.
    pub fn message_for(
        &mut self,
        fired: &FiredTrigger,
        segments: &BTreeSet<String>,
        locale: &str,
        now: DateTime<Utc>,
        context: impl FnOnce() -> RenderContext,
    ) -> Result<RenderedMessage, NoMessage> {
        self.user.segments.clear();
        self.user.segments.extend(segments.iter().cloned());
        let campaign = select(&self.campaigns, fired, &self.user, now, &self.policy)?;
        Ok(render_message(campaign, locale, &context()))
    }

    /// The message was put on screen: it counts toward its campaign's caps and the gap.
    /// Returns the time to store (never later than now, whatever the clock did).
    pub fn note_shown(
        &mut self,
        message_id: &str,
        campaign_id: &str,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let at = clamp_to_now(now, now);
        self.user
            .impressions
            .entry(campaign_id.to_owned())
            .or_default()
            .push(at);
        self.user.last_shown = Some(self.user.last_shown.map_or(at, |last| last.max(at)));
        let horizon = now - chrono::TimeDelta::from_std(REMEMBER_SHOWN).unwrap_or_default();
        self.shown.retain(|_, (_, when)| *when > horizon);
        self.shown
            .insert(message_id.to_owned(), (campaign_id.to_owned(), at));
        at
    }

    /// Forgets what the user was shown (their local data was deleted); the campaigns
    /// stay.
    pub fn forget_user(&mut self) {
        self.user = UserState::default();
        self.shown.clear();
    }

    /// The campaign of a message shown by this device, if it is still remembered.
    pub fn campaign_of(&self, message_id: &str) -> Option<&str> {
        self.shown.get(message_id).map(|(c, _)| c.as_str())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use crate::messages::BehaviourSnapshot;
    use serde_json::{json, Map, Value};

    use super::*;
    use crate::messages::EventRef;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn free_shipping() -> Campaign {
        Campaign::from_value(&json!({
            "schema_version": 1,
            "id": "free-shipping",
            "name": "Free shipping nudge",
            "status": "active",
            "trigger": {"segment_entered": "cart_abandoner"},
            "audience": {"segments": ["cart_abandoner"]},
            "cap": {"total": 2},
            "free_shipping_threshold": {"EUR": 50},
            "default_locale": "en",
            "variants": {
                "en": {"title": "Hi {{first_name | there}}",
                       "body": "Add {{free_shipping_remaining}} more for free shipping"},
                "de": {"title": "Hallo {{first_name | du}}",
                       "body": "Noch {{free_shipping_remaining}} bis zum Gratisversand"}
            }
        }))
        .unwrap()
    }

    fn props(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    /// Ana's traits and what her one add to cart says.
    fn abandoner() -> (Map<String, Value>, BehaviourSnapshot) {
        let traits = props(json!({"first_name": "Ana"}));
        let added =
            props(json!({"product_id": "p1", "name": "Socks", "price": 37.5, "currency": "EUR"}));
        let behaviour = BehaviourSnapshot::from_events([EventRef::new(
            "Product Added",
            &added,
            now() - TimeDelta::hours(1),
        )]);
        (traits, behaviour)
    }

    fn entered() -> FiredTrigger {
        FiredTrigger::SegmentEntered {
            segment_id: "cart_abandoner".into(),
        }
    }

    fn context(traits: &Map<String, Value>, behaviour: BehaviourSnapshot) -> RenderContext {
        RenderContext {
            traits: traits.clone(),
            behaviour,
            ..RenderContext::default()
        }
    }

    #[test]
    fn a_message_is_rendered_only_when_a_campaign_is_chosen() {
        let mut messages =
            DeviceMessages::new(vec![free_shipping()], SelectionPolicy::default(), []);
        let mut asked = 0;
        let none = BTreeSet::new();
        let refused = messages.message_for(&entered(), &none, "en", now(), || {
            asked += 1;
            RenderContext::default()
        });
        assert!(refused.is_err());
        assert_eq!(
            asked, 0,
            "no campaign for the trigger: the context is not built"
        );
        let segments = BTreeSet::from(["cart_abandoner".to_string()]);
        let (traits, behaviour) = abandoner();
        let shown = messages.message_for(&entered(), &segments, "en", now(), || {
            asked += 1;
            context(&traits, behaviour)
        });
        assert!(shown.is_ok());
        assert_eq!(asked, 1);
    }

    #[test]
    fn renders_the_nudge_for_the_user_and_locale() {
        let mut messages =
            DeviceMessages::new(vec![free_shipping()], SelectionPolicy::default(), []);
        let segments = BTreeSet::from(["cart_abandoner".to_string()]);
        let (traits, behaviour) = abandoner();
        let message = messages
            .message_for(&entered(), &segments, "de-AT", now(), || {
                context(&traits, behaviour)
            })
            .unwrap();
        assert_eq!(message.title, "Hallo Ana");
        assert_eq!(message.body, "Noch 12.50 EUR bis zum Gratisversand");
        assert_eq!(message.locale, "de");
    }

    #[test]
    fn the_gap_and_the_cap_hold_even_when_the_clock_goes_back() {
        let mut messages =
            DeviceMessages::new(vec![free_shipping()], SelectionPolicy::default(), []);
        let segments = BTreeSet::from(["cart_abandoner".to_string()]);
        let (traits, behaviour) = abandoner();
        let show = |messages: &mut DeviceMessages, at: DateTime<Utc>| {
            messages
                .message_for(&entered(), &segments, "en", at, || {
                    context(&traits, behaviour.clone())
                })
                .map(|m| messages.note_shown(&format!("m{at}"), &m.campaign_id, at))
        };
        show(&mut messages, now()).unwrap();
        assert!(matches!(
            show(&mut messages, now() + TimeDelta::seconds(10)),
            Err(NoMessage::GapNotElapsed { .. })
        ));
        // Set back an hour: still within the gap of the impression, which counts as now.
        assert!(matches!(
            show(&mut messages, now() - TimeDelta::hours(1)),
            Err(NoMessage::GapNotElapsed { .. })
        ));
        show(&mut messages, now() + TimeDelta::seconds(31)).unwrap();
        assert!(matches!(
            show(&mut messages, now() + TimeDelta::hours(2)),
            Err(NoMessage::Ineligible { .. })
        ));
    }

    #[test]
    fn stored_impressions_count_toward_caps_and_clicks_find_their_campaign() {
        let stored = [
            ("free-shipping".to_string(), now() - TimeDelta::days(2)),
            ("free-shipping".to_string(), now() - TimeDelta::days(1)),
        ];
        let mut messages =
            DeviceMessages::new(vec![free_shipping()], SelectionPolicy::default(), stored);
        let segments = BTreeSet::from(["cart_abandoner".to_string()]);
        let (traits, behaviour) = abandoner();
        assert!(matches!(
            messages.message_for(&entered(), &segments, "en", now(), || context(
                &traits, behaviour
            )),
            Err(NoMessage::Ineligible { .. })
        ));
        messages.note_shown("m1", "free-shipping", now());
        assert_eq!(messages.campaign_of("m1"), Some("free-shipping"));
        assert_eq!(messages.campaign_of("m2"), None);
    }
}
