//! Spec-string syntax, parsed in one left-to-right pass into a [`SpecTree`].
//!
//! ```text
//! spec := term | term '|' spec          sparsify with the first term, compress the kept values
//!                                       with the rest (see [`crate::Compose`])
//! term := 'scaled(' spec ')'            Q/(ω+1) for an unbiased Q (see [`crate::ScaledUnbiased`])
//!       | name [':' key '=' value (',' key '=' value)*]
//! ```
//!
//! Every `|` and every `scaled(...)` wraps the compressed message once (`Composed`, `Scaled`).
//! The wire format carries at most [`MAX_DEPTH`] wrappers on any path, so the parser refuses a
//! spec with more, naming the limit — before building anything, in time linear in the length
//! of the spec, and with recursion no deeper than [`MAX_DEPTH`] + 1.
//!
//! ```
//! use squeeze_compress::spec::{SpecTree, parse_tree};
//! let t = parse_tree("top_k:k=2 | scaled(qsgd:s=4)").unwrap();
//! assert_eq!(t.nesting(), 2);
//! assert!(matches!(t, SpecTree::Compose(..)));
//! let deep = format!("{}qsgd:s=2{}", "scaled(".repeat(10_000), ")".repeat(10_000));
//! assert!(parse_tree(&deep).is_err());
//! ```

use squeeze_core::message::MAX_DEPTH;

use crate::error::RegistryError;

/// The syntax tree of a spec string, borrowed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecTree<'a> {
    /// `name[:params]`, e.g. `top_k:k=10` (`params` is the text after `:`, possibly empty).
    Atom {
        /// The registry name.
        name: &'a str,
        /// The `key=value` list.
        params: &'a str,
    },
    /// `A | B`: sparsify with `A`, compress the kept values with `B`.
    Compose(Box<SpecTree<'a>>, Box<SpecTree<'a>>),
    /// `scaled(Q)`.
    Scaled(Box<SpecTree<'a>>),
}

impl SpecTree<'_> {
    /// Wrappers on the deepest path of the message this spec produces: `A | B` adds one to
    /// `B`'s (the message of the sparsifier `A` is not nested), `scaled(Q)` one to `Q`'s.
    ///
    /// ```
    /// use squeeze_compress::spec::parse_tree;
    /// assert_eq!(parse_tree("top_k:k=1").unwrap().nesting(), 0);
    /// assert_eq!(parse_tree("top_k:k=2 | top_k:k=1 | qsgd:s=2").unwrap().nesting(), 2);
    /// ```
    pub fn nesting(&self) -> u32 {
        match self {
            SpecTree::Atom { .. } => 0,
            SpecTree::Compose(_, b) => 1 + b.nesting(),
            SpecTree::Scaled(q) => 1 + q.nesting(),
        }
    }
}

/// Parse a spec string (surrounding whitespace ignored) into its syntax tree.
///
/// Errors: [`RegistryError::Syntax`] for malformed text (with how to write it) and
/// [`RegistryError::TooDeep`] for more than [`MAX_DEPTH`] nested wrappers.
///
/// ```
/// use squeeze_compress::{RegistryError, spec::parse_tree};
/// let e = parse_tree("compose").unwrap_err().to_string();
/// assert!(e.contains("written A | B"), "{e}");
/// assert!(matches!(parse_tree("scaled(qsgd:s=2"), Err(RegistryError::Syntax { .. })));
/// ```
pub fn parse_tree(spec: &str) -> Result<SpecTree<'_>, RegistryError> {
    let mut p = Parser {
        text: spec.trim(),
        pos: 0,
    };
    let tree = p.spec(0)?;
    p.skip_ws();
    match p.peek() {
        None => Ok(tree),
        Some(')') => Err(p.syntax("unbalanced parentheses: a ')' closes nothing")),
        Some(_) => Err(p.syntax(
            "unexpected text after scaled(...); join stages with | (e.g. top_k:k=10 | qsgd:s=4)",
        )),
    }
}

