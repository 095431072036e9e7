package dev.beckon

import com.sun.jna.Native
import java.nio.ByteBuffer
import java.util.Collections
import java.util.WeakHashMap

/**
 * Records an event. Returns once it is stored durably; an invalid event throws
 * [BeckonException.InvalidEvent] and stores nothing (a text holding a lone UTF-16
 * surrogate or over 1 MiB, or an event over 16 MiB encoded, is refused here before
 * anything reaches the core). After [Beckon.close], throws [BeckonException.ShutDown].
 *
 * The generated `trackChecked` makes three JNA calls per event, each allocating a JNA
 * structure for the call status. This path serializes the event with the generated
 * converter (the same bytes `trackChecked` would send) and makes one direct-mapped call
 * with plain arguments. When the core does not store the event, for whatever reason,
 * the call is repeated through `trackChecked`, which stores it or throws the precise
 * typed exception, so both paths behave the same.
 */
fun Beckon.track(event: Event) {
    // As every generated call: a closed instance says so before looking at the arguments.
    if (uniffiIsDestroyed) throw closedInstance()
    val bytes = serialize(event)
    val status = FastTrackNative.beckon_track_serialized(instanceIdOf(this), bytes, bytes.size.toLong())
    if (status != STORED) {
        trackChecked(event)
    }
}

private const val STORED = 0

private fun serialize(event: Event): ByteArray {
    val buffer = try {
        val size = checkedArgumentSize(FfiConverterTypeEvent.allocationSize(event))
        ByteBuffer.allocate(size.toInt()).also { FfiConverterTypeEvent.write(event, it) }
    } catch (refused: RefusedArgument) {
        throw refused.inArgument("", TextArg.EVENT).toBeckonException()
    } catch (changed: RuntimeException) {
        throw RefusedArgument.unreadable(changed).inArgument("", TextArg.EVENT).toBeckonException()
    }
    return if (buffer.position() == buffer.capacity()) buffer.array() else buffer.array().copyOf(buffer.position())
}

/** Instance ids, fetched once per instance: a generated call costs more than the lookup. */
private val instanceIds: MutableMap<Beckon, Long> = Collections.synchronizedMap(WeakHashMap())

private fun instanceIdOf(beckon: Beckon): Long =
    instanceIds.getOrPut(beckon) { beckon.instanceId().toLong() }

private object FastTrackNative {
    init {
        Native.register(
            FastTrackNative::class.java,
            System.getProperty("uniffi.component.beckon.libraryOverride") ?: "beckon",
        )
    }

    @JvmStatic
    external fun beckon_track_serialized(instanceId: Long, data: ByteArray, len: Long): Int
}
