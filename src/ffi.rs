//! C ABI (placeholder while the core settles).
