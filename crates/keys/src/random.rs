use core::fmt;

/// Where key material comes from. Production code uses [`SystemRandom`]; tests inject a
/// deterministic source so that generated keys can be checked exactly.
pub trait RandomSource {
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's CSPRNG through `getrandom` (`crypto.getRandomValues` on wasm).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRandom;

impl RandomSource for SystemRandom {
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(dest).map_err(|_| RandomError)
    }
}

/// The CSPRNG failed. Keys are never generated from a weaker fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the system random number generator is unavailable")
    }
}

impl core::error::Error for RandomError {}
