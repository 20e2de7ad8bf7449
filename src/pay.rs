//! HyperBEAM's `simple-pay@1.0`, behind the `simple-pay` switch: a price per request, paid
//! from a prepaid balance per signer. The operator tops balances up
//! (`POST /~simple-pay@1.0/topup`, signed, `amount` and `recipient`); a chargeable request is
//! debited its price before any work, and refused with 402 when the balance is short. The
//! operator's own requests are free. `docs/simple-pay.md` has the facts and where they were
//! read.
//!
//! The price of a request is the price schedule's `per-message` (one request to a CU is one
//! message; HyperBEAM multiplies its `simple_pay_price` by the messages of a request). The
//! payer is the request's one RFC 9421 signer ([`crate::httpsig`]); an unsigned request has
//! no balance and so pays nothing and gets nothing while the price is above zero.
//!
//! A paid request's signature is spent: the same signed request sent again is refused
//! (`replayed`), so a request captured on the wire cannot spend its signer's balance again.
//! The spent signatures of the last [`SPENT_WINDOW`] paid requests are kept in memory; top-up
//! signatures are kept in the store with the credit, for good.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use crate::httpsig::{self, HttpSigError, Message, Signer};
use crate::store::{Debit, Store, StoreError, Topup};

/// How many paid requests' signatures are remembered to refuse their replay.
pub const SPENT_WINDOW: usize = 1 << 20;

/// Whether a request pays. Never charged: the node's own description (`GET /`,
/// `~meta@1.0/*`), its health and metrics, and the payment routes themselves (HyperBEAM's p4
/// exempts `~meta@1.0/*` and its balance and top-up routes too). `POST /` is the MU's ingest
/// and pays.
pub fn is_chargeable(method: &str, path: &str) -> bool {
    match path.trim_start_matches('/').split('/').next().unwrap_or("") {
        "" => method == "POST",
        "~meta@1.0" | "~simple-pay@1.0" | "metrics" | "healthcheck" | "status" => false,
        _ => true,
    }
}

/// Why a request was not served, or a top-up not made; nothing was taken or credited.
#[derive(Debug, thiserror::Error)]
pub enum PayRefusal {
    /// Not signed, while requests cost something.
    #[error(
        "Insufficient funds: this node charges {price} per request (simple-pay@1.0); sign the request with a key that has a balance"
    )]
    Unsigned {
        /// The price of the request.
        price: u64,
    },
    /// The signer's balance is short of the price.
    #[error("Insufficient funds: the request costs {price}, the balance of {signer} is {balance}")]
    Short {
        /// The signer.
        signer: String,
        /// The price.
        price: u64,
        /// The balance.
        balance: u64,
    },
    /// A signature does not verify.
    #[error(transparent)]
    BadSignature(HttpSigError),
    /// `created` too far from the node's clock, or `expires` passed.
    #[error("the signature is not fresh: {0}")]
    Stale(String),
    /// Signed by several keys: who pays would be a guess.
    #[error("the request is signed by {0} keys; a paid request names one payer")]
    ManySigners(usize),
    /// This signature was spent already.
    #[error("this signed request was already paid for and served: sign it again")]
    Replayed,
    /// A top-up not signed by the operator.
    #[error("only the operator {operator} tops balances up; the request is signed by {signers}")]
    NotOperator {
        /// The operator.
        operator: String,
        /// Who signed.
        signers: String,
    },
    /// A top-up without a signed, valid `amount` or `recipient`.
    #[error("top-up: {0}")]
    BadTopup(String),
    /// The store failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PayRefusal {
    /// The HTTP status: 402 to pay, 401 for a signature, 403 for authority or a replay, 400
    /// for a malformed request, 500 for the store.
    pub fn status(&self) -> u16 {
        match self {
            PayRefusal::Unsigned { .. } | PayRefusal::Short { .. } => 402,
            PayRefusal::BadSignature(_) | PayRefusal::Stale(_) => 401,
            PayRefusal::Replayed | PayRefusal::NotOperator { .. } => 403,
            PayRefusal::ManySigners(_) | PayRefusal::BadTopup(_) => 400,
            PayRefusal::Store(_) => 500,
        }
    }

    /// The `kind` of the JSON error.
    pub fn kind(&self) -> &'static str {
        match self {
            PayRefusal::Unsigned { .. } | PayRefusal::Short { .. } => "insufficient-funds",
            PayRefusal::BadSignature(_) => "bad-signature",
            PayRefusal::Stale(_) => "stale-signature",
            PayRefusal::Replayed => "replayed",
            PayRefusal::NotOperator { .. } => "not-operator",
            PayRefusal::ManySigners(_) | PayRefusal::BadTopup(_) => "bad-request",
            PayRefusal::Store(_) => "internal",
        }
    }

    /// The price and balance of a 402, as p4 answers them.
    pub fn funds(&self) -> Option<(u64, u64)> {
        match self {
            PayRefusal::Unsigned { price } => Some((*price, 0)),
            PayRefusal::Short { price, balance, .. } => Some((*price, *balance)),
            _ => None,
        }
    }
}

/// How a chargeable request was let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payment {
    /// Nothing to pay: the price is zero.
    Free,
    /// The operator's own request.
    Operator,
    /// Paid by `signer`, who has `balance` left.
    Paid {
        /// The payer.
        signer: String,
        /// The price taken.
        price: u64,
        /// What is left.
        balance: u64,
    },
}

