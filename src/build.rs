//! Build script: gives the shared library its SONAME (`libsealcam.so.0`), so a firmware
//! links against the ABI's major version and `make install` can lay out the usual links.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsealcam.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
    }
    println!("cargo:rerun-if-changed=src/build.rs");
}
