//! Behavioural tests of the whole cache through its public API (unit tests of each part live
//! beside it; the model-based property test and the stress test live in `tests/`).
