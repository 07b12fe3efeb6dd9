//! A software passkey authenticator: a P-256 key that answers WebAuthn ceremonies the way
//! a platform authenticator does (no attestation, user verified), so the server's checks
//! run against real signatures and real CBOR.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

pub struct SoftAuthenticator {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    pub credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
    origin: String,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text.as_str().expect("base64url text")).expect("base64url")
}

/// CBOR head: major type and length (RFC 8949 §3).
fn cbor_head(major: u8, length: usize) -> Vec<u8> {
    let major = major << 5;
    match length {
        0..=23 => vec![major | length as u8],
        24..=255 => vec![major | 24, length as u8],
        _ => {
            let mut head = vec![major | 25];
            head.extend_from_slice(&(length as u16).to_be_bytes());
            head
        }
    }
}

fn cbor_bytes(bytes: &[u8]) -> Vec<u8> {
    [cbor_head(2, bytes.len()), bytes.to_vec()].concat()
}

fn cbor_text(text: &str) -> Vec<u8> {
    [cbor_head(3, text.len()), text.as_bytes().to_vec()].concat()
}

impl SoftAuthenticator {
    pub fn new(origin: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let mut credential_id = vec![0; 16];
        rng.fill(&mut credential_id).unwrap();
        Self { key, rng, credential_id, user_handle: Vec::new(), counter: 0, origin: origin.to_owned() }
    }

    fn rp_id_hash(&self) -> Vec<u8> {
        let host = self.origin.trim_start_matches("https://").split([':', '/']).next().unwrap();
        digest(&SHA256, host.as_bytes()).as_ref().to_vec()
    }

    fn client_data(&self, kind: &str, challenge: &Value) -> Vec<u8> {
        let data =
            json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false });
        data.to_string().into_bytes()
    }

    /// The COSE_Key of the public key: EC2, ES256, P-256, x, y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let mut key = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        key.extend(cbor_bytes(&point[1..33]));
        key.push(0x22);
        key.extend(cbor_bytes(&point[33..65]));
        key
    }

    /// Answers `navigator.credentials.create()` with these options (the server's JSON).
    pub fn register(&mut self, options: &Value) -> Value {
        let public_key = &options["publicKey"];
        self.user_handle = unb64(&public_key["user"]["id"]);
        let client_data = self.client_data("webauthn.create", &public_key["challenge"]);
        // Flags: user present, user verified, attested credential data included.
        let mut auth_data = self.rp_id_hash();
        auth_data.push(0x45);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0; 16]);
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut attestation = vec![0xa3];
        attestation.extend(cbor_text("fmt"));
        attestation.extend(cbor_text("none"));
        attestation.extend(cbor_text("attStmt"));
        attestation.push(0xa0);
        attestation.extend(cbor_text("authData"));
        attestation.extend(cbor_bytes(&auth_data));
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// Answers `navigator.credentials.get()`; `None` when the options do not allow this
    /// credential (an empty list allows any, as for a discoverable sign-in).
    pub fn sign_in(&mut self, options: &Value) -> Option<Value> {
        let public_key = &options["publicKey"];
        let allowed = public_key["allowCredentials"].as_array().cloned().unwrap_or_default();
        if !allowed.is_empty() && !allowed.iter().any(|c| unb64(&c["id"]) == self.credential_id) {
            return None;
        }
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", &public_key["challenge"]);
        let mut auth_data = self.rp_id_hash();
        auth_data.push(0x05);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let signed = [auth_data.clone(), digest(&SHA256, &client_data).as_ref().to_vec()].concat();
        let signature = self.key.sign(&self.rng, &signed).unwrap();
        Some(json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(&self.user_handle),
            },
            "clientExtensionResults": {},
        }))
    }

    /// A copy of this authenticator whose counter lags: what a cloned key looks like.
    pub fn set_counter(&mut self, counter: u32) {
        self.counter = counter;
    }
}
