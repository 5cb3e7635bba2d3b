//! Row filters: a user-supplied SQL boolean expression is parsed with `sqlparser`
//! (PostgreSQL dialect), checked against a small allow-list, and turned into a typed
//! tree. SQL for the publication is rendered from that tree with every identifier
//! quoted and every literal escaped — the original text is never pasted into SQL.
//!
//! Allowed: unqualified column references to declared columns, numeric, string,
//! boolean and NULL literals, comparisons (`= <> != < <= > >=`), AND / OR / NOT, IN
//! (a literal list), BETWEEN, IS [NOT] NULL, [NOT] LIKE. Everything else — function
//! calls, casts, subqueries, operators, several statements — is refused.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use sqlparser::ast::{BinaryOperator, Expr, InTarget, UnaryOperator, Value};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

/// A literal value in a row filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `NULL`.
    Null,
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// A numeric literal, kept as validated text (`-12.5`, `1e6`).
    Number(String),
    /// A string literal (unescaped content).
    Text(String),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

impl CmpOp {
    fn as_sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "<>",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }
}

/// The typed tree of an accepted row filter.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterExpr {
    /// A column of the source table (name after PostgreSQL case folding).
    Column(String),
    /// A literal.
    Literal(Literal),
    /// `left op right`.
    Compare(Box<FilterExpr>, CmpOp, Box<FilterExpr>),
    /// `left AND right`.
    And(Box<FilterExpr>, Box<FilterExpr>),
    /// `left OR right`.
    Or(Box<FilterExpr>, Box<FilterExpr>),
    /// `NOT expr`.
    Not(Box<FilterExpr>),
    /// `expr IS [NOT] NULL`.
    IsNull {
        /// Tested expression.
        expr: Box<FilterExpr>,
        /// `IS NOT NULL` when true.
        negated: bool,
    },
    /// `expr [NOT] IN (list)`.
    In {
        /// Tested expression.
        expr: Box<FilterExpr>,
        /// Literal list.
        list: Vec<FilterExpr>,
        /// `NOT IN` when true.
        negated: bool,
    },
    /// `expr [NOT] BETWEEN low AND high`.
    Between {
        /// Tested expression.
        expr: Box<FilterExpr>,
        /// Lower bound.
        low: Box<FilterExpr>,
        /// Upper bound.
        high: Box<FilterExpr>,
        /// `NOT BETWEEN` when true.
        negated: bool,
    },
    /// `expr [NOT] LIKE pattern`.
    Like {
        /// Tested expression.
        expr: Box<FilterExpr>,
        /// Pattern.
        pattern: Box<FilterExpr>,
        /// `NOT LIKE` when true.
        negated: bool,
    },
}

/// A row filter that passed validation.
#[derive(Clone, Debug, PartialEq)]
pub struct RowFilter {
    /// The typed expression.
    pub expr: FilterExpr,
}

/// Why a row filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RowFilterError(pub String);

fn refuse<T>(msg: impl Into<String>) -> Result<T, RowFilterError> {
    Err(RowFilterError(msg.into()))
}

impl RowFilter {
    /// Parse and validate `text`. When `columns` is given, every column reference must be
    /// one of them (unknown columns fail closed).
    pub fn parse(text: &str, columns: Option<&BTreeSet<&str>>) -> Result<Self, RowFilterError> {
        if text.chars().count() > MAX_LENGTH {
            // The API server refuses these already; offline checks must not hand
            // `sqlparser` a tree it drops recursively (a long enough chain overflows the
            // stack).
            return refuse(format!("row filter is longer than {MAX_LENGTH} characters"));
        }
        let dialect = PostgreSqlDialect {};
        let mut parser = Parser::new(&dialect)
            .try_with_sql(text)
            .map_err(|e| RowFilterError(format!("cannot parse row filter: {e}")))?;
        let parsed = parser.parse_expr().map_err(|e| RowFilterError(format!("cannot parse row filter: {e}")))?;
        match parser.peek_token().token {
            Token::EOF => {}
            Token::SemiColon => return refuse("row filter must be a single expression, not several statements"),
            other => return refuse(format!("unexpected {other} after the row filter expression")),
        }
        let expr = convert(&parsed, columns, 0)?;
        if matches!(expr, FilterExpr::Column(_) | FilterExpr::Literal(_)) {
            // PostgreSQL would accept a boolean column here; a bare literal or a
            // non-boolean column would only fail later inside CREATE PUBLICATION.
            return refuse("row filter must be a condition (comparison, IN, BETWEEN, IS NULL, LIKE, AND/OR/NOT)");
        }
        Ok(Self { expr })
    }

