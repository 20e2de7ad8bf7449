use std::sync::OnceLock;

use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};

use super::*;
use crate::ao::Wallet;

/// Two wallets for the module (RSA-4096 generation takes a while): the operator, a user.
fn wallets() -> &'static (Wallet, Wallet) {
    static WALLETS: OnceLock<(Wallet, Wallet)> = OnceLock::new();
    WALLETS.get_or_init(|| (Wallet::generate().unwrap(), Wallet::generate().unwrap()))
}

fn message(headers: &HeaderMap) -> Message<'_> {
    Message {
        method: "GET",
        scheme: "http",
        authority: "node:6363",
        path: "/state/x",
        query: None,
        headers,
        body: b"",
    }
}

/// Headers `fields`, signed by `wallet` over all of them (`None`: unsigned).
fn signed(wallet: Option<&Wallet>, fields: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    if let Some(wallet) = wallet {
        let covered: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        let (input, signature) = httpsig::sign(wallet, &message(&headers), &covered).unwrap();
        headers.insert("signature-input", input.parse().unwrap());
        headers.insert("signature", signature.parse().unwrap());
    }
    headers
}

fn node(per_message: u64) -> (tempfile::TempDir, SimplePay) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let price = crate::hw::profile::Price {
        per_message,
        ..crate::price::free()
    };
    let pay = SimplePay::new(store, Arc::new(crate::price::Schedule::new(price)));
    (dir, pay)
}

const NOW: u64 = 1_700_000_000_000;

#[test]
fn requests_are_paid_from_a_topped_up_balance_once_each() {
    let (operator, user) = wallets();
    let (_dir, pay) = node(5);
    let op = operator.address();
    let charge = |h: &HeaderMap| pay.charge(&message(h), op, NOW);
    let unsigned = signed(None, &[("signing-format", "httpsig")]);
    let err = charge(&unsigned).unwrap_err();
    assert_eq!((err.status(), err.funds()), (402, Some((5, 0))));
    let err = charge(&signed(Some(user), &[("signing-format", "httpsig")])).unwrap_err();
    assert_eq!((err.status(), err.kind()), (402, "insufficient-funds"));

    let topup = signed(
        Some(operator),
        &[("amount", "12"), ("recipient", user.address())],
    );
    let credited = pay.topup(&message(&topup), op, NOW).unwrap();
    assert_eq!(credited.balance, 12);
    let again = pay.topup(&message(&topup), op, NOW).unwrap_err();
    assert_eq!(again.kind(), "replayed");
    assert_eq!(pay.balance(user.address()).unwrap(), 12);

    let request = signed(Some(user), &[("signing-format", "httpsig")]);
    let paid = charge(&request).unwrap();
    assert_eq!(
        paid,
        Payment::Paid {
            signer: user.address().to_string(),
            price: 5,
            balance: 7
        }
    );
    assert_eq!(charge(&request).unwrap_err().kind(), "replayed");
    charge(&signed(Some(user), &[("signing-format", "httpsig")])).unwrap();
    let short = charge(&signed(Some(user), &[("signing-format", "httpsig")])).unwrap_err();
    assert_eq!(short.funds(), Some((5, 2)), "{short}");
    assert_eq!(pay.balance(user.address()).unwrap(), 2);
    // The operator rides free.
    assert_eq!(
        charge(&signed(Some(operator), &[("signing-format", "httpsig")])).unwrap(),
        Payment::Operator
    );
}

#[test]
fn only_the_operators_signed_topup_credits() {
    let (operator, user) = wallets();
    let (_dir, pay) = node(5);
    let op = operator.address();
    let topup = |wallet, fields: &[(&str, &str)]| {
        pay.topup(&message(&signed(Some(wallet), fields)), op, NOW)
            .unwrap_err()
    };
    let recipient = ("recipient", user.address());
    assert_eq!(
        topup(user, &[("amount", "9"), recipient]).kind(),
        "not-operator"
    );
    assert!(
        topup(operator, &[("amount", "-1"), recipient])
            .to_string()
            .contains("amount")
    );
    assert!(
        topup(operator, &[("amount", "1"), ("recipient", "me")])
            .to_string()
            .contains("recipient")
    );
    // An amount the signature does not cover is not taken.
    let mut headers = signed(Some(operator), &[recipient]);
    headers.insert("amount", "100".parse().unwrap());
    let err = pay.topup(&message(&headers), op, NOW).unwrap_err();
    assert!(err.to_string().contains("`amount` is not signed"), "{err}");
    let unsigned = signed(None, &[("amount", "9"), recipient]);
    assert_eq!(
        pay.topup(&message(&unsigned), op, NOW)
            .unwrap_err()
            .status(),
        401
    );
    assert_eq!(pay.balance(user.address()).unwrap(), 0);
}

#[test]
fn free_requests_and_exempt_routes() {
    let (operator, _) = wallets();
    let (_dir, pay) = node(0);
    let unsigned = signed(None, &[("signing-format", "httpsig")]);
    assert_eq!(
        pay.charge(&message(&unsigned), operator.address(), NOW)
            .unwrap(),
        Payment::Free
    );
    for path in [
        "/",
        "/~meta@1.0/info",
        "/~simple-pay@1.0/balance",
        "/metrics",
    ] {
        assert!(!is_chargeable("GET", path), "{path}");
    }
    for path in [
        "/result/x",
        "/dry-run",
        "/state/x",
        "/graphql",
        "/x/schedule",
    ] {
        assert!(is_chargeable("GET", path), "{path}");
    }
    assert!(is_chargeable("POST", "/"), "the MU's ingest pays");
}
