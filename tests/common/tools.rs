//! Helpers for the tests that drive external tools (gcc, make, abigail, ffprobe).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cmd` and returns its output; fails the test, with both streams, when it fails.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether `tool arg` runs and succeeds here.
pub fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool).arg(arg).output().is_ok_and(|o| o.status.success())
}

/// Builds the library (`libsealcam.a`, `libsealcam.so`) with this test's profile and returns
/// its directory.
pub fn build_library() -> PathBuf {
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root()).args(["build", "--lib", "--quiet"]);
    if profile == "release" {
        cmd.arg("--release");
    }
    run(&mut cmd);
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from).join(profile)
}

/// Whether `tool` is installed; outside CI a missing tool skips with a message, in CI it fails.
pub fn required_in_ci(tool: &str, arg: &str, what: &str) -> bool {
    if have(tool, arg) {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI needs {tool} for {what}");
    eprintln!("{tool} not installed: skipped {what}");
    false
}
