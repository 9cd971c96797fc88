//! Tokens of the filter language, each with its character offset.

use super::QueryError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    LParen,
    RParen,
    Colon,
    And,
    Or,
    Not,
    /// `+` or `-` directly before a clause.
    Must,
    MustNot,
    /// `[` (true) or `{` (false): whether the lower end is inclusive.
    RangeOpen(bool),
    /// `]` (true) or `}` (false).
    RangeClose(bool),
    /// `>`, `>=`, `<`, `<=`.
    Cmp(&'static str),
    /// A bare word; `wildcard` when it ended in an unescaped `*`; `escaped` when any
    /// character was escaped (then it is never a keyword such as AND or TO).
    Word {
        text: String,
        wildcard: bool,
        escaped: bool,
    },
    Phrase(String),
    /// `^`, before a boost.
    Caret,
    /// `~`, after a fuzzy term or before a phrase's slop.
    Tilde,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// What separates terms: Lucene's grammar knows only these five (`_WHITESPACE`), so a
/// no-break or em space is part of a term, which the analyzer then splits into words.
fn blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{3000}')
}

fn special(c: char) -> bool {
    matches!(c, '(' | ')' | ':' | '[' | ']' | '{' | '}' | '"' | '\\' | '^' | '~' | '<' | '>' | '=')
}

/// The character an escape at `chars[i]` (a `\\`) stands for, and how many characters
/// it takes: `\\x` is `x`, and `\\u` with four hex digits the character they give, as
/// Lucene's parser unescapes terms, phrases and range bounds.
fn unescape(chars: &[char], i: usize) -> Result<(char, usize), QueryError> {
    match chars.get(i + 1) {
        None => Err(QueryError { pos: i, msg: "expected a character after '\\'".into() }),
        Some('u') => {
            // Four hex digits after `\u` at `at`; a UTF-16 pair is two escapes.
            let unit = |at: usize| -> Option<u32> {
                let digits: String = chars.iter().skip(at + 2).take(4).collect();
                let hex = digits.len() == 4 && digits.chars().all(|c| c.is_ascii_hexdigit());
                (chars.get(at) == Some(&'\\') && chars.get(at + 1) == Some(&'u') && hex)
                    .then(|| u32::from_str_radix(&digits, 16).ok())
                    .flatten()
            };
            let code = match unit(i) {
                Some(high @ 0xD800..=0xDBFF) => match unit(i + 6) {
                    Some(low @ 0xDC00..=0xDFFF) => {
                        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)).map(|c| (c, 12))
                    }
                    _ => None,
                },
                Some(code) => char::from_u32(code).map(|c| (c, 6)),
                None => None,
            };
            match code {
                Some(('\0', _)) => Err(nul_at(i)),
                Some(found) => Ok(found),
                None => Err(QueryError {
                    pos: i,
                    msg: "expected four hex digits of a character after '\\u' (or '\\\\u' for a '\\' and a 'u')".into(),
                }),
            }
        }
        Some(&c) => Ok((c, 2)),
    }
}

/// A NUL character, raw or escaped (`\u0000`), which no database stores in text or
/// a JSON path: no contact can hold it, and PostgreSQL refuses to compare with it.
fn nul_at(pos: usize) -> QueryError {
    QueryError { pos, msg: "a query cannot hold the character U+0000 (NUL)".into() }
}

/// Whether `c` belongs to the term before it. `!` is an operator wherever it stands,
/// as in Lucene's grammar (`dai!soa` is dai NOT soa); `&`, `|`, `+` and `-` are a
/// term's own, so `&&mai` is one term, as Lucene's longest match reads it, and `&&`
/// an operator only where no term goes on after it.
fn continues_term(c: Option<&char>) -> bool {
    c.is_some_and(|&c| !blank(c) && (!special(c) || c == '\\') && c != '!')
}

/// The length of the number at `chars[i]`, as Lucene reads one after `^` and `~`:
/// digits, then a `.` and digits; 0 when none starts there.
fn number_len(chars: &[char], i: usize) -> usize {
    let digits = |from: usize| chars.iter().skip(from).take_while(|c| c.is_ascii_digit()).count();
    let whole = digits(i);
    if whole == 0 {
        return 0;
    }
    match chars.get(i + whole) {
        Some('.') if digits(i + whole + 1) > 0 => whole + 1 + digits(i + whole + 1),
        _ => whole,
    }
}