/// A cursor over the (trimmed) spec text; every character is looked at a bounded number of
/// times.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn syntax(&self, hint: &str) -> RegistryError {
        RegistryError::Syntax {
            spec: shorten(self.text),
            hint: hint.to_string(),
        }
    }

    /// One more wrapper at nesting `depth` (0 = the top-level message) must fit the wire.
    fn wrap(&self, depth: u32) -> Result<(), RegistryError> {
        if depth >= MAX_DEPTH {
            return Err(RegistryError::TooDeep {
                spec: shorten(self.text),
                max: MAX_DEPTH,
            });
        }
        Ok(())
    }

    /// `spec` at nesting `depth`.
    fn spec(&mut self, depth: u32) -> Result<SpecTree<'a>, RegistryError> {
        let first = self.term(depth)?;
        self.skip_ws();
        if self.peek() != Some('|') {
            return Ok(first);
        }
        self.wrap(depth)?;
        self.pos += 1;
        let rest = self.spec(depth + 1)?;
        Ok(SpecTree::Compose(Box::new(first), Box::new(rest)))
    }

    /// `term` at nesting `depth`.
    fn term(&mut self, depth: u32) -> Result<SpecTree<'a>, RegistryError> {
        self.skip_ws();
        let rest = &self.text[self.pos..];
        if rest.starts_with("scaled(") {
            self.wrap(depth)?;
            self.pos += "scaled(".len();
            let inner = self.spec(depth + 1)?;
            self.skip_ws();
            if self.peek() != Some(')') {
                return Err(self.syntax(
                    "unbalanced parentheses: scaled( needs a closing ) right after its spec",
                ));
            }
            self.pos += 1;
            return Ok(SpecTree::Scaled(Box::new(inner)));
        }
        let end = rest.find(['|', ')']).unwrap_or(rest.len());
        self.pos += end;
        let atom = rest[..end].trim();
        if atom.is_empty() {
            return Err(self.syntax("empty; write e.g. top_k:k=10"));
        }
        let (name, params) = atom.split_once(':').unwrap_or((atom, ""));
        let name = name.trim();
        if name.contains(['(', ')']) || name.contains(char::is_whitespace) {
            return Err(self.syntax(
                "a name is a single word such as top_k; wrappers are written scaled(<spec>)",
            ));
        }
        match name {
            "compose" => Err(self.syntax(
                "a composition is written A | B (sparsify with A, compress the kept values with B), e.g. top_k:ratio=0.25 | qsgd:s=4",
            )),
            "scaled" => Err(self.syntax(
                "scaled is a wrapper written scaled(Q) around an unbiased spec Q, e.g. scaled(rand_k:k=3)",
            )),
            _ => Ok(SpecTree::Atom { name, params }),
        }
    }
}

/// The spec for an error message: whole when short, else its first 60 characters and `…`.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom<'a>(name: &'a str, params: &'a str) -> SpecTree<'a> {
        SpecTree::Atom { name, params }
    }

    #[test]
    fn trees() {
        assert_eq!(
            parse_tree("  top_k:k=2 |scaled( qsgd:s=4 ) ").unwrap(),
            SpecTree::Compose(
                Box::new(atom("top_k", "k=2")),
                Box::new(SpecTree::Scaled(Box::new(atom("qsgd", "s=4"))))
            )
        );
        // `|` is right-associative: A | B | C = A | (B | C).
        let t = parse_tree("a | b | c").unwrap();
        assert_eq!(
            t,
            SpecTree::Compose(
                Box::new(atom("a", "")),
                Box::new(SpecTree::Compose(
                    Box::new(atom("b", "")),
                    Box::new(atom("c", ""))
                ))
            )
        );
        assert_eq!(t.nesting(), 2);
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "   ",
            "top_k:k=1 |",
            "| qsgd",
            "scaled(qsgd",
            "scaled()",
            "qsgd)",
            "scaled(qsgd)x",
            "scaled(qsgd) (x)",
            "top k",
            "foo(bar)",
            "compose",
            "compose:A=top_k",
            "scaled",
            "scaled:Q=qsgd",
        ] {
            assert!(
                matches!(parse_tree(bad), Err(RegistryError::Syntax { .. })),
                "{bad:?}: {:?}",
                parse_tree(bad)
            );
        }
    }

    #[test]
    fn depth_limit_is_max_depth_wrappers() {
        let chain = |n: u32| {
            let mut s = "qsgd:s=2".to_string();
            for i in 0..n {
                s = if i % 2 == 0 {
                    format!("top_k:k=1 | {s}")
                } else {
                    format!("scaled({s})")
                };
            }
            s
        };
        assert_eq!(parse_tree(&chain(MAX_DEPTH)).unwrap().nesting(), MAX_DEPTH);
        let e = parse_tree(&chain(MAX_DEPTH + 1)).unwrap_err();
        assert!(
            matches!(e, RegistryError::TooDeep { max: MAX_DEPTH, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("at most 4 wrappers"), "{e}");
    }

    #[test]
    fn very_deep_specs_fail_fast_and_errors_stay_short() {
        let n = 100_000;
        for deep in [
            format!("{}qsgd:s=2{}", "scaled(".repeat(n), ")".repeat(n)),
            format!("{}qsgd:s=2", "top_k:k=1 | ".repeat(n)),
            format!("{}qsgd:s=2", "scaled(".repeat(n)),
            "(".repeat(n),
            ")".repeat(n),
        ] {
            let e = parse_tree(&deep).unwrap_err().to_string();
            assert!(e.len() < 400, "{} bytes", e.len());
        }
    }
}
