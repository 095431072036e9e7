# Shared paths for the scripts; sourced, not run.
BECKON_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BECKON_TOOLS=${BECKON_TOOLS:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/beckon-tools}
KOTLIN_VERSION=2.4.20
KOTLINC=$BECKON_TOOLS/kotlinc-$KOTLIN_VERSION/bin/kotlinc
JNA_JAR=/usr/share/java/jna.jar
export BECKON_ROOT BECKON_TOOLS KOTLIN_VERSION KOTLINC JNA_JAR
