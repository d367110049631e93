//! Access-token parsing and verification: any input is refused or parsed, never a panic.
#![no_main]
use clavis_core::jose::{PublicJwk, UnverifiedJwt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    if let Ok(jwt) = UnverifiedJwt::parse(token) {
        let _ = jwt.unverified_claims::<serde_json::Value>();
        // A key of every kind Clavis signs with, under the token's kid.
        let jwks = [
            serde_json::json!({"kty": "EC", "crv": "P-256", "kid": jwt.kid,
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": jwt.kid, "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
            serde_json::json!({"kty": "RSA", "alg": "RS256", "kid": jwt.kid, "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "alg": "PS256", "kid": jwt.kid, "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"}),
        ];
        for jwk in &jwks {
            if let Some(key) = PublicJwk::from_json(jwk) {
                let _ = jwt.verify::<serde_json::Value>(&key);
            }
        }
        // And the input as a JWK: parsing a stored key never panics.
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
            let _ = PublicJwk::from_json(&v);
        }
    }
});
