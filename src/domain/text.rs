//! Text folding for accent-smart matching (CONTRACT §7).

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Lower case with diacritics stripped and `đ` read as `d`: "Đài" -> "dai".
///
/// Each character is decomposed on its own and its marks dropped, which gives the
/// same letters as a whole-string NFD (the marks' order is all NFD would change,
/// and they go) at a fraction of the cost; a property test holds the two equal.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        fold_char_into(&mut out, c);
    }
    out
}

/// Appends the folded form of one character (already lower case or not) to `out`.
pub fn fold_char_into(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    match c {
        'đ' | 'Đ' => out.push('d'),
        _ => decompose_canonical(c, |part| {
            if !is_combining_mark(part) {
                out.extend(part.to_lowercase().map(|l| if l == 'đ' { 'd' } else { l }));
            }
        }),
    }
}

/// Whether a term carries any diacritic (then it matches only that spelling).
pub fn has_diacritics(s: &str) -> bool {
    fold(s) != s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

    /// The straightforward definition: NFD, drop marks, lower case, đ -> d.
    fn fold_by_nfd(s: &str) -> String {
        s.nfd()
            .filter(|c| !is_combining_mark(*c))
            .flat_map(char::to_lowercase)
            .map(|c| if c == 'đ' { 'd' } else { c })
            .collect()
    }

    #[test]
    fn folds_vietnamese() {
        assert_eq!(fold("Đài"), "dai");
        assert_eq!(fold("Chị Soa"), "chi soa");
        assert_eq!(fold("NGUYỄN Văn Ấn"), "nguyen van an");
        assert!(has_diacritics("Đài"));
        assert!(!has_diacritics("DAI"));
    }

    proptest! {
        #[test]
        fn fold_matches_the_nfd_definition(s in "\\PC{0,24}") {
            prop_assert_eq!(fold(&s), fold_by_nfd(&s));
        }

        #[test]
        fn fold_matches_on_vietnamese(s in "[a-zA-ZàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđĐÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ ]{0,30}") {
            prop_assert_eq!(fold(&s), fold_by_nfd(&s));
        }
    }
}
