//! Text folding for accent-smart matching (CONTRACT §7).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Lower case with the diacritics of Latin letters stripped, the Latin letters that
/// carry their mark inside them (no decomposition takes it off) read as their base
/// letters, and full-width Latin letters and digits read as ASCII, as Lucene's
/// ASCIIFoldingFilter reads them: "Đài" -> "dai", "Łukasz" -> "lukasz", "Søren" ->
/// "soren", "Straße" -> "strasse" ([`base_letters`]), "ｌｉｎｈ" -> "linh". Other scripts
/// keep their letters whole, as that filter does: "Йосиф" -> "йосиф" (not "иосиф"),
/// "Ανδρέας", "ガンダム" and "नमस्ते" keep their marks.
///
/// Text written decomposed is composed first, so that it folds as its composed
/// spelling does; each Latin character is then decomposed on its own and its marks
/// dropped, which gives the same letters as a whole-string NFD (the marks' order is
/// all NFD would change, and they go) at a fraction of the cost; a property test
/// holds the two equal on Latin text.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(&mut out, s);
    out
}

/// Appends the folded form of `s` ([`fold`]) to `out`.
pub fn fold_into(out: &mut String, s: &str) {
    let composed: std::borrow::Cow<'_, str> =
        if has_marks(s) { std::borrow::Cow::Owned(s.nfc().collect()) } else { std::borrow::Cow::Borrowed(s) };
    // Whether the last letter was Latin: a mark left after composing (one with no
    // composed form) goes with a Latin letter's diacritics, and stays on another's.
    let mut latin = true;
    for c in composed.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            latin = true;
        } else if is_combining_mark(c) {
            if !latin {
                out.push(c);
            }
        } else if ('\u{FF01}'..='\u{FF5E}').contains(&c) {
            // Full-width ASCII, as East Asian keyboards type it.
            out.push(char::from_u32(c as u32 - 0xFEE0).unwrap_or(c).to_ascii_lowercase());
            latin = true;
        } else {
            // One decomposition: its first character tells the script, its letters
            // (marks dropped) are the fold. Canonical decompositions are a few
            // characters long; the buffer holds any.
            let mut parts = ['\0'; 8];
            let mut n = 0;
            decompose_canonical(c, |part| {
                if n < parts.len() {
                    parts[n] = part;
                }
                n += 1;
            });
            latin = is_latin(parts[0]);
            if !latin || n > parts.len() {
                out.extend(c.to_lowercase());
                continue;
            }
            for &part in parts[..n].iter().filter(|p| !is_combining_mark(**p)) {
                for l in part.to_lowercase() {
                    match base_letters(l) {
                        Some(base) => out.push_str(base),
                        None => out.push(l),
                    }
                }
            }
        }
    }
}

/// Whether a letter is of the Latin script (its blocks: Latin-1, Extended-A and -B,
/// IPA, the phonetic extensions, Extended Additional (Vietnamese), Extended-C and -D,
/// the Latin ligatures).
fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic()
        || matches!(c, '\u{00C0}'..='\u{02AF}' | '\u{1E00}'..='\u{1EFF}' | '\u{2C60}'..='\u{2C7F}'
            | '\u{1D00}'..='\u{1DBF}' | '\u{A720}'..='\u{A7FF}' | '\u{FB00}'..='\u{FB06}')
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
        // The rest of ASCIIFoldingFilter's lower-case Latin letters (its table, read
        // with Lucene 8.7's `foldToASCII` over every letter of the Latin blocks).
        'ɐ' | 'ə' | 'ɚ' | 'ẚ' | 'ⱥ' => "a",
        'ꜳ' => "aa",
        'ꜵ' => "ao",
        'ꜷ' => "au",
        'ꜹ' | 'ꜻ' => "av",
        'ꜽ' => "ay",
        'ƃ' => "b",
        'ƈ' | 'ɕ' | 'ꜿ' => "c",
        'ƌ' | 'ȡ' | 'ꝺ' => "d",
        'ȸ' => "db",
        'ǆ' | 'ǳ' | 'ʣ' | 'ʥ' => "dz",
        'ǝ' | 'ɘ' | 'ɛ' | 'ɜ' | 'ɝ' | 'ɞ' | 'ʚ' | 'ⱸ' => "e",
        'ꝼ' => "f",
        'ɡ' | 'ᵹ' | 'ꝿ' => "g",
        'ɥ' | 'ɦ' | 'ʮ' | 'ʯ' | 'ⱨ' | 'ⱶ' => "h",
        'ƕ' => "hv",
        'ȷ' | 'ɉ' | 'ɟ' | 'ʄ' | 'ʝ' | 'ⱼ' => "j",
        'ƙ' | 'ʞ' | 'ⱪ' | 'ꝁ' | 'ꝃ' | 'ꝅ' => "k",
        'ȴ' | 'ⱡ' | 'ꝇ' | 'ꝉ' | 'ꞁ' => "l",
        'ǉ' => "lj",
        'ỻ' => "ll",
        'ʪ' => "ls",
        'ʫ' => "lz",
        'ɯ' | 'ɰ' | 'ɱ' => "m",
        'ŉ' | 'ƞ' | 'ȵ' | 'ɲ' | 'ɳ' => "n",
        'ǌ' => "nj",
        'ɔ' | 'ⱺ' | 'ꝋ' | 'ꝍ' => "o",
        'ꝏ' => "oo",
        'ȣ' => "ou",
        'ƥ' | 'ᵽ' | 'ꝑ' | 'ꝓ' | 'ꝕ' | 'ꟼ' => "p",
        'ĸ' | 'ɋ' | 'ʠ' | 'ꝗ' | 'ꝙ' => "q",
        'ȹ' => "qp",
        'ɼ' | 'ɽ' | 'ɾ' | 'ɿ' | 'ꝛ' | 'ꞃ' => "r",
        'ȿ' | 'ʂ' | 'ẜ' | 'ẝ' => "s",
        'ƫ' | 'ȶ' | 'ʇ' | 'ⱦ' => "t",
        'ʨ' => "tc",
        'ꝧ' => "th",
        'ʦ' => "ts",
        'ꜩ' => "tz",
        'ʋ' | 'ʌ' | 'ⱱ' | 'ⱴ' | 'ꝟ' => "v",
        'ꝡ' => "vy",
        'ƿ' | 'ʍ' | 'ⱳ' => "w",
        'ʎ' | 'ỿ' => "y",
        'ȝ' | 'ɀ' | 'ʐ' | 'ʑ' | 'ᶎ' | 'ⱬ' | 'ꝣ' => "z",
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
    fold(s) != lower(s)
}

