//! callsheet's black-box tests, in one binary: the real app (or the real
//! `callsheet` process) on loopback, a fresh database per test, each behaviour on
//! SQLite and on PostgreSQL (`backend_test!`), the exact reference JSON pinned by
//! snapshots.

#[macro_use]
mod common;

mod auth;
mod calling;
mod calling_rules;
mod campaign;
mod claiming;
mod cli;
mod console;
mod contact;
mod crash;
mod customcampaign;
mod envelope;
mod filter;
mod hardening;
mod hostile;
mod hostile_xlsx;
mod import;
mod jobs;
mod layout;
mod lucene;
mod multiserver;
mod openapi;
mod operations;
mod phones;
mod portal;
mod schema;
mod search;
mod tls;
