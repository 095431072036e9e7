//! Child processes of the test binaries, natively or under user-mode emulation.
//!
//! `scripts/aarch64-tests` runs these tests as aarch64 binaries under qemu-user, which
//! cargo starts through its runner (`qemu-aarch64 -L …`). Without binfmt_misc the
//! kernel cannot execute an aarch64 binary by itself, so a test that re-runs its own
//! binary as a child must go through the same emulator: the script names it in
//! `BECKON_TEST_RUNNER` (the same words as cargo's runner), and [`this_test_binary`]
//! puts it in front. Natively the variable is unset and the binary runs directly.

use std::process::Command;

/// Words of the command that runs a test binary here; empty when it runs natively.
pub const RUNNER_VAR: &str = "BECKON_TEST_RUNNER";

/// A command running this very test binary again (no arguments yet), through the
/// emulator named in `BECKON_TEST_RUNNER` when there is one.
pub fn this_test_binary() -> Command {
    let exe = std::env::current_exe().expect("the test binary's own path");
    let runner = std::env::var(RUNNER_VAR).unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(exe);
            command
        }
        None => Command::new(exe),
    }
}