/// Whether `c` belongs to a word: a letter or a decimal digit, as Lucene's
/// `Character.isLetterOrDigit` reads them (Unicode categories L* and Nd: not `²`,
/// `½`, `①`, `Ⅻ` or `Ⓐ`, which Rust's `is_alphanumeric` takes), or a combining
/// mark (the accents of a name written decomposed, which belong to the letter
/// before them).
fn is_word_char(c: char) -> bool {
    use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    // Latin-1's letters past its symbols, Latin Extended-A/B and Latin Extended
    // Additional (Vietnamese) hold no number: a letter there is alphanumeric.
    if ('\u{c0}'..='\u{24f}').contains(&c) || ('\u{1e00}'..='\u{1eff}').contains(&c) {
        return c.is_alphanumeric();
    }
    is_combining_mark(c)
        || (c.is_alphanumeric()
            && (c.general_category_group() == GeneralCategoryGroup::Letter
                || c.general_category() == GeneralCategory::DecimalNumber))
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

    /// The straightforward definition on Latin text: NFD, drop marks, lower case,
    /// letters with a mark inside them to their base letters.
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
    fn words_are_letters_and_decimal_digits_as_lucene_reads_them() {
        // Java's isLetterOrDigit: not superscripts, fractions, circled or Roman numerals.
        assert_eq!(words("Minh x² ½ Ⓐnh ① Ⅻ 🙂anh").collect::<Vec<_>>(), ["Minh", "x", "nh", "anh"]);
        assert_eq!(words("Nguyễn ｌｉｎｈ１２ ٣٤ ª").collect::<Vec<_>>(), ["Nguyễn", "ｌｉｎｈ１２", "٣٤", "ª"]);
        assert_eq!(words("नमस्ते ガンダム Ĳsselmeer").collect::<Vec<_>>(), ["नमस्ते", "ガンダム", "Ĳsselmeer"]);
    }

    #[test]
    fn folds_every_lower_case_latin_letter_of_ascii_folding_filter() {
        // As Lucene 8.7's ASCIIFoldingFilter folds them (its `foldToASCII`, lower-cased first).
        assert_eq!(
            fold("Ǆemal ǅemal ǉubljana Ǌegoš ĸalaallit ꜲRON ꝏp ǝvan Ɛwe Ᵽ ᵽ ŉoon ȣ"),
            "dzemal dzemal ljubljana njegos qalaallit aaron oop evan ewe p p noon ou"
        );
        // Its small capitals fold to capitals, and it leaves ǧ and ǥ as 'G': callsheet folds
        // those to the lower-case letter a term without diacritics is written with.
        assert_eq!(fold("ɢ ǧ ǥ"), "ɢ g g");
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
    fn other_scripts_keep_their_letters_and_full_width_is_ascii() {
        assert_eq!(fold("Йосиф Ёлкин"), "йосиф ёлкин");
        assert_eq!(fold("Ανδρέας"), "ανδρέας");
        assert_eq!(fold("ガンダム が"), "ガンダム が");
        assert_eq!(fold("नमस्ते"), "नमस्ते");
        assert_eq!(fold("ｌｉｎｈ ＡＮ １２３"), "linh an 123");
        // Written decomposed, as composed.
        assert_eq!(fold("\u{418}\u{306}\u{43E}"), "йо");
        assert_eq!(fold("Tra\u{302}\u{300}n"), "tran");
        assert!(!has_diacritics("йосиф"));
        assert!(!has_diacritics("\u{438}\u{306}"), "й written decomposed is no diacritic either");
        assert!(has_diacritics("ｌｉｎｈ"));
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
        fn fold_matches_the_nfd_definition(s in "[A-Za-z\\u{00C0}-\\u{024F}\\u{1E00}-\\u{1EFF}\\u{0300}-\\u{036F} 0-9.,-]{0,24}") {
            prop_assert_eq!(fold(&s), fold_by_nfd(&s));
        }

        #[test]
        fn fold_matches_on_vietnamese(s in "[a-zA-ZàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđĐÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ ]{0,30}") {
            prop_assert_eq!(fold(&s), fold_by_nfd(&s));
        }
    }
}
