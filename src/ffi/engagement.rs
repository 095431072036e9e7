//! Segments and in-app messages, as apps call them. Conversions only.

use std::sync::Arc;

use super::{Beckon, BeckonError};
use crate::client::{InAppMessage, InAppMessageListener, SegmentListener};

#[uniffi::export]
impl Beckon {
    /// The segments the user is in, after every event tracked before this call.
    pub fn segments(&self) -> Result<Vec<String>, BeckonError> {
        Ok(self.client.segments()?)
    }

    /// Calls `listener` on Beckon's engagement thread whenever the user enters or
    /// leaves segments; `null`/`nil` stops.
    pub fn set_segment_listener(
        &self,
        listener: Option<Arc<dyn SegmentListener>>,
    ) -> Result<(), BeckonError> {
        Ok(self.client.set_segment_listener(listener)?)
    }

    /// Hands in-app messages to `listener`, on Beckon's engagement thread, as their
    /// triggers fire; `null`/`nil` keeps the latest for `takeInAppMessage()` instead.
    pub fn set_in_app_listener(
        &self,
        listener: Option<Arc<dyn InAppMessageListener>>,
    ) -> Result<(), BeckonError> {
        Ok(self.client.set_in_app_listener(listener)?)
    }

    /// The message that fired while no listener was set, if it may still be shown.
    /// Taking it counts it as shown.
    pub fn take_in_app_message(&self) -> Result<Option<InAppMessage>, BeckonError> {
        Ok(self.client.take_in_app_message()?)
    }

    /// The user tapped button `button_id` of message `message_id`.
    pub fn in_app_message_clicked(
        &self,
        message_id: String,
        button_id: String,
    ) -> Result<(), BeckonError> {
        Ok(self.client.in_app_message_clicked(message_id, button_id)?)
    }

    /// The user closed message `message_id`.
    pub fn in_app_message_dismissed(&self, message_id: String) -> Result<(), BeckonError> {
        Ok(self.client.in_app_message_dismissed(message_id)?)
    }

    /// The user's language for in-app messages (`pt-BR`); empty: the `locale` trait.
    pub fn set_locale(&self, locale: String) -> Result<(), BeckonError> {
        Ok(self.client.set_locale(locale)?)
    }

    /// Re-evaluates time-based segments now instead of at the next minute's tick.
    pub fn refresh_segments(&self) -> Result<(), BeckonError> {
        Ok(self.client.refresh_segments()?)
    }
}
