use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use once_cell::sync::Lazy;

use super::ClientError;

/// Data directories in use by a live instance in this process. Two instances writing
/// one queue would each keep their own idea of its size and limits, so the second is
/// refused until the first shuts down.
static IN_USE: Lazy<Mutex<HashSet<PathBuf>>> = Lazy::new(Default::default);

pub(crate) struct InstanceLock(PathBuf);

impl InstanceLock {
    pub(crate) fn acquire(dir: &Path) -> Result<InstanceLock, ClientError> {
        std::fs::create_dir_all(dir).map_err(|source| crate::store::StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let key = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
        let mut in_use = IN_USE.lock().unwrap_or_else(|p| p.into_inner());
        if !in_use.insert(key.clone()) {
            return Err(ClientError::AlreadyOpen(key));
        }
        Ok(InstanceLock(key))
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        IN_USE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}
