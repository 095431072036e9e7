// Where the hardening tests call Beckon from: the main thread, and threads with the small
// stacks apps run code on (iOS gives secondary threads 512 KB; 256 KB threads are common
// in libraries), plus values of every public type for them to pass.
import Beckon
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import XCTest

/// A thread to call Beckon on.
enum Place: CustomStringConvertible {
    case mainThread
    case thread(stackSize: Int)

    static let all: [Place] = [.mainThread, .thread(stackSize: 512 * 1024), .thread(stackSize: 256 * 1024)]

    var description: String {
        switch self {
        case .mainThread: return "the main thread"
        case let .thread(stackSize): return "a thread with a \(stackSize / 1024) KB stack"
        }
    }

    /// Runs `body` here and waits for it; fails if a thread did not get the stack size
    /// asked for. On a thread of its own, `body` must not hold the last reference to a
    /// deeply nested value: Swift frees such a value by recursion, on the thread that
    /// lets it go (keep deep values in `static let`s).
    func run<T>(_ body: @escaping () throws -> T) throws -> T {
        switch self {
        case .mainThread:
            XCTAssertTrue(Thread.isMainThread, "the test should run on the main thread")
            return try body()
        case let .thread(stackSize):
            let result = Inbox<Result<T, Error>>()
            let work = {
                if let actual = currentStackSize(), actual != stackSize {
                    result.add(.failure(TestError("asked for a \(stackSize)-byte stack, got \(actual)")))
                } else {
                    result.add(Result { try body() })
                }
            }
            #if os(Linux)
            try runOnOwnStack(size: stackSize, work)
            #else
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                work()
                done.signal()
            }
            thread.stackSize = stackSize
            thread.start()
            done.wait()
            #endif
            return try result.all[0].get()
        }
    }
}

