//! Tokens -> AST, read as Apache Lucene's `PrecedenceQueryParser` reads them
//! (CONTRACT §7), with Elasticsearch's conventions:
//!
//! ```text
//! query  := disj+                  clauses side by side: a boolean of them
//! disj   := conj (OR conj)*        OR, `||`
//! conj   := clause (AND clause)*   AND, `&&`: each unmarked clause is required
//! clause := [+ | - | NOT | !] ( term | '(' query ')' )
//! ```
//!
//! A modifier belongs to the one clause it precedes: `+` makes it required, `-`,
//! `NOT` and `!` prohibited, in the boolean that holds it. A boolean with a required
//! clause matches what every required clause matches (its plain clauses are then
//! optional); else what any plain clause matches; less, in both cases, what any
//! prohibited clause matches. A boolean of only prohibited clauses matches everything
//! but them. A clause takes one modifier: `NOT NOT a` is a syntax error.

use super::lexer::{Tok, Token, lex};
use super::{Bound, Field, Node, QueryError, Value};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 10_000;
/// Deepest nesting of parentheses and NOTs accepted: the parser recurses on both.
pub const MAX_DEPTH: usize = 64;

/// Most terms (words, phrases, ranges, `_exists_`) one query may hold: Lucene's own
/// limit on a boolean query's clauses (`IndexSearcher.maxClauseCount`, 1024), which
/// Elasticsearch's `query_string` meets too.
pub const MAX_CLAUSES: usize = 1024;

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
    let mut p = Parser { tokens, at: 0, end, depth: 0, field: None };
    if p.tokens.is_empty() {
        return Err(QueryError { pos: 0, msg: "expected a query".into() });
    }
    let mut node = p.query()?;
    // Nothing left once analyzed (`name:😀`, `NOT name:½`): Lucene's parser answers
    // a query that matches no document.
    if dropped(&node) {
        node = Node::Not(Box::new(Node::All));
    }
    let mut terms = Vec::new();
    term_positions(&node, &mut terms);
    if let Some(pos) = terms.get(MAX_CLAUSES) {
        return Err(QueryError { pos: *pos, msg: format!("the query holds more than {MAX_CLAUSES} terms") });
    }
    match p.peek() {
        None => Ok(node),
        Some(Token { tok: Tok::RParen, pos }) => Err(QueryError { pos: *pos, msg: "unexpected ')'".into() }),
        Some(t) => Err(QueryError { pos: t.pos, msg: "expected an operator or the end of the query".into() }),
    }
}

