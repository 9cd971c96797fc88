//! What both stores do with the same SQL: the calling workflow (agents, groups and
//! assignments, hand-outs, results, do-not-call lists, callable hours, history),
//! written once over [`db::Db`] and run by each backend in its own transactions.

pub mod agents;
pub mod calling;
pub mod db;
pub mod dnc;
pub mod hours;
pub mod jobs;
pub mod lists;
pub mod queue_head;
