//! JSON Patch (RFC 6902) over JSON Pointers (RFC 6901): `add`, `remove`, `replace`,
//! `move`, `copy`, `test`. Applied to a copy: a failing operation leaves nothing changed.
//!
//! Bounded: at most [`MAX_OPERATIONS`] operations, and the document may not grow past the
//! caller's limit after any one of them — `copy` doubles a document per operation, so a
//! 1 KB patch could otherwise build gigabytes.

use serde::Deserialize;
use serde_json::Value;

/// One RFC 6902 operation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// `add`, `remove`, `replace`, `move`, `copy` or `test`.
    pub op: String,
    /// A JSON Pointer (RFC 6901).
    pub path: String,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub value: Option<Value>,
    #[serde(default)]
    pub from: Option<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("patch operation {index} ({op} {path}): {reason}")]
pub struct PatchError {
    pub index: usize,
    pub op: String,
    pub path: String,
    pub reason: &'static str,
}

/// Splits a JSON Pointer into unescaped reference tokens.
pub fn parse_pointer(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(vec![]);
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/')
        .map(|t| {
            // `~1` then `~0`, in that order (RFC 6901 §4); any other `~` is invalid.
            let mut out = String::with_capacity(t.len());
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return None,
                    }
                } else {
                    out.push(c);
                }
            }
            Some(out)
        })
        .collect()
}

fn array_index(token: &str, len: usize, allow_end: bool) -> Option<usize> {
    if token == "-" {
        return allow_end.then_some(len);
    }
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let i: usize = token.parse().ok()?;
    (i < len || (allow_end && i == len)).then_some(i)
}

fn get<'a>(doc: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    tokens.iter().try_fold(doc, |v, t| match v {
        Value::Object(m) => m.get(t),
        Value::Array(a) => array_index(t, a.len(), false).and_then(|i| a.get(i)),
        _ => None,
    })
}

fn parent_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    tokens[..tokens.len() - 1].iter().try_fold(doc, |v, t| match v {
        Value::Object(m) => m.get_mut(t),
        Value::Array(a) => {
            let len = a.len();
            array_index(t, len, false).and_then(move |i| a.get_mut(i))
        }
        _ => None,
    })
}

fn add(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), &'static str> {
    let Some(last) = tokens.last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, tokens).ok_or("the parent does not exist")? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = array_index(last, a.len(), true).ok_or("array index out of range")?;
            a.insert(i, value);
            Ok(())
        }
        _ => Err("the parent is not a container"),
    }
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<Value, &'static str> {
    let last = tokens.last().ok_or("cannot remove the whole document")?;
    match parent_mut(doc, tokens).ok_or("the path does not exist")? {
        Value::Object(m) => m.remove(last).ok_or("the path does not exist"),
        Value::Array(a) => {
            let i = array_index(last, a.len(), false).ok_or("array index out of range")?;
            Ok(a.remove(i))
        }
        _ => Err("the path does not exist"),
    }
}

/// The most operations one patch may have.
pub const MAX_OPERATIONS: usize = 100;

/// The size of `v` as compact JSON, counted until it passes `limit` (then `limit + 1`):
/// checking a document never costs more than the limit.
pub fn json_size(v: &Value, limit: usize) -> usize {
    fn take(budget: &mut usize, n: usize) -> bool {
        match budget.checked_sub(n) {
            Some(rest) => {
                *budget = rest;
                true
            }
            None => false,
        }
    }
    fn walk(v: &Value, budget: &mut usize) -> bool {
        // Escapes can make a string longer; its length is a lower bound, enough here.
        let quoted = |s: &str| s.len() + 2;
        match v {
            Value::Null | Value::Bool(true) => take(budget, 4),
            Value::Bool(false) => take(budget, 5),
            Value::Number(n) => take(budget, n.to_string().len()),
            Value::String(s) => take(budget, quoted(s)),
            Value::Array(a) => take(budget, 1 + a.len().max(1)) && a.iter().all(|x| walk(x, budget)),
            Value::Object(m) => take(budget, 1 + m.len().max(1)) && m.iter().all(|(k, x)| take(budget, quoted(k) + 1) && walk(x, budget)),
        }
    }
    let mut budget = limit;
    if walk(v, &mut budget) {
        limit - budget
    } else {
        limit + 1
    }
}

