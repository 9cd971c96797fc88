//! callsheet: contact lists for outbound call campaigns, wire-compatible with the
//! reference "customcampaign" API.

pub mod api;
pub mod calling;
pub mod config;
pub mod domain;
pub mod import;
pub mod intake;
pub mod query;
pub mod store;
