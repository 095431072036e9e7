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
export BECKON_ROOT BECKON_TOOLS KOTLIN_VERSION KOTLIN_HOME KOTLINC JNA_JAR JUNIT_JAR \
  HAMCREST_JAR KOTLIN_TEST_JARS KOTLIN_BUILD
