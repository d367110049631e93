//! JSON Patch (RFC 6902) over JSON Pointers (RFC 6901): `add`, `remove`, `replace`,
//! `move`, `copy`, `test`. Applied to a copy: a failing operation leaves nothing changed.

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

/// Applies `ops` to a copy of `doc`; the copy is returned only if every operation succeeded.
pub fn apply(doc: &Value, ops: &[Operation]) -> Result<Value, PatchError> {
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
        let out = apply(&doc, &ops(json!([
            {"op": "add", "path": "/foo/1", "value": "qux"},
            {"op": "add", "path": "/foo/-", "value": "end"},
            {"op": "replace", "path": "/a~1b", "value": 3},
            {"op": "remove", "path": "/m~0n"},
            {"op": "copy", "from": "/foo/0", "path": "/first"},
            {"op": "move", "from": "/first", "path": "/moved"},
            {"op": "test", "path": "/moved", "value": "bar"},
        ]))).unwrap();
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
            let err = apply(&doc, &ops(patch.clone())).unwrap_err();
            assert_eq!(err.reason, reason, "{patch}");
        }
        assert!(serde_json::from_value::<Vec<Operation>>(json!([{"op": "add", "path": "/a", "value": 1, "extra": 1}])).is_err());
    }
}
