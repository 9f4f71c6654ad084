//! Expressions as written on a blackboard — `(x + y) * z`, `tanh(W @ x + b)`, `x²`,
//! `[[1, 2], [3, 4]] @ w` — parsed into a tree and evaluated with nabla tensors, so that
//! the graph is recorded and can be narrated.
//!
//! Operators, loosest first: `+ -` (also `−`), `* / @` (also `× · ÷`), unary minus,
//! `^` (also `**`, right-associative, and the postfix `²` `³`). Functions: `exp`, `log`
//! (`ln`), `sqrt`, `abs`, `sin`, `cos`, `tanh`, `sigmoid` (`σ`), `relu`, `sum`, `mean`,
//! `pow(a, b)`, `matmul(a, b)`.
//!
//! ```
//! use nabla_cli::expr::{parse, Expr};
//! let e = parse("(x + y) * z").unwrap();
//! assert_eq!(e.to_string(), "((x + y) * z)");
//! let err = parse("(x + ) * z").unwrap_err();
//! assert_eq!(err.to_string(), "col 6: expected an operand, found ')'");
//! ```

use nabla::{DType, Tensor};
use std::collections::BTreeMap;
use std::fmt;

/// A parse or evaluation error, at a column of the expression (1-based, in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// 1-based column of the offending character.
    pub col: usize,
    /// What is wrong.
    pub msg: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "col {}: {}", self.col, self.msg)
    }
}

impl std::error::Error for ExprError {}

fn err<T>(col: usize, msg: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError { col, msg: msg.into() })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(char),
    Open(char),
    Close(char),
    Comma,
    /// `²`, `³`
    Sup(f64),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Num(v) => write!(f, "{v}"),
            Tok::Ident(s) => write!(f, "{s}"),
            Tok::Op(c) | Tok::Open(c) | Tok::Close(c) => write!(f, "{c}"),
            Tok::Comma => write!(f, ","),
            Tok::Sup(p) => write!(f, "{}", if *p == 2.0 { '²' } else { '³' }),
        }
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '0'..='9' | '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    let mut j = i + 1;
                    if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        i = j;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                let text: String = chars[start..i].iter().collect();
                match text.parse::<f64>() {
                    Ok(v) => out.push((Tok::Num(v), col)),
                    Err(_) => return err(col, format!("'{text}' is not a number")),
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphabetic() || chars[i].is_ascii_digit() || chars[i] == '_') {
                    i += 1;
                }
                out.push((Tok::Ident(chars[start..i].iter().collect()), col));
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                out.push((Tok::Op('^'), col));
                i += 2;
            }
            '+' | '^' | '@' | '/' | '*' => {
                out.push((Tok::Op(c), col));
                i += 1;
            }
            '-' | '−' => {
                out.push((Tok::Op('-'), col));
                i += 1;
            }
            '×' | '·' | '⋅' => {
                out.push((Tok::Op('*'), col));
                i += 1;
            }
            '÷' => {
                out.push((Tok::Op('/'), col));
                i += 1;
            }
            '²' => {
                out.push((Tok::Sup(2.0), col));
                i += 1;
            }
            '³' => {
                out.push((Tok::Sup(3.0), col));
                i += 1;
            }
            '(' | '[' => {
                out.push((Tok::Open(c), col));
                i += 1;
            }
            ')' | ']' => {
                out.push((Tok::Close(c), col));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, col));
                i += 1;
            }
            c => return err(col, format!("unexpected character '{c}'")),
        }
    }
    Ok(out)
}

/// A literal tensor: its values in row-major order and its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    /// The numbers, row by row.
    pub data: Vec<f64>,
    /// `[]` for a number, `[n]` for `[..]`, `[r, c]` for `[[..], ..]`.
    pub shape: Vec<usize>,
}

impl Literal {
    /// The literal as a float64 tensor.
    pub fn to_tensor(&self) -> Tensor {
        Tensor::from_vec(self.data.clone(), &self.shape)
    }
}

