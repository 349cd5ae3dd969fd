//! The arguments of `#[cached(...)]`, as written.

use darling::util::{Flag, PathList, SpannedValue};
use darling::FromMeta;
use proc_macro2::TokenStream;

use crate::common::args::Forms;

/// The arguments and their accepted forms.
pub const FORMS: Forms = &[
    ("cache", "cache = \"users\""),
    ("key", "key = \"user:{id}\""),
    ("ttl", "ttl = \"10m\""),
    ("skip", "skip(db)"),
    ("via", "via = state.forze"),
    ("returns", "returns = \"result\""),
    ("cache_none", "cache_none"),
    ("tags", "tags = [\"team:{team_id}\"]"),
    ("lock", "lock = \"fills\""),
    ("crate", "crate = forze_runtime"),
];

/// `#[cached(cache = "users", key = "user:{id}", ttl = "10m", skip(a), via = expr,
/// returns = "result", cache_none, tags = ["team:{team_id}"], crate = path)]`
#[derive(Debug, FromMeta)]
pub struct CachedArgs {
    /// The wired cache's name (a string literal).
    #[darling(with = crate::common::args::string_literal)]
    pub cache: SpannedValue<String>,
    /// The key template; default: the function's path and every parameter not skipped.
    #[darling(default)]
    pub key: Option<SpannedValue<String>>,
    /// The entry's TTL; default: the route's.
    #[darling(default)]
    pub ttl: Option<SpannedValue<String>>,
    /// Parameters left out of the default key.
    #[darling(default)]
    pub skip: Option<SpannedValue<PathList>>,
    /// Where the runtime comes from: an expression of type `Forze`, `&Forze` or `Arc<Forze>`.
    #[darling(default)]
    pub via: Option<syn::Expr>,
    /// `"result"`, `"option"` or `"plain"`: how to cache the return type.
    #[darling(default)]
    pub returns: Option<SpannedValue<String>>,
    /// Also cache `None` for `Option` return types.
    #[darling(default)]
    pub cache_none: Flag,
    /// Tag templates: `invalidate_tag` drops every entry that carries the tag.
    #[darling(default, with = parse_str_list)]
    pub tags: Option<SpannedValue<Vec<SpannedValue<String>>>>,
    /// A lock route that guards fills across processes (a miss storm runs the body about once).
    #[darling(default, with = lock_name)]
    pub lock: Option<SpannedValue<String>>,
    /// The path of the runtime crate, when it is renamed.
    #[darling(default, rename = "crate")]
    pub krate: Option<syn::Path>,
}

impl CachedArgs {
    /// The arguments as written, or `None`, and the errors found so far.
    pub fn parse(attr: TokenStream) -> (Option<Self>, Vec<darling::Error>) {
        crate::common::args::parse_args(attr, FORMS, "cached", Self::from_list)
    }
}

fn lock_name(meta: &syn::Meta) -> darling::Result<Option<SpannedValue<String>>> {
    crate::common::args::string_literal(meta).map(Some)
}

/// `tags = ["a", "b"]` or `tags("a", "b")`.
pub fn parse_str_list(
    meta: &syn::Meta,
) -> darling::Result<Option<SpannedValue<Vec<SpannedValue<String>>>>> {
    use syn::spanned::Spanned;
    let strings = |exprs: Vec<&syn::Expr>| -> darling::Result<Vec<SpannedValue<String>>> {
        let mut errors = darling::Error::accumulator();
        let out = exprs
            .into_iter()
            .filter_map(|e| match e {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(SpannedValue::new(s.value(), s.span())),
                other => {
                    errors
                        .push(darling::Error::custom("expected a string literal").with_span(other));
                    None
                }
            })
            .collect();
        errors.finish_with(out)
    };
    let list = match meta {
        syn::Meta::NameValue(nv) => match &nv.value {
            syn::Expr::Array(a) => strings(a.elems.iter().collect())?,
            other => {
                return Err(darling::Error::custom(
                    "expected a list of string literals: tags = [\"team:{team_id}\"]",
                )
                .with_span(other))
            }
        },
        syn::Meta::List(l) => {
            let exprs: syn::punctuated::Punctuated<syn::Expr, syn::Token![,]> =
                l.parse_args_with(syn::punctuated::Punctuated::parse_terminated)?;
            strings(exprs.iter().collect())?
        }
        syn::Meta::Path(p) => {
            return Err(darling::Error::custom(
                "expected a list of string literals: tags = [\"team:{team_id}\"]",
            )
            .with_span(p))
        }
    };
    Ok(Some(SpannedValue::new(list, meta.span())))
}