/// A top-up made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credited {
    /// Who was credited.
    pub recipient: String,
    /// By how much.
    pub amount: u64,
    /// The new balance.
    pub balance: u64,
}

/// The spent signatures of recent paid requests, oldest first.
#[derive(Debug, Default)]
struct Spent {
    set: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl Spent {
    /// Spend `commitment`; false when it was spent already.
    fn spend(&mut self, commitment: [u8; 32]) -> bool {
        if !self.set.insert(commitment) {
            return false;
        }
        self.order.push_back(commitment);
        if self.order.len() > SPENT_WINDOW
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        true
    }

    /// Give back a signature whose request was not served after all. Its place in `order`
    /// stays until it ages out (O(1) here: a short balance must not cost a scan of the window).
    fn unspend(&mut self, commitment: &[u8; 32]) {
        self.set.remove(commitment);
    }
}

/// The balances and the price per request.
#[derive(Debug)]
pub struct SimplePay {
    store: Arc<Store>,
    price: Arc<crate::price::Schedule>,
    spent: Mutex<Spent>,
}

impl SimplePay {
    /// Balances in `store`, charged at `price`'s `per-message`.
    pub fn new(store: Arc<Store>, price: Arc<crate::price::Schedule>) -> SimplePay {
        SimplePay {
            store,
            price,
            spent: Mutex::new(Spent::default()),
        }
    }

    /// The price of one request now.
    pub fn price(&self) -> u64 {
        self.price.get().per_message
    }

    /// `address`'s balance.
    pub fn balance(&self, address: &str) -> Result<u64, StoreError> {
        self.store.balance(address)
    }

    /// Charge `message` before it is served; `operator` rides free.
    pub fn charge(
        &self,
        message: &Message<'_>,
        operator: &str,
        now_ms: u64,
    ) -> Result<Payment, PayRefusal> {
        let price = self.price();
        let signers = match httpsig::verify(message) {
            Ok(signers) => signers,
            Err(HttpSigError::Unsigned) if price == 0 => return Ok(Payment::Free),
            Err(HttpSigError::Unsigned) => return Err(PayRefusal::Unsigned { price }),
            Err(e) => return Err(PayRefusal::BadSignature(e)),
        };
        if signers.iter().any(|s| s.address == operator) {
            return Ok(Payment::Operator);
        }
        if price == 0 {
            return Ok(Payment::Free);
        }
        let signer = match signers.as_slice() {
            [] => return Err(PayRefusal::Unsigned { price }),
            [one] => one,
            many => return Err(PayRefusal::ManySigners(many.len())),
        };
        check_fresh(signer, now_ms)?;
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        if !spent.spend(signer.commitment) {
            return Err(PayRefusal::Replayed);
        }
        match self.store.debit(&signer.address, price) {
            Ok(Debit::Paid(balance)) => Ok(Payment::Paid {
                signer: signer.address.clone(),
                price,
                balance,
            }),
            Ok(Debit::Short(balance)) => {
                spent.unspend(&signer.commitment);
                Err(PayRefusal::Short {
                    signer: signer.address.clone(),
                    price,
                    balance,
                })
            }
            Err(e) => {
                spent.unspend(&signer.commitment);
                Err(e.into())
            }
        }
    }

    /// The operator's top-up: signed `amount` (an integer) and `recipient` (an address).
    pub fn topup(
        &self,
        message: &Message<'_>,
        operator: &str,
        now_ms: u64,
    ) -> Result<Credited, PayRefusal> {
        let signers = httpsig::verify(message).map_err(PayRefusal::BadSignature)?;
        let signer = signers
            .iter()
            .find(|s| s.address == operator)
            .ok_or_else(|| PayRefusal::NotOperator {
                operator: operator.to_string(),
                signers: signers
                    .iter()
                    .map(|s| s.address.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        check_fresh(signer, now_ms)?;
        let field = |name: &str| signed_field(message, signer, name);
        let amount = field("amount")?
            .parse::<u64>()
            .map_err(|_| PayRefusal::BadTopup("`amount` is not a whole number".into()))?;
        let recipient = field("recipient")?;
        if recipient.parse::<crate::ao::Id>().is_err() {
            return Err(PayRefusal::BadTopup(format!(
                "`recipient` {recipient} is not a 43-character address"
            )));
        }
        match self.store.topup(&recipient, amount, &signer.commitment)? {
            Topup::Credited(balance) => Ok(Credited {
                recipient,
                amount,
                balance,
            }),
            Topup::Replayed(_) => Err(PayRefusal::Replayed),
            Topup::Overflow => Err(PayRefusal::BadTopup(format!(
                "the balance of {recipient} would pass 2^64"
            ))),
        }
    }
}

/// A header field `signer` covered, once.
fn signed_field(message: &Message<'_>, signer: &Signer, name: &str) -> Result<String, PayRefusal> {
    if !signer.covered.iter().any(|c| c == name) {
        return Err(PayRefusal::BadTopup(format!("`{name}` is not signed")));
    }
    let values: Vec<&str> = message
        .headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    match values.as_slice() {
        [one] => Ok(one.trim().to_string()),
        _ => Err(PayRefusal::BadTopup(format!("`{name}` must be given once"))),
    }
}

fn check_fresh(signer: &Signer, now_ms: u64) -> Result<(), PayRefusal> {
    crate::operator::check_fresh(signer, (now_ms / 1000) as i64)
        .map_err(|e| PayRefusal::Stale(e.to_string()))
}

#[cfg(test)]
mod tests;
