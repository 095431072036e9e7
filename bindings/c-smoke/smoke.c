/*
 * C smoke test of the C ABI the Swift binding is built on.
 *
 * Compiled with gcc against the generated bindings/swift/Sources/BeckonFFI/BeckonFFI.h
 * and linked against target/debug/libbeckon.so by scripts/c-smoke, which also writes
 * `expected.h` from the generated Beckon.swift (see that script). It checks, calling
 * the real generated `ffi_beckon_*` / `uniffi_beckon_*` functions:
 *
 *  1. ffi_beckon_uniffi_contract_version() equals the contract version the Swift code
 *     was generated for;
 *  2. every uniffi_beckon_checksum_* function the Swift code checks at load time exists
 *     in the library and returns the value embedded in Beckon.swift (a mismatch is what
 *     makes a Swift app stop with "UniFFI API checksum mismatch");
 *  3. RustBuffer alloc / from_bytes / reserve / free work from C;
 *  4. real calls with arguments in uniffi's serialization (big-endian, the layouts the
 *     script checks against Beckon.swift): a config refused with InvalidConfig;
 *     Beckon.new on a temporary directory; anonymous_id; user_id before and after
 *     identify (with a malformed identity token refused with InvalidArgument, then
 *     without a token); track of a valid event; track of an invalid one (InvalidEvent, message
 *     naming the field); stats (queued_events); shutdown, then ShutDown errors; and the
 *     handle clone/free protocol, so valgrind can see that nothing leaks.
 *
 * Prints one line per check and exits non-zero on the first mismatch.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "BeckonFFI.h"
#include "expected.h"

static int checks = 0;

static void fail(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "FAIL  ");
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\n");
    va_end(args);
    exit(1);
}

static void pass(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    printf("ok    ");
    vprintf(fmt, args);
    printf("\n");
    va_end(args);
    checks++;
}

/* ---- a growable big-endian writer, the way uniffi serializes arguments ---- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
} Writer;

static void put(Writer *w, const void *bytes, size_t n) {
    if (w->len + n > w->cap) {
        w->cap = (w->len + n) * 2 + 64;
        w->data = realloc(w->data, w->cap);
        if (!w->data) fail("out of memory");
    }
    memcpy(w->data + w->len, bytes, n);
    w->len += n;
}

static void put_i32(Writer *w, int32_t v) {
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 4);
}

static void put_i64(Writer *w, int64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
    put(w, b, 8);
}

/* A String inside a compound value: i32 length, then UTF-8. */
static void put_str(Writer *w, const char *s) {
    put_i32(w, (int32_t)strlen(s));
    put(w, s, strlen(s));
}

/* Hands bytes to Rust as a RustBuffer Rust owns (arguments are consumed by the call). */
static RustBuffer to_rust(const void *bytes, size_t len) {
    RustCallStatus st = {0};
    ForeignBytes fb = {.len = (int32_t)len, .data = bytes};
    RustBuffer buf = ffi_beckon_rustbuffer_from_bytes(fb, &st);
    if (st.code != 0) fail("rustbuffer_from_bytes failed with code %d", st.code);
    return buf;
}

static RustBuffer writer_to_rust(Writer *w) {
    RustBuffer buf = to_rust(w->data, w->len);
    free(w->data);
    w->data = NULL;
    w->len = w->cap = 0;
    return buf;
}

/* A top-level String argument is lowered as its raw UTF-8 bytes. */
static RustBuffer str_arg(const char *s) { return to_rust(s, strlen(s)); }

static RustBuffer empty_map_arg(void) {
    Writer w = {0};
    put_i32(&w, 0);
    return writer_to_rust(&w);
}

/* An Option<String> argument: a 0 byte for None, else 1, then the string. */
static RustBuffer optional_str_arg(const char *s) {
    Writer w = {0};
    uint8_t tag = s != NULL;
    put(&w, &tag, 1);
    if (s) put_str(&w, s);
    return writer_to_rust(&w);
}

/* An absent Option<Arc<dyn HttpClient>>: the library's own HTTP client makes the
 * requests (the debug library is built with it). */