/// The functions an expression may call, with their arity.
pub const FUNCTIONS: &[(&str, usize)] = &[
    ("exp", 1),
    ("log", 1),
    ("ln", 1),
    ("sqrt", 1),
    ("abs", 1),
    ("sin", 1),
    ("cos", 1),
    ("tanh", 1),
    ("sigmoid", 1),
    ("σ", 1),
    ("relu", 1),
    ("sum", 1),
    ("mean", 1),
    ("pow", 2),
    ("matmul", 2),
];

/// A parsed expression; `col` fields point into the source for error messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number or a bracketed matrix.
    Lit(Literal),
    /// A named input.
    Var(String, usize),
    /// `-a`
    Neg(Box<Expr>, usize),
    /// `a op b` with op one of `+ - * / @ ^`.
    Bin(char, Box<Expr>, Box<Expr>, usize),
    /// `name(args)`
    Call(String, Vec<Expr>, usize),
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Lit(l) if l.shape.is_empty() => write!(f, "{}", l.data[0]),
            Expr::Lit(l) => write!(f, "<{:?} literal>", l.shape),
            Expr::Var(v, _) => write!(f, "{v}"),
            Expr::Neg(a, _) => write!(f, "-{a}"),
            Expr::Bin(op, a, b, _) => write!(f, "({a} {op} {b})"),
            Expr::Call(name, args, _) => {
                let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                write!(f, "{name}({})", args.join(", "))
            }
        }
    }
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end_col: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn col(&self) -> usize {
        self.toks.get(self.pos).map(|(_, c)| *c).unwrap_or(self.end_col)
    }
    fn found(&self) -> String {
        match self.peek() {
            Some(t) => format!("'{t}'"),
            None => "the end of the expression".into(),
        }
    }
    fn bump(&mut self) -> Option<(Tok, usize)> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect_close(&mut self, open: char, open_col: usize) -> Result<(), ExprError> {
        let want = if open == '(' { ')' } else { ']' };
        match self.peek() {
            Some(Tok::Close(c)) if *c == want => {
                self.pos += 1;
                Ok(())
            }
            _ => err(
                self.col(),
                format!("expected '{want}' to close the '{open}' at col {open_col}, found {}", self.found()),
            ),
        }
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.term()?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek().cloned() {
            let col = self.col();
            self.pos += 1;
            let rhs = self.term()?;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs), col);
        }
        Ok(lhs)
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.unary()?;
        while let Some(Tok::Op(op @ ('*' | '/' | '@'))) = self.peek().cloned() {
            let col = self.col();
            self.pos += 1;
            let rhs = self.unary()?;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs), col);
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if let Some(Tok::Op('-')) = self.peek() {
            let col = self.col();
            self.pos += 1;
            let a = self.unary()?;
            return Ok(match a {
                Expr::Lit(mut l) => {
                    l.data.iter_mut().for_each(|v| *v = -*v);
                    Expr::Lit(l)
                }
                a => Expr::Neg(Box::new(a), col),
            });
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, ExprError> {
        let mut base = self.atom()?;
        while let Some(Tok::Sup(p)) = self.peek().cloned() {
            let col = self.col();
            self.pos += 1;
            base = Expr::Bin('^', Box::new(base), Box::new(Expr::Lit(Literal { data: vec![p], shape: vec![] })), col);
        }
        if let Some(Tok::Op('^')) = self.peek() {
            let col = self.col();
            self.pos += 1;
            let exp = self.unary()?;
            return Ok(Expr::Bin('^', Box::new(base), Box::new(exp), col));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Expr, ExprError> {
        let col = self.col();
        match self.peek().cloned() {
            Some(Tok::Num(v)) => {
                self.pos += 1;
                Ok(Expr::Lit(Literal { data: vec![v], shape: vec![] }))
            }
            Some(Tok::Open('(')) => {
                self.pos += 1;
                let e = self.expr()?;
                self.expect_close('(', col)?;
                Ok(e)
            }
            Some(Tok::Open('[')) => Ok(Expr::Lit(self.matrix()?)),
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                if let Some(Tok::Open('(')) = self.peek() {
                    let open = self.col();
                    self.pos += 1;
                    let Some(&(_, arity)) = FUNCTIONS.iter().find(|(f, _)| *f == name) else {
                        let known: Vec<&str> = FUNCTIONS.iter().map(|(f, _)| *f).collect();
                        return err(col, format!("unknown function '{name}' (known: {})", known.join(", ")));
                    };
                    let mut args = vec![self.expr()?];
                    while let Some(Tok::Comma) = self.peek() {
                        self.pos += 1;
                        args.push(self.expr()?);
                    }
                    self.expect_close('(', open)?;
                    if args.len() != arity {
                        return err(
                            col,
                            format!(
                                "{name} takes {arity} argument{}, got {}",
                                if arity == 1 { "" } else { "s" },
                                args.len()
                            ),
                        );
                    }
                    return Ok(Expr::Call(name, args, col));
                }
                if FUNCTIONS.iter().any(|(f, _)| *f == name) {
                    return err(
                        self.col(),
                        format!("expected '(' after the function name '{name}', found {}", self.found()),
                    );
                }
                Ok(Expr::Var(name, col))
            }
            _ => err(col, format!("expected an operand, found {}", self.found())),
        }
    }

    /// `[1, 2]`, `[[1, 2], [3, 4]]`, with signed numbers; rows must have equal lengths.
    fn matrix(&mut self) -> Result<Literal, ExprError> {
        let (_, open) = self.bump().expect("called on '['");
        let mut rows: Vec<Literal> = Vec::new();
        loop {
            let col = self.col();
            let item = match self.peek().cloned() {
                Some(Tok::Open('[')) => self.matrix()?,
                Some(Tok::Op('-')) => {
                    self.pos += 1;
                    match self.bump() {
                        Some((Tok::Num(v), _)) => Literal { data: vec![-v], shape: vec![] },
                        _ => return err(col + 1, "expected a number after '-' in a matrix"),
                    }
                }
                Some(Tok::Num(v)) => {
                    self.pos += 1;
                    Literal { data: vec![v], shape: vec![] }
                }
                _ => return err(col, format!("expected a number or '[' in a matrix, found {}", self.found())),
            };
            if let Some(first) = rows.first() {
                if first.shape != item.shape {
                    return err(
                        col,
                        format!(
                            "this entry has shape {:?} but the first has {:?}; rows must have equal lengths",
                            item.shape, first.shape
                        ),
                    );
                }
            }
            rows.push(item);
            match self.peek() {
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::Close(']')) => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return err(
                        self.col(),
                        format!("expected ',' or ']' to continue the '[' at col {open}, found {}", self.found()),
                    )
                }
            }
        }
        let mut shape = vec![rows.len()];
        shape.extend_from_slice(&rows[0].shape);
        Ok(Literal { data: rows.into_iter().flat_map(|r| r.data).collect(), shape })
    }
}

