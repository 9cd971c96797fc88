//! Saved filters: a named query over one portal's CRM contacts.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filter {
    pub id: String,
    pub name: String,
    pub query: String,
    pub portal: String,
    pub created: i64,
}
