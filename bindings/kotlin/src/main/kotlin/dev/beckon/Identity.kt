// Hand-written: identify and identity tokens in Kotlin. Each is a thin layer over a
// generated call (renamed in uniffi.toml) and passes its exceptions through; strings are
// checked first, so that a lone UTF-16 surrogate, which has no UTF-8 form, is refused
// with the typed error instead of the java.nio exception the generated code would throw.
package dev.beckon

/**
 * Attaches [userId] (and merges [traits]) to this and every later event, with the
 * [identityToken] the app's backend signed for the user when the server verifies
 * identities. Throws [BeckonException.InvalidArgument] for a blank user id or a token
 * that is empty, too long or not printable ASCII.
 *
 * ```
 * beckon.identify("user-42", jsonOf("plan" to "gold"), identityToken = tokenFromBackend)
 * ```
 */
fun Beckon.identify(
    userId: String,
    traits: Map<String, JsonValue> = emptyMap(),
    identityToken: String? = null,
) = identifyChecked(
    encodable(userId, "user_id"),
    traits,
    identityToken?.let { encodable(it, "identity_token") },
)

/**
 * Hands over a new identity token for [userId] (after the identity token listener asked
 * for one, or on the app's own refresh); events waiting for it are retried at once.
 */
fun Beckon.setIdentityToken(userId: String, token: String) =
    setIdentityTokenChecked(encodable(userId, "user_id"), encodable(token, "identity_token"))

/**
 * Calls [onNeeded] when the server refuses a user's identity token (or got none), once
 * per user and refused token; the user's events stay queued until a new token arrives
 * through [setIdentityToken]. Replaces any listener set before.
 *
 * **Thread:** [onNeeded] runs on Beckon's upload thread (a native thread; the JVM names
 * it Thread-N), one call at a time. Fetch the token on a thread of the app's own and
 * hand it over from there; [setIdentityToken] may also be called from inside the
 * callback. Never call `flush` or `sync` from it: they wait for the thread it runs on.
 */
fun Beckon.setIdentityTokenListener(onNeeded: (userId: String, problem: IdentityProblem) -> Unit) {
    setIdentityTokenListener(object : IdentityTokenListener {
        override fun identityTokenNeeded(userId: String, problem: IdentityProblem) = onNeeded(userId, problem)
    })
}

/** Stops calling the identity token listener. */
fun Beckon.removeIdentityTokenListener() = setIdentityTokenListener(null as IdentityTokenListener?)

/** [value], unless it holds a lone surrogate: then the typed error, naming [field]. */
private fun encodable(value: String, field: String): String {
    var i = 0
    while (i < value.length) {
        val c = value[i]
        if (c.isHighSurrogate() && i + 1 < value.length && value[i + 1].isLowSurrogate()) {
            i += 2
            continue
        }
        if (c.isSurrogate()) {
            throw BeckonException.InvalidArgument(
                "invalid argument: $field: holds a lone UTF-16 surrogate at index $i, which is not text",
            )
        }
        i++
    }
    return value
}
