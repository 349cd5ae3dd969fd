//! Unit tests of the stages, on token streams built with `parse_quote!`.

use quote::quote;

use super::cached;

fn expand(attr: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
    cached(attr, item).to_string()
}

#[test]
fn keeps_the_signature_and_calls_the_runtime_once() {
    let out = expand(
        quote!(cache = "users", key = "user:{id}", ttl = "10m"),
        quote!(
            /// Docs stay.
            pub async fn get_user<'a>(id: u64, _db: &'a str) -> Result<String, String> {
                Ok(String::new())
            }
        ),
    );
    assert!(out.contains("pub async fn get_user < 'a > (id : u64 , _db : & 'a str) -> Result < String , String >"), "{out}");
    assert!(out.contains("doc"), "{out}");
    assert_eq!(out.matches("__private :: cached ::").count(), 1, "{out}");
    assert!(out.contains("600000u64"), "{out}");
    assert!(out.contains("ResultMode"), "{out}");
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn errors_keep_the_item_and_report_everything() {
    let out = expand(
        quote!(cache = "users", key = "user:{idd}", ttl = "0s", bogus = 1),
        quote!(
            fn get_user(id: u64) -> u64 {
                id
            }
        ),
    );
    // The function is still there, unchanged.
    assert!(
        out.contains("fn get_user (id : u64) -> u64 { id }"),
        "{out}"
    );
    assert!(out.contains("compile_error"), "{out}");
}

#[test]
fn default_key_uses_unskipped_parameters() {
    let out = expand(
        quote!(cache = "c", skip(db)),
        quote!(
            async fn f(a: u32, db: &str, b: String) -> u32 {
                a
            }
        ),
    );
    assert!(
        out.contains("key_inner :: < u32 > (& mut __forze_w , & a)"),
        "{out}"
    );
    assert!(
        out.contains("key_part :: < String > (& mut __forze_w , & b)"),
        "{out}"
    );
    assert!(!out.contains("& db)"), "{out}");
    assert!(out.contains("Probe"), "{out}");
}
#[test]
fn zz_print() {
    println!(
        "{}",
        expand(
            quote!(cache = "users", key = "user:{id}"),
            quote!(
                async fn get_user(id: u64) -> Result<u64, String> {
                    Ok(id)
                }
            )
        )
    );
}
