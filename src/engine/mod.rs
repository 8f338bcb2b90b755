//! Time base and event scheduling.
//!
//! Global time is in picoseconds ([`Ps`]). Each component runs in a clock
//! domain ([`Clock`]) and converts its cycles to and from global time
//! exactly (integer arithmetic, no drift). Components schedule events at
//! exact times in an [`EventQueue`]; nothing ticks through idle cycles.

mod queue;
mod time;

pub use queue::{EventKey, EventQueue};
pub use time::{Clock, Ps};
