use std::sync::OnceLock;

use hyper::header::{HeaderName, HeaderValue};
use rsa::traits::PublicKeyParts as _;
use rsa::{Pss, RsaPrivateKey};

use super::*;

/// One wallet for the whole module: RSA-4096 generation takes seconds.
fn wallet() -> &'static Wallet {
    static WALLET: OnceLock<Wallet> = OnceLock::new();
    WALLET.get_or_init(|| Wallet::generate().expect("a wallet"))
}

/// A request with `headers` and `body`, as the node sees it.
struct Request {
    headers: HeaderMap,
    body: Vec<u8>,
    query: Option<&'static str>,
}

impl Request {
    fn new(fields: &[(&str, &str)], body: &[u8]) -> Request {
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        if !body.is_empty() {
            headers.insert(
                "content-digest",
                HeaderValue::from_str(&content_digest(body)).unwrap(),
            );
        }
        Request {
            headers,
            body: body.to_vec(),
            query: Some("a=1"),
        }
    }

    fn message(&self) -> Message<'_> {
        Message {
            method: "POST",
            scheme: "http",
            authority: "Node.Example:6363",
            path: "/~meta@1.0/info",
            query: self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    /// Sign over `covered` and add the two headers.
    fn sign(&mut self, covered: &[&str]) {
        let (input, signature) = sign(wallet(), &self.message(), covered).unwrap();
        self.set("signature-input", &input);
        self.set("signature", &signature);
    }

    fn set(&mut self, name: &'static str, value: &str) {
        self.headers
            .insert(name, HeaderValue::from_str(value).unwrap());
    }
}

#[test]
fn a_signed_request_names_its_signer_and_a_changed_one_fails() {
    let mut request = Request::new(&[("price.per-message", "11"), ("x-two", "a")], b"{}");
    request
        .headers
        .append("x-two", HeaderValue::from_static(" b "));
    let covered = [
        "@method",
        "@path",
        "@query",
        "@authority",
        "@target-uri",
        "content-digest",
        "price.per-message",
        "x-two",
    ];
    request.sign(&covered);
    let signers = verify(&request.message()).unwrap();
    assert_eq!(signers.len(), 1);
    assert_eq!(signers[0].address, wallet().address());
    assert_eq!(signers[0].label, label_of(wallet()));
    assert_eq!(signers[0].covered, covered);
    assert_eq!(signers[0].created, None);

    let mut changed = Request {
        ..request_clone(&request)
    };
    changed.set("price.per-message", "0");
    assert!(matches!(
        verify(&changed.message()),
        Err(HttpSigError::Mismatch { .. })
    ));
    let mut other_query = request_clone(&request);
    other_query.query = Some("a=2");
    assert!(matches!(
        verify(&other_query.message()),
        Err(HttpSigError::Mismatch { .. })
    ));
    let mut other_body = request_clone(&request);
    other_body.body = b"{\"x\":1}".to_vec();
    assert!(matches!(
        verify(&other_body.message()),
        Err(HttpSigError::ContentDigest(_))
    ));
    let mut dropped = request_clone(&request);
    dropped.headers.remove("x-two");
    assert!(matches!(
        verify(&dropped.message()),
        Err(HttpSigError::Component {
            why: "is not in the request",
            ..
        })
    ));
}

fn request_clone(request: &Request) -> Request {
    Request {
        headers: request.headers.clone(),
        body: request.body.clone(),
        query: request.query,
    }
}

#[test]
fn unsigned_malformed_and_uncovered_bodies_are_refused() {
    let plain = Request::new(&[("price.per-message", "11")], b"");
    assert_eq!(verify(&plain.message()), Err(HttpSigError::Unsigned));

    let mut garbage = Request::new(&[], b"");
    garbage.set("signature-input", "((((");
    garbage.set("signature", "x=:AAAA:");
    assert!(matches!(
        verify(&garbage.message()),
        Err(HttpSigError::Malformed {
            header: "signature-input",
            ..
        })
    ));

    let mut body = Request::new(&[], b"a body");
    body.sign(&["@method"]);
    assert_eq!(verify(&body.message()), Err(HttpSigError::BodyNotCovered));

    // Only other algorithms (AO-Core's hmac ID commitment): no signer.
    let mut hmac = Request::new(&[], b"");
    hmac.set(
        "signature-input",
        r#"x=("@method");alg="hmac-sha256";keyid="ao""#,
    );
    hmac.set("signature", "x=:AAAA:");
    assert_eq!(verify(&hmac.message()), Err(HttpSigError::Unsigned));

    // A key too small to be accepted, however well it signs.
    let mut small = Request::new(&[], b"");
    small.set(
        "signature-input",
        &format!(
            r#"x=("@method");alg="rsa-pss-sha512";keyid="{}""#,
            URL_SAFE_NO_PAD.encode([0xc5u8; 128])
        ),
    );
    small.set("signature", "x=:AAAA:");
    assert!(matches!(
        verify(&small.message()),
        Err(HttpSigError::KeyId { .. })
    ));
}

#[test]
fn the_signature_base_is_rfc_9421s() {
    let request = Request::new(&[("x-a", "  one "), ("signing-format", "httpsig")], b"");
    let input = match Parser::parse_dictionary(
        br#"l=("@method" "@authority" "@request-target" "x-a" "signing-format");alg="rsa-pss-sha512";keyid="AQAB";created=1700000000"#,
    )
    .unwrap()
    .swap_remove("l")
    {
        Some(ListEntry::InnerList(input)) => input,
        other => panic!("{other:?}"),
    };
    let base = signature_base(&request.message(), "l", &input).unwrap();
    assert_eq!(
        base,
        "\"@method\": POST\n\
         \"@authority\": node.example:6363\n\
         \"@request-target\": /~meta@1.0/info?a=1\n\
         \"x-a\": one\n\
         \"signing-format\": httpsig\n\
         \"@signature-params\": (\"@method\" \"@authority\" \"@request-target\" \"x-a\" \"signing-format\");alg=\"rsa-pss-sha512\";keyid=\"AQAB\";created=1700000000"
    );
}

#[test]
fn any_pss_salt_verifies_as_node_and_hyperbeam_sign() {
    // Node's crypto.sign uses the longest salt, HyperBEAM 64 bytes; a 2048-bit key keeps
    // the test fast (the padding does not depend on the size).
    let mut rng = rsa::rand_core::OsRng;
    let key = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let n = key.n().to_bytes_be();
    let message = b"\"@method\": POST";
    let digest = Sha512::digest(message);
    for salt in [0, 32, 64, 256 - 64 - 2] {
        let sig = key
            .sign_with_rng(&mut rng, Pss::new_with_salt::<Sha512>(salt), &digest)
            .unwrap();
        assert!(pss_sha512_verifies(&n, message, &sig), "salt {salt}");
        assert!(!pss_sha512_verifies(&n, b"\"@method\": GET", &sig));
        let mut bad = sig.clone();
        bad[7] ^= 1;
        assert!(!pss_sha512_verifies(&n, message, &bad));
        assert!(!pss_sha512_verifies(&n, message, &sig[1..]));
    }
    // A SHA-256 PSS signature is not a SHA-512 one.
    let sha256 = key
        .sign_with_rng(&mut rng, Pss::new::<Sha256>(), &Sha256::digest(message))
        .unwrap();
    assert!(!pss_sha512_verifies(&n, message, &sha256));
}

#[test]
fn content_digests_in_either_alphabet() {
    let body = b"any body at all, long enough to give + and / in base64 ~~~~~~~~~~~~~~??";
    let digest = Sha256::digest(body);
    for encoded in [STANDARD.encode(digest), URL_SAFE_NO_PAD.encode(digest)] {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-digest",
            HeaderValue::from_str(&format!("sha-256=:{encoded}:")).unwrap(),
        );
        assert_eq!(check_content_digest(&headers, body), Ok(()));
        assert!(check_content_digest(&headers, b"other").is_err());
    }
    let mut unknown = HeaderMap::new();
    unknown.insert("content-digest", HeaderValue::from_static("md5=:AAAA:"));
    assert!(check_content_digest(&unknown, body).is_err());
}
