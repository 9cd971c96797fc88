//! Text folding for accent-smart matching (CONTRACT §7).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lower case with diacritics stripped and `đ` read as `d`: "Đài" -> "dai".
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect()
}

/// Whether a term carries any diacritic (then it matches only that spelling).
pub fn has_diacritics(s: &str) -> bool {
    fold(s) != s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_vietnamese() {
        assert_eq!(fold("Đài"), "dai");
        assert_eq!(fold("Chị Soa"), "chi soa");
        assert!(has_diacritics("Đài"));
        assert!(!has_diacritics("DAI"));
    }
}
