//! Finds the literal arguments of host-object calls in a parsed template
//! ([`crate::Template::literal_arguments`]).

use crate::ast::{Expr, Node, RefPart, Reference};
use crate::value::Value;

pub(crate) struct Walk<'a> {
    pub root: &'a str,
    pub methods: &'a [&'a str],
    pub found: &'a mut Vec<String>,
}

impl Walk<'_> {
    pub fn nodes(&mut self, nodes: &[Node]) {
        for n in nodes {
            match n {
                Node::Text(_) | Node::Break | Node::Stop => {}
                Node::Ref(r) | Node::EscapedRef(r) => self.reference(r),
                Node::Set { target, value } => {
                    self.reference(target);
                    self.expr(value);
                }
                Node::If {
                    branches,
                    otherwise,
                } => {
                    for (cond, body) in branches {
                        self.expr(cond);
                        self.nodes(body);
                    }
                    if let Some(body) = otherwise {
                        self.nodes(body);
                    }
                }
                Node::Foreach { iter, body, .. } => {
                    self.expr(iter);
                    self.nodes(body);
                }
                Node::Define { body, .. } => self.nodes(body),
                Node::MacroCall { args, .. } => args.iter().for_each(|a| self.expr(a)),
            }
        }
    }

    fn reference(&mut self, r: &Reference) {
        if r.root == self.root
            && let Some(RefPart::Method(name, args)) = r.parts.first()
            && self.methods.contains(&name.as_str())
            && let Some(text) = args.first().and_then(literal_text)
            && !self.found.contains(&text)
        {
            self.found.push(text);
        }
        for part in &r.parts {
            match part {
                RefPart::Prop(_) => {}
                RefPart::Method(_, args) => args.iter().for_each(|a| self.expr(a)),
                RefPart::Index(e) => self.expr(e),
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Lit(_) => {}
            Expr::Interp(nodes) => self.nodes(nodes),
            Expr::Ref(r) => self.reference(r),
            Expr::List(items) => items.iter().for_each(|i| self.expr(i)),
            Expr::Range(a, b) | Expr::Bin(_, a, b) => {
                self.expr(a);
                self.expr(b);
            }
            Expr::Map(entries) => {
                for (k, v) in entries {
                    self.expr(k);
                    self.expr(v);
                }
            }
            Expr::Not(a) | Expr::Neg(a) => self.expr(a),
        }
    }
}

/// The text of a string literal, or of an interpolated one that holds only text.
fn literal_text(e: &Expr) -> Option<String> {
    match e {
        Expr::Lit(Value::String(s)) => Some(s.clone()),
        Expr::Interp(nodes) => nodes
            .iter()
            .map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}
