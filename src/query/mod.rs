//! The filter language (CONTRACT §7): a Lucene / Elasticsearch `query_string`
//! subset. `parse` turns text into an AST whose leaves carry their source position;
//! compiling it to SQL for a dialect comes on top of this module.

mod lexer;
mod parser;
mod print;
pub mod sql;

pub use parser::parse;

/// A filter query as a request or a saved filter gave it: its text, parsed, and the
/// region its phone terms are read in. The store compiles it for its database.
#[derive(Debug, Clone)]
pub struct Query {
    pub text: String,
    pub node: Node,
    pub region: crate::domain::phone::Region,
}

impl Query {
    /// Parses `text`, and checks that every term can be compiled (a date compared
    /// with a word, say, cannot); the error gives the position (r=6).
    pub fn parse(text: &str, region: &crate::domain::phone::Region) -> Result<Query, QueryError> {
        let node = parse(text)?;
        let scope = sql::Scope { account_id: "", portal_id: "" };
        sql::compile(&node, sql::Dialect::Sqlite, scope, region)?;
        Ok(Query { text: text.to_string(), node, region: region.clone() })
    }
}

/// Where a query went wrong, as r=6 reports it: "expected a value after 'name:' at 5".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// Character offset into the query, from 0.
    pub pos: usize,
    pub msg: String,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}", self.msg, self.pos)
    }
}

/// The field a leaf names; resolving it to a built-in or custom field is the compiler's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// No field given: `name` and `phone`.
    Default,
    Named(String),
}

/// A term's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Word(String),
    Phrase(String),
    /// `lin*`: the text before the star.
    Prefix(String),
}

/// One end of a range; `*` is `Open`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Open,
    Inclusive(String),
    Exclusive(String),
}

