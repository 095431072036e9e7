//! A one-call path for `track` from Kotlin.
//!
//! uniffi's generated Kotlin makes three JNA calls per `track` (clone the handle,
//! allocate the argument buffer, call the method), each allocating a JNA `Structure`
//! for the call status; on the JVM that costs tens of microseconds, more than the
//! durable SQLite write itself. This entry point takes the event already serialized by
//! the generated `FfiConverterTypeEvent` (the same encoding uniffi uses, so there is
//! still one definition of the type) through a single direct-mapped JNA call with
//! plain arguments. It only ever stores valid events; for anything else it returns a
//! non-zero status and stores nothing, and the Kotlin side repeats the call through
//! the regular generated method, which throws the precise typed exception.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, RwLock, Weak};

use once_cell::sync::Lazy;

use super::Beckon;
use crate::events::Event;

/// The event was stored durably.
pub const STORED: i32 = 0;
/// Not stored; the checked path will say why (validation, shutdown, storage).
pub const NOT_STORED: i32 = 1;
/// Not stored: the bytes did not decode as an `Event` (a binding/library mismatch).
pub const UNDECODABLE: i32 = 2;
/// Not stored: no live instance has this id.
pub const UNKNOWN_INSTANCE: i32 = 3;
/// Not stored: the SDK panicked; the checked path reports it as an error.
pub const PANICKED: i32 = 4;

static INSTANCES: Lazy<RwLock<HashMap<u64, Weak<Beckon>>>> = Lazy::new(Default::default);

pub(super) fn register(id: u64, instance: &Arc<Beckon>) {
    let mut instances = INSTANCES.write().unwrap_or_else(|p| p.into_inner());
    instances.retain(|_, weak| weak.strong_count() > 0);
    instances.insert(id, Arc::downgrade(instance));
}

fn lookup(id: u64) -> Option<Arc<Beckon>> {
    INSTANCES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)?
        .upgrade()
}

/// Stores one event given in uniffi's serialization of [`Event`].
///
/// # Safety
/// `data` must point to `len` readable bytes for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn beckon_track_serialized(
    instance_id: u64,
    data: *const u8,
    len: usize,
) -> i32 {
    if data.is_null() {
        return UNDECODABLE;
    }
    let bytes = std::slice::from_raw_parts(data, len);
    catch_unwind(AssertUnwindSafe(|| track_serialized(instance_id, bytes))).unwrap_or(PANICKED)
}

fn track_serialized(instance_id: u64, mut bytes: &[u8]) -> i32 {
    let Some(beckon) = lookup(instance_id) else {
        return UNKNOWN_INSTANCE;
    };
    let event = match <Event as uniffi::Lift<crate::UniFfiTag>>::try_read(&mut bytes) {
        Ok(event) if bytes.is_empty() => event,
        _ => return UNDECODABLE,
    };
    match beckon.client.track_if_valid(&event) {
        Ok(true) => STORED,
        Ok(false) | Err(_) => NOT_STORED,
    }
}
