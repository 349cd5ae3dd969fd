//! The arguments of `#[idempotent(...)]`, as written.

use darling::util::{PathList, SpannedValue};
use darling::FromMeta;
use proc_macro2::TokenStream;

use crate::common::args::Forms;

/// The arguments and their accepted forms.
pub const FORMS: Forms = &[
    ("store", "store = \"default\""),
    ("operation", "operation = \"create_payment\""),
    ("key", "key = idem_key"),
    ("ttl", "ttl = \"24h\""),
    ("skip", "skip(db)"),
    ("wait", "wait = \"5s\""),
    ("via", "via = state.forze"),
    ("crate", "crate = forze_runtime"),
];

/// `#[idempotent(store = "default", operation = "create_payment", key = idem_key, ttl = "24h",
/// skip(a), wait = "5s", via = expr, crate = path)]`
#[derive(Debug, FromMeta)]
pub struct IdempotentArgs {
    /// The wired idempotency store's name.
    #[darling(with = crate::common::args::string_literal)]
    pub store: SpannedValue<String>,
    /// The operation's name; default: the function's path.
    #[darling(default, with = optional_literal)]
    pub operation: Option<SpannedValue<String>>,
    /// The parameter holding the idempotency key (`Option<K>`: `None` means no idempotency).
    pub key: syn::Expr,
    /// How long the result is replayed; default: the store's.
    #[darling(default)]
    pub ttl: Option<SpannedValue<String>>,
    /// Parameters left out of the payload fingerprint.
    #[darling(default)]
    pub skip: Option<SpannedValue<PathList>>,
    /// How long a duplicate waits for a first call still in progress; default: it doesn't.
    #[darling(default)]
    pub wait: Option<SpannedValue<String>>,
    /// Where the runtime comes from.
    #[darling(default)]
    pub via: Option<syn::Expr>,
    /// The path of the runtime crate, when it is renamed.
    #[darling(default, rename = "crate")]
    pub krate: Option<syn::Path>,
}

fn optional_literal(meta: &syn::Meta) -> darling::Result<Option<SpannedValue<String>>> {
    crate::common::args::string_literal(meta).map(Some)
}

impl IdempotentArgs {
    /// The arguments as written, or `None`, and the errors found so far.
    pub fn parse(attr: TokenStream) -> (Option<Self>, Vec<darling::Error>) {
        crate::common::args::parse_args(attr, FORMS, "idempotent", Self::from_list)
    }
}
