//! `@aero2/keys` for browsers: reads a publishable key's application id and environment,
//! and refuses loudly when handed a secret key.
//!
//! It only parses, reusing `aero2_keys::parse`. It generates no keys, hashes nothing and
//! uses no randomness; a test inspects the built wasm's imports and exports to keep it so.

// On wasm32 the package is no_std: without std's panic and formatting machinery the
// module is a fraction of the size. Natively (for tests) std is linked as usual.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::borrow::ToOwned;
use alloc::string::String;

use aero2_keys::{
    parse, ApplicationId, Environment, KeyKind, ParseError, APPLICATION_ID_LEN, PREFIX_LEN,
};
use wasm_bindgen::prelude::*;

// A small free-list allocator instead of std's dlmalloc: the package's size budget is
// 10 KB gzipped, and dlmalloc alone is about 8 KB of wasm. wasm32 without threads is
// single-threaded, which is what AssumeSingleThreaded requires.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: this wasm module is built without atomics, so it never runs on two threads.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// Bad input never panics; a panic here would be a bug, and it traps.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Why a value is not a usable publishable key, as the JavaScript error's `code`.
#[derive(Debug, PartialEq, Eq)]
pub enum BrowserKeyError {
    NotAString,
    Malformed(ParseError),
    /// A secret key reached client code. Carries the hint: prefix and last 4 characters.
    SecretKeyExposed {
        hint: String,
    },
}

impl BrowserKeyError {
    pub fn code(&self) -> &'static str {
        match self {
            BrowserKeyError::NotAString => "malformed_key",
            BrowserKeyError::Malformed(err) => err.code(),
            BrowserKeyError::SecretKeyExposed { .. } => "secret_key_exposed",
        }
    }

    pub fn message(&self) -> String {
        match self {
            BrowserKeyError::NotAString => "the publishable key must be a string".to_owned(),
            BrowserKeyError::Malformed(err) => err.message(),
            BrowserKeyError::SecretKeyExposed { hint } => {
                // Concatenation rather than format!: core::fmt would double the wasm size.
                let mut message = hint.clone();
                message.push_str(
                    " is a secret key, and it is now exposed in client code. Revoke it and rotate to a new secret key right away, keep secret keys on servers only, and use a publishable key (pk_…) here",
                );
                message
            }
        }
    }
}

/// A publishable key's public facts.
#[derive(Debug, PartialEq, Eq)]
pub struct PublishableKeyInfo {
    pub application_id: String,
    pub environment: Environment,
}

/// The browser package's rules, in plain Rust so they are tested natively.
pub fn parse_publishable(input: &str) -> Result<PublishableKeyInfo, BrowserKeyError> {
    // Any sk_ string is treated as a secret key, even a mangled one: whatever its
    // shape, a secret is in client code and must be rotated.
    if input.starts_with("sk_") {
        return Err(BrowserKeyError::SecretKeyExposed {
            hint: secret_hint(input),
        });
    }
    let parsed = parse(input).map_err(BrowserKeyError::Malformed)?;
    match parsed.kind {
        KeyKind::Publishable => Ok(PublishableKeyInfo {
            // Concatenated rather than formatted, to keep core::fmt out of the module.
            application_id: [ApplicationId::PREFIX, parsed.application_id.body()].concat(),
            environment: parsed.environment,
        }),
        KeyKind::Secret => Err(BrowserKeyError::SecretKeyExposed {
            hint: secret_hint(input),
        }),
    }
}

/// Where a publishable key's facts sit in the string, as one number, or 0 for anything
/// that is not a publishable key (the caller then asks [`parse_publishable`] why).
///
/// Bits 0 and 1: a publishable key, and a live one; bits 8–15: where the application id's
/// body starts; bits 16–23: its length. Byte positions equal UTF-16 positions here,
/// because a key that parses is ASCII.
///
/// Why a number: every string that crosses from wasm to JavaScript is decoded and every
/// object is built through the boundary, and for a call this small that glue costs more
/// than the parse. A number crosses for free, and the JavaScript takes the id with one
/// `slice` of the string it already holds (`crates/browser/js/index.js`).
pub fn publishable_key_layout(input: &str) -> u32 {
    match parse(input) {
        Ok(parsed) if parsed.kind == KeyKind::Publishable => {
            let live = u32::from(parsed.environment == Environment::Live);
            1 | (live << 1) | ((PREFIX_LEN as u32) << 8) | ((APPLICATION_ID_LEN as u32) << 16)
        }
        _ => 0,
    }
}

/// Prefix and last 4 characters, and less for short inputs, so the hint never shows
/// more than 4 characters of a key's secret part.
fn secret_hint(input: &str) -> String {
    let mut hint: String = input.chars().take(PREFIX_LEN).collect();
    hint.push('…');
    if input.chars().nth(PREFIX_LEN + 8).is_some() {
        let last4 = input
            .char_indices()
            .rev()
            .nth(3)
            .map_or(0, |(index, _)| index);
        hint.push_str(input.get(last4..).unwrap_or_default());
    }
    hint
}

// The JavaScript objects are built in JavaScript: cheaper in code size than building
// them field by field through js_sys::Reflect.
#[wasm_bindgen(inline_js = "
export function keyInfo(applicationId, environment) { return { applicationId, environment }; }
export function keyError(code, message) {
  const error = new Error(message);
  error.name = 'Aero2KeyError';
  error.code = code;
  return error;
}")]
extern "C" {
    #[wasm_bindgen(js_name = keyInfo)]
    fn key_info(application_id: &str, environment: &str) -> JsValue;
    #[wasm_bindgen(js_name = keyError)]
    fn key_error(code: &str, message: &str) -> JsValue;
}

fn to_js_error(err: &BrowserKeyError) -> JsValue {
    key_error(err.code(), &err.message())
}

/// Returns `{ applicationId, environment }` for a publishable key, or throws an
/// `Aero2KeyError` whose `code` is `malformed_key`, `bad_checksum` or `secret_key_exposed`.
#[wasm_bindgen(js_name = parsePublishableKey)]
pub fn parse_publishable_key(key: JsValue) -> Result<JsValue, JsValue> {
    let text = key
        .as_string()
        .ok_or_else(|| to_js_error(&BrowserKeyError::NotAString))?;
    let info = parse_publishable(&text).map_err(|err| to_js_error(&err))?;
    Ok(key_info(&info.application_id, info.environment.as_str()))
}

/// The fast path: [`publishable_key_layout`]. The package's `parsePublishableKey` calls it
/// first, and this crate's full parse only to build the error for a key it refuses.
#[wasm_bindgen(js_name = publishableKeyLayout)]
pub fn publishable_key_layout_js(key: &str) -> u32 {
    publishable_key_layout(key)
}

/// `app_`: what the JavaScript puts before the id's body, read once when the package loads.
#[wasm_bindgen(js_name = applicationIdPrefix)]
pub fn application_id_prefix() -> String {
    ApplicationId::PREFIX.to_owned()
}
