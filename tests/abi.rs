//! The C ABI against its committed baseline (ffi-tests/abi/): the release's header and an
//! abidw dump of what it declares. Rust's debug info does not describe the C types, so the
//! ABI is taken from the header itself: every function it declares becomes a stub in a C
//! shared object built with full DWARF, and abidiff (Debian's abigail-tools) compares that
//! object with the baseline dump. An incompatible change (a function removed or retyped, a
//! struct field moved or retyped) fails; additions pass. A client compiled against the
//! baseline header then runs against the library built now, and the library exports
//! exactly the functions the header declares.
//!
//! Renew the baseline on purpose, at a release: `SEALCAM_BLESS_ABI=1 cargo test --test abi`.

#[path = "common/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use tools::{build_library, required_in_ci, root, run};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sealcam-abi-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn abigail() -> bool {
    required_in_ci("abidiff", "--version", "the ABI check (abigail-tools)")
}

/// The function declarations of a cbindgen header: `(return type, name, whole declaration)`.
fn declarations(header: &str) -> Vec<(String, String, String)> {
    let mut text = String::new();
    let mut rest = header;
    while let Some(i) = rest.find("/*") {
        text += &rest[..i];
        rest = &rest[i + rest[i..].find("*/").expect("comment closes") + 2..];
    }
    text += rest;
    let code: String = text
        .lines()
        .filter(|l| {
            !l.trim_start().starts_with('#') && !l.contains("extern \"C\"") && !l.trim_start().starts_with("//")
        })
        .map(|l| l.to_string() + "\n")
        .collect();
    code.split(';')
        .filter_map(|stmt| {
            let s = stmt.trim();
            let open = s.find('(')?;
            let name = s[..open].rsplit([' ', '*']).next()?.to_string();
            (name.starts_with("sealcam_") && !s.contains('{') && !s.starts_with("typedef"))
                .then(|| (s[..open - name.len()].trim().to_string(), name, s.to_string()))
        })
        .collect()
}

/// Builds a shared object with one stub per function the header declares, and full DWARF.
fn stub_library(header: &str, dir: &Path) -> PathBuf {
    std::fs::write(dir.join("sealcam.h"), header).unwrap();
    let mut c = String::from("#include \"sealcam.h\"\n");
    for (ret, _, decl) in declarations(header) {
        let body = if ret == "void" { "{}".to_string() } else { format!("{{ return ({ret})0; }}") };
        c += &format!("{decl} {body}\n");
    }
    std::fs::write(dir.join("stubs.c"), c).unwrap();
    let so = dir.join("libsealcam.so");
    run(Command::new("gcc")
        .args([
            "-std=c11",
            "-shared",
            "-fPIC",
            "-g",
            "-fno-eliminate-unused-debug-types",
            "-Wl,-soname,libsealcam.so.0",
        ])
        .arg("-I")
        .arg(dir)
        .arg(dir.join("stubs.c"))
        .arg("-o")
        .arg(&so));
    so
}

