//! Syncing definitions on demand. The upload worker does the work (it owns the
//! network); this only asks it and waits, like `flush`.

use std::time::Duration;

use super::{ClientError, Core};
use crate::sync::SyncReport;

impl Core {
    /// Downloads new segment definitions, campaigns and settings if the server has
    /// them, waiting at most `timeout`. The SDK also syncs on its own (at start, on
    /// foreground, on a timer), so apps rarely need this; it blocks on the network, so
    /// never call it on the main thread.
    pub fn sync(&self, timeout: Duration) -> Result<SyncReport, ClientError> {
        Ok(self.uploader.sync(timeout))
    }
}