    /// Columns referenced by the filter.
    pub fn columns(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        collect_columns(&self.expr, &mut out);
        out
    }

    /// The filter as SQL: identifiers double-quoted, strings single-quoted with quotes
    /// doubled (valid with `standard_conforming_strings = on`, PostgreSQL's default
    /// since 9.1), every sub-expression parenthesized.
    pub fn to_sql(&self) -> String {
        let mut out = String::new();
        render(&self.expr, &mut out);
        out
    }
}

fn collect_columns(expr: &FilterExpr, out: &mut BTreeSet<String>) {
    match expr {
        FilterExpr::Column(c) => {
            out.insert(c.clone());
        }
        FilterExpr::Literal(_) => {}
        FilterExpr::Compare(l, _, r) | FilterExpr::And(l, r) | FilterExpr::Or(l, r) => {
            collect_columns(l, out);
            collect_columns(r, out);
        }
        FilterExpr::Not(e) | FilterExpr::IsNull { expr: e, .. } => collect_columns(e, out),
        FilterExpr::In { expr, list, .. } => {
            collect_columns(expr, out);
            for e in list {
                collect_columns(e, out);
            }
        }
        FilterExpr::Between { expr, low, high, .. } => {
            collect_columns(expr, out);
            collect_columns(low, out);
            collect_columns(high, out);
        }
        FilterExpr::Like { expr, pattern, .. } => {
            collect_columns(expr, out);
            collect_columns(pattern, out);
        }
    }
}

/// Quote an identifier for PostgreSQL: wrap in double quotes, double embedded quotes.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quote a string literal for PostgreSQL with `standard_conforming_strings = on`.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn render(expr: &FilterExpr, out: &mut String) {
    let bin = |out: &mut String, l: &FilterExpr, op: &str, r: &FilterExpr| {
        out.push('(');
        render(l, out);
        let _ = write!(out, " {op} ");
        render(r, out);
        out.push(')');
    };
    let not = |negated: bool| if negated { "NOT " } else { "" };
    match expr {
        FilterExpr::Column(c) => out.push_str(&quote_ident(c)),
        FilterExpr::Literal(Literal::Null) => out.push_str("NULL"),
        FilterExpr::Literal(Literal::Bool(b)) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        FilterExpr::Literal(Literal::Number(n)) => {
            // Parenthesized so that a negative number never merges with a preceding
            // operator into a comment (`--`).
            let _ = write!(out, "({n})");
        }
        FilterExpr::Literal(Literal::Text(t)) => out.push_str(&quote_literal(t)),
        FilterExpr::Compare(l, op, r) => bin(out, l, op.as_sql(), r),
        FilterExpr::And(l, r) => bin(out, l, "AND", r),
        FilterExpr::Or(l, r) => bin(out, l, "OR", r),
        FilterExpr::Not(e) => {
            out.push_str("(NOT ");
            render(e, out);
            out.push(')');
        }
        FilterExpr::IsNull { expr, negated } => {
            out.push('(');
            render(expr, out);
            let _ = write!(out, " IS {}NULL)", not(*negated));
        }
        FilterExpr::In { expr, list, negated } => {
            out.push('(');
            render(expr, out);
            let _ = write!(out, " {}IN (", not(*negated));
            for (i, e) in list.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(e, out);
            }
            out.push_str("))");
        }
        FilterExpr::Between { expr, low, high, negated } => {
            out.push('(');
            render(expr, out);
            let _ = write!(out, " {}BETWEEN ", not(*negated));
            render(low, out);
            out.push_str(" AND ");
            render(high, out);
            out.push(')');
        }
        FilterExpr::Like { expr, pattern, negated } => {
            bin(out, expr, if *negated { "NOT LIKE" } else { "LIKE" }, pattern);
        }
    }
}

/// The longest row filter accepted, in characters: the CRD's `maxLength` of `rowFilter`.
pub const MAX_LENGTH: usize = 4096;

/// How deep a filter's tree may be. `sqlparser` stops at about 50 levels of parentheses
/// but parses a flat `a OR b OR …` chain into a tree as deep as the chain is long, which
/// would overflow the stack while converting it (a 4 KiB filter is enough in a debug
/// build). Within this depth, the fully parenthesized SQL of [`RowFilter::to_sql`] also
/// stays within what the parser reads back.
pub const MAX_DEPTH: usize = 32;

/// Convert a sub-expression one level below `depth`.
fn boxed(e: &Expr, columns: Option<&BTreeSet<&str>>, depth: usize) -> Result<Box<FilterExpr>, RowFilterError> {
    convert(e, columns, depth + 1).map(Box::new)
}