#if os(Linux)
/// Runs `body` on a new pthread whose stack is exactly `size` bytes, with a guard page
/// below it as the system gives threads, and waits for it. `Thread.stackSize` is only a
/// minimum on Linux: glibc hands a new thread the cached stack of an exited one up to 4
/// times bigger (a 512 KB one for a 256 KB request), so the stack is mapped here.
private func runOnOwnStack(size: Int, _ body: @escaping () -> Void) throws {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let mapped = mmap(nil, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0)
    guard let base = mapped, base != UnsafeMutableRawPointer(bitPattern: -1) else { throw TestError("mmap failed") }
    defer { munmap(base, size + page) }
    guard mprotect(base, page, PROT_NONE) == 0 else { throw TestError("mprotect failed") }
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    guard pthread_attr_setstack(&attributes, base + page, size) == 0 else { throw TestError("pthread_attr_setstack failed") }
    final class Work {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    let work = Unmanaged.passRetained(Work(body)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(&thread, &attributes, { argument in
        Unmanaged<Work>.fromOpaque(argument!).takeRetainedValue().body()
        return nil
    }, work)
    guard created == 0 else {
        Unmanaged<Work>.fromOpaque(work).release()
        throw TestError("pthread_create failed: \(created)")
    }
    pthread_join(thread, nil)
}
#endif

/// The size of the calling thread's stack as the OS set it up, where it can be read.
func currentStackSize() -> Int? {
    #if os(Linux)
    // Glibc's module does not export pthread_getattr_np (a GNU extension).
    typealias GetAttr = @convention(c) (pthread_t, UnsafeMutablePointer<pthread_attr_t>) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_getattr_np") else { return nil }
    var attributes = pthread_attr_t()
    guard unsafeBitCast(symbol, to: GetAttr.self)(pthread_self(), &attributes) == 0 else { return nil }
    defer { pthread_attr_destroy(&attributes) }
    var size = 0
    pthread_attr_getstacksize(&attributes, &size)
    return size
    #elseif canImport(Darwin)
    return pthread_get_stacksize_np(pthread_self())
    #else
    return nil
    #endif
}

/// Values nested `depth` levels below a leaf, made without recursion. Kept for the whole
/// test run (static), so they are never freed: Swift's own deinit of a value this deep
/// recurses, which is no part of what these tests look at.
enum Deep {
    /// `{"k": {"k": … "x"}}`, as in the report: `depth` objects around a string.
    static func objects(_ depth: Int) -> JsonValue {
        var value: JsonValue = "x"
        for _ in 0..<depth { value = .object(fields: ["k": value]) }
        return value
    }

    /// Arrays and objects in turn, with a few scalars beside the nested one.
    static func mixed(_ depth: Int) -> JsonValue {
        var value: JsonValue = .null
        for level in 0..<depth {
            value = level % 2 == 0
                ? .array(values: [1, value, "s"])
                : .object(fields: ["k": value, "n": 1.5, "b": true])
        }
        return value
    }

    static let objects3000 = objects(3_000)
    static let objects20000 = objects(20_000)
    static let mixed3000 = mixed(3_000)
    static let mixed20000 = mixed(20_000)

    static let all: [(name: String, value: JsonValue)] = [
        ("3,000 objects", objects3000), ("20,000 objects", objects20000),
        ("3,000 arrays and objects", mixed3000), ("20,000 arrays and objects", mixed20000),
    ]
}

/// One event of every kind, with valid typed fields and the given free-form properties.
func everyEvent(properties: [String: JsonValue]) -> [Event] {
    let shoe = Product(productId: "sku-1", name: "Shoe", price: 10, currency: "EUR", quantity: 1)
    let cart = Cart(cartId: "cart-1", products: [shoe], currency: "EUR")
    let order = Order(orderId: "order-1", total: 10, revenue: 10, currency: "EUR", products: [shoe])
    let step = CheckoutStep(checkoutId: "checkout-1", step: 1)
    let coupon = Coupon(couponId: "TEN")
    let promotion = Promotion(promotionId: "promo-1")
    let share = Share(shareVia: "email")
    return [
        .productsSearched(query: "shoes", properties: properties),
        .productListViewed(listId: "list-1", products: [shoe], properties: properties),
        .productClicked(product: shoe, properties: properties),
        .productViewed(product: shoe, properties: properties),
        .productAdded(cartId: "cart-1", product: shoe, properties: properties),
        .productRemoved(cartId: "cart-1", product: shoe, properties: properties),
        .cartViewed(cart: cart, properties: properties),
        .checkoutStarted(order: order, properties: properties),
        .checkoutStepViewed(step: step, properties: properties),
        .checkoutStepCompleted(step: step, properties: properties),
        .paymentInfoEntered(orderId: "order-1", step: step, properties: properties),
        .orderCompleted(order: order, properties: properties),
        .orderUpdated(order: order, properties: properties),
        .orderRefunded(order: order, properties: properties),
        .orderCancelled(order: order, properties: properties),
        .couponEntered(coupon: coupon, properties: properties),
        .couponApplied(coupon: coupon, properties: properties),
        .couponDenied(coupon: coupon, properties: properties),
        .couponRemoved(coupon: coupon, properties: properties),
        .promotionViewed(promotion: promotion, properties: properties),
        .promotionClicked(promotion: promotion, properties: properties),
        .productAddedToWishlist(wishlistId: "w-1", product: shoe, properties: properties),
        .productRemovedFromWishlist(wishlistId: "w-1", product: shoe, properties: properties),
        .wishlistProductAddedToCart(wishlistId: "w-1", cartId: "cart-1", product: shoe, properties: properties),
        .productShared(product: shoe, share: share, properties: properties),
        .cartShared(cartId: "cart-1", products: [shoe], share: share, properties: properties),
        .productReviewed(productId: "sku-1", rating: 5, properties: properties),
        .screen(name: "Home", properties: properties),
        .applicationOpened(fromBackground: false, properties: properties),
        .applicationBackgrounded(properties: properties),
        .pushOpened(messageId: "m-1", properties: properties),
        .deepLinkOpened(url: "shop://cart", properties: properties),
        .inAppMessageShown(messageId: "m-1", campaignId: "c-1", properties: properties),
        .inAppMessageClicked(messageId: "m-1", campaignId: "c-1", buttonId: "b-1", properties: properties),
        .inAppMessageDismissed(messageId: "m-1", campaignId: "c-1", properties: properties),
        .custom(name: "Deep", properties: properties),
    ]
}
