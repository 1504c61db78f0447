//! Builds and runs the C clients in ffi-tests/ against the static library: compiled with
//! `gcc -std=c11 -Wall -Wextra -Werror -pedantic`, run, run again under valgrind when it is
//! installed, and built and run a third time with `-fsanitize=address,undefined`. The header
//! is also compiled as C11 and C++17 beside a firmware's own names.

#[path = "common/tools.rs"]
mod tools;

use std::path::Path;
use std::process::Command;

use tools::{build_library, required_in_ci, root, run};

/// Whether gcc can link a sanitized program here (libasan and libubsan installed).
fn sanitizers_available() -> bool {
    let exe = std::env::temp_dir().join(format!("sealcam-asan-probe-{}", std::process::id()));
    let ok = Command::new("gcc")
        .args(["-fsanitize=address,undefined", "-x", "c", "-", "-o"])
        .arg(&exe)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"int main(void){return 0;}\n")?;
            c.wait()
        })
        .is_ok_and(|s| s.success());
    let _ = std::fs::remove_file(&exe);
    ok
}

/// Compiles `ffi-tests/NAME.c` against the static library and the header in `include`,
/// runs it (plain, under valgrind, and built with ASan/UBSan) and checks it reports success.
fn run_c_client_with(name: &str, include: &Path) {
    let libdir = build_library();
    let build = |exe: &Path, extra: &[&str]| {
        run(Command::new("gcc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
            .args(extra)
            .arg("-I")
            .arg(include)
            .arg("-I")
            .arg(root().join("ffi-tests"))
            .arg(root().join(format!("ffi-tests/{name}.c")))
            .arg(libdir.join("libsealcam.a"))
            .args(["-lstdc++", "-lpthread", "-ldl", "-lm", "-o"])
            .arg(exe));
    };
    let exe = std::env::temp_dir().join(format!("sealcam-ffi-{name}-{}", std::process::id()));
    build(&exe, &[]);
    let out = run(&mut Command::new(&exe));
    assert!(String::from_utf8_lossy(&out.stdout).contains("all checks passed"));
    if required_in_ci("valgrind", "--version", "the memory check of the C clients") {
        run(Command::new("valgrind")
            .args(["--quiet", "--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=definite"])
            .arg(&exe));
    }
    let _ = std::fs::remove_file(&exe);
    if sanitizers_available() {
        let asan = exe.with_extension("asan");
        build(&asan, &["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]);
        // Rust's own allocations are not instrumented; leaks are valgrind's job above.
        let out = run(Command::new(&asan).env("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1"));
        assert!(String::from_utf8_lossy(&out.stdout).contains("all checks passed"));
        let _ = std::fs::remove_file(&asan);
    } else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI needs gcc's ASan/UBSan (libasan, libubsan)");
        eprintln!("gcc cannot link -fsanitize=address,undefined here: skipped the sanitizer run");
    }
}

fn run_c_client(name: &str) {
    run_c_client_with(name, &root().join("include"));
}

#[test]
fn c_sender_streams_to_c_receiver_intact() {
    run_c_client("stream");
}

#[test]
fn c_hub_outputs_each_frame_only_under_its_own_stream_and_sframe_works_alone() {
    run_c_client("hub");
}

#[test]
fn c_camera_and_hub_restarts_show_again_within_a_second_and_a_replayed_session_shows_nothing() {
    run_c_client("restarts");
}

/// The header with the last `drop` fields of `strukt` removed, as an older release's.
fn without_last_fields(header: &str, strukt: &str, drop: usize) -> String {
    let start = header.find(&format!("typedef struct {strukt} {{")).expect("struct in header");
    let body_start = start + header[start..].find('{').unwrap() + 1;
    let body_end = start + header[start..].find(&format!("}} {strukt};")).unwrap();
    let body = &header[body_start..body_end];
    // Each field is its doc comment and its declaration, ending in ';'.
    let mut fields: Vec<&str> = body.split_inclusive(';').collect();
    let tail = fields.pop().unwrap_or_default(); // whitespace after the last ';'
    assert!(fields.len() > drop && tail.trim().is_empty());
    fields.truncate(fields.len() - drop);
    format!("{}{}\n{}", &header[..body_start], fields.concat(), &header[body_end..])
}

#[test]
fn a_client_built_with_older_smaller_structs_gets_nothing_written_past_them() {
    let header = std::fs::read_to_string(root().join("include/sealcam.h")).unwrap();
    // sealcam_frame without width, height, keyframe, codec, stale; the stats without their
    // last nine counters.
    let old = without_last_fields(&without_last_fields(&header, "sealcam_frame", 5), "sealcam_receiver_stats", 9);
    assert!(!old.contains("uint8_t keyframe;") && !old.contains("uint64_t chain_breaks;"));
    let dir = std::env::temp_dir().join(format!("sealcam-old-header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("sealcam.h"), old).unwrap();
    run_c_client_with("old_structs", &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn header_compiles_as_c_and_cpp_beside_a_firmwares_own_names() {
    let src = root().join("ffi-tests/header.cpp");
    run(Command::new("g++")
        .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-I"])
        .arg(root().join("include"))
        .arg(&src));
    run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-x", "c", "-I"])
        .arg(root().join("include"))
        .arg(&src));
}
