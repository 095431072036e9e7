//! What the app implements to hear about segment changes, in-app messages and refused
//! identity tokens, and the records handed to it. The segment and in-app listeners
//! are called on Beckon's engagement thread, never on the thread that called `track`:
//! a listener that touches UI must hop to the main thread itself. A listener must not
//! call what waits for that thread (`segments()`, `take_in_app_message()`, clicks and
//! dismissals): hand the work to another thread, or the call waits out its timeout
//! and fails with `Busy`. The identity token listener is called on the upload thread
//! (see [`IdentityTokenListener`]); it must not call `flush()` or `sync()`, which wait
//! for that thread.

use crate::messages::RenderedMessage;

pub use crate::net::IdentityTokenListener;

/// One entry into or exit from a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct SegmentChange {
    pub segment_id: String,
    pub entered: bool,
}

#[cfg_attr(feature = "ffi", uniffi::export(with_foreign))]
pub trait SegmentListener: Send + Sync {
    /// The user entered or left segments (in evaluation order).
    fn on_segments_changed(&self, changes: Vec<SegmentChange>);
}

/// An in-app message, rendered for the user and ready to display.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct InAppMessage {
    /// Pass it back to `in_app_message_clicked` / `in_app_message_dismissed`.
    pub message_id: String,
    pub campaign_id: String,
    /// The campaign variant's locale tag.
    pub locale: String,
    pub title: String,
    pub body: String,
    pub image_url: Option<String>,
    pub buttons: Vec<InAppButton>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct InAppButton {
    pub id: String,
    pub label: String,
    /// Where the button leads (a deep link or web URL), as the campaign gives it.
    pub url: String,
}

#[cfg_attr(feature = "ffi", uniffi::export(with_foreign))]
pub trait InAppMessageListener: Send + Sync {
    /// A campaign fired. Return `true` if the message is put on screen: only then does
    /// it count as shown (toward caps and the minimum gap, and as an
    /// `In-App Message Shown` event). Return `false` to let it go (the app is on its
    /// checkout screen, say); it is not offered again.
    fn on_message(&self, message: InAppMessage) -> bool;
}

impl InAppMessage {
    pub(crate) fn new(rendered: RenderedMessage, message_id: String) -> InAppMessage {
        InAppMessage {
            message_id,
            campaign_id: rendered.campaign_id,
            locale: rendered.locale,
            title: rendered.title,
            body: rendered.body,
            image_url: rendered.image_url,
            buttons: rendered
                .buttons
                .into_iter()
                .map(|b| InAppButton {
                    id: b.id,
                    label: b.label,
                    url: b.url,
                })
                .collect(),
        }
    }
}