/// Applies `ops` to a copy of `doc`; the copy is returned only if every operation succeeded
/// and the document stayed within `max_bytes` (as compact JSON) after each.
pub fn apply(doc: &Value, ops: &[Operation], max_bytes: usize) -> Result<Value, PatchError> {
    if ops.len() > MAX_OPERATIONS {
        return Err(PatchError { index: MAX_OPERATIONS, op: String::new(), path: String::new(), reason: "too many operations (at most 100)" });
    }
    let mut out = doc.clone();
    for (index, op) in ops.iter().enumerate() {
        let fail = |reason| PatchError { index, op: op.op.clone(), path: op.path.clone(), reason };
        let path = parse_pointer(&op.path).ok_or_else(|| fail("path is not a JSON Pointer"))?;
        let value = || op.value.clone().ok_or_else(|| fail("value is required"));
        let from = || op.from.as_deref().and_then(parse_pointer).ok_or_else(|| fail("from is missing or not a JSON Pointer"));
        match op.op.as_str() {
            "add" => add(&mut out, &path, value()?).map_err(fail)?,
            "remove" => {
                remove(&mut out, &path).map_err(fail)?;
            }
            "replace" => {
                if get(&out, &path).is_none() {
                    return Err(fail("the path does not exist"));
                }
                if path.is_empty() {
                    out = value()?;
                } else {
                    remove(&mut out, &path).map_err(fail)?;
                    add(&mut out, &path, value()?).map_err(fail)?;
                }
            }
            "move" => {
                let from = from()?;
                if path.len() > from.len() && path[..from.len()] == from[..] {
                    return Err(fail("cannot move a value into itself"));
                }
                let v = remove(&mut out, &from).map_err(fail)?;
                add(&mut out, &path, v).map_err(fail)?;
            }
            "copy" => {
                let v = get(&out, &from()?).cloned().ok_or_else(|| fail("from does not exist"))?;
                add(&mut out, &path, v).map_err(fail)?;
            }
            "test" => {
                if get(&out, &path) != Some(&value()?) {
                    return Err(fail("test failed"));
                }
            }
            _ => return Err(fail("unknown op")),
        }
        if json_size(&out, max_bytes) > max_bytes {
            return Err(fail("the patched document is too large"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(v: Value) -> Vec<Operation> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn rfc6902_examples() {
        let doc = json!({"foo": ["bar", "baz"], "a/b": 1, "m~n": 2});
        let out = apply(
            &doc,
            &ops(json!([
                {"op": "add", "path": "/foo/1", "value": "qux"},
                {"op": "add", "path": "/foo/-", "value": "end"},
                {"op": "replace", "path": "/a~1b", "value": 3},
                {"op": "remove", "path": "/m~0n"},
                {"op": "copy", "from": "/foo/0", "path": "/first"},
                {"op": "move", "from": "/first", "path": "/moved"},
                {"op": "test", "path": "/moved", "value": "bar"},
            ])),
            1 << 20,
        )
        .unwrap();
        assert_eq!(out, json!({"foo": ["bar", "qux", "baz", "end"], "a/b": 3, "moved": "bar"}));
    }

    #[test]
    fn failures_change_nothing_and_say_why() {
        let doc = json!({"a": [1]});
        for (patch, reason) in [
            (json!([{"op": "remove", "path": "/nope"}]), "the path does not exist"),
            (json!([{"op": "replace", "path": "/nope", "value": 1}]), "the path does not exist"),
            (json!([{"op": "add", "path": "/a/5", "value": 1}]), "array index out of range"),
            (json!([{"op": "add", "path": "/a/01", "value": 1}]), "array index out of range"),
            (json!([{"op": "add", "path": "a", "value": 1}]), "path is not a JSON Pointer"),
            (json!([{"op": "add", "path": "/x~2", "value": 1}]), "path is not a JSON Pointer"),
            (json!([{"op": "add", "path": "/b"}]), "value is required"),
            (json!([{"op": "test", "path": "/a", "value": [2]}]), "test failed"),
            (json!([{"op": "move", "from": "/a", "path": "/a/0"}]), "cannot move a value into itself"),
            (json!([{"op": "frobnicate", "path": "/a"}]), "unknown op"),
            (json!([{"op": "add", "path": "/ok", "value": 1}, {"op": "remove", "path": "/missing"}]), "the path does not exist"),
        ] {
            let err = apply(&doc, &ops(patch.clone()), 1 << 20).unwrap_err();
            assert_eq!(err.reason, reason, "{patch}");
        }
        assert!(serde_json::from_value::<Vec<Operation>>(json!([{"op": "add", "path": "/a", "value": 1, "extra": 1}])).is_err());
    }

    #[test]
    fn copies_cannot_amplify_and_operations_are_capped() {
        let doc = json!({"a": "x".repeat(1000)});
        let doubling: Vec<Value> = (0..40).map(|i| json!({"op": "copy", "from": "", "path": format!("/c{i}")})).collect();
        let err = apply(&doc, &ops(Value::Array(doubling)), 64 * 1024).unwrap_err();
        assert_eq!(err.reason, "the patched document is too large");
        assert!(err.index < 8, "stopped as soon as it passed the limit, at {}", err.index);
        let many: Vec<Value> = (0..=MAX_OPERATIONS).map(|_| json!({"op": "test", "path": "/a", "value": "x"})).collect();
        assert_eq!(apply(&doc, &ops(Value::Array(many)), 1 << 20).unwrap_err().reason, "too many operations (at most 100)");
    }

    #[test]
    fn json_size_is_exact_for_plain_documents_and_stops_at_the_limit() {
        for v in [json!({"a": [1, true, null, "xy"], "b": {}}), json!([]), json!("s"), json!({"k": {"n": 12.5}})] {
            assert_eq!(json_size(&v, 1000), v.to_string().len(), "{v}");
        }
        let big = json!(vec!["y".repeat(100); 1000]);
        assert_eq!(json_size(&big, 500), 501);
    }
}
