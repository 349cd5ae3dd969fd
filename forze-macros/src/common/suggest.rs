//! "Did you mean" suggestions.

/// The closest of `candidates` to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // An edit or two (a typo, a swapped pair) on names of a few letters; more on longer ones.
    let allowed = (name.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= allowed && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `"; did you mean `x`?"` or nothing.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(closest("idd", ["id", "name"]), Some("id"));
        assert_eq!(closest("tll", ["cache", "ttl", "tags"]), Some("ttl"));
        assert_eq!(closest("user_idd", ["user_id", "id"]), Some("user_id"));
        assert_eq!(closest("zzz", ["id", "name"]), None);
    }
}
