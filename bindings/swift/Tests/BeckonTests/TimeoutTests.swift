@testable import Beckon
import XCTest

final class TimeoutTests: XCTestCase {
    func testSecondsBecomeWholeMillisecondsRoundedUp() throws {
        XCTAssertEqual(try Beckon.milliseconds(10), 10_000)
        XCTAssertEqual(try Beckon.milliseconds(0.3), 300)
        XCTAssertEqual(try Beckon.milliseconds(0.0001), 1, "a short positive timeout never becomes 0")
        XCTAssertEqual(try Beckon.milliseconds(0), 0)
        XCTAssertEqual(try Beckon.milliseconds(-5), 0, "negative means 0, as in the core")
        XCTAssertEqual(try Beckon.milliseconds(.infinity), Int64.max)
        XCTAssertEqual(try Beckon.milliseconds(1e300), Int64.max)
        XCTAssertThrowsError(try Beckon.milliseconds(.nan))
    }
}
