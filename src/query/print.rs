//! Printing an AST back as query text that parses to the same tree.

use std::fmt::{self, Display, Formatter, Write};

use super::{Bound, Field, Node, Value};

/// Escapes every character the lexer would read as syntax.
fn escape(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_whitespace() || "()[]{}:\"\\*?+-!<>=&|^~/".contains(c) {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    Ok(())
}

/// Words the parser would take as operators are escaped whole.
fn word(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    if matches!(text, "AND" | "OR" | "NOT" | "TO") {
        f.write_char('\\')?;
    }
    escape(f, text)
}

fn quoted(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

fn value(f: &mut Formatter<'_>, v: &Value) -> fmt::Result {
    match v {
        Value::Word(w) => word(f, w),
        Value::Prefix(p) => {
            word(f, p)?;
            f.write_char('*')
        }
        Value::Phrase(p) => quoted(f, p),
    }
}

/// A range's bound, as the lexer reads one between brackets: plain when it is
/// letters, digits and a few marks; a literal star escaped (a plain or quoted one is
/// an open end); anything else quoted, its `"` and `\\` written as `\\u` escapes (a
/// `"` after a `\\` may go on with the bound, as Lucene reads one).
fn bound(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    if text == "*" {
        f.write_str("\\*")
    } else if !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || "-+._@".contains(c)) {
        f.write_str(text)
    } else {
        f.write_char('"')?;
        for c in text.chars() {
            match c {
                '"' => f.write_str("\\u0022")?,
                '\\' => f.write_str("\\u005c")?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

fn field(f: &mut Formatter<'_>, field: &Field) -> fmt::Result {
    match field {
        Field::Default => Ok(()),
        Field::Named(name) => {
            word(f, name)?;
            f.write_char(':')
        }
    }
}

impl Display for Node {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Node::All => f.write_str("*:*"),
            Node::Term { field: name, value: v, .. } => {
                field(f, name)?;
                value(f, v)
            }
            Node::Range { field: name, lower, upper, .. } => {
                field(f, name)?;
                match lower {
                    Bound::Open => f.write_str("[*")?,
                    Bound::Inclusive(v) => {
                        f.write_char('[')?;
                        bound(f, v)?;
                    }
                    Bound::Exclusive(v) => {
                        f.write_char('{')?;
                        bound(f, v)?;
                    }
                }
                f.write_str(" TO ")?;
                match upper {
                    Bound::Open => f.write_str("*]"),
                    Bound::Inclusive(v) => {
                        bound(f, v)?;
                        f.write_char(']')
                    }
                    Bound::Exclusive(v) => {
                        bound(f, v)?;
                        f.write_char('}')
                    }
                }
            }
            Node::Exists { field: name, .. } => {
                f.write_str("_exists_:")?;
                word(f, name)
            }
            Node::And(items) | Node::Or(items) => {
                let op = if matches!(self, Node::And(_)) { " AND " } else { " OR " };
                f.write_char('(')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    item.fmt(f)?;
                }
                f.write_char(')')
            }
            // In parentheses: a NOT beside other clauses would make a prohibited
            // clause of their boolean, not a group of its own.
            Node::Not(inner) => {
                f.write_str("(NOT ")?;
                inner.fmt(f)?;
                f.write_char(')')
            }
        }
    }
}
