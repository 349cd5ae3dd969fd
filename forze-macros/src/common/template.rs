//! Key templates: `"user:{id}"`, `"org:{req.org_id}:user:{req.user_id}"`.
//!
//! Literal text may use `A-Z a-z 0-9 - _ . :`; `{name}` or `{name.field.field}` inserts a
//! parameter (or a field of one). Two placeholders must be separated by a literal containing
//! one of `- . :`, so that (values being escaped) no two argument lists give the same key.

use proc_macro2::Span;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Fixed text.
    Lit(String),
    /// A parameter, possibly followed by field names.
    Field {
        /// The parameter's name.
        root: String,
        /// Field accesses after it.
        path: Vec<String>,
    },
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    /// The pieces, in order.
    pub pieces: Vec<Piece>,
    /// The span of the string literal (errors about the template point at it).
    pub span: Span,
    /// The declared types of the parameters used whole (`{id}`), once checked against the
    /// function: generated code names them, so a type without a key form is reported on it.
    pub types: Vec<(String, syn::Type)>,
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s != "_"
}

/// Parses `text`; errors say what is wrong, the caller attaches the span.
pub fn parse(text: &str, span: Span) -> Result<Template, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut lit = String::new();
    while let Some(c) = rest.chars().next() {
        match c {
            '{' => {
                let end = rest
                    .find('}')
                    .ok_or_else(|| format!("unclosed `{{` in key template {text:?}"))?;
                let inner = rest[1..end].trim();
                if inner.is_empty() {
                    return Err(format!(
                        "empty `{{}}` in key template {text:?}; name a parameter"
                    ));
                }
                if inner.contains('{') {
                    return Err(format!("nested `{{` in key template {text:?}"));
                }
                let mut parts = inner.split('.');
                let root = parts.next().unwrap_or_default().to_owned();
                let path: Vec<String> = parts.map(str::to_owned).collect();
                if let Some(bad) = std::iter::once(&root).chain(&path).find(|p| !is_ident(p)) {
                    return Err(format!(
                        "`{{{inner}}}` in key template {text:?}: {bad:?} is not an identifier \
                         (write `{{param}}` or `{{param.field}}`)"
                    ));
                }
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                if let Some(Piece::Field { .. }) = pieces.last() {
                    return Err(format!(
                        "placeholders in key template {text:?} must be separated by `:`, `-` or `.`"
                    ));
                }
                pieces.push(Piece::Field { root, path });
                rest = &rest[end + 1..];
            }
            '}' => return Err(format!("unmatched `}}` in key template {text:?}")),
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') => {
                lit.push(c);
                rest = &rest[c.len_utf8()..];
            }
            other => {
                return Err(format!(
                    "key template {text:?} contains {other:?}; literal text may use \
                     A-Z a-z 0-9 - _ . : (values in `{{}}` may contain anything)"
                ))
            }
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    // A separator between two placeholders must contain - . or :, not just letters.
    for w in pieces.windows(3) {
        if let [Piece::Field { .. }, Piece::Lit(l), Piece::Field { .. }] = w {
            if !l.contains(['-', '.', ':']) {
                return Err(format!(
                    "placeholders in key template {text:?} must be separated by `:`, `-` or `.` \
                     (found {l:?})"
                ));
            }
        }
    }
    if pieces.is_empty() {
        return Err("key template is empty".to_owned());
    }
    Ok(Template {
        pieces,
        span,
        types: Vec::new(),
    })
}

impl Template {
    /// The declared type of the parameter `root`, when it is used whole and can be named.
    pub fn type_of(&self, root: &str, path: &[String]) -> Option<&syn::Type> {
        if !path.is_empty() {
            return None;
        }
        self.types
            .iter()
            .find(|(n, _)| n == root)
            .and_then(|(_, t)| super::types::named(t))
    }

    /// The parameter names the template uses.
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Field { root, .. } => Some(root.as_str()),
            Piece::Lit(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Vec<Piece>, String> {
        parse(s, Span::call_site()).map(|t| t.pieces)
    }

    #[test]
    fn parses_literals_and_fields() {
        assert_eq!(
            p("user:{id}").unwrap(),
            vec![
                Piece::Lit("user:".into()),
                Piece::Field {
                    root: "id".into(),
                    path: vec![]
                }
            ]
        );
        assert_eq!(
            p("{req.user_id}").unwrap(),
            vec![Piece::Field {
                root: "req".into(),
                path: vec!["user_id".into()]
            }]
        );
    }

    #[test]
    fn rejects_malformed_templates() {
        for bad in [
            "user:{id",
            "user:}",
            "user:{}",
            "user:{1x}",
            "a/{id}",
            "{a}{b}",
            "{a}x{b}",
            "",
            "a {b}",
            "{a..b}",
        ] {
            assert!(p(bad).is_err(), "{bad:?} accepted");
        }
        assert!(p("{a}:{b}").is_ok());
    }
}
