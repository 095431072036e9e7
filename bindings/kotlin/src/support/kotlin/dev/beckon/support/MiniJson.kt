// A small JSON reader for the tests and the demo, which read the server's NDJSON export
// without pulling a JSON library onto the classpath. Not part of the SDK.
package dev.beckon.support

/**
 * Parses one JSON document into plain Kotlin values: `Map<String, Any?>` (insertion
 * ordered), `List<Any?>`, `String`, `Boolean`, `null`, and numbers as `Long` when
 * written without a fraction or exponent, `Double` otherwise.
 */
object MiniJson {
    fun parse(text: String): Any? {
        val reader = Reader(text)
        reader.skipSpace()
        val value = reader.value()
        reader.skipSpace()
        if (!reader.atEnd()) reader.fail("trailing characters")
        return value
    }

    /** Parses a JSON object, failing if the document is anything else. */
    @Suppress("UNCHECKED_CAST")
    fun parseObject(text: String): Map<String, Any?> =
        parse(text) as? Map<String, Any?> ?: throw IllegalArgumentException("not a JSON object: $text")

    private class Reader(val text: String) {
        var pos = 0

        fun atEnd() = pos >= text.length

        fun fail(why: String): Nothing =
            throw IllegalArgumentException("invalid JSON at offset $pos: $why")

        fun skipSpace() {
            while (pos < text.length && text[pos] in " \t\r\n") pos++
        }

        fun expect(c: Char) {
            if (pos >= text.length || text[pos] != c) fail("expected '$c'")
            pos++
        }

        fun value(): Any? {
            if (atEnd()) fail("unexpected end")
            return when (text[pos]) {
                '{' -> obj()
                '[' -> array()
                '"' -> string()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> number()
            }
        }

        fun literal(word: String, result: Any?): Any? {
            if (!text.startsWith(word, pos)) fail("expected $word")
            pos += word.length
            return result
        }

        fun obj(): Map<String, Any?> {
            expect('{')
            val out = LinkedHashMap<String, Any?>()
            skipSpace()
            if (!atEnd() && text[pos] == '}') {
                pos++
                return out
            }
            while (true) {
                skipSpace()
                val key = string()
                skipSpace()
                expect(':')
                skipSpace()
                out[key] = value()
                skipSpace()
                if (atEnd()) fail("unterminated object")
                when (text[pos++]) {
                    ',' -> continue
                    '}' -> return out
                    else -> { pos--; fail("expected ',' or '}'") }
                }
            }
        }

        fun array(): List<Any?> {
            expect('[')
            val out = ArrayList<Any?>()
            skipSpace()
            if (!atEnd() && text[pos] == ']') {
                pos++
                return out
            }
            while (true) {
                skipSpace()
                out.add(value())
                skipSpace()
                if (atEnd()) fail("unterminated array")
                when (text[pos++]) {
                    ',' -> continue
                    ']' -> return out
                    else -> { pos--; fail("expected ',' or ']'") }
                }
            }
        }

        fun string(): String {
            expect('"')
            val out = StringBuilder()
            while (true) {
                if (atEnd()) fail("unterminated string")
                val c = text[pos++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> {
                        if (atEnd()) fail("unterminated escape")
                        when (val e = text[pos++]) {
                            '"' -> out.append('"')
                            '\\' -> out.append('\\')
                            '/' -> out.append('/')
                            'b' -> out.append('\b')
                            'f' -> out.append('\u000C')
                            'n' -> out.append('\n')
                            'r' -> out.append('\r')
                            't' -> out.append('\t')
                            'u' -> {
                                if (pos + 4 > text.length) fail("short \\u escape")
                                out.append(text.substring(pos, pos + 4).toInt(16).toChar())
                                pos += 4
                            }
                            else -> fail("unknown escape \\$e")
                        }
                    }
                    c < ' ' -> fail("control character in string")
                    else -> out.append(c)
                }
            }
        }

        fun number(): Any {
            val start = pos
            if (pos < text.length && text[pos] == '-') pos++
            while (pos < text.length && (text[pos].isDigit() || text[pos] in ".eE+-")) pos++
            val literal = text.substring(start, pos)
            if (literal.isEmpty() || literal == "-") fail("unexpected character")
            val integral = literal.none { it in ".eE" }
            return (if (integral) literal.toLongOrNull() else null)
                ?: literal.toDoubleOrNull()
                ?: fail("bad number $literal")
        }
    }
}
