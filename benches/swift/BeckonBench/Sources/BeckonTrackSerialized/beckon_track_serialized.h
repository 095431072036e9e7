// libbeckon's one-call entry point for `track` (src/ffi/fast_track.rs): stores one event
// given in uniffi's serialization of `Event`; returns 0 when stored.
#pragma once
#include <stddef.h>
#include <stdint.h>

int32_t beckon_track_serialized(uint64_t instance_id, const uint8_t *data, size_t len);