/// Whether `raw`, as written, is a star that can be an open end: `*` itself or one
/// `\\u` escape naming it (`\\u002a`), never the escaped `\\*`.
fn open_star(raw: &[char]) -> bool {
    raw == ['*']
        || (raw.first() == Some(&'\\')
            && unescape(raw, 0).is_ok_and(|(c, len)| c == '*' && len == raw.len() && len > 2))
}

/// The token of a range's bound at `chars[i]`, and where it ends, as Lucene's grammar
/// reads one between the brackets: any run of characters but a space, `]` and `}`,
/// or a quoted one when that is the longer; `*` (raw, quoted or `\u002a`) is an open
/// end, `TO` the keyword (which may also be a bound), `\*` a literal star.
fn range_bound(chars: &[char], i: usize) -> Result<(Tok, usize), QueryError> {
    let run_end = (i..chars.len()).find(|&j| matches!(chars[j], ' ' | ']' | '}')).unwrap_or(chars.len());
    // Lucene's RANGE_QUOTED: `"`, characters but `"` (a `\\` one of them too) or `\\"`,
    // then `"`: a `"` after a `\\` may close it or go on, and the longest is taken.
    let quoted_end = (chars[i] == '"')
        .then(|| {
            let mut end = None;
            for j in i + 1..chars.len() {
                if chars[j] != '"' {
                    continue;
                }
                if j > i + 1 {
                    end = Some(j + 1);
                }
                if j == i + 1 || chars[j - 1] != '\\' {
                    break;
                }
            }
            end
        })
        .flatten();
    let (from, to, end, quoted) = match quoted_end {
        Some(q) if q >= run_end => (i + 1, q - 1, q, true),
        _ => (i, run_end, run_end, false),
    };
    let raw = &chars[from..to];
    if !quoted && raw == ['T', 'O'] {
        return Ok((Tok::Word { text: "TO".into(), wildcard: false, escaped: false }, end));
    }
    let mut text = String::new();
    let mut j = 0;
    while j < raw.len() {
        let (ch, len) = if raw[j] == '\\' {
            unescape(raw, j).map_err(|e| QueryError { pos: e.pos + from, ..e })?
        } else {
            (raw[j], 1)
        };
        text.push(ch);
        j += len;
    }
    Ok(if open_star(raw) {
        (Tok::Word { text: String::new(), wildcard: true, escaped: false }, end)
    } else if quoted {
        (Tok::Phrase(text), end)
    } else {
        (Tok::Word { text, wildcard: false, escaped: true }, end)
    })
}

