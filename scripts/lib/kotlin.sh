# Kotlin build helpers for the scripts; sourced after scripts/env.sh, not run.

# kotlin_jar OUT.jar SRC_DIR… : compiles every .kt file under the given directories in
# one kotlinc invocation into OUT.jar (Kotlin runtime included). Skips the compiler when
# the sources and the compiler are exactly those of the last successful build (a content
# hash, kept beside the jar).
kotlin_jar() {
  local jar=$1
  shift
  local sources=()
  local dir
  for dir in "$@"; do
    [ -d "$dir" ] || { echo "kotlin: no directory $dir" >&2; return 1; }
    while IFS= read -r -d '' f; do sources+=("$f"); done < <(find "$dir" -name '*.kt' -print0 | sort -z)
  done
  [ ${#sources[@]} -gt 0 ] || { echo "kotlin: no sources in $*" >&2; return 1; }
  local classpath="$JNA_JAR:$JUNIT_JAR:$HAMCREST_JAR:$KOTLIN_TEST_JARS"
  local stamp
  stamp=$( { echo "$KOTLIN_VERSION $classpath"; printf '%s\n' "${sources[@]}"; cat "${sources[@]}"; } | sha256sum | cut -d' ' -f1)
  if [ -f "$jar" ] && [ "$(cat "$jar.sha256" 2>/dev/null)" = "$stamp" ]; then
    echo "kotlin: $(basename "$jar") is up to date (${#sources[@]} files)"
    return 0
  fi
  mkdir -p "$(dirname "$jar")"
  rm -f "$jar" "$jar.sha256"
  echo "kotlin: compiling ${#sources[@]} files into $(basename "$jar")"
  # -nowarn: the generated bindings alone give dozens of warnings we cannot act on.
  "$KOTLINC" -nowarn -jvm-target 17 -include-runtime -cp "$classpath" -d "$jar" "${sources[@]}"
  echo "$stamp" >"$jar.sha256"
}

# kotlin_run JAR MAIN_CLASS LIB_DIR [ARGS…]: runs MAIN_CLASS on the JVM with JNA loading
# libbeckon.so from LIB_DIR.
kotlin_run() {
  local jar=$1 main=$2 libdir=$3
  shift 3
  java -Djna.library.path="$libdir" -Dbeckon.server.binary="${BECKON_SERVER_BINARY:-$BECKON_ROOT/target/debug/beckon-server}" \
    -Dbeckon.providers.binary="${BECKON_PROVIDERS_BINARY:-$BECKON_ROOT/target/debug/beckon-mock-providers}" \
    -cp "$jar:$JNA_JAR:$JUNIT_JAR:$HAMCREST_JAR:$KOTLIN_TEST_JARS" "$main" "$@"
}
