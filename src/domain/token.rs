//! REST tokens as the reference API issues them: HS256 JWTs naming a key in `iss`
//! (CONTRACT §2). Minting and checking are pure; the key lookup happens in between.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Clock skew tolerated on `exp`, in seconds.
pub const LEEWAY_SECS: i64 = 30;

/// Why a token was refused. Each message says which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("missing token: send it in the X-STRINGEE-AUTH header or the access_token parameter")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unsupported token algorithm '{0}': only HS256 is accepted")]
    Algorithm(String),
    #[error("token has no iss naming an API key")]
    MissingIssuer,
    #[error("unknown API key '{0}' (the token's iss): a key works with the database it was created in")]
    UnknownKey(String),
    #[error("API key '{0}' is revoked")]
    RevokedKey(String),
    #[error("token signature does not match the key's secret")]
    BadSignature,
    #[error("token has no exp claim")]
    MissingExpiry,
    #[error("token expired at {0}")]
    Expired(i64),
    #[error("token is not a REST API token: \"rest_api\": true is required")]
    NotRestApi,
    #[error("token is not valid before {0} (its nbf)")]
    NotYetValid(i64),
}

/// A token whose header and payload decoded, before its signature is checked.
#[derive(Debug)]
pub struct Unverified<'a> {
    signing_input: &'a str,
    signature: Vec<u8>,
    claims: Value,
    /// The key sid named by `iss`.
    pub issuer: String,
}

/// Mints a token for `key_sid`, valid `ttl` seconds from `now`.
pub fn mint(key_sid: &str, key_secret: &str, now: i64, ttl: i64) -> String {
    let header = json!({"typ": "JWT", "alg": "HS256", "cty": "stringee-api;v=1"});
    let claims = json!({
        "jti": format!("{key_sid}-{now}"),
        "iss": key_sid,
        "exp": now + ttl,
        "rest_api": true,
    });
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = URL_SAFE_NO_PAD.encode(sign(key_secret, &signing_input));
    format!("{signing_input}.{signature}")
}

fn sign(secret: &str, input: &str) -> Vec<u8> {
    let mut mac = mac(secret);
    mac.update(input.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length")
}

/// Decodes the token and checks its header, without trusting anything yet.
pub fn decode(token: &str) -> Result<Unverified<'_>, TokenError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    let (signing_input, signature) =
        token.rsplit_once('.').ok_or(TokenError::Malformed("expected three dot-separated parts"))?;
    let (header, payload) =
        signing_input.split_once('.').ok_or(TokenError::Malformed("expected three dot-separated parts"))?;
    if payload.contains('.') {
        return Err(TokenError::Malformed("expected three dot-separated parts"));
    }
    let header = decode_json(header, Part::Header)?;
    match header.get("alg").and_then(Value::as_str) {
        Some("HS256") => {}
        Some(other) => return Err(TokenError::Algorithm(other.to_string())),
        None => return Err(TokenError::Malformed("header has no alg")),
    }
    // RFC 7515 §4.1.11: extensions marked critical must be understood; callsheet knows none.
    if header.get("crit").is_some() {
        return Err(TokenError::Malformed("header names critical extensions (crit), which callsheet does not know"));
    }
    let claims = decode_json(payload, Part::Payload)?;
    if !claims.is_object() {
        return Err(TokenError::Malformed("payload is not a JSON object"));
    }
    let signature =
        URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed("signature is not base64url"))?;
    let issuer = match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if !iss.is_empty() => iss.to_string(),
        _ => return Err(TokenError::MissingIssuer),
    };
    Ok(Unverified { signing_input, signature, claims, issuer })
}

/// The two decoded parts of a token.
#[derive(Clone, Copy)]
enum Part {
    Header,
    Payload,
}

fn decode_json(text: &str, part: Part) -> Result<Value, TokenError> {
    let (not_base64, not_json, twice) = match part {
        Part::Header => ("header is not base64url", "header is not JSON", "header names a key twice"),
        Part::Payload => ("payload is not base64url", "payload is not JSON", "payload names a claim twice"),
    };
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| TokenError::Malformed(not_base64))?;
    // A claim given twice (two `exp`) is refused, not read as its last value.
    serde_json::from_slice::<UniqueKeys>(&bytes)
        .map(|u| u.0)
        .map_err(|e| TokenError::Malformed(if e.to_string().contains(TWICE) { twice } else { not_json }))
}

/// What [`UniqueKeysVisitor`] says of a key given twice.
const TWICE: &str = "is given twice";

