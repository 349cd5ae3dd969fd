//! Durations written as strings (`"10m"`, `"1h30m"`, `"500ms"`), parsed and checked at compile
//! time.

use std::time::Duration;

use darling::util::SpannedValue;

/// Parses a duration literal; zero and unparseable values are errors on the literal.
pub fn parse(lit: &SpannedValue<String>, what: &str) -> darling::Result<Duration> {
    let text = lit.as_str().trim();
    let d = humantime::parse_duration(text).map_err(|e| {
        darling::Error::custom(format!(
            "invalid {what} {text:?}: {e}; write it like \"500ms\", \"30s\", \"10m\" or \"1h30m\""
        ))
        .with_span(&lit.span())
    })?;
    if d.is_zero() {
        return Err(
            darling::Error::custom(format!("{what} must be above zero")).with_span(&lit.span())
        );
    }
    if d < Duration::from_millis(1) {
        return Err(darling::Error::custom(format!(
            "{what} {text:?} is below the 1ms resolution of the backends"
        ))
        .with_span(&lit.span()));
    }
    Ok(d)
}

/// `Option<Duration>` as an expression of the runtime's type: `Some(Duration::from_millis(n))`
/// or `None` (the route's default).
pub fn option_tokens(d: Option<Duration>) -> proc_macro2::TokenStream {
    match d {
        Some(d) => {
            let ms = d.as_millis() as u64;
            quote::quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#ms)))
        }
        None => quote::quote!(::core::option::Option::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    fn lit(s: &str) -> SpannedValue<String> {
        SpannedValue::new(s.to_owned(), Span::call_site())
    }

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse(&lit("10m"), "ttl").unwrap(), Duration::from_secs(600));
        assert_eq!(
            parse(&lit("1h30m"), "ttl").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse(&lit("500ms"), "ttl").unwrap(),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn rejects_zero_and_garbage() {
        assert!(parse(&lit("0s"), "ttl").is_err());
        assert!(parse(&lit("10 parsecs"), "ttl").is_err());
        assert!(parse(&lit("5us"), "ttl").is_err());
    }
}
