//! Checking trades before they touch a bar: a bad value is refused with the index of the
//! offending element, and a refused batch changes nothing.

use std::fmt;

use crate::error::{Error, Result};
use crate::venues::Trade;

/// Trade timestamps must be milliseconds from 1970 to 2^43 ms (the year 2248). Anything larger
/// is almost certainly micro- or nanoseconds passed by mistake. A power of two so the batch check
/// is one OR per value.
pub const MAX_TS_MS: i64 = 1 << 43;

pub(crate) fn check_trade(t: &Trade) -> Result<(), String> {
    if !(0..MAX_TS_MS).contains(&t.ts_ms) {
        return Err(format!("timestamp {} is not milliseconds from 1970 to 2248", t.ts_ms));
    }
    if !(t.price.is_finite() && t.price > 0.0) {
        return Err(format!("price must be positive and finite, got {}", t.price));
    }
    if !(t.qty.is_finite() && t.qty >= 0.0) {
        return Err(format!("quantity must be finite and non-negative, got {}", t.qty));
    }
    Ok(())
}

/// Checks batch columns: equal lengths, positive finite prices, finite non-negative quantities,
/// timestamps in range.
pub fn validate(ts_ms: &[i64], price: &[f64], qty: &[f64], taker_buy: &[bool]) -> Result<()> {
    check_lengths(ts_ms, price, qty, taker_buy)?;
    validate_values(ts_ms, price, qty, 0)
}

pub(super) fn check_lengths(ts_ms: &[i64], price: &[f64], qty: &[f64], taker_buy: &[bool]) -> Result<()> {
    let n = ts_ms.len();
    for (name, len) in [("price", price.len()), ("qty", qty.len()), ("taker_buy", taker_buy.len())] {
        if len != n {
            return Err(Error::argument(name, format!("has {len} values but ts has {n}")));
        }
    }
    Ok(())
}

/// Checks values; `first` is the index of the first element within the caller's batch.
pub(super) fn validate_values(ts_ms: &[i64], price: &[f64], qty: &[f64], first: usize) -> Result<()> {
    // Fast screens made of 64-bit OR/add/sub, which vectorise on any x86-64; the exact test then
    // only runs to name the culprit (or to clear a false alarm such as a -0.0 quantity).
    if ts_ms.iter().fold(0u64, |acc, &t| acc | t as u64) >= MAX_TS_MS as u64 {
        let rule = "must be milliseconds from 1970 to 2248 (not micro- or nanoseconds)";
        first_bad(ts_ms, |t| (0..MAX_TS_MS).contains(&t), "ts", first, rule)?;
    }
    if sign_of_any(price, true) {
        first_bad(price, |p| p.is_finite() && p > 0.0, "price", first, "must be positive and finite")?;
    }
    if sign_of_any(qty, false) {
        first_bad(qty, |q| q.is_finite() && q >= 0.0, "qty", first, "must be finite and non-negative")?;
    }
    Ok(())
}

/// An error naming the first of `values` that breaks `rule`, if any.
fn first_bad<T: Copy + fmt::Display>(
    values: &[T],
    ok: impl Fn(T) -> bool,
    name: &str,
    first: usize,
    rule: &str,
) -> Result<()> {
    match values.iter().position(|&v| !ok(v)) {
        Some(i) => {
            Err(Error::invalid(format!("{name}[{}]", first + i), first + i, format!("{rule}, got {}", values[i])))
        }
        None => Ok(()),
    }
}

/// Whether any value might be negative, infinite or NaN (or zero, with `zero_is_bad`), judged
/// from the IEEE bits: for a finite non-negative double, neither `bits` nor `bits + 2^52` has the
/// sign bit set, and `bits - 1` has it only for zero. Never misses a bad value; may flag -0.0.
fn sign_of_any(values: &[f64], zero_is_bad: bool) -> bool {
    let zero_mask = if zero_is_bad { u64::MAX } else { 0 };
    let flags = values.iter().fold(0u64, |acc, v| {
        let bits = v.to_bits();
        acc | bits | bits.wrapping_add(1 << 52) | (bits.wrapping_sub(1) & zero_mask)
    });
    flags >> 63 == 1
}
