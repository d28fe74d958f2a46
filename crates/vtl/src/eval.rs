//! Tree-walking evaluator.

use crate::ast::{BinOp, Expr, Macro, Node, Pos, RefPart, Reference};
use crate::methods;
use crate::value::Value;
use crate::{Context, Limits, RenderError, RenderErrorKind};
use indexmap::IndexMap;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// Hard cap on evaluation recursion regardless of `Limits::max_depth`.
const HARD_MAX_DEPTH: usize = 256;
/// Maximum nesting depth of values built by templates.
const MAX_VALUE_DEPTH: usize = 256;
/// Maximum number of elements in a range literal.
const MAX_RANGE: i64 = 1_000_000;
/// Hard cap on nested block evaluation (protects the native stack).
const MAX_NEST: usize = 256;

pub(crate) enum Flow {
    Normal,
    Break,
    Stop,
}

enum Step {
    Prop(String),
    Index(Value),
    Method(String, Vec<Value>),
}

pub(crate) struct Renderer<'a> {
    pub limits: &'a Limits,
    pub macros: &'a HashMap<String, Arc<Macro>>,
    pub steps: u64,
    pub deadline: Option<std::time::Instant>,
    /// Steps since the clock was last read.
    pub ticks: u32,
    pub depth: usize,
    pub nest: usize,
    pub pos: Pos,
    /// Regexes compiled by string methods during this render.
    pub regexes: methods::Regexes,
    /// Whose rules apply where API Gateway and Velocity 1.7 differ.
    pub dialect: crate::Dialect,
}

type Res<T> = Result<T, RenderError>;

/// Velocity `==`: numbers numerically, same kinds by equality, otherwise by rendered string.
pub(crate) fn values_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        _ => {
            if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
                if let (Value::Int(i), Value::Int(j)) = (a, b) {
                    return i == j;
                }
                return x == y;
            }
            if std::mem::discriminant(a) == std::mem::discriminant(b) {
                a == b
            } else {
                a.render() == b.render()
            }
        }
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Value::Int(i), Value::Int(j)) = (a, b) {
        return Some(i.cmp(j));
    }
    if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
        return x.partial_cmp(&y);
    }
    if let (Value::String(x), Value::String(y)) = (a, b) {
        return Some(x.cmp(y));
    }
    None
}

