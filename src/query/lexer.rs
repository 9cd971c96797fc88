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

/// Lucene's comparison operators and its `=` (`name=linh` is `name:linh`): no term
/// holds them but escaped; between a range's brackets they are a bound's own.
fn operator_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=')
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
fn continues_term(c: Option<&char>, in_range: bool) -> bool {
    c.is_some_and(|&c| {
        !blank(c) && (!special(c) || c == '\\' || (in_range && operator_char(c))) && (c != '!' || in_range)
    })
}

pub fn lex(input: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    if let Some(at) = chars.iter().position(|&c| c == '\0') {
        return Err(nul_at(at));
    }
    let mut tokens = Vec::new();
    let mut i = 0;
    // Between a range's brackets `!`, `=`, `<` and `>` are a bound's own characters, as in Lucene.
    let mut in_range = false;
    while i < chars.len() {
        let c = chars[i];
        let pos = i;
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
            '^' => Some(Tok::Caret),
            '~' => Some(Tok::Tilde),
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
        match c {
            '&' if chars.get(i + 1) == Some(&'&') && !continues_term(chars.get(i + 2), in_range) => {
                tokens.push(Token { tok: Tok::And, pos });
                i += 2;
            }
            '|' if chars.get(i + 1) == Some(&'|') && !continues_term(chars.get(i + 2), in_range) => {
                tokens.push(Token { tok: Tok::Or, pos });
                i += 2;
            }
            '!' if !in_range => {
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
            '=' if !in_range => {
                tokens.push(Token { tok: Tok::Colon, pos });
                i += 1;
            }
            '>' | '<' if !in_range => {
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
                tokens.push(Token { tok: Tok::Phrase(text), pos });
            }
            _ => {
                let mut text = String::new();
                let mut wildcard = false;
                let mut escaped = false;
                while i < chars.len() {
                    let ch = chars[i];
                    if !continues_term(Some(&ch), in_range) {
                        break;
                    }
                    if ch == '\\' {
                        let (next, len) = unescape(&chars, i)?;
                        text.push(next);
                        escaped = true;
                        i += len;
                        continue;
                    }
                    if ch == '/' && !in_range {
                        // Lucene reads `/…/` as a regular expression, wherever a term
                        // meets it.
                        return Err(QueryError {
                            pos: i,
                            msg: "regular expressions ('/…/') are not supported: escape it as '\\/' to match a '/'"
                                .into(),
                        });
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
                        if continues_term(chars.get(i + 1), in_range) && chars.get(i + 1) != Some(&'\\') {
                            return Err(QueryError {
                                pos: i,
                                msg: "a wildcard is only allowed at the end of a term".into(),
                            });
                        }
                        wildcard = true;
                        i += 1;
                        break;
                    }
                    text.push(ch);
                    i += 1;
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
