# Shared paths for the scripts; sourced, not run.
BECKON_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BECKON_TOOLS=${BECKON_TOOLS:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/beckon-tools}
KOTLIN_VERSION=2.4.20
KOTLIN_HOME=$BECKON_TOOLS/kotlinc-$KOTLIN_VERSION
KOTLINC=$KOTLIN_HOME/bin/kotlinc
# Debian packages: libjna-java, junit4 (pulls libhamcrest-java).
JNA_JAR=/usr/share/java/jna.jar
JUNIT_JAR=/usr/share/java/junit4.jar
HAMCREST_JAR=/usr/share/java/hamcrest.jar
# kotlin.test with its JUnit 4 asserter; both ship in the compiler distribution.
KOTLIN_TEST_JARS=$KOTLIN_HOME/lib/kotlin-test.jar:$KOTLIN_HOME/lib/kotlin-test-junit.jar
# Where the scripts put jars and other build output (ignored by git).
KOTLIN_BUILD=$BECKON_ROOT/bindings/kotlin/build
# Darwin's C headers (the SDK's usr/include), standing in for Xcode's iOS SDK when
# scripts/mobile-check compiles the C parts of the dependencies for aarch64-apple-ios:
# taken from the `ziglang` package on PyPI, which ships them for cross-compiling to
# Apple platforms (lib/libc/include/any-darwin-any).
ZIGLANG_VERSION=0.17.1
DARWIN_SYSROOT=$BECKON_TOOLS/darwin-sysroot-zig-$ZIGLANG_VERSION
# Rust targets of the phones that scripts/aarch64-tests and scripts/mobile-check use.
BECKON_CROSS_TARGETS="aarch64-unknown-linux-gnu aarch64-linux-android armv7-linux-androideabi aarch64-apple-ios"
export BECKON_ROOT BECKON_TOOLS KOTLIN_VERSION KOTLIN_HOME KOTLINC JNA_JAR JUNIT_JAR \
  HAMCREST_JAR KOTLIN_TEST_JARS KOTLIN_BUILD ZIGLANG_VERSION DARWIN_SYSROOT BECKON_CROSS_TARGETS
