use super::*;

fn route() -> Route {
    Route {
        prefix: "https://cu.example.net".into(),
        price: 4_500_000,
        template: "^/result/.*".into(),
    }
}

fn header<'a>(encoded: &'a Encoded, name: &str) -> &'a str {
    let found = encoded.headers.iter().find(|(n, _)| n == name);
    &found.unwrap_or_else(|| panic!("no {name}")).1
}

#[test]
fn the_route_is_the_one_part_of_a_multipart_body() {
    let encoded = encode(&route());
    let body = String::from_utf8(encoded.body.clone()).unwrap();
    let boundary = header(&encoded, "content-type")
        .strip_prefix("multipart/form-data; boundary=\"")
        .and_then(|b| b.strip_suffix('"'))
        .unwrap()
        .to_string();
    let part = body
        .strip_prefix(&format!("--{boundary}\r\n"))
        .and_then(|b| b.strip_suffix(&format!("\r\n--{boundary}--")))
        .unwrap();
    assert_eq!(
        boundary,
        crate::ao::b64url(&Sha256::digest(part.as_bytes()))
    );
    let lines: Vec<&str> = part.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "ao-types: price=\"integer\"",
            "content-disposition: form-data;name=\"route\"",
            "prefix: https://cu.example.net",
            "price: 4500000",
            "template: ^/result/.*",
        ]
    );
    assert_eq!(header(&encoded, "body-keys"), "\"route\"");
    assert_eq!(header(&encoded, "subject"), "self");
    assert_eq!(header(&encoded, "action"), "register");
    let mut map = HeaderMap::new();
    map.insert(
        "content-digest",
        header(&encoded, "content-digest").parse().unwrap(),
    );
    httpsig::check_content_digest(&map, &encoded.body).unwrap();
    let names: Vec<&str> = encoded.headers.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "header fields in order");
}

#[test]
fn the_signature_covers_every_field_and_names_the_wallet() {
    let wallet = Wallet::generate().unwrap();
    let router = Url::parse("http://127.0.0.1:10000").unwrap();
    let encoded = signed(&wallet, &router, &route()).unwrap();
    let mut map = HeaderMap::new();
    for (name, value) in &encoded.headers {
        map.append(
            HeaderName::try_from(name.as_str()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let message = httpsig::Message {
        method: "POST",
        scheme: "http",
        authority: "127.0.0.1:10000",
        path: ROUTES_PATH,
        query: None,
        headers: &map,
        body: &encoded.body,
    };
    let signers = httpsig::verify(&message).unwrap();
    assert_eq!(signers.len(), 1);
    assert_eq!(signers[0].address, wallet.address());
    for field in [
        "action",
        "body-keys",
        "content-digest",
        "content-type",
        "subject",
    ] {
        assert!(signers[0].covered.iter().any(|c| c == field), "{field}");
    }
    // A changed route no longer verifies: the body is covered.
    let mut body = encoded.body.clone();
    let at = body.len() - 60;
    body[at] ^= 1;
    let tampered = httpsig::Message {
        body: &body,
        ..message
    };
    assert!(httpsig::verify(&tampered).is_err());
}

#[test]
fn routes_a_router_cannot_use_are_refused() {
    let bad = |f: fn(&mut Route)| {
        let mut r = route();
        f(&mut r);
        r.check().unwrap_err().to_string()
    };
    assert!(bad(|r| r.prefix = "ftp://x".into()).contains("prefix"));
    assert!(bad(|r| r.prefix = "not a url".into()).contains("prefix"));
    assert!(bad(|r| r.template = String::new()).contains("template"));
    assert!(bad(|r| r.template = "^/a\r\nx: y".into()).contains("template"));
    assert!(bad(|r| r.template = "a".repeat(MAX_FIELD_BYTES + 1)).contains("template"));
    route().check().unwrap();
}

#[test]
fn the_record_keeps_one_entry_per_router_and_route() {
    let dir = tempfile::tempdir().unwrap();
    let record = Registrations::in_dir(dir.path());
    let router = Url::parse("http://127.0.0.1:10000").unwrap();
    assert_eq!(record.all().unwrap(), vec![]);
    let accepted = |at| Accepted {
        router: router.as_str().to_string(),
        route: route(),
        signer: "me".into(),
        at,
        answer: "Route added.".into(),
    };
    record.record(accepted(1)).unwrap();
    record.record(accepted(2)).unwrap();
    assert_eq!(record.all().unwrap(), vec![accepted(2)]);
    assert_eq!(
        record.find(&router, &route(), "me").unwrap(),
        Some(accepted(2))
    );
    assert_eq!(record.find(&router, &route(), "other").unwrap(), None);
    let cheaper = Route {
        price: 1,
        ..route()
    };
    assert_eq!(record.find(&router, &cheaper, "me").unwrap(), None);

    std::fs::write(dir.path().join("router-registrations.json"), b"{oops").unwrap();
    let err = record.all().unwrap_err().to_string();
    assert!(err.contains("router-registrations.json"), "{err}");
    assert!(
        record.record(accepted(3)).is_err(),
        "a broken record is not overwritten"
    );
}