/// The positions of a query's terms, in order.
fn term_positions(node: &Node, out: &mut Vec<usize>) {
    match node {
        Node::All => {}
        Node::Term { pos, .. } | Node::Range { pos, .. } | Node::Exists { pos, .. } => out.push(*pos),
        Node::And(items) | Node::Or(items) => items.iter().for_each(|n| term_positions(n, out)),
        Node::Not(inner) => term_positions(inner, out),
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    end: usize,
    depth: usize,
    /// Inside `field:( … )`: the field of the group's terms that name none.
    field: Option<String>,
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
            Some(
                Tok::LParen
                    | Tok::Not
                    | Tok::Must
                    | Tok::MustNot
                    | Tok::Word { .. }
                    | Tok::Phrase(_)
                    | Tok::RangeOpen(_)
            )
        )
    }

    /// `query`: clauses side by side, up to the end or a `)`.
    fn query(&mut self) -> Result<Node, QueryError> {
        let mut items = vec![self.disj()?];
        while self.starts_clause() {
            items.push(self.disj()?);
        }
        Ok(combine(items))
    }

    /// `disj`: clauses joined by OR. One clause keeps its modifier for the boolean
    /// that holds it.
    fn disj(&mut self) -> Result<(Occur, Node), QueryError> {
        let mut items = vec![self.conj()?];
        while matches!(self.peek().map(|t| &t.tok), Some(Tok::Or)) {
            let at = self.next().map(|t| t.pos).unwrap_or(self.end);
            if !self.starts_clause() {
                return Err(QueryError { pos: self.pos().max(at), msg: "expected a clause after OR".into() });
            }
            items.push(self.conj()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { (Occur::Should, combine(items)) })
    }

    /// `conj`: clauses joined by AND, each required unless it is prohibited.
    fn conj(&mut self) -> Result<(Occur, Node), QueryError> {
        let mut items = vec![self.modified()?];
        while matches!(self.peek().map(|t| &t.tok), Some(Tok::And)) {
            let at = self.next().map(|t| t.pos).unwrap_or(self.end);
            if !self.starts_clause() {
                return Err(QueryError { pos: self.pos().max(at), msg: "expected a clause after AND".into() });
            }
            items.push(self.modified()?);
        }
        if items.len() == 1 {
            return Ok(items.remove(0));
        }
        let items = items.into_iter().map(|(o, n)| (if o == Occur::Should { Occur::Must } else { o }, n)).collect();
        Ok((Occur::Should, combine(items)))
    }

    /// A clause with its one modifier, if it has one.
    fn modified(&mut self) -> Result<(Occur, Node), QueryError> {
        let (occur, name) = match self.peek().map(|t| &t.tok) {
            Some(Tok::Must) => (Occur::Must, "'+'"),
            Some(Tok::MustNot) => (Occur::MustNot, "'-'"),
            Some(Tok::Not) => (Occur::MustNot, "NOT"),
            _ => return Ok((Occur::Should, self.clause()?)),
        };
        let at = self.next().map(|t| t.pos).unwrap_or(self.end);
        match self.peek() {
            Some(Token { tok: Tok::Not | Tok::Must | Tok::MustNot, pos }) => Err(QueryError {
                pos: *pos,
                msg: format!("a clause takes one modifier: expected a term, a phrase or '(' after {name}"),
            }),
            _ if !self.starts_clause() => {
                Err(QueryError { pos: self.pos().max(at), msg: format!("expected a clause after {name}") })
            }
            _ => Ok((occur, self.clause()?)),
        }
    }

    /// Enters one level of nesting, refusing to go deeper than [`MAX_DEPTH`]: a
    /// top-level clause is level 0, a clause inside 64 parentheses level 64.
    fn deeper(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH + 1 {
            return Err(QueryError { pos: self.pos(), msg: format!("the query nests deeper than {MAX_DEPTH} levels") });
        }
        Ok(())
    }

    /// A term, or a query in parentheses, one level deeper, with what may follow it.
    fn clause(&mut self) -> Result<Node, QueryError> {
        self.deeper()?;
        let node = self.primary().and_then(|node| self.suffixes(node));
        self.depth -= 1;
        node
    }

    /// What Lucene allows after a clause: `~N` (a phrase's slop; a term's fuzziness),
    /// then `^N` (a boost). A boost weighs the clause's score and changes no match,
    /// so it is read and set aside. A slop of 0 is the phrase itself; a larger slop
    /// and fuzzy terms would match what callsheet does not find, so they are refused.
    fn suffixes(&mut self, node: Node) -> Result<Node, QueryError> {
        if let Some(Token { tok: Tok::Tilde, pos }) = self.peek().cloned() {
            self.next();
            let amount = self.number_after(pos);
            let phrase = matches!(&node, Node::Term { value: Value::Phrase(_), .. });
            match amount {
                Some(n) if phrase && n == 0.0 => {}
                _ if phrase => {
                    return Err(QueryError { pos, msg: "a phrase's slop ('~N' above 0) is not supported".into() });
                }
                _ => return Err(QueryError { pos, msg: "fuzzy terms ('~') are not supported".into() }),
            }
        }
        if let Some(Token { tok: Tok::Caret, pos }) = self.peek().cloned() {
            self.next();
            if self.number_after(pos).is_none_or(|n| n < 0.0) {
                return Err(QueryError { pos: pos + 1, msg: "expected a number after '^'".into() });
            }
        }
        Ok(node)
    }

    /// The number written right after the character at `pos`, taken when there is one.
    fn number_after(&mut self, pos: usize) -> Option<f64> {
        match self.peek() {
            Some(Token { tok: Tok::Word { text, wildcard: false, .. }, pos: at }) if *at == pos + 1 => {
                let n = text.parse::<f64>().ok().filter(|n| n.is_finite())?;
                self.next();
                Some(n)
            }
            _ => None,
        }
    }

    /// The field of a term that names none: the group's, else the default fields.
    fn default_field(&self) -> Field {
        self.field.clone().map_or(Field::Default, Field::Named)
    }

    /// A value that may carry a sign glued to it (`-100`, `+84…`), as a range's
    /// bounds and a comparison's value do: the sign is part of the value, not an
    /// operator.
    fn signed_value(&mut self) -> Option<Token> {
        let sign = match self.peek().map(|t| &t.tok) {
            Some(Tok::MustNot) => '-',
            Some(Tok::Must) => '+',
            _ => return self.next(),
        };
        let at = self.peek().map_or(0, |t| t.pos);
        match self.tokens.get(self.at + 1) {
            Some(Token { tok: Tok::Word { text, wildcard: false, .. }, pos }) if *pos == at + 1 && !text.is_empty() => {
                let text = format!("{sign}{text}");
                self.at += 2;
                Some(Token { tok: Tok::Word { text, wildcard: false, escaped: true }, pos: at })
            }
            _ => self.next(),
        }
    }

    /// A query in parentheses, after its `(` at `open`, and the `)` that ends it.
    fn group(&mut self, open: usize) -> Result<Node, QueryError> {
        if matches!(self.peek().map(|t| &t.tok), Some(Tok::RParen)) {
            return Err(QueryError { pos: self.pos(), msg: "expected a clause inside '()'".into() });
        }
        let inner = self.query()?;
        match self.next() {
            Some(Token { tok: Tok::RParen, .. }) => Ok(inner),
            _ => Err(QueryError { pos: open, msg: "unclosed '(': expected ')'".into() }),
        }
    }

    fn primary(&mut self) -> Result<Node, QueryError> {
        let Some(token) = self.next() else {
            return Err(QueryError { pos: self.end, msg: "expected a clause".into() });
        };
        match token.tok {
            Tok::LParen => self.group(token.pos),
            Tok::Word { text, wildcard, .. } => {
                match self.peek() {
                    Some(Token { tok: Tok::Colon, .. }) => {
                        let colon = self.next().map(|t| t.pos).unwrap_or(self.end);
                        return self.fielded(text, wildcard, token.pos, colon);
                    }
                    // `created>=5`, Lucene's own spelling of `created:>=5`: the comparison
                    // is read as after a colon.
                    Some(Token { tok: Tok::Cmp(_), pos }) => {
                        let colon = pos.saturating_sub(1);
                        return self.fielded(text, wildcard, token.pos, colon);
                    }
                    _ => {}
                }
                Ok(term(self.default_field(), text, wildcard, token.pos))
            }
            Tok::Phrase(text) => {
                Ok(Node::Term { field: self.default_field(), value: Value::Phrase(text), pos: token.pos })
            }
            // A range with no field searches the default fields, as a term does.
            Tok::RangeOpen(inclusive) => self.range(self.default_field(), inclusive, token.pos),
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
                // `_exists_:"email"`, as Lucene reads a quoted field name there.
                Tok::Phrase(text) if !text.is_empty() => Ok(Node::Exists { field: text, pos }),
                _ => Err(QueryError { pos: token.pos, msg: "expected a field name after '_exists_:'".into() }),
            };
        }
        if token.tok == Tok::LParen {
            // `field:(a OR "b c")`: the group's terms that name no field are on this one.
            // The group is this clause's own level, as a bare `(` is.
            let outer = self.field.replace(field);
            let inner = self.group(token.pos);
            self.field = outer;
            return inner;
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
                let value = match self.signed_value() {
                    // `name:>=*`: an open end, as Lucene reads it (every contact with a name).
                    Some(Token { tok: Tok::Word { text, wildcard: true, .. }, .. }) if text.is_empty() => None,
                    Some(Token { tok: Tok::Word { text, wildcard: false, .. }, .. }) if !text.is_empty() => Some(text),
                    // `name:>"d a"`: a quoted value, as Lucene takes one there.
                    Some(Token { tok: Tok::Phrase(text), .. }) if !text.is_empty() => Some(text),
                    _ => {
                        return Err(QueryError {
                            pos: token.pos + op.len(),
                            msg: format!("expected a value after '{op}'"),
                        });
                    }
                };
                let (lower, upper) = match (op, value) {
                    (_, None) => (Bound::Open, Bound::Open),
                    (">", Some(v)) => (Bound::Exclusive(v), Bound::Open),
                    (">=", Some(v)) => (Bound::Inclusive(v), Bound::Open),
                    ("<", Some(v)) => (Bound::Open, Bound::Exclusive(v)),
                    (_, Some(v)) => (Bound::Open, Bound::Inclusive(v)),
                };
                Ok(Node::Range { field, lower, upper, pos })
            }
            Tok::RangeOpen(inclusive) => self.range(field, inclusive, pos),
            _ => Err(expected()),
        }
    }

    /// A range after its opening bracket: `lower TO upper` and the closing one.
    fn range(&mut self, field: Field, inclusive: bool, pos: usize) -> Result<Node, QueryError> {
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
        let upper_token = self.signed_value();
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
            // A quoted bound, as Lucene's grammar allows: the only way to write one with a space.
            Some(Token { tok: Tok::Word { text, wildcard: false, .. } | Tok::Phrase(text), .. })
                if !text.is_empty() =>
            {
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

    fn bound(&mut self, inclusive: bool, msg: &str) -> Result<Bound, QueryError> {
        match self.signed_value() {
            Some(Token { tok: Tok::Word { text, wildcard: true, .. }, .. }) if text.is_empty() => Ok(Bound::Open),
            // `TO` is a bound too where one is expected (`[TO TO c]`), as in Lucene.
            Some(Token { tok: Tok::Word { text, wildcard: false, .. } | Tok::Phrase(text), .. })
                if !text.is_empty() =>
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

/// What a clause the analyzer left nothing of becomes: an empty boolean, which
/// [`combine`] drops from the boolean that holds it (and [`parse`] turns into a query
/// that matches nothing when it is all that is left).
const DROPPED: Node = Node::Or(Vec::new());

/// Whether a clause is dropped: a word or phrase on a field of words (`name`, a
/// custom field) in which Lucene's analyzer finds no word (`name:😀`, `city:"-"`,
/// `name:½`), or a group of nothing but such clauses. Lucene's parser leaves such a
/// clause out of its boolean, and a boolean left empty out of the one above it:
/// `name:linh AND name:😀` is `name:linh`. A term without a field is never dropped
/// (it searches `phone` too, as one value), nor a prefix or a range (not analyzed).
pub(super) fn dropped(node: &Node) -> bool {
    match node {
        Node::Or(items) => items.is_empty(),
        Node::Term { field: Field::Named(name), value: Value::Word(raw) | Value::Phrase(raw), .. } => {
            super::sql::of_words(name) && crate::domain::customer::name_words(raw).next().is_none()
        }
        _ => false,
    }
}

/// A boolean of clauses (see the module's doc): required ones, else plain ones,
/// less the prohibited ones; only prohibited ones: everything but them. Clauses
/// the analyzer left nothing of are left out first ([`dropped`]).
fn combine(mut items: Vec<(Occur, Node)>) -> Node {
    items.retain(|(_, node)| !dropped(node));
    if items.is_empty() {
        return DROPPED;
    }
    if items.len() == 1 && items[0].0 != Occur::MustNot {
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
            0 => {}
            1 => parts.push(should.remove(0)),
            _ => parts.push(Node::Or(should)),
        }
    }
    parts.extend(must_not);
    if parts.len() == 1 { parts.remove(0) } else { Node::And(parts) }
}