fn convert(e: &Expr, columns: Option<&BTreeSet<&str>>, depth: usize) -> Result<FilterExpr, RowFilterError> {
    if depth > MAX_DEPTH {
        return refuse(format!(
            "row filter nests more than {MAX_DEPTH} levels; use IN (...) for a long list of alternatives"
        ));
    }
    Ok(match e {
        // Parentheses add no level to the tree (and `sqlparser` bounds their nesting).
        Expr::Nested(inner) => convert(inner, columns, depth)?,
        Expr::Identifier(ident) => {
            // PostgreSQL folds unquoted identifiers to lower case.
            let name = if ident.quote_style.is_some() { ident.value.clone() } else { ident.value.to_lowercase() };
            if ident.quote_style.is_some_and(|q| q != '"') {
                return refuse(format!("{ident} is not a column reference"));
            }
            if let Some(cols) = columns
                && !cols.contains(name.as_str())
            {
                return refuse(format!("row filter references column {name:?}, which the table does not declare"));
            }
            FilterExpr::Column(name)
        }
        Expr::CompoundIdentifier(parts) => {
            return refuse(format!(
                "qualified name {} is not allowed; refer to columns of the exported table by name",
                parts.iter().map(ToString::to_string).collect::<Vec<_>>().join(".")
            ));
        }
        Expr::Value(v) => FilterExpr::Literal(literal(&v.value)?),
        Expr::UnaryOp { op: UnaryOperator::Not, expr } => FilterExpr::Not(boxed(expr, columns, depth)?),
        Expr::UnaryOp { op: UnaryOperator::Minus, expr } => match expr.as_ref() {
            Expr::Value(v) => match literal(&v.value)? {
                Literal::Number(n) if !n.starts_with('-') => FilterExpr::Literal(Literal::Number(format!("-{n}"))),
                _ => return refuse("unary minus is only allowed before a number"),
            },
            _ => return refuse("unary minus is only allowed before a number"),
        },
        Expr::BinaryOp { left, op, right } => {
            let (l, r) = (boxed(left, columns, depth)?, boxed(right, columns, depth)?);
            match op {
                BinaryOperator::And => FilterExpr::And(l, r),
                BinaryOperator::Or => FilterExpr::Or(l, r),
                BinaryOperator::Eq => FilterExpr::Compare(l, CmpOp::Eq, r),
                BinaryOperator::NotEq => FilterExpr::Compare(l, CmpOp::NotEq, r),
                BinaryOperator::Lt => FilterExpr::Compare(l, CmpOp::Lt, r),
                BinaryOperator::LtEq => FilterExpr::Compare(l, CmpOp::LtEq, r),
                BinaryOperator::Gt => FilterExpr::Compare(l, CmpOp::Gt, r),
                BinaryOperator::GtEq => FilterExpr::Compare(l, CmpOp::GtEq, r),
                other => return refuse(format!("operator {other} is not allowed in a row filter")),
            }
        }
        Expr::IsNull(inner) => FilterExpr::IsNull { expr: boxed(inner, columns, depth)?, negated: false },
        Expr::IsNotNull(inner) => FilterExpr::IsNull { expr: boxed(inner, columns, depth)?, negated: true },
        Expr::In { expr, target: InTarget::List(list), negated, .. } => FilterExpr::In {
            expr: boxed(expr, columns, depth)?,
            list: list
                .iter()
                .map(|item| match item {
                    // `(x)` and `-1` are literals too, but `(col)` or `NOT col` are not.
                    Expr::Value(_) | Expr::UnaryOp { .. } | Expr::Nested(_) => match convert(item, columns, depth + 1)?
                    {
                        literal @ FilterExpr::Literal(_) => Ok(literal),
                        _ => refuse("IN lists may only contain literals"),
                    },
                    _ => refuse("IN lists may only contain literals"),
                })
                .collect::<Result<_, _>>()?,
            negated: *negated,
        },
        Expr::In { .. } => return refuse("IN is only allowed with a list of literals (no subqueries)"),
        Expr::Between { expr, negated, low, high } => FilterExpr::Between {
            expr: boxed(expr, columns, depth)?,
            low: boxed(low, columns, depth)?,
            high: boxed(high, columns, depth)?,
            negated: *negated,
        },
        Expr::Like { negated, any: false, expr, pattern, escape_char: None } => FilterExpr::Like {
            expr: boxed(expr, columns, depth)?,
            pattern: boxed(pattern, columns, depth)?,
            negated: *negated,
        },
        Expr::Like { .. } => return refuse("LIKE ANY and LIKE ... ESCAPE are not allowed in a row filter"),
        Expr::Function(f) => return refuse(format!("function call {} is not allowed in a row filter", f.name)),
        Expr::Subquery(_) | Expr::Exists { .. } => return refuse("subqueries are not allowed in a row filter"),
        Expr::Cast { .. } => return refuse("casts are not allowed in a row filter"),
        other => return refuse(format!("expression `{other}` is not allowed in a row filter")),
    })
}

