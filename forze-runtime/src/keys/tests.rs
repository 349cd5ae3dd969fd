//! Unit tests of the escaping and the layout.

use super::*;
use percent_encoding::utf8_percent_encode;

#[test]
fn escaped_parts_use_only_safe_bytes() {
    let hostile = [
        "/", "{", "}", "*", ":", "", "é", "a b", "%2F", "~x", "\n", "?", "[a]", "\\",
    ];
    for raw in hostile {
        let part = escape_part(raw);
        assert!(
            part.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:%".contains(&b)),
            "{raw:?} -> {part:?}"
        );
    }
}

#[test]
fn the_fast_path_keeps_exactly_what_the_escape_set_keeps() {
    for b in 0..=127u8 {
        let raw = (b as char).to_string();
        let slow: String = utf8_percent_encode(&raw, PART).to_string();
        assert_eq!(escape_part(&raw), slow, "byte {b:#x}");
        assert_eq!(keeps(b), slow == raw, "byte {b:#x}");
    }
    let limit = "x".repeat(MAX_PART_LEN);
    assert_eq!(escape_part(&limit), limit);
}

#[test]
fn integers_and_bools_write_their_decimal_form() {
    let key = KeyWriter::new()
        .part(&-12i64)
        .lit(":")
        .part(&u128::MAX)
        .lit(":")
        .part(&true)
        .finish();
    assert_eq!(key, format!("-12:{}:true", u128::MAX));
}

#[test]
fn escaping_is_injective_on_lookalikes() {
    let inputs = [
        "a/b", "a%2Fb", "a%252Fb", "a_b", "a:b", "a.b", "", "~", "%7E",
    ];
    let mut seen = std::collections::HashSet::new();
    for raw in inputs {
        assert!(
            seen.insert(escape_part(raw).into_owned()),
            "{raw:?} collides"
        );
    }
}

#[test]
fn long_parts_are_hashed_and_distinct() {
    let a = "x".repeat(MAX_PART_LEN + 1);
    let b = format!("{}y", "x".repeat(MAX_PART_LEN));
    let (ea, eb) = (escape_part(&a), escape_part(&b));
    assert_eq!(ea.len(), 65);
    assert!(ea.starts_with('~'));
    assert_ne!(ea, eb);
    // An input that merely looks like a hash is escaped, never taken as one.
    assert!(escape_part(&ea).starts_with("%7E"));
}

#[test]
fn tenant_cannot_reach_another_tenant_or_namespace() {
    let evil = KeySpace::new("app", Some("acme/cache/kv"));
    let good = KeySpace::new("app", Some("acme"));
    assert_ne!(evil.cache_kv("x"), good.cache_kv("x"));
    assert!(evil
        .cache_kv("x")
        .starts_with("app/tenant/acme%2Fcache%2Fkv/"));
    let plain = KeySpace::new("app", None);
    assert_ne!(plain.cache_kv("tenant/acme"), good.cache_kv("x"));
}

#[test]
fn layout_matches_the_contract() {
    let ks = KeySpace::new("app:projects", None);
    assert_eq!(ks.cache_pointer("p1"), "app:projects/cache/pointer/{p1}");
    assert_eq!(ks.cache_current("p1"), "app:projects/cache/current/{p1}");
    assert_eq!(ks.cache_body("p1", 7), "app:projects/cache/body/{p1}/7");
    assert_eq!(ks.counter(None), "app:projects");
    assert_eq!(ks.counter(Some("2026")), "app:projects/2026");
    assert_eq!(
        ks.idempotency("create_payment", "k/1"),
        "app:projects/create_payment/k%2F1"
    );
    assert_eq!(
        ks.rate_limit("ip:1.2.3.4"),
        "app:projects/ratelimit/ip:1.2.3.4"
    );
    assert_eq!(ks.lock("job"), "app:projects/lock/job");
    assert_eq!(ks.cache_tag("team:1"), "app:projects/cache/tag/team:1");
}

#[test]
fn namespaces_are_checked() {
    assert!(validate_namespace("").is_err());
    assert!(validate_namespace("a b").is_err());
    assert!(validate_namespace("{a}").is_err());
    assert!(validate_namespace(&"a".repeat(MAX_NAMESPACE_LEN + 1)).is_err());
    assert!(validate_namespace("app:seq-1_v.2").is_ok());
}

#[test]
fn reserved_words_are_escaped_after_a_prefix() {
    let ks = KeySpace::new("app", None);
    for word in RESERVED_WORDS {
        assert_ne!(ks.idempotency(word, "k").split('/').nth(1), Some(word));
        assert_ne!(ks.counter(Some(word)).split('/').nth(1), Some(word));
    }
    assert_eq!(ks.counter(Some("cached")), "app/cached");
}

#[test]
fn nesting_namespaces_overlap() {
    assert!(namespaces_overlap("a:b", "a:b.c"));
    assert!(namespaces_overlap("a:b.c", "a:b"));
    assert!(!namespaces_overlap("a:b", "a:c"));
}

#[test]
fn every_slot_has_a_tag() {
    for slot in 0..HASH_SLOTS {
        let tag = slot_tag(slot);
        assert!(!tag.is_empty() && tag.len() <= 4, "slot {slot}: {tag:?}");
        assert_eq!(hash_slot(tag.as_bytes()), slot);
    }
}

#[test]
fn a_versioned_entrys_keys_share_a_slot() {
    let ks = KeySpace::new("app:projects", Some("acme"));
    for key in ["", "p1", "a/b", "{x}", "}{", &"y".repeat(500)] {
        let slot = hash_slot(ks.cache_pointer(key).as_bytes());
        assert_eq!(hash_slot(ks.cache_current(key).as_bytes()), slot, "{key:?}");
        assert_eq!(hash_slot(ks.cache_body(key, 9).as_bytes()), slot, "{key:?}");
    }
    assert_ne!(ks.cache_pointer(""), ks.cache_pointer("%"));
}

#[test]
fn a_tags_slot_set_is_in_its_slot() {
    let ks = KeySpace::new("app", None);
    for slot in [0, 5_000, 16_383] {
        assert_eq!(hash_slot(ks.cache_tag_in_slot("t", slot).as_bytes()), slot);
    }
    assert_ne!(ks.cache_tag_slots("t"), ks.cache_tag("t/slots"));
}