static RustBuffer no_http_client_arg(void) {
    Writer w = {0};
    uint8_t tag = 0;
    put(&w, &tag, 1);
    return writer_to_rust(&w);
}

static void free_buf(RustBuffer buf) {
    RustCallStatus st = {0};
    ffi_beckon_rustbuffer_free(buf, &st);
    if (st.code != 0) fail("rustbuffer_free failed with code %d", st.code);
}

/* ---- reading results ---- */

static int32_t get_i32(const uint8_t *p) {
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

/* Checks that a call failed with the BeckonError variant `variant` and that its message
 * contains `needle`; frees the error buffer. */
static void expect_error(RustCallStatus *st, int32_t variant, const char *needle, const char *what) {
    if (st->code != 1) fail("%s: expected a BeckonError (call status 1), got status %d", what, st->code);
    RustBuffer e = st->errorBuf;
    if (e.len < 8) fail("%s: error buffer too short (%" PRIu64 " bytes)", what, e.len);
    int32_t got = get_i32(e.data);
    int32_t mlen = get_i32(e.data + 4);
    if ((uint64_t)mlen + 8 > e.len) fail("%s: error message length %d out of bounds", what, mlen);
    char *message = strndup((const char *)e.data + 8, (size_t)mlen);
    if (got != variant) fail("%s: expected error variant %d, got %d (\"%s\")", what, variant, got, message);
    if (!strstr(message, needle)) fail("%s: message \"%s\" does not contain \"%s\"", what, message, needle);
    pass("%s -> error %d \"%s\"", what, got, message);
    free(message);
    free_buf(e);
    /* Rust writes the status only on error: clear it before it is used again. */
    *st = (RustCallStatus){0};
}

static void expect_ok(RustCallStatus *st, const char *what) {
    if (st->code != 0) {
        if (st->code == 1 && st->errorBuf.len >= 8) {
            RustBuffer e = st->errorBuf;
            fail("%s: unexpected BeckonError %d: %.*s", what, get_i32(e.data), get_i32(e.data + 4), (const char *)e.data + 8);
        }
        fail("%s: call status %d", what, st->code);
    }
    *st = (RustCallStatus){0};
}

/* Each method call consumes a handle: clone ours first, as the generated Swift does. */
static uint64_t cloned(uint64_t handle) {
    RustCallStatus st = {0};
    uint64_t copy = uniffi_beckon_fn_clone_beckon(handle, &st);
    expect_ok(&st, "clone_beckon");
    return copy;
}

/* BeckonConfig, in the field order scripts/c-smoke checks against Beckon.swift. */
static RustBuffer config_arg(const char *data_dir, const char *server_url, const char *app_key) {
    Writer w = {0};
    put_str(&w, data_dir);
    put_str(&w, server_url);
    put_str(&w, app_key);
    /* FlushPolicy: nothing uploads on its own during the test. */
    put_i32(&w, 500);       /* flush_at */
    put_i64(&w, 3600000);   /* flush_interval_ms */
    put_i32(&w, 500);       /* max_batch_events */
    put_i32(&w, 512000);    /* max_batch_bytes */
    put_i64(&w, 15000);     /* request_timeout_ms */
    put_i64(&w, 500);       /* retry_base_ms */
    put_i64(&w, 300000);    /* retry_max_ms */
    /* QueueLimits */
    put_i64(&w, 10000);     /* max_events */
    put_i64(&w, 10485760);  /* max_bytes */
    put_i64(&w, 2592000);   /* max_age_seconds */
    put_i32(&w, 0);         /* sync_interval_seconds: no sync timer */
    put_i32(&w, 180);       /* history_days */
    return writer_to_rust(&w);
}

static uint64_t queued_events(uint64_t handle) {
    RustCallStatus st = {0};
    RustBuffer stats = uniffi_beckon_fn_method_beckon_stats(cloned(handle), &st);
    expect_ok(&st, "stats");
    if (stats.len < 8) fail("stats: %" PRIu64 " bytes", stats.len);
    uint64_t queued = get_u64(stats.data); /* queued_events is the first field */
    free_buf(stats);
    return queued;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* 1. contract version */
    uint32_t contract = ffi_beckon_uniffi_contract_version();
    if (contract != EXPECTED_CONTRACT_VERSION)
        fail("contract version: library %u, Beckon.swift expects %u", contract, EXPECTED_CONTRACT_VERSION);
    pass("ffi_beckon_uniffi_contract_version() = %u", contract);

    /* 2. checksums */
    size_t n = sizeof(EXPECTED_CHECKSUMS) / sizeof(EXPECTED_CHECKSUMS[0]);
    for (size_t i = 0; i < n; i++) {
        uint16_t got = EXPECTED_CHECKSUMS[i].fn();
        if (got != EXPECTED_CHECKSUMS[i].expected)
            fail("%s() = %u, Beckon.swift expects %u", EXPECTED_CHECKSUMS[i].name, got, EXPECTED_CHECKSUMS[i].expected);
    }
    pass("%zu uniffi_beckon_checksum_* functions match Beckon.swift", n);

    /* 3. RustBuffer management */
    {
        RustCallStatus st = {0};
        RustBuffer b = ffi_beckon_rustbuffer_alloc(100, &st);
        expect_ok(&st, "rustbuffer_alloc");
        /* uniffi allocates `size` zeroed bytes: len == size. */
        if (b.capacity < 100 || b.len != 100 || !b.data) fail("rustbuffer_alloc(100): capacity %" PRIu64 " len %" PRIu64, b.capacity, b.len);
        for (int i = 0; i < 100; i++)
            if (b.data[i] != 0) fail("rustbuffer_alloc(100): byte %d is not zero", i);
        memset(b.data, 0xAB, 100);
        b = ffi_beckon_rustbuffer_reserve(b, 1000, &st);
        expect_ok(&st, "rustbuffer_reserve");
        if (b.capacity < 1100 || b.len != 100 || b.data[99] != 0xAB) fail("rustbuffer_reserve lost the content");
        free_buf(b);
        const char *text = "beckon";
        RustBuffer c = str_arg(text);
        if (c.len != strlen(text) || memcmp(c.data, text, c.len) != 0) fail("rustbuffer_from_bytes copied wrong bytes");
        free_buf(c);
        pass("rustbuffer alloc / reserve / from_bytes / free");
    }

    char dir_template[] = "/tmp/beckon-c-smoke.XXXXXX";
    char *dir = mkdtemp(dir_template);
    if (!dir) fail("mkdtemp failed");
    /* Port 9 (discard) on loopback: nothing answers; nothing is uploaded in this test. */
    const char *server = "http://127.0.0.1:9";

    /* 4. a refused config */
    {
        RustCallStatus st = {0};
        uint64_t h = uniffi_beckon_fn_constructor_beckon_new(config_arg(dir, server, ""), no_http_client_arg(), &st);
        if (h != 0 && st.code == 0) fail("an empty app_key was accepted");
        expect_error(&st, BECKON_ERROR_INVALID_CONFIG, "app_key", "Beckon.new(app_key = \"\")");
    }

    RustCallStatus st = {0};
    uint64_t beckon = uniffi_beckon_fn_constructor_beckon_new(config_arg(dir, server, "c-smoke-key"), no_http_client_arg(), &st);
    expect_ok(&st, "Beckon.new");
    if (beckon == 0) fail("Beckon.new returned a null handle");
    pass("Beckon.new(data_dir = %s) -> handle", dir);

    {
        RustBuffer id = uniffi_beckon_fn_method_beckon_anonymous_id(cloned(beckon), &st);
        expect_ok(&st, "anonymous_id");
        if (id.len < 8) fail("anonymous_id is %" PRIu64 " bytes", id.len);
        pass("anonymous_id() = %.*s", (int)id.len, (const char *)id.data);
        free_buf(id);
    }
    {
        RustBuffer uid = uniffi_beckon_fn_method_beckon_user_id(cloned(beckon), &st);
        expect_ok(&st, "user_id");
        if (uid.len != 1 || uid.data[0] != 0) fail("user_id() before identify should be None");
        free_buf(uid);
        pass("user_id() = None");
    }
    {
        uniffi_beckon_fn_method_beckon_identify(cloned(beckon), str_arg("c-user-1"), empty_map_arg(),
                                                optional_str_arg("two words"), &st);
        expect_error(&st, BECKON_ERROR_INVALID_ARGUMENT, "identity_token", "identify(identity_token: \"two words\")");
        uniffi_beckon_fn_method_beckon_identify(cloned(beckon), str_arg("c-user-1"), empty_map_arg(),
                                                optional_str_arg(NULL), &st);
        expect_ok(&st, "identify");
        RustBuffer uid = uniffi_beckon_fn_method_beckon_user_id(cloned(beckon), &st);
        expect_ok(&st, "user_id");
        const char *want = "c-user-1";
        if (uid.len != 5 + strlen(want) || uid.data[0] != 1 || get_i32(uid.data + 1) != (int32_t)strlen(want) ||
            memcmp(uid.data + 5, want, strlen(want)) != 0)
            fail("user_id() after identify is not Some(\"%s\")", want);
        free_buf(uid);
        pass("identify(\"%s\") then user_id() = Some(\"%s\")", want, want);
    }
    {
        Writer w = {0};
        put_i32(&w, EVENT_VARIANT_APPLICATION_BACKGROUNDED);
        put_i32(&w, 0); /* properties: empty map */
        uniffi_beckon_fn_method_beckon_track(cloned(beckon), writer_to_rust(&w), &st);
        expect_ok(&st, "track(ApplicationBackgrounded)");
        pass("track(Event.ApplicationBackgrounded)");
    }
    {
        Writer w = {0};
        put_i32(&w, EVENT_VARIANT_CUSTOM);
        put_str(&w, "Order Completed"); /* a typed event's name: refused */
        put_i32(&w, 0);
        uniffi_beckon_fn_method_beckon_track(cloned(beckon), writer_to_rust(&w), &st);
        expect_error(&st, BECKON_ERROR_INVALID_EVENT, "name", "track(Event.Custom(name = \"Order Completed\"))");
    }
    {
        uint64_t queued = queued_events(beckon);
        if (queued != 2) fail("stats().queued_events = %" PRIu64 ", expected 2 (identify + one track)", queued);
        pass("stats().queued_events = 2");
    }

    uniffi_beckon_fn_method_beckon_shutdown(cloned(beckon), &st);
    expect_ok(&st, "shutdown");
    pass("shutdown()");
    {
        Writer w = {0};
        put_i32(&w, EVENT_VARIANT_APPLICATION_BACKGROUNDED);
        put_i32(&w, 0);
        uniffi_beckon_fn_method_beckon_track(cloned(beckon), writer_to_rust(&w), &st);
        expect_error(&st, BECKON_ERROR_SHUT_DOWN, "shut down", "track after shutdown");
        RustBuffer report = uniffi_beckon_fn_method_beckon_flush(cloned(beckon), 1000, &st);
        (void)report;
        expect_error(&st, BECKON_ERROR_SHUT_DOWN, "shut down", "flush after shutdown");
    }

    uniffi_beckon_fn_free_beckon(beckon, &st);
    expect_ok(&st, "free_beckon");
    pass("free_beckon(handle)");

    /* The queue survived: a new instance on the same directory still holds both events. */
    beckon = uniffi_beckon_fn_constructor_beckon_new(config_arg(dir, server, "c-smoke-key"), no_http_client_arg(), &st);
    expect_ok(&st, "Beckon.new (again)");
    uint64_t queued = queued_events(beckon);
    if (queued != 2) fail("reopened: queued_events = %" PRIu64 ", expected 2", queued);
    pass("reopened the same directory: queued_events = 2");
    uniffi_beckon_fn_method_beckon_shutdown(cloned(beckon), &st);
    expect_ok(&st, "shutdown");
    uniffi_beckon_fn_free_beckon(beckon, &st);
    expect_ok(&st, "free_beckon");

    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0) fail("could not remove %s", dir);

    printf("C smoke: %d checks passed\n", checks);
    return 0;
}