/// Parses an expression.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return err(1, "the expression is empty");
    }
    let mut p = Parser { toks, pos: 0, end_col: src.chars().count() + 1 };
    let e = p.expr()?;
    if p.pos < p.toks.len() {
        let what = match p.peek() {
            Some(Tok::Close(c)) => format!("unmatched '{c}'"),
            _ => format!("expected an operator, found {}", p.found()),
        };
        return err(p.col(), what);
    }
    Ok(e)
}

/// Parses a value given on the command line: a number or a bracketed matrix.
///
/// ```
/// let v = nabla_cli::expr::parse_value("[[1, 2], [3, -4]]").unwrap();
/// assert_eq!((v.shape, v.data), (vec![2, 2], vec![1.0, 2.0, 3.0, -4.0]));
/// assert!(nabla_cli::expr::parse_value("abc").is_err());
/// ```
pub fn parse_value(src: &str) -> Result<Literal, ExprError> {
    match parse(src)? {
        Expr::Lit(l) => Ok(l),
        _ => err(1, "expected a number or a matrix like [[1, 2], [3, 4]]"),
    }
}

/// The result of evaluating an expression: the output and every tensor computed on the
/// way (kept alive, so that the graph shows their values).
pub struct Evaluation {
    /// The expression's value.
    pub output: Tensor,
    /// Intermediate results, in the order they were computed.
    pub kept: Vec<Tensor>,
}

