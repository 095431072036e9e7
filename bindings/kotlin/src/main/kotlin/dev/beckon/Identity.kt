// Hand-written: identify and identity tokens in Kotlin. Each is a thin layer over a
// generated call (renamed in uniffi.toml) and passes its exceptions through, among them
// the InvalidArgument for a string holding a lone UTF-16 surrogate (Text.kt).
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
) = identifyChecked(userId, traits, identityToken)

/**
 * Hands over a new identity token for [userId] (after the identity token listener asked
 * for one, or on the app's own refresh); events waiting for it are retried at once.
 */
fun Beckon.setIdentityToken(userId: String, token: String) = setIdentityTokenChecked(userId, token)

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
