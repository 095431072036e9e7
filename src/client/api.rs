//! The SDK's public calls. Each reaches the running instance's parts through the
//! lifecycle's one check (so a call after `shutdown` fails with
//! [`ClientError::ShutDown`]) and runs the method of the same name on them, where it is
//! documented: `mod.rs` (events, identity, in-app, lifecycle), `consent.rs`, `push.rs`,
//! `identity.rs`, `sync.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{
    Client, ClientError, IdentityTokenListener, InAppMessage, InAppMessageListener, PushAction,
    PushToken, SegmentListener, Stats,
};
use crate::consent::{Channel, Permission, PermissionState};
use crate::events::Cart;
use crate::events::{Event, Properties};
use crate::protocol::PushProvider;
use crate::push::{DeepLink, DeepLinkRoute, Promo, PromoQuote};
use crate::store::{DeviceProfile, OpenReport};
use crate::sync::SyncReport;
use crate::upload::FlushReport;

/// `pub fn name(&self, args…) -> Result<…, ClientError>;` becomes a method of
/// [`Client`] that checks the instance runs, then calls `name` on its parts.
macro_rules! while_running {
    ($(pub fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        impl Client {
            $(
                pub fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.core.running()?.$name($($arg),*)
                }
            )*
        }
    };
}

while_running! {
    pub fn track(&self, event: &Event) -> Result<(), ClientError>;
    pub fn screen(&self, name: String, properties: Properties) -> Result<(), ClientError>;
    pub fn identify(&self, user_id: &str, traits: &Properties, identity_token: Option<&str>) -> Result<(), ClientError>;
    pub fn set_identity_token(&self, user_id: &str, token: &str) -> Result<(), ClientError>;
    pub fn set_identity_token_listener(&self, listener: Option<Arc<dyn IdentityTokenListener>>) -> Result<(), ClientError>;
    pub fn reset(&self) -> Result<(), ClientError>;
    pub fn flush(&self, timeout: Duration) -> Result<FlushReport, ClientError>;
    pub fn sync(&self, timeout: Duration) -> Result<SyncReport, ClientError>;
    pub fn stats(&self) -> Result<Stats, ClientError>;
    pub fn segments(&self) -> Result<Vec<String>, ClientError>;
    pub fn set_segment_listener(&self, listener: Option<Arc<dyn SegmentListener>>) -> Result<(), ClientError>;
    pub fn set_in_app_listener(&self, listener: Option<Arc<dyn InAppMessageListener>>) -> Result<(), ClientError>;
    pub fn take_in_app_message(&self) -> Result<Option<InAppMessage>, ClientError>;
    pub fn in_app_message_clicked(&self, message_id: String, button_id: String) -> Result<(), ClientError>;
    pub fn in_app_message_dismissed(&self, message_id: String) -> Result<(), ClientError>;
    pub fn set_locale(&self, locale: String) -> Result<(), ClientError>;
    pub fn refresh_segments(&self) -> Result<(), ClientError>;
    pub fn on_foreground(&self) -> Result<(), ClientError>;
    pub fn on_background(&self) -> Result<(), ClientError>;
    pub fn set_permission(&self, channel: Channel, state: PermissionState, source: &str) -> Result<(), ClientError>;
    pub fn permissions(&self) -> Result<Vec<Permission>, ClientError>;
    pub fn permission_history(&self) -> Result<Vec<Permission>, ClientError>;
    pub fn set_push_permission(&self, granted: bool) -> Result<(), ClientError>;
    pub fn push_permission(&self) -> Result<Option<bool>, ClientError>;
    pub fn register_push_token(&self, provider: PushProvider, token: &str) -> Result<(), ClientError>;
    pub fn remove_push_token(&self) -> Result<(), ClientError>;
    pub fn push_token(&self) -> Result<Option<PushToken>, ClientError>;
    pub fn set_device_profile(&self, time_zone: &str, country: &str) -> Result<(), ClientError>;
    pub fn device_profile(&self) -> Result<DeviceProfile, ClientError>;
    pub fn opt_out(&self) -> Result<(), ClientError>;
    pub fn opt_in(&self) -> Result<(), ClientError>;
    pub fn delete_local_data(&self) -> Result<(), ClientError>;
    pub fn set_deep_link_routes(&self, routes: &[DeepLinkRoute], allowed_hosts: &[String]) -> Result<(), ClientError>;
    pub fn handle_push(&self, payload: &str) -> Result<PushAction, ClientError>;
    pub fn handle_push_data(&self, data: &HashMap<String, String>) -> Result<PushAction, ClientError>;
    pub fn deep_link_router_ready(&self) -> Result<Option<DeepLink>, ClientError>;
    pub fn open_deep_link(&self, url: &str) -> Result<DeepLink, ClientError>;
    pub fn active_promos(&self) -> Result<Vec<Promo>, ClientError>;
    pub fn best_promo_for(&self, cart: &Cart, shipping: Option<f64>) -> Result<Option<PromoQuote>, ClientError>;
    pub fn apply_promo(&self, code: &str, cart: &Cart, shipping: Option<f64>) -> Result<PromoQuote, ClientError>;
}

/// Calls whose answer needs no running instance.
impl Client {
    /// Stores the event if it is valid and the SDK is running; returns `false` without
    /// storing or counting anything otherwise, so a caller can then use
    /// [`Client::track`] to learn why.
    pub fn track_if_valid(&self, event: &Event) -> Result<bool, ClientError> {
        match self.core.running() {
            Ok(core) => core.track_if_valid(event),
            Err(_) => Ok(false),
        }
    }

    pub fn anonymous_id(&self) -> String {
        self.core.in_any_state().anonymous_id()
    }

    pub fn user_id(&self) -> Option<String> {
        self.core.in_any_state().user_id()
    }

    /// What opening the database found (a reset after corruption, for instance).
    pub fn open_report(&self) -> &OpenReport {
        self.core.in_any_state().open_report()
    }

    pub fn is_opted_out(&self) -> bool {
        self.core.in_any_state().is_opted_out()
    }
}