fn op_error(col: usize, e: nabla::Error) -> ExprError {
    ExprError { col, msg: e.to_string() }
}

/// Evaluates `e` with the inputs in `vars` (leaves that should require grad).
pub fn eval(e: &Expr, vars: &BTreeMap<String, Tensor>) -> Result<Evaluation, ExprError> {
    let mut kept = Vec::new();
    let output = eval_into(e, vars, &mut kept)?;
    Ok(Evaluation { output, kept })
}

fn constant(l: &Literal) -> Tensor {
    l.to_tensor()
}

fn eval_into(e: &Expr, vars: &BTreeMap<String, Tensor>, kept: &mut Vec<Tensor>) -> Result<Tensor, ExprError> {
    let t = match e {
        Expr::Lit(l) => return Ok(constant(l)),
        Expr::Var(name, col) => {
            return match vars.get(name) {
                Some(t) => Ok(t.clone()),
                None => err(*col, format!("'{name}' has no value; give it one after the expression, e.g. {name}=1.5")),
            }
        }
        Expr::Neg(a, _) => eval_into(a, vars, kept)?.neg(),
        Expr::Bin('^', a, b, col) => {
            let a = eval_into(a, vars, kept)?;
            match &**b {
                Expr::Lit(l) if l.shape.is_empty() => a.try_pow(l.data[0]).map_err(|e| op_error(*col, e))?,
                b => {
                    let b = eval_into(b, vars, kept)?;
                    a.try_pow_tensor(&b).map_err(|e| op_error(*col, e))?
                }
            }
        }
        Expr::Bin(op, a, b, col) => {
            let (a, b) = (eval_into(a, vars, kept)?, eval_into(b, vars, kept)?);
            let r = match op {
                '+' => a.try_add(&b),
                '-' => a.try_sub(&b),
                '*' => a.try_mul(&b),
                '/' => a.try_div(&b),
                _ => a.try_matmul(&b),
            };
            r.map_err(|e| op_error(*col, e))?
        }
        Expr::Call(name, args, col) => {
            let xs = args.iter().map(|a| eval_into(a, vars, kept)).collect::<Result<Vec<_>, _>>()?;
            let x = &xs[0];
            match name.as_str() {
                "exp" => x.exp(),
                "log" | "ln" => x.log(),
                "sqrt" => x.sqrt(),
                "abs" => x.abs(),
                "sin" => x.sin(),
                "cos" => x.cos(),
                "tanh" => x.tanh(),
                "sigmoid" | "σ" => x.sigmoid(),
                "relu" => x.relu(),
                "sum" => x.sum(),
                "mean" => x.mean(),
                "pow" => x.try_pow_tensor(&xs[1]).map_err(|e| op_error(*col, e))?,
                _ => x.try_matmul(&xs[1]).map_err(|e| op_error(*col, e))?,
            }
        }
    };
    kept.push(t.clone());
    Ok(t)
}

