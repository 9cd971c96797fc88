//! Tokens -> AST, with the contract's precedence: NOT binds tightest, then AND, then
//! OR; clauses side by side combine with OR; `+` marks a clause that must match and
//! `-` one that must not, as in Elasticsearch.

use super::lexer::{Tok, Token, lex};
use super::{Bound, Field, Node, QueryError, Value};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 10_000;
/// Deepest nesting of parentheses and NOTs accepted: the parser recurses on both.
pub const MAX_DEPTH: usize = 64;

/// Parses a query; the error gives the position and what was expected.
pub fn parse(input: &str) -> Result<Node, QueryError> {
    let end = input.chars().count();
    if end > MAX_QUERY_CHARS {
        return Err(QueryError {
            pos: MAX_QUERY_CHARS,
            msg: format!("the query is longer than {MAX_QUERY_CHARS} characters"),
        });
    }
    let tokens = lex(input)?;
    let mut p = Parser { tokens, at: 0, end, depth: 0 };
    if p.tokens.is_empty() {
        return Err(QueryError { pos: 0, msg: "expected a query".into() });
    }
    let node = p.clauses()?;
    match p.peek() {
        None => Ok(node),
        Some(Token { tok: Tok::RParen, pos }) => Err(QueryError { pos: *pos, msg: "unexpected ')'".into() }),
        Some(t) => Err(QueryError { pos: t.pos, msg: "expected an operator or the end of the query".into() }),
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    end: usize,
    depth: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Occur {
    Should,
    Must,
    MustNot,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn pos(&self) -> usize {
        self.peek().map(|t| t.pos).unwrap_or(self.end)
    }

    fn starts_clause(&self) -> bool {
        matches!(
            self.peek().map(|t| &t.tok),
            Some(Tok::LParen | Tok::Not | Tok::Must | Tok::MustNot | Tok::Word { .. } | Tok::Phrase(_))
        )
    }

    /// A sequence of clauses joined by OR or by nothing, with `+`/`-` occurrences.
    fn clauses(&mut self) -> Result<Node, QueryError> {
        let mut items: Vec<(Occur, Node)> = vec![self.and_clause()?];
        loop {
            if matches!(self.peek().map(|t| &t.tok), Some(Tok::Or)) {
                let at = self.next().map(|t| t.pos).unwrap_or(self.end);
                if !self.starts_clause() {
                    return Err(QueryError { pos: self.pos().max(at), msg: "expected a clause after OR".into() });
                }
                items.push(self.and_clause()?);
            } else if self.starts_clause() {
                items.push(self.and_clause()?);
            } else {
                break;
            }
        }
        Ok(combine(items))
    }

    /// Clauses joined by AND; the first one's `+`/`-` is the group's.
    fn and_clause(&mut self) -> Result<(Occur, Node), QueryError> {
        let (occur, first) = self.occurring()?;
        let mut parts = vec![first];
        while matches!(self.peek().map(|t| &t.tok), Some(Tok::And)) {
            let at = self.next().map(|t| t.pos).unwrap_or(self.end);
            if !self.starts_clause() {
                return Err(QueryError { pos: self.pos().max(at), msg: "expected a clause after AND".into() });
            }
            let (o, n) = self.occurring()?;
            parts.push(if o == Occur::MustNot { Node::Not(Box::new(n)) } else { n });
        }
        Ok((occur, if parts.len() == 1 { parts.remove(0) } else { Node::And(parts) }))
    }

    fn occurring(&mut self) -> Result<(Occur, Node), QueryError> {
        match self.peek().map(|t| &t.tok) {
            Some(Tok::Must) => {
                self.next();
                Ok((Occur::Must, self.unary()?))
            }
            Some(Tok::MustNot) => {
                self.next();
                Ok((Occur::MustNot, self.unary()?))
            }
            _ => Ok((Occur::Should, self.unary()?)),
        }
    }

    /// Enters one level of nesting, refusing to go deeper than [`MAX_DEPTH`].
    fn deeper(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError { pos: self.pos(), msg: format!("the query nests deeper than {MAX_DEPTH} levels") });
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Node, QueryError> {
        self.deeper()?;
        let node = self.unary_inner();
        self.depth -= 1;
        node
    }

    fn unary_inner(&mut self) -> Result<Node, QueryError> {
        if matches!(self.peek().map(|t| &t.tok), Some(Tok::Not)) {
            let at = self.next().map(|t| t.pos).unwrap_or(self.end);
            if !self.starts_clause() {
                return Err(QueryError { pos: self.pos().max(at), msg: "expected a clause after NOT".into() });
            }
            return Ok(Node::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, QueryError> {
        let Some(token) = self.next() else {
            return Err(QueryError { pos: self.end, msg: "expected a clause".into() });
        };
        match token.tok {
            Tok::LParen => {
                if matches!(self.peek().map(|t| &t.tok), Some(Tok::RParen)) {
                    return Err(QueryError { pos: self.pos(), msg: "expected a clause inside '()'".into() });
                }
                let inner = self.clauses()?;
                match self.next() {
                    Some(Token { tok: Tok::RParen, .. }) => Ok(inner),
                    _ => Err(QueryError { pos: token.pos, msg: "unclosed '(': expected ')'".into() }),
                }
            }
            Tok::Word { text, wildcard, .. } => {
                if matches!(self.peek().map(|t| &t.tok), Some(Tok::Colon)) {
                    let colon = self.next().map(|t| t.pos).unwrap_or(self.end);
                    return self.fielded(text, wildcard, token.pos, colon);
                }
                Ok(term(Field::Default, text, wildcard, token.pos))
            }
            Tok::Phrase(text) => Ok(Node::Term { field: Field::Default, value: Value::Phrase(text), pos: token.pos }),
            Tok::RParen => Err(QueryError { pos: token.pos, msg: "unexpected ')'".into() }),
            _ => Err(QueryError { pos: token.pos, msg: "expected a term, a phrase or '('".into() }),
        }
    }

    /// What follows `field:`.
    fn fielded(&mut self, field: String, field_star: bool, pos: usize, colon: usize) -> Result<Node, QueryError> {
        let after = colon + 1;
        let expected_msg = format!("expected a value after '{field}{}:'", if field_star { "*" } else { "" });
        let expected = move || QueryError { pos: after, msg: expected_msg.clone() };
        if field_star {
            // Only `*:*` names every field.
            return match self.next() {
                Some(Token { tok: Tok::Word { text, wildcard: true, .. }, .. })
                    if field.is_empty() && text.is_empty() =>
                {
                    Ok(Node::All)
                }
                _ => Err(QueryError { pos, msg: "a field name cannot hold a wildcard (only *:* can)".into() }),
            };
        }
        if field.is_empty() {
            return Err(QueryError { pos, msg: "expected a field name before ':'".into() });
        }
        let Some(token) = self.next() else {
            return Err(expected());
        };
        if field == "_exists_" {
            return match token.tok {
                Tok::Word { text, wildcard: false, .. } if !text.is_empty() => Ok(Node::Exists { field: text, pos }),
                _ => Err(QueryError { pos: token.pos, msg: "expected a field name after '_exists_:'".into() }),
            };
        }
        let field = Field::Named(field);
        match token.tok {
            Tok::Word { text, wildcard, .. } => Ok(term(field, text, wildcard, pos)),
            Tok::Phrase(text) => Ok(Node::Term { field, value: Value::Phrase(text), pos }),
            // `phone:+84…` — a plus sign glued to the value is part of it.
            Tok::Must => match self.next() {
                Some(Token { tok: Tok::Word { text, wildcard, .. }, pos: p }) if p == token.pos + 1 => {
                    Ok(term(field, format!("+{text}"), wildcard, pos))
                }
                _ => Err(expected()),
            },
            Tok::Cmp(op) => {
                let value = match self.next() {
                    Some(Token { tok: Tok::Word { text, wildcard: false, .. }, .. }) if !text.is_empty() => text,
                    _ => {
                        return Err(QueryError {
                            pos: token.pos + op.len(),
                            msg: format!("expected a value after '{op}'"),
                        });
                    }
                };
                let (lower, upper) = match op {
                    ">" => (Bound::Exclusive(value), Bound::Open),
                    ">=" => (Bound::Inclusive(value), Bound::Open),
                    "<" => (Bound::Open, Bound::Exclusive(value)),
                    _ => (Bound::Open, Bound::Inclusive(value)),
                };
                Ok(Node::Range { field, lower, upper, pos })
            }
            Tok::RangeOpen(inclusive) => {
                let lower = self.bound(inclusive, "expected the lower end of the range")?;
                match self.next() {
                    Some(Token { tok: Tok::Word { text, wildcard: false, escaped: false }, .. }) if text == "TO" => {}
                    other => {
                        return Err(QueryError {
                            pos: other.map(|t| t.pos).unwrap_or(self.end),
                            msg: "expected TO in the range".into(),
                        });
                    }
                }
                let upper_token = self.next();
                let upper_close = self.next();
                let inclusive_upper = match upper_close {
                    Some(Token { tok: Tok::RangeClose(inc), .. }) => inc,
                    other => {
                        return Err(QueryError {
                            pos: other.map(|t| t.pos).unwrap_or(self.end),
                            msg: "expected ']' or '}' to close the range".into(),
                        });
                    }
                };
                let upper = match upper_token {
                    Some(Token { tok: Tok::Word { text, wildcard: true, .. }, .. }) if text.is_empty() => Bound::Open,
                    Some(Token { tok: Tok::Word { text, wildcard: false, .. }, .. }) if !text.is_empty() => {
                        if inclusive_upper {
                            Bound::Inclusive(text)
                        } else {
                            Bound::Exclusive(text)
                        }
                    }
                    other => {
                        return Err(QueryError {
                            pos: other.map(|t| t.pos).unwrap_or(self.end),
                            msg: "expected the upper end of the range".into(),
                        });
                    }
                };
                Ok(Node::Range { field, lower, upper, pos })
            }
            _ => Err(expected()),
        }
    }

    fn bound(&mut self, inclusive: bool, msg: &str) -> Result<Bound, QueryError> {
        match self.next() {
            Some(Token { tok: Tok::Word { text, wildcard: true, .. }, .. }) if text.is_empty() => Ok(Bound::Open),
            Some(Token { tok: Tok::Word { text, wildcard: false, escaped }, .. })
                if !text.is_empty() && (escaped || text != "TO") =>
            {
                Ok(if inclusive { Bound::Inclusive(text) } else { Bound::Exclusive(text) })
            }
            other => Err(QueryError { pos: other.map(|t| t.pos).unwrap_or(self.end), msg: msg.into() }),
        }
    }
}

fn term(field: Field, text: String, wildcard: bool, pos: usize) -> Node {
    let value = if wildcard { Value::Prefix(text) } else { Value::Word(text) };
    Node::Term { field, value, pos }
}

/// Elasticsearch's reading of a clause list: with any `+` clause, plain clauses are
/// optional; `-` clauses exclude; otherwise plain clauses combine with OR.
fn combine(items: Vec<(Occur, Node)>) -> Node {
    if items.len() == 1 && items[0].0 == Occur::Should {
        return items.into_iter().next().map(|(_, n)| n).unwrap_or(Node::All);
    }
    let mut must = Vec::new();
    let mut must_not = Vec::new();
    let mut should = Vec::new();
    for (occur, node) in items {
        match occur {
            Occur::Must => must.push(node),
            Occur::MustNot => must_not.push(Node::Not(Box::new(node))),
            Occur::Should => should.push(node),
        }
    }
    let mut parts = must;
    if parts.is_empty() {
        match should.len() {
            0 => parts.push(Node::All),
            1 => parts.push(should.remove(0)),
            _ => parts.push(Node::Or(should)),
        }
    }
    parts.extend(must_not);
    if parts.len() == 1 { parts.remove(0) } else { Node::And(parts) }
}
