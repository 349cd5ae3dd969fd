//! Checks the input and turns it into a [`Plan`].

use std::time::Duration;

use darling::ast::NestedMeta;
use darling::{FromField, FromMeta};
use proc_macro2::Span;
use syn::spanned::Spanned;

use super::args::{ContainerArgs, FieldArgs};
use crate::common::args::Forms;
use crate::common::duration;

pub struct Plan {
    pub krate: syn::Path,
    pub ident: syn::Ident,
    pub generics: syn::Generics,
    pub name: String,
    pub read: Option<syn::Type>,
    pub create: Option<syn::Type>,
    pub update: Option<syn::Type>,
    pub cache: Option<(String, Option<Duration>)>,
    pub id: (syn::Ident, syn::Type),
    pub version: (syn::Ident, syn::Type),
}

/// The container arguments and their accepted forms.
pub const FORMS: Forms = &[
    ("name", "name = \"projects\""),
    ("read", "read = ProjectView"),
    ("create", "create = NewProject"),
    ("update", "update = ProjectPatch"),
    ("cache", "cache(name = \"projects\", ttl = \"5m\")"),
    ("ttl", "ttl = \"5m\""),
    ("crate", "crate = forze_runtime"),
    ("id", "#[document(id)]"),
    ("version", "#[document(version)]"),
];

/// How errors of the derive begin.
pub const LABEL: &str = "#[derive(DocumentSpec)]";

const KNOWN: &[&str] = &["name", "read", "create", "update", "cache", "crate"];

fn container_args(input: &syn::DeriveInput) -> darling::Result<ContainerArgs> {
    let mut errors = darling::Error::accumulator();
    let mut items = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("document")) {
        match &attr.meta {
            syn::Meta::List(list) => {
                if let Some(parsed) = errors.handle(
                    NestedMeta::parse_meta_list(list.tokens.clone()).map_err(darling::Error::from),
                ) {
                    items.extend(parsed);
                }
            }
            other => errors.push(
                darling::Error::custom("write `#[document(name = \"...\", ...)]`").with_span(other),
            ),
        }
    }
    if items.is_empty() {
        errors.push(
            darling::Error::custom("needs `#[document(name = \"...\")]` on the struct")
                .with_span(&input.ident),
        );
        return errors.finish().and_then(|_| unreachable_args());
    }
    let (items, unknown) = crate::common::args::split_unknown(items, KNOWN, "derive(DocumentSpec)");
    let misspelt = !unknown.is_empty();
    for e in unknown {
        errors.push(e);
    }
    let args = match ContainerArgs::from_list(&items) {
        Ok(args) => Some(args),
        Err(e) => {
            for e in e.into_iter() {
                if !(misspelt && e.to_string().starts_with("Missing field")) {
                    errors.push(e);
                }
            }
            None
        }
    };
    errors.finish()?;
    args.map_or_else(unreachable_args, Ok)
}

fn unreachable_args() -> darling::Result<ContainerArgs> {
    Err(darling::Error::custom(
        "forze: internal error in #[derive(DocumentSpec)]",
    ))
}

pub fn validate(input: &syn::DeriveInput) -> darling::Result<Plan> {
    let mut errors = darling::Error::accumulator();
    let fields = match &input.data {
        syn::Data::Struct(s) => match &s.fields {
            syn::Fields::Named(named) => Some(named),
            other => {
                errors.push(
                    darling::Error::custom(
                        "needs a struct with named fields (a tuple struct has no field to mark \
                         as id)",
                    )
                    .with_span(&other.span()),
                );
                None
            }
        },
        syn::Data::Enum(e) => {
            errors.push(
                darling::Error::custom("goes on a struct with named fields, not an enum")
                    .with_span(&e.enum_token),
            );
            None
        }
        syn::Data::Union(u) => {
            errors.push(
                darling::Error::custom("goes on a struct with named fields, not a union")
                    .with_span(&u.union_token),
            );
            None
        }
    };
    let args = errors.handle(container_args(input));
    if let Some(lifetime) = input.generics.lifetimes().next() {
        errors.push(
            darling::Error::custom(format!(
                "a document owns its data: it is stored and cached beyond any borrow, so it \
                 cannot have the lifetime parameter `{}` (use `String` for `&str`, `Vec<T>` for \
                 `&[T]`)",
                lifetime.lifetime
            ))
            .with_span(&lifetime.lifetime),
        );
    }

    let mut ids = Vec::new();
    let mut versions = Vec::new();
    let mut bad_field_attrs = false;
    if let Some(fields) = fields {
        for f in &fields.named {
            let Some(fa) = errors.handle(FieldArgs::from_field(f)) else {
                bad_field_attrs = true;
                continue;
            };
            let Some(ident) = fa.ident.clone() else {
                continue;
            };
            if fa.id.is_present() && fa.version.is_present() {
                errors.push(
                    darling::Error::custom("a field is either the id or the version, not both")
                        .with_span(&fa.version.span()),
                );
                continue;
            }
            if fa.id.is_present() {
                ids.push((ident.clone(), fa.ty.clone(), fa.id.span()));
            }
            if fa.version.is_present() {
                versions.push((ident, fa.ty.clone(), fa.version.span()));
            }
        }
        match ids.len() {
            // A misspelt `#[document(id)]` was reported already.
            0 if bad_field_attrs => {}
            0 => errors.push(
                darling::Error::custom("mark the id field with `#[document(id)]`")
                    .with_span(&input.ident),
            ),
            1 => {}
            _ => {
                for (_, _, span) in &ids[1..] {
                    errors.push(
                        darling::Error::custom("a document has one id field; this is the second")
                            .with_span(span),
                    );
                }
            }
        }
        match versions.len() {
            0 if bad_field_attrs => {}
            0 => errors.push(
                darling::Error::custom(
                    "mark the version (revision) field with `#[document(version)]`: the cache \
                     tells newer from older by it",
                )
                .with_span(&input.ident),
            ),
            1 => {}
            _ => {
                for (_, _, span) in &versions[1..] {
                    errors.push(
                        darling::Error::custom(
                            "a document has one version field; this is the second",
                        )
                        .with_span(span),
                    );
                }
            }
        }
    }

    let cache = args.as_ref().and_then(|a| a.cache.as_ref()).and_then(|c| {
        let ttl = match &c.ttl {
            Some(t) => Some(errors.handle(duration::parse(t, "ttl"))?),
            None => None,
        };
        if c.name.trim().is_empty() {
            errors
                .push(darling::Error::custom("the cache name is empty").with_span(&c.name.span()));
        }
        Some((c.name.as_str().to_owned(), ttl))
    });
    if let Some(a) = &args {
        if a.name.trim().is_empty() {
            errors.push(
                darling::Error::custom("the document name is empty").with_span(&a.name.span()),
            );
        } else if let Err(e) = crate::common::template::parse(&a.name, Span::call_site()) {
            errors.push(
                darling::Error::custom(format!("document name: {e}")).with_span(&a.name.span()),
            );
        }
    }
    errors.finish()?;
    let (Some(args), Some((id, id_ty, _)), Some((ver, ver_ty, _))) =
        (args, ids.into_iter().next(), versions.into_iter().next())
    else {
        return Err(darling::Error::custom(
            "forze: internal error in #[derive(DocumentSpec)]",
        ));
    };
    Ok(Plan {
        krate: crate::common::args::crate_path(args.krate),
        ident: input.ident.clone(),
        generics: input.generics.clone(),
        name: args.name.as_str().to_owned(),
        read: args.read,
        create: args.create,
        update: args.update,
        cache,
        id: (id, id_ty),
        version: (ver, ver_ty),
    })
}