/// An input of the expression: a float64 leaf that requires grad, named `name`.
pub fn input(name: &str, value: &Literal) -> Tensor {
    let t = Tensor::from_vec(value.data.clone(), &value.shape);
    debug_assert_eq!(t.dtype(), DType::F64);
    t.requires_grad_(true).named(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        match parse(s) {
            Ok(e) => e.to_string(),
            Err(e) => format!("error {e}"),
        }
    }

    #[test]
    fn precedence_and_unicode() {
        assert_eq!(p("(x + y) * z"), "((x + y) * z)");
        assert_eq!(p("x + y × z"), "(x + (y * z))");
        assert_eq!(p("x − y ÷ 2"), "(x - (y / 2))");
        assert_eq!(p("-x^2"), "-(x ^ 2)");
        assert_eq!(p("x^-1"), "(x ^ -1)");
        assert_eq!(p("x**2**3"), "(x ^ (2 ^ 3))");
        assert_eq!(p("x² + y³"), "((x ^ 2) + (y ^ 3))");
        assert_eq!(p("σ(w·x + b)"), "σ(((w * x) + b))");
        assert_eq!(p("sum(W @ [[1], [2]])"), "sum((W @ <[2, 1] literal>))");
        assert_eq!(p("pow(x, 2)"), "pow(x, 2)");
        assert_eq!(p("1.5e-3 * x"), "(0.0015 * x)");
    }

    #[test]
    fn errors_point_at_the_column() {
        assert_eq!(p("(x + ) * z"), "error col 6: expected an operand, found ')'");
        assert_eq!(p("x +"), "error col 4: expected an operand, found the end of the expression");
        assert_eq!(p("(x + y"), "error col 7: expected ')' to close the '(' at col 1, found the end of the expression");
        assert_eq!(p("x y"), "error col 3: expected an operator, found 'y'");
        assert_eq!(p("x + y)"), "error col 6: unmatched ')'");
        assert_eq!(p("x $ y"), "error col 3: unexpected character '$'");
        assert_eq!(p("foo(x)"), "error col 1: unknown function 'foo' (known: exp, log, ln, sqrt, abs, sin, cos, tanh, sigmoid, σ, relu, sum, mean, pow, matmul)");
        assert_eq!(p("pow(x)"), "error col 1: pow takes 2 arguments, got 1");
        assert_eq!(p("tanh x"), "error col 6: expected '(' after the function name 'tanh', found 'x'");
        assert_eq!(
            p("[[1, 2], [3]]"),
            "error col 10: this entry has shape [1] but the first has [2]; rows must have equal lengths"
        );
        assert_eq!(p("[1, x]"), "error col 5: expected a number or '[' in a matrix, found 'x'");
        assert_eq!(p(""), "error col 1: the expression is empty");
        assert_eq!(p("1..2"), "error col 1: '1..2' is not a number");
    }

    #[test]
    fn evaluates_the_textbook_example() {
        let e = parse("(x + y) * z").unwrap();
        let vars: BTreeMap<String, Tensor> = [("x", -2.0), ("y", 5.0), ("z", -4.0)]
            .iter()
            .map(|(n, v)| (n.to_string(), input(n, &Literal { data: vec![*v], shape: vec![] })))
            .collect();
        let ev = eval(&e, &vars).unwrap();
        assert_eq!(ev.output.item(), -12.0);
        ev.output.backward();
        assert_eq!(vars["x"].grad().unwrap().item(), -4.0);
        assert_eq!(vars["z"].grad().unwrap().item(), 3.0);
    }

    #[test]
    fn evaluation_errors_point_at_the_operator() {
        let e = parse("a @ b").unwrap();
        let vars: BTreeMap<String, Tensor> = [
            ("a".to_string(), input("a", &parse_value("[[1, 2, 3]]").unwrap())),
            ("b".to_string(), input("b", &parse_value("[[1, 2]]").unwrap())),
        ]
        .into_iter()
        .collect();
        let err = eval(&e, &vars).err().unwrap();
        assert_eq!(err.col, 3);
        assert!(err.msg.contains("mat1 and mat2 shapes cannot be multiplied (1x3 and 1x2)"), "{err}");
        let err = eval(&parse("q + 1").unwrap(), &vars).err().unwrap();
        assert_eq!(err.to_string(), "col 1: 'q' has no value; give it one after the expression, e.g. q=1.5");
    }
}
