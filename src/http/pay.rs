//! `simple-pay@1.0` at the edge: every chargeable request is debited before its handler runs
//! ([`charge`]), and the balance and top-up routes.

use http_body_util::{BodyExt as _, Full};
use hyper::{Request, StatusCode};
use serde_json::json;

use super::response::{HttpResponse, json, json_with_status};
use super::{ApiError, Body, NodeState};
use crate::pay::{PayRefusal, SimplePay};

/// Largest top-up request body.
const MAX_TOPUP_BODY_BYTES: u64 = 64 * 1024;

/// Debit `req` its price: the request, its body read, for the handler; or the refusal to
/// answer (402 with p4's `price` and `balance`).
pub async fn charge(
    state: &NodeState,
    pay: &SimplePay,
    req: Request<Body>,
) -> Result<Request<Body>, HttpResponse> {
    let operator = super::signed::operator_address(state)
        .await
        .map_err(ApiError::into_response)?;
    let (parts, body) = super::signed::read_whole(req, state.max_body_bytes)
        .await
        .map_err(ApiError::into_response)?;
    let message = super::signed::message(&parts, &body);
    match pay.charge(&message, &operator, crate::clock::now_ms()) {
        Ok(payment) => {
            tracing::debug!(?payment, path = %parts.uri.path(), "simple-pay");
            let body = Full::new(body).map_err(|never| match never {}).boxed();
            Ok(Request::from_parts(parts, body))
        }
        Err(refusal) => Err(match refusal.funds() {
            // p4's 402: the price and the balance beside the reason.
            Some((price, balance)) => json_with_status(
                StatusCode::PAYMENT_REQUIRED,
                &json!({
                    "error": refusal.to_string(), "kind": refusal.kind(),
                    "price": price, "balance": balance,
                }),
            ),
            None => refused(&refusal).into_response(),
        }),
    }
}

/// `GET /~simple-pay@1.0/balance[?address=ADDR]`: the address's balance, or the signer's.
pub async fn balance(pay: &SimplePay, req: Request<Body>) -> Result<HttpResponse, ApiError> {
    let asked = super::query::query_pairs(req.uri().query())?
        .into_iter()
        .find_map(|(name, value)| (name == "address").then_some(value));
    let (parts, body) = super::signed::read_whole(req, MAX_TOPUP_BODY_BYTES).await?;
    let address = match asked {
        Some(address) => address,
        None => match crate::httpsig::verify(&super::signed::message(&parts, &body)) {
            Ok(signers) if signers.len() == 1 => signers[0].address.clone(),
            Ok(_) | Err(crate::httpsig::HttpSigError::Unsigned) => {
                return Err(ApiError::bad_request(
                    "name the account: `?address=ADDR`, or sign the request with its key",
                ));
            }
            Err(e) => return Err(refused(&PayRefusal::BadSignature(e))),
        },
    };
    let balance = pay.balance(&address).map_err(|e| refused(&e.into()))?;
    Ok(json(&json!({
        "address": address, "balance": balance, "price": pay.price(),
    })))
}

/// `POST /~simple-pay@1.0/topup`: the operator credits `recipient` with `amount`.
pub async fn topup(
    state: &NodeState,
    pay: &SimplePay,
    req: Request<Body>,
) -> Result<HttpResponse, ApiError> {
    let operator = super::signed::operator_address(state).await?;
    let (parts, body) = super::signed::read_whole(req, MAX_TOPUP_BODY_BYTES).await?;
    let message = super::signed::message(&parts, &body);
    match pay.topup(&message, &operator, crate::clock::now_ms()) {
        Ok(credited) => {
            tracing::info!(recipient = %credited.recipient, amount = credited.amount, balance = credited.balance, "simple-pay top-up");
            Ok(json(&json!({
                "recipient": credited.recipient, "amount": credited.amount,
                "balance": credited.balance,
            })))
        }
        Err(refusal) => {
            tracing::warn!(error = %refusal, "simple-pay top-up refused");
            Err(refused(&refusal))
        }
    }
}

/// A refusal as the JSON error.
fn refused(refusal: &PayRefusal) -> ApiError {
    ApiError {
        status: StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::PAYMENT_REQUIRED),
        kind: refusal.kind(),
        message: refusal.to_string(),
        allow: None,
    }
}
