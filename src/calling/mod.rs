//! The calling rules that are not SQL (CONTRACT §9–§10): who is callable and why,
//! which phone, what an outcome makes of a customer, callable hours in the phone's
//! own time zone, and the clocks that make a customer callable again.

pub mod hours;
pub mod model;
pub mod rules;
mod tzmap;
