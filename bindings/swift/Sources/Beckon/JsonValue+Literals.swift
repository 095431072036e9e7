// Hand-written: Swift literals for the generated `JsonValue`, so properties and traits read
// as plain Swift:
//
//     try beckon.identify("user-42", traits: ["plan": "gold", "orders": 3, "vip": true])
//     .custom(name: "Size Guide Opened", properties: ["sizes": [42, 43], "unit": "EU"])
//
// Integer literals become `.integer`, decimal literals `.number`; `.null` stays explicit.
// Values that are not literals still use the cases: `.text(value: name)`.

extension JsonValue: ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    public init(stringLiteral value: String) {
        self = .text(value: value)
    }
}

extension JsonValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) {
        self = .integer(value: value)
    }
}

extension JsonValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) {
        self = .number(value: value)
    }
}

extension JsonValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) {
        self = .bool(value: value)
    }
}

extension JsonValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: JsonValue...) {
        self = .array(values: elements)
    }
}

extension JsonValue: ExpressibleByDictionaryLiteral {
    /// A repeated key keeps its last value, as in JSON objects.
    public init(dictionaryLiteral elements: (String, JsonValue)...) {
        self = .object(fields: Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