fn arith(op: BinOp, a: &Value, b: &Value) -> Value {
    if a.is_null() || b.is_null() {
        return Value::Null;
    }
    if op == BinOp::Add && (matches!(a, Value::String(_)) || matches!(b, Value::String(_))) {
        return Value::String(format!("{}{}", a.render(), b.render()));
    }
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        let (x, y) = (*x, *y);
        let r = match op {
            BinOp::Add => x.checked_add(y),
            BinOp::Sub => x.checked_sub(y),
            BinOp::Mul => x.checked_mul(y),
            BinOp::Div => {
                if y == 0 {
                    return Value::Null;
                }
                x.checked_div(y)
            }
            BinOp::Mod => {
                if y == 0 {
                    return Value::Null;
                }
                x.checked_rem(y)
            }
            _ => None,
        };
        if let Some(r) = r {
            return Value::Int(r);
        }
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => match op {
            BinOp::Add => Value::Float(x + y),
            BinOp::Sub => Value::Float(x - y),
            BinOp::Mul => Value::Float(x * y),
            BinOp::Div if y == 0.0 => Value::Null,
            BinOp::Div => Value::Float(x / y),
            BinOp::Mod if y == 0.0 => Value::Null,
            BinOp::Mod => Value::Float(x % y),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn get_prop(
    v: &Value,
    name: &str,
    m: &mut methods::Meter<'_>,
) -> Result<Value, methods::CallError> {
    match v {
        Value::Map(m) | Value::QuietMap(m) => Ok(m.get(name).cloned().unwrap_or_default()),
        Value::Object(o) => Ok(o.get(name).unwrap_or_default()),
        Value::Null => Ok(Value::Null),
        _ => {
            let prop = capitalize(name);
            for cand in [format!("get{prop}"), format!("is{prop}")] {
                match methods::call(v, &cand, &[], m) {
                    Ok(v) => return Ok(v),
                    Err(methods::CallError::NoMethod) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(Value::Null)
        }
    }
}

fn index(v: &Value, k: &Value) -> Result<Value, String> {
    match v {
        Value::List(l) | Value::JsonList(l) => match k.as_int() {
            Some(i) => match usize::try_from(i).ok().and_then(|i| l.get(i)) {
                Some(x) => Ok(x.clone()),
                None => Err(format!("Index {i} out of bounds for length {}", l.len())),
            },
            None => Ok(Value::Null),
        },
        Value::Map(m) | Value::QuietMap(m) => Ok(m.get(&k.render()).cloned().unwrap_or_default()),
        Value::Object(o) => Ok(o.call("get", std::slice::from_ref(k))?.unwrap_or_default()),
        _ => Ok(Value::Null),
    }
}

/// One step of a reference; `m` bounds and meters method calls.
fn apply<'v>(
    cur: Cow<'v, Value>,
    step: &Step,
    m: &mut methods::Meter<'_>,
) -> Result<Cow<'v, Value>, methods::CallError> {
    if cur.is_null() {
        return Ok(cur);
    }
    Ok(Cow::Owned(match step {
        Step::Prop(n) => {
            if let (Cow::Borrowed(Value::Map(m) | Value::QuietMap(m)), n) = (&cur, n) {
                return Ok(match m.get(n) {
                    Some(v) => Cow::Borrowed(v),
                    None => Cow::Owned(Value::Null),
                });
            }
            get_prop(&cur, n, m)?
        }
        Step::Index(k) => {
            if let Cow::Borrowed(Value::List(l) | Value::JsonList(l)) = &cur
                && let Some(x) = k
                    .as_int()
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| l.get(i))
            {
                return Ok(Cow::Borrowed(x));
            }
            index(&cur, k)?
        }
        Step::Method(n, args) => match methods::call(&cur, n, args, m) {
            Ok(v) => v,
            Err(methods::CallError::NoMethod) => Value::Null,
            Err(e) => return Err(e),
        },
    }))
}

fn get_path_mut<'v>(mut cur: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
    for s in steps {
        cur = match (cur, s) {
            (Value::Map(m) | Value::QuietMap(m), Step::Prop(n)) => m.get_mut(n)?,
            (Value::Map(m) | Value::QuietMap(m), Step::Index(k)) => m.get_mut(&k.render())?,
            (Value::List(l) | Value::JsonList(l), Step::Index(k)) => {
                l.get_mut(usize::try_from(k.as_int()?).ok()?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

impl Renderer<'_> {
    fn err(&self, kind: RenderErrorKind) -> RenderError {
        RenderError {
            kind,
            line: self.pos.line,
            column: self.pos.column,
        }
    }

    fn call_err(&self, e: methods::CallError) -> RenderError {
        self.err(match e {
            methods::CallError::TooLarge => RenderErrorKind::OutputLimit,
            methods::CallError::TooManyRegexes => RenderErrorKind::StepLimit,
            methods::CallError::Failed(m) => RenderErrorKind::Method(m),
            methods::CallError::NoMethod => RenderErrorKind::Method("no such method".into()),
        })
    }

    /// Applies one reference step: what a method builds is bounded by `max_output_bytes`,
    /// and the work it does is charged to the step budget.
    fn apply<'v>(&mut self, cur: Cow<'v, Value>, step: &Step) -> Res<Cow<'v, Value>> {
        let mut m = methods::Meter {
            cap: self.limits.max_output_bytes,
            work: 0,
            regexes: &mut self.regexes,
        };
        let r = apply(cur, step, &mut m);
        self.steps = self.steps.saturating_add(m.work);
        let cur = r.map_err(|e| self.call_err(e))?;
        if self.steps > self.limits.max_steps {
            return Err(self.err(RenderErrorKind::StepLimit));
        }
        Ok(cur)
    }

    fn step(&mut self) -> Res<()> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(self.err(RenderErrorKind::StepLimit));
        }
        self.ticks += 1;
        if self.ticks >= 4096 {
            self.ticks = 0;
            if let Some(deadline) = self.deadline
                && std::time::Instant::now() > deadline
            {
                return Err(self.err(RenderErrorKind::TimeLimit));
            }
        }
        Ok(())
    }

    fn check_out(&self, out: &str) -> Res<()> {
        if out.len() > self.limits.max_output_bytes {
            Err(self.err(RenderErrorKind::OutputLimit))
        } else {
            Ok(())
        }
    }

    /// Guards the size/depth of values built by the template (list/map
    /// literals and mutator arguments); the measured size is charged to the
    /// step budget.
    fn check_value(&mut self, v: &Value) -> Res<()> {
        let (size, depth) = v.measure(self.limits.max_output_bytes);
        self.steps = self.steps.saturating_add((size / 16) as u64);
        if self.steps > self.limits.max_steps {
            return Err(self.err(RenderErrorKind::StepLimit));
        }
        if size > self.limits.max_output_bytes {
            return Err(self.err(RenderErrorKind::OutputLimit));
        }
        if depth > MAX_VALUE_DEPTH {
            return Err(self.err(RenderErrorKind::DepthLimit));
        }
        Ok(())
    }

    fn enter(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > self.limits.max_depth.min(HARD_MAX_DEPTH) {
            return Err(self.err(RenderErrorKind::DepthLimit));
        }
        Ok(())
    }

    pub fn render_nodes(
        &mut self,
        nodes: &[Node],
        ctx: &mut Context,
        out: &mut String,
    ) -> Res<Flow> {
        self.nest += 1;
        if self.nest > MAX_NEST {
            return Err(self.err(RenderErrorKind::DepthLimit));
        }
        let r = self.render_nodes_inner(nodes, ctx, out);
        self.nest -= 1;
        r
    }

    fn render_nodes_inner(
        &mut self,
        nodes: &[Node],
        ctx: &mut Context,
        out: &mut String,
    ) -> Res<Flow> {
        for node in nodes {
            self.step()?;
            match node {
                Node::Text(t) => {
                    out.push_str(t);
                    self.check_out(out)?;
                }
                Node::Ref(_) | Node::EscapedRef(_) | Node::Set { .. } => {
                    self.simple_node(node, ctx, out)?;
                }
                Node::If {
                    branches,
                    otherwise,
                } => {
                    let mut taken = None;
                    for (cond, body) in branches {
                        if self.truthy(cond, ctx)? {
                            taken = Some(body);
                            break;
                        }
                    }
                    if let Some(body) = taken.or(otherwise.as_ref()) {
                        match self.render_nodes(body, ctx, out)? {
                            Flow::Normal => {}
                            f => return Ok(f),
                        }
                    }
                }
                Node::Foreach {
                    var,
                    iter,
                    body,
                    pos,
                } => match self.foreach(var, iter, body, *pos, ctx, out)? {
                    Flow::Normal => {}
                    f => return Ok(f),
                },
                Node::Break => return Ok(Flow::Break),
                Node::Stop => return Ok(Flow::Stop),
                Node::Define { name, body } => {
                    ctx.vars.remove(name);
                    ctx.blocks.insert(name.clone(), body.clone());
                }
                Node::MacroCall {
                    name,
                    args,
                    source,
                    pos,
                } => match self.macro_call(name, args, source, *pos, ctx, out)? {
                    Flow::Normal => {}
                    f => return Ok(f),
                },
            }
        }
        Ok(Flow::Normal)
    }

    /// `==`: API Gateway also holds null equal to the empty string (recorded on AWS:
    /// `$input.path('$.missing') == ""` is true); Velocity 1.7 does not.
    fn equal(&self, a: &Value, b: &Value) -> bool {
        if self.dialect == crate::Dialect::ApiGateway {
            match (a, b) {
                (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => {
                    return s.is_empty();
                }
                _ => {}
            }
        }
        values_eq(a, b)
    }

    #[inline(never)]
    fn truthy(&mut self, cond: &Expr, ctx: &mut Context) -> Res<bool> {
        Ok(self.eval(cond, ctx)?.is_truthy())
    }

    #[inline(never)]
    fn simple_node(&mut self, node: &Node, ctx: &mut Context, out: &mut String) -> Res<()> {
        match node {
            Node::Ref(r) => {
                let v = self.eval_ref(r, ctx)?;
                if v.is_null() {
                    // API Gateway renders a null reference as nothing; Velocity 1.7 prints its
                    // source unless it is quiet (`$!x`).
                    if !r.quiet && self.dialect == crate::Dialect::Velocity17 {
                        out.push_str(&r.source);
                    }
                } else if !v.render_into(out, self.limits.max_output_bytes) {
                    return Err(self.err(RenderErrorKind::OutputLimit));
                }
                self.check_out(out)?;
            }
            Node::EscapedRef(r) => {
                if self.eval_ref(r, ctx)?.is_null() {
                    out.push('\\');
                }
                out.push_str(&r.source);
                self.check_out(out)?;
            }
            Node::Set { target, value } => {
                self.pos = target.pos;
                let v = self.eval(value, ctx)?;
                if !v.is_null() {
                    self.assign(target, v, ctx)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    #[inline(never)]
    fn foreach(
        &mut self,
        var: &str,
        iter: &Expr,
        body: &[Node],
        pos: Pos,
        ctx: &mut Context,
        out: &mut String,
    ) -> Res<Flow> {
        self.pos = pos;
        let items: Vec<Value> = match self.eval(iter, ctx)? {
            Value::List(l) | Value::JsonList(l) => l,
            Value::Map(m) | Value::QuietMap(m) => m.into_values().collect(),
            // Like Velocity 1.7, scalars are not iterable (no iterations).
            _ => Vec::new(),
        };
        // Evaluating the iterable copied it: charge that like a method scan.
        self.steps = self.steps.saturating_add(items.len() as u64 / 4);
        if self.steps > self.limits.max_steps {
            return Err(self.err(RenderErrorKind::StepLimit));
        }
        let saved_var = ctx.vars.remove(var);
        let saved_fe = ctx.vars.remove("foreach");
        let saved_vc = ctx.vars.remove("velocityCount");
        let n = items.len();
        let mut result = Ok(Flow::Normal);
        for (i, item) in items.into_iter().enumerate() {
            if i >= self.limits.max_loop_iterations {
                self.pos = pos;
                result = Err(self.err(RenderErrorKind::LoopLimit));
                break;
            }
            if item.is_null() {
                ctx.vars.remove(var);
            } else {
                ctx.vars.insert(var.to_string(), item);
            }
            let mut fe = IndexMap::new();
            fe.insert("index".to_string(), Value::Int(i as i64));
            fe.insert("count".to_string(), Value::Int(i as i64 + 1));
            fe.insert("hasNext".to_string(), Value::Bool(i + 1 < n));
            fe.insert("first".to_string(), Value::Bool(i == 0));
            fe.insert("last".to_string(), Value::Bool(i + 1 == n));
            if let Some(p) = &saved_fe {
                fe.insert("parent".to_string(), p.clone());
            }
            ctx.vars.insert("foreach".to_string(), Value::Map(fe));
            ctx.vars
                .insert("velocityCount".to_string(), Value::Int(i as i64 + 1));
            match self.render_nodes(body, ctx, out) {
                Ok(Flow::Normal) => {}
                Ok(Flow::Break) => break,
                Ok(Flow::Stop) => {
                    result = Ok(Flow::Stop);
                    break;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        restore(ctx, var, saved_var);
        restore(ctx, "foreach", saved_fe);
        restore(ctx, "velocityCount", saved_vc);
        result
    }

    #[inline(never)]
    fn macro_call(
        &mut self,
        name: &str,
        args: &[Expr],
        source: &str,
        pos: Pos,
        ctx: &mut Context,
        out: &mut String,
    ) -> Res<Flow> {
        self.pos = pos;
        let Some(m) = self.macros.get(name).cloned() else {
            out.push_str(source);
            self.check_out(out)?;
            return Ok(Flow::Normal);
        };
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.eval(a, ctx)?);
        }
        self.enter()?;
        let mut saved = Vec::new();
        for (i, p) in m.params.iter().enumerate() {
            saved.push((p.clone(), ctx.vars.remove(p)));
            match vals.get(i) {
                Some(v) if !v.is_null() => {
                    ctx.vars.insert(p.clone(), v.clone());
                }
                _ => {}
            }
        }
        let r = self.render_nodes(&m.body, ctx, out);
        for (p, v) in saved.into_iter().rev() {
            restore(ctx, &p, v);
        }
        self.depth -= 1;
        r
    }

    fn assign(&mut self, target: &Reference, v: Value, ctx: &mut Context) -> Res<()> {
        if target.parts.is_empty() {
            ctx.blocks.remove(&target.root);
            ctx.vars.insert(target.root.clone(), v);
            return Ok(());
        }
        // A value stored inside another can make it grow without bound
        // (`#set($a.b = $a)#set($a.c = $a)` triples `$a`): bound what is stored.
        self.check_value(&v)?;
        let steps = self.steps_of(&target.parts, ctx)?;
        let Some((last, prefix)) = steps.split_last() else {
            return Ok(());
        };
        if prefix.iter().any(|s| matches!(s, Step::Method(..))) {
            return Ok(());
        }
        let Some(root) = ctx.vars.get_mut(&target.root) else {
            return Ok(());
        };
        let Some(slot) = get_path_mut(root, prefix) else {
            return Ok(());
        };
        match (slot, last) {
            (Value::Map(m) | Value::QuietMap(m), Step::Prop(k)) => {
                m.insert(k.clone(), v);
            }
            (Value::Map(m) | Value::QuietMap(m), Step::Index(k)) => {
                m.insert(k.render(), v);
            }
            (Value::List(l) | Value::JsonList(l), Step::Index(k)) => {
                if let Some(x) = k
                    .as_int()
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| l.get_mut(i))
                {
                    *x = v;
                }
            }
            (Value::Object(o), Step::Prop(k)) => {
                let o = o.clone();
                o.call(&format!("set{}", capitalize(k)), &[v])
                    .map_err(|e| self.err(RenderErrorKind::Method(e)))?;
            }
            _ => {}
        }
        Ok(())
    }

    fn steps_of(&mut self, parts: &[RefPart], ctx: &mut Context) -> Res<Vec<Step>> {
        let mut steps = Vec::with_capacity(parts.len());
        for p in parts {
            steps.push(match p {
                RefPart::Prop(n) => Step::Prop(n.clone()),
                RefPart::Index(e) => Step::Index(self.eval(e, ctx)?),
                RefPart::Method(n, args) => {
                    let mut vals = Vec::with_capacity(args.len());
                    for a in args {
                        vals.push(self.eval(a, ctx)?);
                    }
                    Step::Method(n.clone(), vals)
                }
            });
        }
        Ok(steps)
    }

    pub fn eval_ref(&mut self, r: &Reference, ctx: &mut Context) -> Res<Value> {
        self.step()?;
        self.pos = r.pos;
        let steps = self.steps_of(&r.parts, ctx)?;
        self.pos = r.pos;
        // A define block renders lazily with the current context.
        if !ctx.vars.contains_key(&r.root)
            && let Some(block) = ctx.blocks.get(&r.root).cloned()
        {
            self.enter()?;
            let mut s = String::new();
            let res = self.render_nodes(&block, ctx, &mut s);
            self.depth -= 1;
            res?;
            let mut cur = Cow::Owned(Value::String(s));
            for st in &steps {
                self.step()?;
                cur = self.apply(cur, st)?;
            }
            return Ok(cur.into_owned());
        }
        // In-place mutation (`$list.add(..)`, `$map.put(..)`).
        let mut_at = steps.iter().position(|s| matches!(s, Step::Method(..)));
        if let Some(m) = mut_at
            && let Step::Method(name, args) = &steps[m]
            && methods::is_mutator(name)
        {
            for a in args {
                self.check_value(a)?;
            }
            let target = ctx
                .vars
                .get_mut(&r.root)
                .and_then(|root| get_path_mut(root, &steps[..m]));
            if let Some(t) = target
                && let Some(res) = methods::call_mut(t, name, args)
            {
                let v = res.map_err(|e| self.err(RenderErrorKind::Method(e)))?;
                let mut cur = Cow::Owned(v);
                for st in &steps[m + 1..] {
                    self.step()?;
                    cur = self.apply(cur, st)?;
                }
                return Ok(cur.into_owned());
            }
        }
        let Some(root) = ctx.vars.get(&r.root) else {
            return Ok(Value::Null);
        };
        let mut cur = Cow::Borrowed(root);
        for st in &steps {
            self.steps += 1;
            if self.steps > self.limits.max_steps {
                return Err(self.err(RenderErrorKind::StepLimit));
            }
            cur = self.apply(cur, st)?;
            if let Cow::Owned(Value::String(s)) = &cur
                && s.len() > self.limits.max_output_bytes
            {
                return Err(self.err(RenderErrorKind::OutputLimit));
            }
        }
        Ok(cur.into_owned())
    }

    pub fn eval(&mut self, e: &Expr, ctx: &mut Context) -> Res<Value> {
        self.step()?;
        Ok(match e {
            Expr::Lit(v) => v.clone(),
            Expr::Interp(nodes) => {
                let mut s = String::new();
                self.render_nodes(nodes, ctx, &mut s)?;
                Value::String(s)
            }
            Expr::Ref(r) => self.eval_ref(r, ctx)?,
            Expr::List(items) => {
                let mut l = Vec::with_capacity(items.len());
                for i in items {
                    l.push(self.eval(i, ctx)?);
                }
                let v = Value::List(l);
                self.check_value(&v)?;
                v
            }
            Expr::Range(a, b) => {
                let (a, b) = (self.eval(a, ctx)?, self.eval(b, ctx)?);
                let (Some(a), Some(b)) = (a.as_int(), b.as_int()) else {
                    return Ok(Value::Null);
                };
                let n = (i128::from(b) - i128::from(a)).abs() + 1;
                if n > i128::from(MAX_RANGE) {
                    return Err(self.err(RenderErrorKind::LoopLimit));
                }
                self.steps += n as u64;
                if self.steps > self.limits.max_steps {
                    return Err(self.err(RenderErrorKind::StepLimit));
                }
                if a <= b {
                    Value::List((a..=b).map(Value::Int).collect())
                } else {
                    Value::List((b..=a).rev().map(Value::Int).collect())
                }
            }
            Expr::Map(entries) => {
                let mut m = IndexMap::new();
                for (k, v) in entries {
                    let k = self.eval(k, ctx)?.render();
                    let v = self.eval(v, ctx)?;
                    m.insert(k, v);
                }
                let v = Value::Map(m);
                self.check_value(&v)?;
                v
            }
            Expr::Not(x) => Value::Bool(!self.eval(x, ctx)?.is_truthy()),
            Expr::Neg(x) => match self.eval(x, ctx)? {
                Value::Int(i) => i
                    .checked_neg()
                    .map_or(Value::Float(-(i as f64)), Value::Int),
                Value::Float(f) => Value::Float(-f),
                _ => Value::Null,
            },
            Expr::Bin(op, a, b) => match op {
                BinOp::And => {
                    Value::Bool(self.eval(a, ctx)?.is_truthy() && self.eval(b, ctx)?.is_truthy())
                }
                BinOp::Or => {
                    Value::Bool(self.eval(a, ctx)?.is_truthy() || self.eval(b, ctx)?.is_truthy())
                }
                _ => {
                    let x = self.eval(a, ctx)?;
                    let y = self.eval(b, ctx)?;
                    match op {
                        BinOp::Eq => Value::Bool(self.equal(&x, &y)),
                        BinOp::Ne => Value::Bool(!self.equal(&x, &y)),
                        BinOp::Lt => Value::Bool(compare(&x, &y) == Some(Ordering::Less)),
                        BinOp::Gt => Value::Bool(compare(&x, &y) == Some(Ordering::Greater)),
                        BinOp::Le => Value::Bool(matches!(
                            compare(&x, &y),
                            Some(Ordering::Less | Ordering::Equal)
                        )),
                        BinOp::Ge => Value::Bool(matches!(
                            compare(&x, &y),
                            Some(Ordering::Greater | Ordering::Equal)
                        )),
                        _ => {
                            let v = arith(*op, &x, &y);
                            if let Value::String(s) = &v
                                && s.len() > self.limits.max_output_bytes
                            {
                                return Err(self.err(RenderErrorKind::OutputLimit));
                            }
                            v
                        }
                    }
                }
            },
        })
    }
}

fn restore(ctx: &mut Context, name: &str, v: Option<Value>) {
    match v {
        Some(v) => {
            ctx.vars.insert(name.to_string(), v);
        }
        None => {
            ctx.vars.remove(name);
        }
    }
}
