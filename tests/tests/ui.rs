//! Compile-fail suites: one misuse per file, named after the rule; each `.stderr` shows the
//! message on the offending token. And what must keep compiling.
//!
//! The `.stderr` files hold rustc's words, which change between toolchains: `ui/TOOLCHAIN`
//! records the `rustc --version` they were written with. On another toolchain a mismatch says
//! so. Re-record with `TRYBUILD=overwrite cargo test -p forze-tests --test ui`, then
//! `rustc --version > tests/ui/TOOLCHAIN`, and read the diff before committing it.

fn toolchain() -> String {
    std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

#[test]
fn ui() {
    let recorded = include_str!("../ui/TOOLCHAIN").trim().to_owned();
    let current = toolchain();
    let run = std::panic::catch_unwind(|| {
        let t = trybuild::TestCases::new();
        t.compile_fail("ui/cached/*.rs");
        t.compile_fail("ui/cache_invalidate/*.rs");
        t.compile_fail("ui/idempotent/*.rs");
        t.compile_fail("ui/rate_limited/*.rs");
        t.compile_fail("ui/document_spec/*.rs");
        t.pass("ui/pass/*.rs");
    });
    if run.is_err() {
        if recorded != current {
            panic!(
                "\n!!! the compile-fail outputs (tests/ui/**/*.stderr) were recorded with {recorded}, \
                 and this is {current}: differences in rustc's wording are expected. Re-record with \
                 `TRYBUILD=overwrite cargo test -p forze-tests --test ui`, update tests/ui/TOOLCHAIN, \
                 and read the diff. !!!\n"
            );
        }
        panic!("compile-fail outputs differ (toolchain {current}, as recorded): see above");
    }
}
