//! The filter language of RFC 7644 §3.4.2.2 and the PATCH `path` of
//! §3.5.2: text → [`Filter`] / [`PatchPath`] (parser), and back (the
//! `Display` printer, whose output parses to the same tree).
//!
//! The parser never panics and bounds its work: at most
//! [`MAX_FILTER_LEN`] bytes, [`MAX_DEPTH`] nested groups and
//! [`MAX_TERMS`] comparisons, so the recursive printer, evaluator and `Drop`
//! stay shallow.

use std::fmt;

use serde_json::Number;

use crate::schema::KNOWN_URNS;

/// Longest filter or path accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 8 * 1024;
/// Deepest nesting of parentheses, `not` and value paths.
pub const MAX_DEPTH: usize = 32;
/// Most comparisons (`attrExp`s) in one filter.
pub const MAX_TERMS: usize = 256;

/// An attribute path: `[URN ":"] name ["." sub]` (RFC 7644 §3.10).
///
/// Names keep the case they were written in; they are compared
/// case-insensitively (RFC 7643 §2.1). Invariant of parsed paths: `name` and
/// `sub` are `ATTRNAME`s (`ALPHA *(ALPHA / DIGIT / "-" / "_")`, or `$ref`),
/// except that `name` is empty in a [`PatchPath`] naming a whole extension
/// schema.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, if written.
    pub urn: Option<String>,
    /// The attribute name.
    pub name: String,
    /// The sub-attribute name, if written.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path without URN or sub-attribute.
    pub fn new(name: impl Into<String>) -> Self {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }

    /// A path to a sub-attribute.
    pub fn with_sub(name: impl Into<String>, sub: impl Into<String>) -> Self {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: Some(sub.into()),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            f.write_str(urn)?;
            if !self.name.is_empty() {
                f.write_str(":")?;
            }
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator (RFC 7644 §3.4.2.2, Table 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal to.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal to.
    Le,
}

impl CompareOp {
    /// All operators.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator keyword, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether the operator orders values (`gt ge lt le`), which RFC 7644
    /// refuses for booleans and binaries.
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }
}

/// A comparison value (`compValue`): a JSON string, number, boolean or
/// `null`. Dates are strings; they compare as instants when the attribute is
/// a `dateTime`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompValue {
    /// A string (also how dates are written).
    Str(String),
    /// A number.
    Num(Number),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Str(s) => {
                let quoted = serde_json::Value::String(s.clone()).to_string();
                f.write_str(&quoted)
            }
            CompValue::Num(n) => write!(f, "{n}"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

/// A parsed filter (RFC 7644 §3.4.2.2).
///
/// `and` binds tighter than `or`; both associate to the left. Parentheses
/// only group and leave no node. `emails[type eq "work"].value eq "x"` (a
/// form Entra ID sends) is read as
/// `emails[type eq "work" and value eq "x"]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal.
        value: CompValue,
    },
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// `not (…)`.
    Not(Box<Filter>),
    /// `path[filter]`: some value of the (multi-valued, complex) attribute
    /// satisfies `filter`, whose paths name its sub-attributes. `path` has no
    /// sub-attribute.
    ValuePath {
        /// The complex attribute.
        path: AttrPath,
        /// The filter over one value's sub-attributes.
        filter: Box<Filter>,
    },
}

impl Filter {
    /// `self and other`.
    pub fn and(self, other: Filter) -> Filter {
        Filter::And(Box::new(self), Box::new(other))
    }

    /// `self or other`.
    pub fn or(self, other: Filter) -> Filter {
        Filter::Or(Box::new(self), Box::new(other))
    }

