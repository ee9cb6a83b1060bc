//! The HTTP-facing rules of the API that need no I/O: the catalogue of error codes, the
//! request bodies and how they are validated, query strings, paths, CORS, and what the
//! gate forwards to the origin (headers, the signed assertion's claims). They live in the
//! core so that the worker, the fuzz targets and the native tests use the same code.

pub mod bodies;
mod compat;
pub mod cors;
pub mod errors;
pub mod forwarding;
pub mod path;
pub mod query;

pub use errors::ErrorCode;
