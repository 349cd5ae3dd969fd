//! Turning collected errors into output: every error of an attribute comes out in one compile,
//! and the user's item is still emitted unchanged, so one mistake gives one message instead of
//! a cascade of "cannot find function" errors at every call site.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The user's function followed by the errors. Parameters the macro would have used (an
/// idempotency key, skipped arguments) may be unused in the body: that warning is silenced, so
/// that the errors stand alone.
pub fn with_item(item: &syn::ItemFn, err: darling::Error) -> TokenStream {
    let mut item = item.clone();
    item.attrs
        .push(syn::parse_quote!(#[allow(unused_variables)]));
    let mut out = item.to_token_stream();
    out.extend(err.write_errors());
    out
}

/// Every error of `err` in the macro's voice: each message starts with `label` (`#[cached]`),
/// and darling's own messages (a duplicate, a missing argument, a literal of the wrong kind)
/// are reworded to name the argument and show its accepted form from `forms`.
pub fn voiced(label: &str, forms: super::args::Forms, err: darling::Error) -> darling::Error {
    darling::Error::multiple(
        err.into_iter()
            .map(|e| {
                let span = e.explicit_span();
                let text = reworded(label, forms, &e.to_string());
                let e = darling::Error::custom(text);
                match span {
                    Some(span) => syn::Error::new(span, e.to_string()).into(),
                    None => e,
                }
            })
            .collect(),
    )
}

/// One message in the macro's voice.
fn reworded(label: &str, forms: super::args::Forms, text: &str) -> String {
    use super::args::form_of;
    // darling appends the argument's path: "Unexpected type `int` at ttl".
    let (message, at) = match text.rsplit_once(" at ") {
        Some((m, at)) if !at.contains(' ') => (m, Some(at)),
        _ => (text, None),
    };
    if message.starts_with("#[") {
        return message.to_owned();
    }
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    let written = |name: &str| match form_of(forms, name) {
        Some(form) => format!("write it as `{form}`"),
        None => "see the macro's documentation for its form".to_owned(),
    };
    if let Some(name) = quoted("Duplicate field `") {
        return format!("{label}: `{name}` is given twice; keep one");
    }
    if let Some(name) = quoted("Missing field `") {
        return match form_of(forms, &name) {
            Some(form) => format!("{label}: the argument `{name}` is required: add `{form}`"),
            None => format!("{label}: the argument `{name}` is required"),
        };
    }
    if let Some(kind) = quoted("Unexpected type `") {
        let found = match kind.as_str() {
            "int" => "an integer",
            "float" => "a number",
            "str" | "string" => "a string",
            "bool" => "a boolean",
            "char" => "a character",
            "byte string" => "a byte string",
            _ => "a value of another kind",
        };
        return match at {
            Some(name) => format!("{label}: `{name}` cannot be {found}; {}", written(name)),
            None => format!("{label}: unexpected {found} here"),
        };
    }
    if let Some(name) = quoted("Unknown field: `") {
        let hint = message
            .split_once(". Did you mean ")
            .map(|(_, alt)| format!("; did you mean {}", alt.trim_end_matches('.')))
            .unwrap_or_default();
        return format!("{label}: no argument `{name}`{hint}");
    }
    if message.starts_with("Unexpected meta-item format")
        || message.starts_with("Unsupported shape")
    {
        return match at {
            Some(name) => format!("{label}: `{name}` is written wrongly; {}", written(name)),
            None => format!("{label}: this argument is written wrongly"),
        };
    }
    let last = at.and_then(|a| a.rsplit('/').next());
    match (at, last) {
        (Some(path), Some(name)) if !message.contains(&format!("`{name}`")) => {
            format!("{label}: `{path}`: {message}")
        }
        _ => format!("{label}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::reworded;

    const FORMS: super::super::args::Forms =
        &[("ttl", "ttl = \"10m\""), ("cache", "cache = \"users\"")];

    #[test]
    fn rewords_darling_in_the_macros_voice() {
        let r = |t: &str| reworded("#[cached]", FORMS, t);
        assert_eq!(
            r("Unexpected type `int` at ttl"),
            "#[cached]: `ttl` cannot be an integer; write it as `ttl = \"10m\"`"
        );
        assert_eq!(
            r("Duplicate field `ttl`"),
            "#[cached]: `ttl` is given twice; keep one"
        );
        assert_eq!(
            r("Missing field `cache`"),
            "#[cached]: the argument `cache` is required: add `cache = \"users\"`"
        );
        assert_eq!(r("#[cached]: as it is"), "#[cached]: as it is");
        assert_eq!(
            r("`limit` cannot be negative"),
            "#[cached]: `limit` cannot be negative"
        );
    }
}
