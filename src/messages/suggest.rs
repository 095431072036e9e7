//! "Did you mean …?" for misspelt field names and JSON keys.

/// The candidate closest to `input`, if it is close enough to be a likely typo:
/// at most one edit per three characters (at least one, at most three), counting a
/// swap of two neighbouring letters as one edit. Case is ignored when measuring.
pub(crate) fn closest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wanted: Vec<char> = input.to_lowercase().chars().collect();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let other: Vec<char> = candidate.to_lowercase().chars().collect();
        let limit = (wanted.len().max(other.len()) / 3).clamp(1, 3);
        let distance = edit_distance(&wanted, &other);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and
/// transpositions of adjacent characters each cost one.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["first_name", "last_name", "cart_total", "cart_subtotal"];

    fn distance(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        edit_distance(&a, &b)
    }

    #[test]
    fn measures_edits_with_swaps_as_one() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("frist", "first"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("naïve", "naive"), 1);
    }

    #[test]
    fn suggests_the_nearest_plausible_name() {
        assert_eq!(
            closest("frist_name", NAMES.iter().copied()),
            Some("first_name")
        );
        assert_eq!(
            closest("First_Name", NAMES.iter().copied()),
            Some("first_name")
        );
        assert_eq!(
            closest("first name", NAMES.iter().copied()),
            Some("first_name")
        );
        assert_eq!(
            closest("cart_totl", NAMES.iter().copied()),
            Some("cart_total")
        );
        assert_eq!(
            closest("cart_subtotl", NAMES.iter().copied()),
            Some("cart_subtotal")
        );
    }

    #[test]
    fn stays_quiet_when_nothing_is_close() {
        assert_eq!(closest("zip_code", NAMES.iter().copied()), None);
        assert_eq!(closest("x", NAMES.iter().copied()), None);
        assert_eq!(closest("anything", std::iter::empty()), None);
    }
}