pub fn lex(input: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    if let Some(at) = chars.iter().position(|&c| c == '\0') {
        return Err(nul_at(at));
    }
    let mut tokens = Vec::new();
    let mut i = 0;
    // Between a range's brackets Lucene reads bounds by other rules (`range_bound`).
    let mut in_range = false;
    while i < chars.len() {
        let c = chars[i];
        let pos = i;
        if in_range && !matches!(c, ']' | '}') {
            // A lone blank between bounds is skipped; a run that goes on is a bound.
            if c == ' ' || (blank(c) && matches!(chars.get(i + 1), None | Some(' ' | ']' | '}'))) {
                i += 1;
                continue;
            }
            let (tok, end) = range_bound(&chars, i)?;
            tokens.push(Token { tok, pos });
            i = end;
            continue;
        }
        if blank(c) {
            i += 1;
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ':' => Some(Tok::Colon),
            '[' => Some(Tok::RangeOpen(true)),
            '{' => Some(Tok::RangeOpen(false)),
            ']' => Some(Tok::RangeClose(true)),
            '}' => Some(Tok::RangeClose(false)),
            _ => None,
        };
        if let Some(tok) = single {
            match tok {
                Tok::RangeOpen(_) => in_range = true,
                Tok::RangeClose(_) => in_range = false,
                _ => {}
            }
            tokens.push(Token { tok, pos });
            i += 1;
            continue;
        }
        // A comparison's value is a bound: what follows `>`, `>=`, `<`, `<=`.
        let after_cmp = matches!(tokens.last(), Some(Token { tok: Tok::Cmp(_), .. }));
        match c {
            '&' if chars.get(i + 1) == Some(&'&') && !continues_term(chars.get(i + 2)) => {
                tokens.push(Token { tok: Tok::And, pos });
                i += 2;
            }
            '|' if chars.get(i + 1) == Some(&'|') && !continues_term(chars.get(i + 2)) => {
                tokens.push(Token { tok: Tok::Or, pos });
                i += 2;
            }
            // A boost's number must follow `^` at once; a fuzzy term's or slop's may
            // follow `~`. What comes after the number is a new term (`linh^2x`).
            '^' | '~' => {
                let n = number_len(&chars, i + 1);
                if c == '^' && n == 0 {
                    return Err(QueryError { pos: i + 1, msg: "expected a number after '^'".into() });
                }
                tokens.push(Token { tok: if c == '^' { Tok::Caret } else { Tok::Tilde }, pos });
                if n > 0 {
                    let text = chars[i + 1..i + 1 + n].iter().collect();
                    tokens.push(Token { tok: Tok::Word { text, wildcard: false, escaped: false }, pos: i + 1 });
                }
                i += 1 + n;
            }
            '!' => {
                tokens.push(Token { tok: Tok::Not, pos });
                i += 1;
            }
            '+' => {
                tokens.push(Token { tok: Tok::Must, pos });
                i += 1;
            }
            '-' => {
                tokens.push(Token { tok: Tok::MustNot, pos });
                i += 1;
            }
            // `field=value` is `field:value`, as in Lucene's grammar.
            '=' => {
                tokens.push(Token { tok: Tok::Colon, pos });
                i += 1;
            }
            '>' | '<' => {
                let eq = chars.get(i + 1) == Some(&'=');
                let op = match (c, eq) {
                    ('>', true) => ">=",
                    ('>', false) => ">",
                    ('<', true) => "<=",
                    _ => "<",
                };
                tokens.push(Token { tok: Tok::Cmp(op), pos });
                i += if eq { 2 } else { 1 };
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(QueryError { pos, msg: "unclosed phrase: expected '\"'".into() }),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') if i + 1 < chars.len() => {
                            let (ch, len) = unescape(&chars, i)?;
                            text.push(ch);
                            i += len;
                        }
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                // `name:>"*"` is open at both ends; `name:>"\\*"` is a star.
                let tok = if after_cmp && open_star(&chars[pos + 1..i - 1]) {
                    Tok::Word { text: String::new(), wildcard: true, escaped: false }
                } else {
                    Tok::Phrase(text)
                };
                tokens.push(Token { tok, pos });
            }
            _ => {
                let mut text = String::new();
                let mut wildcard = false;
                let mut escaped = false;
                // A comparison's value is a bound, where `*` and `?` are characters,
                // as Lucene reads `name:>a*b` (but `name:>=*`, which is open), signed
                // or not (`balance:>-1*`).
                let bound = after_cmp
                    || matches!(
                        tokens.as_slice(),
                        [.., Token { tok: Tok::Cmp(_), .. }, Token { tok: Tok::Must | Tok::MustNot, pos: sign }]
                            if *sign + 1 == i
                    );
                let start = i;
                while i < chars.len() {
                    if !continues_term(chars.get(i)) {
                        break;
                    }
                    // `\x` is `x` itself; `\u` and four hex digits stand for their
                    // character as if written there (`\u002a` is a wildcard), as in Lucene.
                    let (ch, len) = if chars[i] == '\\' { unescape(&chars, i)? } else { (chars[i], 1) };
                    escaped |= len > 1;
                    if len == 2 {
                        text.push(ch);
                        i += len;
                        continue;
                    }
                    if ch == '/' && len == 1 {
                        // Lucene reads `/…/` as a regular expression, wherever a term
                        // meets it.
                        return Err(QueryError {
                            pos: i,
                            msg: "regular expressions ('/…/') are not supported: escape it as '\\/' to match a '/'"
                                .into(),
                        });
                    }
                    if bound && (ch == '?' || ch == '*') {
                        text.push(ch);
                        i += len;
                        continue;
                    }
                    if ch == '?' {
                        return Err(QueryError {
                            pos: i,
                            msg:
                                "a single-character wildcard ('?') is not supported: escape it as '\\?' to match a '?'"
                                    .into(),
                        });
                    }
                    if ch == '*' {
                        if continues_term(chars.get(i + len)) && chars.get(i + len) != Some(&'\\') {
                            return Err(QueryError {
                                pos: i,
                                msg: "a wildcard is only allowed at the end of a term".into(),
                            });
                        }
                        wildcard = true;
                        i += len;
                        break;
                    }
                    text.push(ch);
                    i += len;
                }
                if after_cmp && open_star(&chars[start..i]) {
                    (text, wildcard) = (String::new(), true);
                }
                let tok = match (text.as_str(), wildcard || escaped) {
                    ("AND", false) => Tok::And,
                    ("OR", false) => Tok::Or,
                    ("NOT", false) => Tok::Not,
                    _ => Tok::Word { text, wildcard, escaped },
                };
                tokens.push(Token { tok, pos });
            }
        }
    }
    Ok(tokens)
}
