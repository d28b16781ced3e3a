//! azver's end-to-end tests: one binary, real `azver-collector` and `azver-agent` processes on
//! 127.0.0.1, fixture trees from `agent/testdata/`. Run `cargo build --workspace --bins` first.

#[path = "e2e/baseline.rs"]
mod baseline;
#[path = "e2e/ci_recipes.rs"]
mod ci_recipes;
#[path = "e2e/fleet.rs"]
mod fleet;
#[path = "e2e/hardening.rs"]
mod hardening;
#[path = "e2e/history.rs"]
mod history;
#[path = "e2e/hostile.rs"]
mod hostile;
#[path = "e2e/http.rs"]
mod http;
#[path = "e2e/https.rs"]
mod https;
#[path = "e2e/identities.rs"]
mod identities;
#[path = "e2e/jobs.rs"]
mod jobs;
#[path = "e2e/lifecycle.rs"]
mod lifecycle;
#[path = "e2e/loadgen.rs"]
mod loadgen;
#[path = "e2e/operator.rs"]
mod operator;
#[path = "e2e/postgres.rs"]
mod postgres;
#[path = "e2e/proxy.rs"]
mod proxy;
#[path = "e2e/python.rs"]
mod python;
#[path = "e2e/reads.rs"]
mod reads;
#[path = "e2e/retention.rs"]
mod retention;
#[path = "e2e/security.rs"]
mod security;
#[path = "e2e/sequence.rs"]
mod sequence;
#[path = "e2e/service.rs"]
mod service;