/// abidiff's exit status of the baseline dump against a stub built from `header`.
fn abidiff_against_baseline(header: &str, tag: &str) -> (i32, String) {
    let dir = tmp(tag);
    let so = stub_library(header, &dir);
    let out = Command::new("abidiff")
        .arg(root().join("ffi-tests/abi/libsealcam.abi"))
        .arg(&so)
        .output()
        .expect("abidiff runs");
    let _ = std::fs::remove_dir_all(&dir);
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn current_header() -> String {
    std::fs::read_to_string(root().join("include/sealcam.h")).unwrap()
}

/// abidiff's bit for an incompatible change (libabigail's ABIDIFF_ABI_INCOMPATIBLE_CHANGE).
const INCOMPATIBLE: i32 = 8;

/// Whether abidiff's report describes a change an old caller would feel. abidiff calls any
/// change to a type behind a pointer "an ABI change" (exit 4) and keeps "incompatible"
/// (exit 8) for removed symbols; for a C ABI whose structs grow at the end, only functions
/// added and members inserted after the last one are compatible. A member changed, moved
/// or deleted is not.
fn breaks_old_callers(code: i32, report: &str) -> bool {
    const BENIGN: [&str; 4] = ["sub-type change", "changes summary", "type size changed", "hasn't changed"];
    code & INCOMPATIBLE != 0
        || report.lines().any(|l| {
            let l = l.to_lowercase();
            l.contains("deletion") || (l.contains("change") && !BENIGN.iter().any(|b| l.contains(b)))
        })
}

#[test]
fn the_header_keeps_the_baseline_abi() {
    if !abigail() {
        return;
    }
    if std::env::var_os("SEALCAM_BLESS_ABI").is_some() {
        let dir = tmp("bless");
        let so = stub_library(&current_header(), &dir);
        run(Command::new("abidw")
            .args(["--no-corpus-path", "--no-comp-dir-path", "--out-file"])
            .arg(root().join("ffi-tests/abi/libsealcam.abi"))
            .arg(&so));
        std::fs::copy(root().join("include/sealcam.h"), root().join("ffi-tests/abi/sealcam.h")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let (code, report) = abidiff_against_baseline(&current_header(), "current");
    assert!(
        !breaks_old_callers(code, &report),
        "the C ABI changed incompatibly against ffi-tests/abi/ (abidiff {code}):\n{report}"
    );
    assert!(code == 0 || code == 4, "abidiff failed ({code}):\n{report}");
    if code == 4 {
        println!("compatible additions to the baseline ABI:\n{report}");
    }
}

#[test]
fn the_check_catches_a_moved_field_and_a_removed_function() {
    if !abigail() {
        return;
    }
    let h = current_header();
    // The frame's id retyped to 32 bits: every later field moves.
    let moved = h.replacen("  uint64_t frame_id;", "  uint32_t frame_id;", 1);
    assert_ne!(moved, h);
    let (code, report) = abidiff_against_baseline(&moved, "moved");
    assert!(breaks_old_callers(code, &report), "a retyped field must fail (abidiff {code}):\n{report}");
    // A member inserted before the last one moves those after it.
    let inserted = h.replacen("  uint64_t frame_id;", "  uint32_t inserted;\n  uint64_t frame_id;", 1);
    let (code, report) = abidiff_against_baseline(&inserted, "inserted");
    assert!(breaks_old_callers(code, &report), "an inserted field must fail (abidiff {code}):\n{report}");
    let removed = h.replacen("void sealcam_hub_free(struct sealcam_hub *h);", "", 1);
    assert_ne!(removed, h);
    let (code, report) = abidiff_against_baseline(&removed, "removed");
    assert!(breaks_old_callers(code, &report), "a removed function must fail (abidiff {code}):\n{report}");
    // Growth at the end and a new function are what the conventions allow.
    let grown = h
        .replacen(
            "  uint8_t codec;\n} sealcam_frame;",
            "  uint8_t codec;\n  uint32_t added_later;\n} sealcam_frame;",
            1,
        )
        .replacen(
            "void sealcam_hub_free(struct sealcam_hub *h);",
            "void sealcam_hub_free(struct sealcam_hub *h);\nvoid sealcam_hub_added_later(struct sealcam_hub *h);",
            1,
        );
    let (code, report) = abidiff_against_baseline(&grown, "grown");
    assert!(code == 4 && !breaks_old_callers(code, &report), "growth at the end passes (abidiff {code}):\n{report}");
}

#[test]
fn the_library_exports_exactly_what_the_header_declares() {
    let declared: std::collections::BTreeSet<String> =
        declarations(&current_header()).into_iter().map(|(_, name, _)| name).collect();
    assert!(declared.len() > 40);
    let lib = build_library();
    let nm = run(Command::new("nm").args(["-D", "--defined-only"]).arg(lib.join("libsealcam.so")));
    let exported: std::collections::BTreeSet<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect();
    assert_eq!(exported, declared);
}

#[test]
fn a_client_built_against_the_baseline_header_runs_against_this_library() {
    let lib = build_library();
    let dir = tmp("client");
    let exe = dir.join("client");
    // The library under its SONAME, as the loader looks for it.
    std::os::unix::fs::symlink(lib.join("libsealcam.so"), dir.join("libsealcam.so.0")).unwrap();
    // ffi-tests/old_structs.c is written against the baseline: it uses only what
    // ffi-tests/abi/sealcam.h declares.
    run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-I"])
        .arg(root().join("ffi-tests/abi"))
        .arg("-I")
        .arg(root().join("ffi-tests"))
        .arg(root().join("ffi-tests/old_structs.c"))
        .arg("-L")
        .arg(&lib)
        .args(["-lsealcam", "-o"])
        .arg(&exe));
    let out = run(Command::new(&exe).env("LD_LIBRARY_PATH", &dir));
    assert!(String::from_utf8_lossy(&out.stdout).contains("all checks passed"));
    let _ = std::fs::remove_dir_all(&dir);
}
