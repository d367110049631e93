//! JSON Patch: a document and operations, both from the input.
#![no_main]
use clavis_core::json_patch::{apply, Operation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Array(parts)) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let [doc, ops] = parts.as_slice() else { return };
    if let Ok(ops) = serde_json::from_value::<Vec<Operation>>(ops.clone()) {
        let _ = apply(doc, &ops, 256 * 1024);
    }
});