    /// `path eq value` for a string value.
    pub fn eq_str(path: AttrPath, value: impl Into<String>) -> Filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(value.into()),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn wrapped(f: &mut fmt::Formatter<'_>, x: &Filter, parens: bool) -> fmt::Result {
            if parens {
                write!(f, "({x})")
            } else {
                write!(f, "{x}")
            }
        }
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(l, r) => {
                wrapped(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                wrapped(f, r, matches!(**r, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(l, r) => {
                write!(f, "{l} or ")?;
                wrapped(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::Not(x) => write!(f, "not ({x})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

/// A PATCH operation's `path` (RFC 7644 §3.5.2): `attrPath`, or
/// `attrPath "[" valFilter "]" ["." subAttr]`, or a bare extension schema
/// URN (then `attr.name` is empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchPath {
    /// The attribute (without sub-attribute when `filter` is set).
    pub attr: AttrPath,
    /// The value filter, for multi-valued attributes.
    pub filter: Option<Filter>,
    /// The sub-attribute after the value filter.
    pub sub: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Why a filter or path did not parse, and where (a byte offset into the
/// text).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at byte {position}: {message}")]
pub struct FilterError {
    /// Byte offset into the filter text.
    pub position: usize,
    /// What was expected or wrong.
    pub message: String,
}

/// Parses a filter (RFC 7644 §3.4.2.2). Operators, `and`/`or`/`not` and
/// `true`/`false`/`null` are case-insensitive.
///
/// ```
/// use scim::{parse_filter, Filter};
/// let f = parse_filter(r#"userName Eq "bjensen" and not (emails co "example.org")"#)?;
/// assert_eq!(f.to_string(), r#"userName eq "bjensen" and not (emails co "example.org")"#);
/// assert!(matches!(f, Filter::And(..)));
/// # Ok::<(), scim::FilterError>(())
/// ```
pub fn parse_filter(text: &str) -> Result<Filter, FilterError> {
    let mut p = Parser::new(text)?;
    let filter = p.or_expr(false)?;
    p.skip_ws();
    if p.pos < p.src.len() {
        return Err(p.err("expected `and`, `or` or the end of the filter"));
    }
    Ok(filter)
}

/// Parses a PATCH path (RFC 7644 §3.5.2), e.g. `name.givenName`,
/// `members[value eq "2819c223"]`, `emails[type eq "work"].value` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`.
pub fn parse_path(text: &str) -> Result<PatchPath, FilterError> {
    let mut p = Parser::new(text)?;
    p.skip_ws();
    let start = p.pos;
    let token = p.attr_token();
    if token.is_empty() {
        return Err(p.err("expected an attribute path"));
    }
    let attr = match KNOWN_URNS.iter().find(|u| u.eq_ignore_ascii_case(token)) {
        Some(_) => AttrPath {
            urn: Some(token.to_owned()),
            name: String::new(),
            sub: None,
        },
        None => split_attr(token, start)?,
    };
    let mut path = PatchPath {
        attr,
        filter: None,
        sub: None,
    };
    if p.peek() == Some(b'[') {
        if path.attr.sub.is_some() || path.attr.name.is_empty() {
            return Err(p.err("a value filter follows an attribute, not a sub-attribute"));
        }
        p.pos += 1;
        p.depth = 1;
        let filter = p.or_expr(true)?;
        p.skip_ws();
        if p.peek() != Some(b']') {
            return Err(p.err("expected `]`"));
        }
        p.pos += 1;
        path.filter = Some(filter);
        if p.peek() == Some(b'.') {
            p.pos += 1;
            let at = p.pos;
            let sub = p.attr_token();
            check_name(sub, at)?;
            path.sub = Some(sub.to_owned());
        }
    }
    p.skip_ws();
    if p.pos < p.src.len() {
        return Err(p.err("unexpected text after the path"));
    }
    Ok(path)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    terms: usize,
}

fn is_attr_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$' | b':' | b'.')
}

/// Checks an `ATTRNAME` (or `$ref`).
fn check_name(name: &str, position: usize) -> Result<(), FilterError> {
    let mut bytes = name.bytes();
    let ok = name == "$ref"
        || (bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if ok {
        Ok(())
    } else {
        Err(FilterError {
            position,
            message: format!("`{name}` is not an attribute name"),
        })
    }
}

/// Splits `[urn:…:]name[.sub]` at `position`.
fn split_attr(token: &str, position: usize) -> Result<AttrPath, FilterError> {
    let (urn, rest, rest_at) = if token
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
    {
        // A known schema URN is a prefix ("…:2.0:User:name.givenName"); an
        // unknown one ends at the last colon.
        let known = KNOWN_URNS.iter().find(|u| {
            token
                .get(..u.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(u))
                && token.as_bytes().get(u.len()) == Some(&b':')
        });
        let split = match known {
            Some(u) => u.len(),
            None => token.rfind(':').unwrap_or(0),
        };
        let urn = token.get(..split).unwrap_or_default();
        let rest = token.get(split + 1..).unwrap_or_default();
        (Some(urn.to_owned()), rest, position + split + 1)
    } else {
        (None, token, position)
    };
    let mut parts = rest.splitn(3, '.');
    let name = parts.next().unwrap_or_default();
    check_name(name, rest_at)?;
    let sub = match parts.next() {
        Some(sub) => {
            check_name(sub, rest_at + name.len() + 1)?;
            Some(sub.to_owned())
        }
        None => None,
    };
    if parts.next().is_some() {
        return Err(FilterError {
            position: rest_at,
            message: "at most one sub-attribute level".into(),
        });
    }
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub,
    })
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self, FilterError> {
        if src.len() > MAX_FILTER_LEN {
            return Err(FilterError {
                position: MAX_FILTER_LEN,
                message: format!("longer than {MAX_FILTER_LEN} bytes"),
            });
        }
        Ok(Parser {
            src,
            pos: 0,
            depth: 0,
            terms: 0,
        })
    }

    fn err(&self, message: impl Into<String>) -> FilterError {
        FilterError {
            position: self.pos,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// The longest run of attribute-path bytes at the cursor (ASCII only, so
    /// the slice is on char boundaries).
    fn attr_token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_attr_byte) {
            self.pos += 1;
        }
        self.src.get(start..self.pos).unwrap_or_default()
    }

    /// The alphabetic word at the cursor, without consuming it.
    fn peek_word(&self) -> &'a str {
        let rest = self.src.get(self.pos..).unwrap_or_default();
        let end = rest
            .bytes()
            .position(|b| !b.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        rest.get(..end).unwrap_or_default()
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    /// Whether the word at the cursor is the keyword `kw`, followed by a
    /// delimiter (not by more attribute-name bytes).
    fn at_keyword(&self, kw: &str) -> bool {
        let word = self.peek_word();
        word.eq_ignore_ascii_case(kw)
            && !self
                .src
                .as_bytes()
                .get(self.pos + word.len())
                .copied()
                .is_some_and(is_attr_byte)
    }

    fn or_expr(&mut self, in_value: bool) -> Result<Filter, FilterError> {
        let mut left = self.and_expr(in_value)?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if save != self.pos && self.at_keyword("or") {
                self.pos += 2;
                let right = self.and_expr(in_value)?;
                left = left.or(right);
            } else {
                self.pos = save;
                return Ok(left);
            }
        }
    }

    fn and_expr(&mut self, in_value: bool) -> Result<Filter, FilterError> {
        let mut left = self.unary(in_value)?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if save != self.pos && self.at_keyword("and") {
                self.pos += 3;
                let right = self.unary(in_value)?;
                left = left.and(right);
            } else {
                self.pos = save;
                return Ok(left);
            }
        }
    }

    fn unary(&mut self, in_value: bool) -> Result<Filter, FilterError> {
        self.skip_ws();
        if self.at_keyword("not") {
            let save = self.pos;
            self.pos += 3;
            self.skip_ws();
            if self.peek() == Some(b'(') {
                self.enter()?;
                self.pos += 1;
                let inner = self.or_expr(in_value)?;
                self.close_paren()?;
                self.depth -= 1;
                return Ok(Filter::Not(Box::new(inner)));
            }
            // An attribute called "not".
            self.pos = save;
        }
        if self.peek() == Some(b'(') {
            self.enter()?;
            self.pos += 1;
            let inner = self.or_expr(in_value)?;
            self.close_paren()?;
            self.depth -= 1;
            return Ok(inner);
        }
        self.attr_exp(in_value)
    }

    fn close_paren(&mut self) -> Result<(), FilterError> {
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err("expected `)`"))
        }
    }

    fn attr_exp(&mut self, in_value: bool) -> Result<Filter, FilterError> {
        let start = self.pos;
        let token = self.attr_token();
        if token.is_empty() {
            return Err(self.err("expected an attribute path, `(` or `not (`"));
        }
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(FilterError {
                position: start,
                message: format!("more than {MAX_TERMS} comparisons"),
            });
        }
        let path = split_attr(token, start)?;
        if self.peek() == Some(b'[') {
            if in_value {
                return Err(self.err("value filters do not nest"));
            }
            if path.sub.is_some() {
                return Err(self.err("a value filter follows an attribute, not a sub-attribute"));
            }
            self.enter()?;
            self.pos += 1;
            let inner = self.or_expr(true)?;
            self.skip_ws();
            if self.peek() != Some(b']') {
                return Err(self.err("expected `]`"));
            }
            self.pos += 1;
            self.depth -= 1;
            // Entra ID form: `emails[type eq "work"].value eq "x"`.
            let filter = if self.peek() == Some(b'.') {
                self.pos += 1;
                let at = self.pos;
                let sub = self.attr_token();
                check_name(sub, at)?;
                let tail = self.operation(AttrPath::new(sub))?;
                inner.and(tail)
            } else {
                inner
            };
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(filter),
            });
        }
        self.operation(path)
    }

    /// ` pr` or ` op value` after `path`.
    fn operation(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        let save = self.pos;
        self.skip_ws();
        if save == self.pos {
            return Err(self.err("expected a space and an operator"));
        }
        let word = self.peek_word();
        if self.at_keyword("pr") {
            self.pos += 2;
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_word(word).filter(|_| !word.is_empty()) else {
            return Err(self.err("expected an operator: eq ne co sw ew gt ge lt le pr"));
        };
        self.pos += word.len();
        let save = self.pos;
        self.skip_ws();
        if save == self.pos {
            return Err(self.err("expected a space and a value"));
        }
        let value = self.value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn value(&mut self) -> Result<CompValue, FilterError> {
        let start = self.pos;
        let rest = self.src.get(start..).unwrap_or_default();
        match self.peek() {
            Some(b'"') => {
                let bytes = rest.as_bytes();
                let mut i = 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(self.err("unterminated string")),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                let literal = rest.get(..=i).unwrap_or_default();
                let s: String = serde_json::from_str(literal).map_err(|e| FilterError {
                    position: start,
                    message: format!("bad string literal: {e}"),
                })?;
                self.pos += i + 1;
                Ok(CompValue::Str(s))
            }
            Some(b) if b == b'-' || b.is_ascii_digit() => {
                let end = rest
                    .bytes()
                    .position(|b| {
                        !(b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
                    })
                    .unwrap_or(rest.len());
                let literal = rest.get(..end).unwrap_or_default();
                let bad = || FilterError {
                    position: start,
                    message: format!("`{literal}` is not a number"),
                };
                // serde_json checks the JSON number grammar; the value of a
                // float is read by Rust's correctly rounded parser, so that
                // printed floats parse back to the same bits.
                let n: Number = serde_json::from_str(literal).map_err(|_| bad())?;
                let n = if n.is_f64() {
                    literal
                        .parse::<f64>()
                        .ok()
                        .and_then(Number::from_f64)
                        .ok_or_else(bad)?
                } else {
                    n
                };
                self.pos += end;
                Ok(CompValue::Num(n))
            }
            _ => {
                let word = self.peek_word();
                let value = if word.eq_ignore_ascii_case("true") {
                    CompValue::Bool(true)
                } else if word.eq_ignore_ascii_case("false") {
                    CompValue::Bool(false)
                } else if word.eq_ignore_ascii_case("null") {
                    CompValue::Null
                } else {
                    return Err(
                        self.err("expected a value: a \"string\", a number, true, false or null")
                    );
                };
                if self
                    .src
                    .as_bytes()
                    .get(self.pos + word.len())
                    .copied()
                    .is_some_and(is_attr_byte)
                {
                    return Err(self.err("expected a value"));
                }
                self.pos += word.len();
                Ok(value)
            }
        }
    }
}
