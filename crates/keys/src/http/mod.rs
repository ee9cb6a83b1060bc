//! The HTTP-facing rules of the API that need no I/O: the catalogue of error codes, the
//! request bodies and how they are validated, and query-string parsing. They live in the
//! core so that the worker, the fuzz targets and the native tests use the same code.

pub mod bodies;
pub mod errors;
pub mod query;

pub use errors::ErrorCode;