/// JSON whose objects name each key once.
struct UniqueKeys(Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<UniqueKeys, D::Error> {
        d.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("'{key}' {TWICE}")));
            }
            object.insert(key, map.next_value::<UniqueKeys>()?.0);
        }
        Ok(Value::Object(object))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

impl Unverified<'_> {
    /// Checks the signature with the key's secret, then `exp` and `rest_api`.
    /// Checks the signature and claims; the token's expiry (`exp`) when they hold.
    pub fn verify(&self, key_secret: &str, now: i64) -> Result<i64, TokenError> {
        let mut mac = mac(key_secret);
        mac.update(self.signing_input.as_bytes());
        mac.verify_slice(&self.signature).map_err(|_| TokenError::BadSignature)?;
        let time = |claim: &'static str, malformed: &'static str| match self.claims.get(claim) {
            Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).map(Some).ok_or(malformed),
            Some(_) => Err(malformed),
            None => Ok(None),
        };
        let exp =
            time("exp", "exp is not a number").map_err(TokenError::Malformed)?.ok_or(TokenError::MissingExpiry)?;
        if now > exp.saturating_add(LEEWAY_SECS) {
            return Err(TokenError::Expired(exp));
        }
        // RFC 7519 4.1.5: a token is not taken before its nbf, with the same leeway.
        if let Some(nbf) = time("nbf", "nbf is not a number").map_err(TokenError::Malformed)?
            && now < nbf.saturating_sub(LEEWAY_SECS)
        {
            return Err(TokenError::NotYetValid(nbf));
        }
        if self.claims.get("rest_api") != Some(&Value::Bool(true)) {
            return Err(TokenError::NotRestApi);
        }
        Ok(exp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "SKabcdefghijklmnopqrstuvwxyz1234";

    #[test]
    fn a_claim_given_twice_is_malformed() {
        let part = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let header = part(r#"{"typ":"JWT","alg":"HS256"}"#);
        let payload = part(&format!(r#"{{"iss":"{SID}","exp":1,"exp":99999999999,"rest_api":true}}"#));
        let input = format!("{header}.{payload}");
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sign("secret", &input)));
        assert!(matches!(decode(&token), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn a_token_is_not_taken_before_its_nbf_beyond_the_leeway() {
        let part = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let signed = |claims: &str| {
            let input = format!("{}.{}", part(r#"{"typ":"JWT","alg":"HS256"}"#), part(claims));
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sign("secret", &input)))
        };
        let token = signed(&format!(r#"{{"iss":"{SID}","exp":5000,"nbf":2000,"rest_api":true}}"#));
        let t = decode(&token).unwrap();
        assert_eq!(t.verify("secret", 1969), Err(TokenError::NotYetValid(2000)));
        assert_eq!(t.verify("secret", 1970), Ok(5000));
        let token = signed(&format!(r#"{{"iss":"{SID}","exp":5000,"nbf":"soon","rest_api":true}}"#));
        assert_eq!(decode(&token).unwrap().verify("secret", 1970), Err(TokenError::Malformed("nbf is not a number")));
    }

    #[test]
    fn minted_token_verifies() {
        let token = mint(SID, "secret", 1000, 3600);
        let t = decode(&token).unwrap();
        assert_eq!(t.issuer, SID);
        t.verify("secret", 1000).unwrap();
        assert_eq!(t.verify("other", 1000), Err(TokenError::BadSignature));
    }

    #[test]
    fn expiry_has_leeway() {
        let token = mint(SID, "s", 1000, 10);
        let t = decode(&token).unwrap();
        t.verify("s", 1010 + LEEWAY_SECS).unwrap();
        assert_eq!(t.verify("s", 1011 + LEEWAY_SECS), Err(TokenError::Expired(1010)));
    }

    #[test]
    fn malformed_tokens_are_named() {
        assert_eq!(decode("").unwrap_err(), TokenError::Missing);
        assert!(matches!(decode("abc").unwrap_err(), TokenError::Malformed(_)));
        assert!(matches!(decode("a.b.c.d").unwrap_err(), TokenError::Malformed(_)));
        assert!(matches!(decode("!!.e30.x").unwrap_err(), TokenError::Malformed(_)));
    }

    #[test]
    fn other_algorithms_are_refused() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"iss":"{SID}","exp":9999999999,"rest_api":true}}"#));
        let err = decode(&format!("{header}.{payload}.")).unwrap_err();
        assert_eq!(err, TokenError::Algorithm("none".into()));
    }
}
