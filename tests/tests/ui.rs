//! Compile-fail suites: one misuse per file, named after the rule; each `.stderr` shows the
//! message on the offending token. And what must keep compiling.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/cached/*.rs");
    t.compile_fail("ui/cache_invalidate/*.rs");
    t.compile_fail("ui/idempotent/*.rs");
    t.compile_fail("ui/rate_limited/*.rs");
    t.compile_fail("ui/document_spec/*.rs");
    t.pass("ui/pass/*.rs");
}
