//! Text folding for accent-smart matching (CONTRACT §7).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Lower case with diacritics stripped, and the Latin letters that carry their mark
/// inside them (no decomposition takes it off) read as their base letters, as
/// Lucene's ASCIIFoldingFilter reads them: "Đài" -> "dai", "Łukasz" -> "lukasz",
/// "Søren" -> "soren", "Straße" -> "strasse" ([`base_letters`]).
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
    decompose_canonical(c, |part| {
        if !is_combining_mark(part) {
            for l in part.to_lowercase() {
                match base_letters(l) {
                    Some(base) => out.push_str(base),
                    None => out.push(l),
                }
            }
        }
    });
}

/// The base letters of a lower-case Latin letter whose diacritic or stroke is part
/// of it (canonical decomposition leaves it whole), or of a ligature: what Lucene's
/// ASCIIFoldingFilter writes for it. `None` for every other character.
pub fn base_letters(c: char) -> Option<&'static str> {
    Some(match c {
        'đ' | 'ð' | 'ɖ' | 'ɗ' => "d",
        'ł' | 'ŀ' | 'ƚ' | 'ɫ' | 'ɬ' | 'ɭ' => "l",
        'ø' | 'ǿ' | 'ɵ' => "o",
        'ħ' => "h",
        'ı' | 'ɨ' => "i",
        'ŧ' | 'ƭ' | 'ʈ' => "t",
        'ŋ' => "n",
        'ƀ' | 'ɓ' => "b",
        'ƒ' => "f",
        'ǥ' | 'ɠ' => "g",
        'ƶ' | 'ȥ' => "z",
        'ȼ' => "c",
        'ɇ' => "e",
        'ɍ' => "r",
        'ɏ' | 'ƴ' => "y",
        'ʉ' => "u",
        'ſ' => "s",
        'ß' => "ss",
        'æ' | 'ǽ' | 'ǣ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        'ĳ' => "ij",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' | 'ﬆ' => "st",
        _ => return None,
    })
}

/// Lower case, composed (NFC) where the text carries combining marks: "Trần" typed
/// as "a" + U+0302 + U+0300 and as "ầ" is one spelling (CONTRACT §7 matches "that
/// spelling, in any case"), as a Mac keyboard or a spreadsheet may send either.
pub fn lower(s: &str) -> String {
    let lower = s.to_lowercase();
    if has_marks(&lower) { lower.nfc().collect() } else { lower }
}

/// Whether `s` holds a combining mark (is written, at least in part, decomposed).
pub fn has_marks(s: &str) -> bool {
    !s.is_ascii() && s.chars().any(is_combining_mark)
}

/// Whether a term carries any diacritic (then it matches only that spelling).
pub fn has_diacritics(s: &str) -> bool {
    fold(s) != s.to_lowercase()
}

/// Whether `c` belongs to a word: a letter or a digit, or a combining mark (the
/// accents of a name written decomposed, which belong to the letter before them).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || (!c.is_ascii() && is_combining_mark(c))
}

/// The words of a text: runs of letters, digits and the marks that follow them
/// (a mark with no letter before it is no word of its own).
pub fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !is_word_char(c)).map(|w| w.trim_start_matches(is_combining_mark)).filter(|w| !w.is_empty())
}

/// The first `n` characters of `s` (all of it when it is shorter).
pub fn first_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

/// `s` cut to its first `n` characters, `…` marking where it was cut.
pub fn shortened(s: &str, n: usize) -> std::borrow::Cow<'_, str> {
    let head = first_chars(s, n);
    if head.len() == s.len() { std::borrow::Cow::Borrowed(s) } else { std::borrow::Cow::Owned(format!("{head}…")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

    /// The straightforward definition: NFD, drop marks, lower case, letters with a
    /// mark inside them to their base letters.
    fn fold_by_nfd(s: &str) -> String {
        s.nfd()
            .filter(|c| !is_combining_mark(*c))
            .flat_map(char::to_lowercase)
            .map(|c| base_letters(c).map_or_else(|| c.to_string(), str::to_string))
            .collect()
    }

    #[test]
    fn decomposed_text_is_one_spelling_with_composed() {
        let decomposed = "Tra\u{302}\u{300}n Thi\u{323} A\u{301}nh";
        assert_eq!(words(decomposed).collect::<Vec<_>>(), ["Tra\u{302}\u{300}n", "Thi\u{323}", "A\u{301}nh"]);
        assert_eq!(lower(decomposed), lower("Trần Thị Ánh"));
        assert_eq!(fold(decomposed), "tran thi anh");
        assert!(has_diacritics("A\u{301}nh"));
        // A mark with no letter before it starts no word.
        assert_eq!(words("\u{301}ab \u{301} c").collect::<Vec<_>>(), ["ab", "c"]);
    }

    #[test]
    fn folds_vietnamese() {
        assert_eq!(fold("Đài"), "dai");
        assert_eq!(fold("Chị Soa"), "chi soa");
        assert_eq!(fold("NGUYỄN Văn Ấn"), "nguyen van an");
        assert!(has_diacritics("Đài"));
        assert!(!has_diacritics("DAI"));
    }

    #[test]
    fn folds_the_letters_that_carry_their_mark_as_lucene_does() {
        assert_eq!(fold("Łukasz Wałęsa"), "lukasz walesa");
        assert_eq!(fold("Søren Ørsted"), "soren orsted");
        assert_eq!(fold("Hauptstraße STRASSE ẞ"), "hauptstrasse strasse ss");
        assert_eq!(fold("Æsir Œuvre Þór Ðorvaldur"), "aesir oeuvre thor dorvaldur");
        assert_eq!(fold("Işık İzmir"), "isik izmir");
        assert_eq!(fold("Ħal Għargħur ﬁnal"), "hal gharghur final");
        assert!(has_diacritics("Łukasz"));
        assert!(has_diacritics("straße"));
        assert!(!has_diacritics("lukasz"));
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