fn literal(v: &Value) -> Result<Literal, RowFilterError> {
    Ok(match v {
        Value::Null => Literal::Null,
        Value::Boolean(b) => Literal::Bool(*b),
        Value::Number(n, false) => {
            let n = n.clone();
            let well_formed = !n.is_empty()
                && n.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
                && n.starts_with(|c: char| c.is_ascii_digit() || c == '.')
                && n.parse::<f64>().is_ok();
            if !well_formed {
                return refuse(format!("{n} is not a plain numeric literal"));
            }
            Literal::Number(n)
        }
        Value::SingleQuotedString(s) => {
            if s.contains('\0') {
                return refuse("string literals may not contain NUL");
            }
            Literal::Text(s.clone())
        }
        other => {
            return refuse(format!("literal {other} is not allowed; use a plain 'string', number, TRUE/FALSE or NULL"));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> BTreeSet<&'static str> {
        ["ts", "device_id", "firmware", "temperature", "Mixed"].into_iter().collect()
    }

    #[test]
    fn accepted_filters_render_quoted() {
        let cases = [
            ("temperature > 20", r#"("temperature" > (20))"#),
            (
                "firmware LIKE 'v2.%' AND NOT temperature IS NULL",
                r#"(("firmware" LIKE 'v2.%') AND (NOT ("temperature" IS NULL)))"#,
            ),
            ("device_id IN ('a', 'b''c')", r#"("device_id" IN ('a', 'b''c'))"#),
            ("temperature NOT BETWEEN -5 AND 1e3", r#"("temperature" NOT BETWEEN (-5) AND (1e3))"#),
            ("\"Mixed\" <> 'x' OR FIRMWARE IS NOT NULL", r#"(("Mixed" <> 'x') OR ("firmware" IS NOT NULL))"#),
            ("temperature != 3.5", r#"("temperature" <> (3.5))"#),
            ("firmware NOT LIKE 'beta%'", r#"("firmware" NOT LIKE 'beta%')"#),
        ];
        for (input, sql) in cases {
            let f = RowFilter::parse(input, Some(&cols())).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(f.to_sql(), sql, "{input}");
            // Rendering is a fixed point: the rendered SQL parses to the same tree.
            assert_eq!(RowFilter::parse(&f.to_sql(), Some(&cols())).unwrap(), f, "{input}");
        }
    }

    #[test]
    fn refused_filters_say_why() {
        let cases = [
            ("now() > ts", "function call"),
            ("ts > (SELECT max(ts) FROM t)", "subqueries"),
            ("temperature > 1; DROP TABLE x", "single expression"),
            ("temperature::int > 1", "casts"),
            ("t.temperature > 1", "qualified"),
            ("email = 'x'", "does not declare"),
            ("temperature + 1 > 2", "operator"),
            ("temperature IN (SELECT 1)", "subqueries"),
            ("device_id IN (firmware)", "literals"),
            ("", "cannot parse"),
            ("temperature >", "cannot parse"),
            ("TRUE", "must be a condition"),
            ("firmware", "must be a condition"),
            ("firmware LIKE 'a' ESCAPE '!'", "ESCAPE"),
            ("EXISTS (SELECT 1)", "subqueries"),
            ("- temperature > 1", "unary minus"),
            ("firmware = E'\\x41'", "not allowed"),
            ("firmware = $1", "not allowed"),
            ("temperature > 1 -- comment\n OR TRUE", ""),
        ];
        for (input, needle) in cases {
            match RowFilter::parse(input, Some(&cols())) {
                Err(e) => assert!(e.0.contains(needle), "{input}: {e}"),
                // A trailing comment is harmless: it is not part of the rendered SQL.
                Ok(f) => assert!(input.contains("--") && !f.to_sql().contains("--"), "{input} was accepted"),
            }
        }
    }

    #[test]
    fn quoting_helpers_double_their_quote() {
        assert_eq!(quote_ident(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn columns_are_collected() {
        let f =
            RowFilter::parse("ts > '2024-01-01' AND (firmware IS NULL OR temperature BETWEEN 1 AND 2)", None).unwrap();
        assert_eq!(f.columns().into_iter().collect::<Vec<_>>(), ["firmware", "temperature", "ts"]);
    }
}