/// The query AST. Leaves carry the character offset where they start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `*:*`
    All,
    Term {
        field: Field,
        value: Value,
        pos: usize,
    },
    Range {
        field: Field,
        lower: Bound,
        upper: Bound,
        pos: usize,
    },
    /// `_exists_:field`
    Exists {
        field: String,
        pos: usize,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

impl Node {
    /// The same tree with every position set to 0, for comparing shapes.
    pub fn without_positions(&self) -> Node {
        match self {
            Node::All => Node::All,
            Node::Term { field, value, .. } => Node::Term { field: field.clone(), value: value.clone(), pos: 0 },
            Node::Range { field, lower, upper, .. } => {
                Node::Range { field: field.clone(), lower: lower.clone(), upper: upper.clone(), pos: 0 }
            }
            Node::Exists { field, .. } => Node::Exists { field: field.clone(), pos: 0 },
            Node::And(items) => Node::And(items.iter().map(Node::without_positions).collect()),
            Node::Or(items) => Node::Or(items.iter().map(Node::without_positions).collect()),
            Node::Not(inner) => Node::Not(Box::new(inner.without_positions())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(q: &str) -> Node {
        parse(q).unwrap_or_else(|e| panic!("{q}: {e}")).without_positions()
    }

    fn named(f: &str, v: Value) -> Node {
        Node::Term { field: Field::Named(f.into()), value: v, pos: 0 }
    }

    fn word(f: &str, w: &str) -> Node {
        named(f, Value::Word(w.into()))
    }

    fn bare(w: &str) -> Node {
        Node::Term { field: Field::Default, value: Value::Word(w.into()), pos: 0 }
    }

    fn err(q: &str) -> String {
        parse(q).unwrap_err().to_string()
    }

    #[test]
    fn terms_phrases_and_prefixes() {
        assert_eq!(p("name:linh"), word("name", "linh"));
        assert_eq!(p("name:\"chị soa\""), named("name", Value::Phrase("chị soa".into())));
        assert_eq!(p("name:lin*"), named("name", Value::Prefix("lin".into())));
        assert_eq!(p("phone:8434*"), named("phone", Value::Prefix("8434".into())));
        assert_eq!(p("linh"), bare("linh"));
        assert_eq!(p("phone:+84901234567"), word("phone", "+84901234567"));
        assert_eq!(p(r"name:a\:b"), word("name", "a:b"));
    }

    #[test]
    fn escapes_and_spaces_as_lucene_reads_them() {
        // `\uXXXX` is the character it names, in terms, phrases and range bounds.
        assert_eq!(p(r"name:\u006cinh"), word("name", "linh"));
        assert_eq!(p(r"name:\u0110\u00e0i"), word("name", "Đài"));
        assert_eq!(p(r#"name:"ch\u1ecb soa""#), named("name", Value::Phrase("chị soa".into())));
        assert_eq!(p(r"\uD83D\uDE00"), bare("😀"));
        assert_eq!(p(r"\u0041ND"), bare("AND"));
        assert_eq!(p(r"a\\u"), bare("a\\u"));
        for q in [r"name:\u12", r"name:\u12g4", r"\uD83D", r"\uDE00x"] {
            assert!(err(q).starts_with("expected four hex digits of a character after '\\u'"), "{q}: {}", err(q));
        }
        // Only space, tab, CR, LF and the ideographic space separate terms; a no-break
        // or em space is part of the term (its words then any of them, as Lucene).
        assert_eq!(p("a AND b\u{a0}c"), Node::And(vec![bare("a"), bare("b\u{a0}c")]));
        assert_eq!(p("a AND b\u{2003}c"), Node::And(vec![bare("a"), bare("b\u{2003}c")]));
        assert_eq!(p("a\u{3000}b"), Node::Or(vec![bare("a"), bare("b")]));
        // `&&` and `||` glued to a term are the term's own (Lucene's longest match).
        assert_eq!(p("linh &&mai"), Node::Or(vec![bare("linh"), bare("&&mai")]));
        assert_eq!(p("linh ||mai"), Node::Or(vec![bare("linh"), bare("||mai")]));
        assert_eq!(p("linh &&-mai"), Node::Or(vec![bare("linh"), bare("&&-mai")]));
        assert_eq!(p("a &&(b)"), Node::And(vec![bare("a"), bare("b")]));
        assert_eq!(p("a &&!b"), Node::And(vec![bare("a"), not(bare("b"))]));
        assert_eq!(
            p("a ||\"b\""),
            Node::Or(vec![bare("a"), Node::Term { field: Field::Default, value: Value::Phrase("b".into()), pos: 0 }])
        );
    }

    #[test]
    fn clauses_the_analyzer_leaves_nothing_of_are_dropped() {
        let none = Node::Not(Box::new(Node::All));
        assert_eq!(p("name:linh AND name:😀"), word("name", "linh"));
        assert_eq!(p("+name:½ name:linh"), word("name", "linh"));
        assert_eq!(p("name:😀 NOT name:linh"), not(word("name", "linh")));
        assert_eq!(p("name:linh AND (city:\"-\" OR note:...)"), word("name", "linh"));
        assert_eq!(
            p("name:linh OR (name:😀 AND name:minh)"),
            Node::Or(vec![word("name", "linh"), word("name", "minh")])
        );
        assert_eq!(p("name:linh AND NOT name:😀"), word("name", "linh"));
        for q in ["name:😀", "NOT name:😀", "name:(😀 ½)", "(name:😀)", "-city:①"] {
            assert_eq!(p(q), none, "{q}");
        }
        // Kept: a term without a field (it searches `phone` too), exact fields, prefixes.
        assert_eq!(p("linh AND 😀"), Node::And(vec![bare("linh"), bare("😀")]));
        assert_eq!(p("email:😀"), word("email", "😀"));
        assert_eq!(p("name:😀*"), named("name", Value::Prefix("😀".into())));
    }

    #[test]
    fn lucene_equals_and_comparisons_without_a_colon() {
        let range = |lower, upper| Node::Range { field: Field::Named("created".into()), lower, upper, pos: 0 };
        assert_eq!(p("tier=gold"), word("tier", "gold"));
        assert_eq!(p("tier=(gold silver)"), Node::Or(vec![word("tier", "gold"), word("tier", "silver")]));
        assert_eq!(p("created>=5"), range(Bound::Inclusive("5".into()), Bound::Open));
        assert_eq!(p("created<5 linh"), Node::Or(vec![range(Bound::Open, Bound::Exclusive("5".into())), bare("linh")]));
        // They end a term, unless escaped or between a range's brackets.
        assert_eq!(p(r"a\=b"), bare("a=b"));
        assert_eq!(
            p("name:[a=b TO c>d]"),
            Node::Range {
                field: Field::Named("name".into()),
                lower: Bound::Inclusive("a=b".into()),
                upper: Bound::Inclusive("c>d".into()),
                pos: 0
            }
        );
        // Quoted: a comparison's value, an `_exists_` field's name.
        let named_range = |f: &str, lower, upper| Node::Range { field: Field::Named(f.into()), lower, upper, pos: 0 };
        assert_eq!(p(r#"city:>="da nang""#), named_range("city", Bound::Inclusive("da nang".into()), Bound::Open));
        assert_eq!(p(r#"tier<"m""#), named_range("tier", Bound::Open, Bound::Exclusive("m".into())));
        assert_eq!(p(r#"_exists_:"email""#), Node::Exists { field: "email".into(), pos: 0 });
        for q in ["name:linh=anh", "name==linh", "=linh", "linh="] {
            assert!(parse(q).is_err(), "{q}");
        }
    }

    #[test]
    fn range_bounds_as_lucene_reads_them() {
        let name = |lower, upper| Node::Range { field: Field::Named("name".into()), lower, upper, pos: 0 };
        let inc = |t: &str| Bound::Inclusive(t.into());
        // Between the brackets a bound runs to a space, `]` or `}`: syntax elsewhere is its own.
        assert_eq!(p("name:[a:b TO c]"), name(inc("a:b"), inc("c")));
        assert_eq!(p("name:[(a TO c^2]"), name(inc("(a"), inc("c^2")));
        assert_eq!(p("name:[a TO c~]"), name(inc("a"), inc("c~")));
        assert_eq!(p("name:[a TO [c)]"), name(inc("a"), inc("[c)")));
        assert_eq!(p("name:[-a TO +c!]"), name(inc("-a"), inc("+c!")));
        assert_eq!(p("name:[ a  TO  c ]"), name(inc("a"), inc("c")));
        assert_eq!(
            p("created:[-5 TO 10]").without_positions(),
            Node::Range { field: Field::Named("created".into()), lower: inc("-5"), upper: inc("10"), pos: 0 }
        );
        // A tab goes on with the bound (Lucene's grammar skips only a lone one).
        assert_eq!(err("name:[a\tTO\tc]"), "expected TO in the range at 12");
        // Quoted when that is the longer token; `""` is two quote marks.
        assert_eq!(p("name:[\"a b\" TO c]"), name(inc("a b"), inc("c")));
        assert_eq!(p("name:[\"a\"b TO c]"), name(inc("\"a\"b"), inc("c")));
        assert_eq!(p("name:[\"\" TO c]"), name(inc("\"\""), inc("c")));
        // `*` is an open end written plain, quoted or as `\u002a`; `\*` is a star.
        assert_eq!(p("name:[\"*\" TO c]"), name(Bound::Open, inc("c")));
        assert_eq!(p("name:[a TO \\u002a]"), name(inc("a"), Bound::Open));
        assert_eq!(p("name:[\\* TO c]"), name(inc("*"), inc("c")));
        // `TO` is a bound too where one goes.
        assert_eq!(p("name:[TO TO c]"), name(inc("TO"), inc("c")));
        assert_eq!(p("name:[b TO TO]"), name(inc("b"), inc("TO")));
        // An escape needs its character inside the bound.
        assert_eq!(err("name:[a TO c\\]]"), "expected a character after '\\' at 12");
        // A comparison with `*` is open at both ends.
        for q in ["name:>=*", "name:<*", "name:>\"*\""] {
            assert_eq!(p(q), name(Bound::Open, Bound::Open), "{q}");
        }
        // A comparison's value is a bound: its `*` and `?` are characters.
        assert_eq!(p("name:>a*b"), name(Bound::Exclusive("a*b".into()), Bound::Open));
        assert_eq!(p("name:<=&&*"), name(Bound::Open, inc("&&*")));
        assert_eq!(p("name:>=a?"), name(inc("a?"), Bound::Open));
        assert_eq!(p("name:>\\*"), name(Bound::Exclusive("*".into()), Bound::Open));
        assert_eq!(p("name:>\\u002a"), name(Bound::Open, Bound::Open));
        assert_eq!(p("name:>\"\\*\""), name(Bound::Exclusive("*".into()), Bound::Open));
        // Signed too.
        assert_eq!(p("name:>-a*b"), name(Bound::Exclusive("-a*b".into()), Bound::Open));
        assert_eq!(p("name:<=+1?"), name(Bound::Open, inc("+1?")));
        // A quoted bound's `"` after a `\` may close it: the longest reading is taken.
        assert_eq!(err("name:[\"a\\\" TO c]"), "expected a character after '\\' at 8");
        assert_eq!(p("name:[\"a\\\" b\" TO c]"), name(inc("a\" b"), inc("c")));
        assert_eq!(p("name:[\"\\\"\" TO c]"), name(inc("\""), inc("c")));
        // What follows a range goes on as usual.
        assert_eq!(p("name:[a TO c]AND x"), Node::And(vec![name(inc("a"), inc("c")), bare("x")]));
        // Printed and read again.
        for q in ["name:[\"a b\" TO \\*]", "name:[\"*\" TO c]", "name:[a TO \"c]d\"]"] {
            assert_eq!(parse(&p(q).to_string()).unwrap().without_positions(), p(q), "{q}");
        }
    }

    #[test]
    fn boosts_end_at_their_number_and_unicode_escapes_are_written_characters() {
        assert_eq!(p("linh^2x"), Node::Or(vec![bare("linh"), bare("x")]));
        assert_eq!(p("linh ^2"), bare("linh"));
        assert_eq!(p("name:linh^2.5"), word("name", "linh"));
        assert_eq!(err("name:linh^.5"), "expected a number after '^' at 10");
        assert_eq!(err("linh^ 2"), "expected a number after '^' at 5");
        // `\u002a` is a wildcard, `\*` a star, as Lucene reads them.
        assert_eq!(p("name:lin\\u002a"), named("name", Value::Prefix("lin".into())));
        assert_eq!(p("name:lin\\*"), word("name", "lin*"));
        assert_eq!(err("name:\\u002alin"), "a wildcard is only allowed at the end of a term at 5");
        assert!(err("name:lin\\u003f").starts_with("a single-character wildcard ('?') is not supported"));
    }

    #[test]
    fn ranges_and_comparisons() {
        let range = |lower, upper| Node::Range { field: Field::Named("created".into()), lower, upper, pos: 0 };
        assert_eq!(p("created:[1564592400 TO *]"), range(Bound::Inclusive("1564592400".into()), Bound::Open));
        assert_eq!(p("created:{1 TO 5}"), range(Bound::Exclusive("1".into()), Bound::Exclusive("5".into())));
        assert_eq!(p("created:[1 TO 5}"), range(Bound::Inclusive("1".into()), Bound::Exclusive("5".into())));
        assert_eq!(p("created:[* TO 5]"), range(Bound::Open, Bound::Inclusive("5".into())));
        assert_eq!(p("created:>=1564592400"), range(Bound::Inclusive("1564592400".into()), Bound::Open));
        assert_eq!(p("created:>7"), range(Bound::Exclusive("7".into()), Bound::Open));
        assert_eq!(p("created:<7"), range(Bound::Open, Bound::Exclusive("7".into())));
        assert_eq!(p("created:<=7"), range(Bound::Open, Bound::Inclusive("7".into())));
    }

    #[test]
    fn exists_and_match_all() {
        assert_eq!(p("_exists_:email"), Node::Exists { field: "email".into(), pos: 0 });
        assert_eq!(p("*:*"), Node::All);
    }

    #[test]
    fn operators_and_precedence() {
        // AND binds tighter than OR; bare clauses combine with OR.
        assert_eq!(p("a AND b OR c"), Node::Or(vec![Node::And(vec![bare("a"), bare("b")]), bare("c")]));
        assert_eq!(p("a b"), Node::Or(vec![bare("a"), bare("b")]));
        assert_eq!(p("a && b || c"), p("a AND b OR c"));
        assert_eq!(p("NOT a"), Node::Not(Box::new(bare("a"))));
        assert_eq!(p("!a"), p("NOT a"));
        assert_eq!(p("a AND NOT b"), Node::And(vec![bare("a"), Node::Not(Box::new(bare("b")))]));
        assert_eq!(p("(a OR b) AND c"), Node::And(vec![Node::Or(vec![bare("a"), bare("b")]), bare("c")]));
    }

    #[test]
    fn plus_and_minus_follow_elasticsearch() {
        // With a required clause, plain clauses are optional.
        assert_eq!(p("a +b -c"), Node::And(vec![bare("b"), Node::Not(Box::new(bare("c")))]));
        assert_eq!(p("a b -c"), Node::And(vec![Node::Or(vec![bare("a"), bare("b")]), Node::Not(Box::new(bare("c")))]));
        assert_eq!(p("-c"), Node::Not(Box::new(bare("c"))));
    }

    fn not(n: Node) -> Node {
        Node::Not(Box::new(n))
    }

    #[test]
    fn not_is_a_prohibited_clause_of_its_boolean_as_in_lucene() {
        // Beside OR or side by side, NOT excludes from what the others match.
        assert_eq!(p("a NOT b"), Node::And(vec![bare("a"), not(bare("b"))]));
        assert_eq!(p("a OR NOT b"), p("a NOT b"));
        assert_eq!(p("a OR !b"), p("a NOT b"));
        assert_eq!(p("a -b"), p("a NOT b"));
        // A modifier belongs to its one clause, not to the AND chain.
        assert_eq!(p("-a AND b"), Node::And(vec![bare("b"), not(bare("a"))]));
        assert_eq!(p("NOT a AND b"), p("-a AND b"));
        assert_eq!(p("a AND -b OR c"), Node::Or(vec![Node::And(vec![bare("a"), not(bare("b"))]), bare("c")]));
        // A required clause makes the plain ones optional, in OR as side by side.
        assert_eq!(p("a OR +b"), bare("b"));
        // Only prohibited clauses: everything but them, in a group too.
        assert_eq!(p("NOT a NOT b"), Node::And(vec![not(bare("a")), not(bare("b"))]));
        assert_eq!(p("a OR (NOT b)"), Node::Or(vec![bare("a"), not(bare("b"))]));
        assert_eq!(p("(NOT a)"), not(bare("a")));
    }

    #[test]
    fn a_clause_takes_one_modifier() {
        for q in ["NOT NOT a", "- -a", "+-a", "!NOT a", "NOT +a"] {
            let e = parse(q).unwrap_err();
            assert!(e.msg.starts_with("a clause takes one modifier"), "{q}: {e}");
        }
        assert_eq!(err("NOT NOT a").split(" at ").last(), Some("4"));
        assert_eq!(p("NOT (NOT a)"), not(not(bare("a"))));
    }

    #[test]
    fn the_reference_filters_parse() {
        assert_eq!(p("created:[1564592400 TO *] ").to_string(), "created:[1564592400 TO *]");
        assert_eq!(
            p("name:\"linh\" OR name:\"Đài\" OR name:\"Chị soa\" "),
            Node::Or(vec![
                named("name", Value::Phrase("linh".into())),
                named("name", Value::Phrase("Đài".into())),
                named("name", Value::Phrase("Chị soa".into())),
            ])
        );
    }

    #[test]
    fn errors_say_where_and_what() {
        assert_eq!(err("name:"), "expected a value after 'name:' at 5");
        assert_eq!(err(""), "expected a query at 0");
        assert_eq!(err("(a OR b"), "unclosed '(': expected ')' at 0");
        assert_eq!(err("a)"), "unexpected ')' at 1");
        assert_eq!(err("name:\"open"), "unclosed phrase: expected '\"' at 5");
        assert_eq!(err("created:[1 5]"), "expected TO in the range at 11");
        assert_eq!(err("created:[1 TO 5"), "expected ']' or '}' to close the range at 15");
        assert_eq!(err("a AND"), "expected a clause after AND at 5");
        assert_eq!(err("a OR"), "expected a clause after OR at 4");
        assert_eq!(err("NOT"), "expected a clause after NOT at 3");
        assert_eq!(err("name:*abc"), "a wildcard is only allowed at the end of a term at 5");
        assert_eq!(err("created:>"), "expected a value after '>' at 9");
        assert_eq!(err("()"), "expected a clause inside '()' at 1");
        assert_eq!(err(&"(".repeat(5000)), "the query nests deeper than 64 levels at 65");
        assert_eq!(err(&"(NOT ".repeat(2000)), "the query nests deeper than 64 levels at 325");
        // `field:(` is one level, as `(` is: 64 of them are read, 65 are not.
        let fielded = |n: usize| format!("name:{}linh{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&fielded(64)).is_ok());
        assert_eq!(err(&fielded(65)), "the query nests deeper than 64 levels at 70");
        // NUL, raw or escaped, is no character a contact can hold.
        for q in ["name:a\0b", "email:\\u0000", "a\\u0000b:x", "name:[\\u0000 TO b]"] {
            assert!(err(q).starts_with("a query cannot hold the character U+0000 (NUL) at "), "{q}: {}", err(q));
        }
        assert_eq!(err(&"a ".repeat(6000)), "the query is longer than 10000 characters at 10000");
        assert!(parse(&format!("{}a{}", "(".repeat(64), ")".repeat(64))).is_ok());
        // Lucene's suffixes: a boost changes no match and is read; slop above 0,
        // fuzzy terms and '?' would match what callsheet does not find: refused.
        assert_eq!(
            err("name:/h.ang/"),
            "regular expressions ('/…/') are not supported: escape it as '\\/' to match a '/' at 5"
        );
        assert_eq!(err("a/b"), "regular expressions ('/…/') are not supported: escape it as '\\/' to match a '/' at 1");
        assert_eq!(err("linh~"), "fuzzy terms ('~') are not supported at 4");
        assert_eq!(err("name:linh~1"), "fuzzy terms ('~') are not supported at 9");
        assert_eq!(err("\"soa linh\"~2"), "a phrase's slop ('~N' above 0) is not supported at 10");
        assert_eq!(
            err("lin?"),
            "a single-character wildcard ('?') is not supported: escape it as '\\?' to match a '?' at 3"
        );
        assert_eq!(err("linh^"), "expected a number after '^' at 5");
        assert_eq!(err("linh^x"), "expected a number after '^' at 5");
        for q in ["linh^2", "name:linh^0.5", "(linh OR soa)^3", "\"soa linh\"^2", "\"soa linh\"~0", "lin*^2"] {
            assert!(parse(q).is_ok(), "{q}");
        }
        assert_eq!(parse("linh^2").unwrap(), parse("linh").unwrap());
        assert_eq!(parse("a AND (b OR c)^2").unwrap(), parse("a AND (b OR c)").unwrap());
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9]{1,8}",
            "[a-zđàáạảãâầấậẩẫăằắặẳẵ ]{1,8}",
            Just("AND".to_string()),
            Just("TO".to_string()),
            "[a-z:()\\[\\]{}\"*?+!<>&|^~/\\\\-]{1,6}",
        ]
    }

    fn leaf() -> impl Strategy<Value = Node> {
        let field = prop_oneof![Just(Field::Default), text().prop_map(Field::Named)];
        let value =
            prop_oneof![text().prop_map(Value::Word), text().prop_map(Value::Phrase), text().prop_map(Value::Prefix),];
        let bound = |inclusive: bool| {
            prop_oneof![
                Just(Bound::Open),
                text().prop_map(move |t| if inclusive { Bound::Inclusive(t) } else { Bound::Exclusive(t) }),
            ]
        };
        prop_oneof![
            Just(Node::All),
            // A term Lucene's analyzer leaves nothing of is dropped when parsed.
            (field, value)
                .prop_map(|(field, value)| Node::Term { field, value, pos: 0 })
                .prop_filter("a term with a word", |term| !parser::dropped(term)),
            (text(), any::<bool>().prop_flat_map(bound), any::<bool>().prop_flat_map(bound))
                .prop_map(|(f, lower, upper)| Node::Range { field: Field::Named(f), lower, upper, pos: 0 }),
            text().prop_map(|f| Node::Exists { field: f, pos: 0 }),
        ]
    }

    fn tree() -> impl Strategy<Value = Node> {
        leaf().prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Node::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Node::Or),
                inner.prop_map(|n| Node::Not(Box::new(n))),
            ]
        })
    }

    proptest! {
        #[test]
        fn printing_and_parsing_again_gives_the_same_tree(node in tree()) {
            let printed = node.to_string();
            let parsed = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
            prop_assert_eq!(parsed.without_positions(), node, "{}", printed);
        }
    }
}
