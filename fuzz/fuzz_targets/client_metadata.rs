//! Client metadata JSON through both API surfaces: the authms create body and the Hydra
//! body builder.
#![no_main]
use clavis_core::{Client, ClientInput, TenantId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let t = TenantId::default_tenant();
    if let Ok(input) = serde_json::from_slice::<ClientInput>(data) {
        if let Ok(mut c) = Client::create(t.clone(), "id".into(), "cid".into(), &input, 1) {
            let _ = c.apply(&input);
        }
    }
    if let Ok(serde_json::Value::Object(body)) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok((client, _)) = clavis_service::hydra_client::build(&body, None, &t) {
            let _ = clavis_service::hydra_client::view(&client);
        }
    }
});
