//! Detection end to end: fixture trees under `agent/testdata/<case>/root` (each mirroring a real
//! install layout, see its README.md) scanned by the real binary, plus real packages when
//! `AZVER_REAL_INSTALLS` points at the output of `scripts/fetch-real-installs.sh`.

// Helpers outside #[test] functions are test code too: a panic is how they report a failure.
#![allow(clippy::unwrap_used)]

mod check_cmd;
mod common;
mod discovery;
mod exec;
mod fixtures;
mod hostile;
mod identities;
mod jobs;
mod library;
mod real_installs;
mod rights;
mod roles;
