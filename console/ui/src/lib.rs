//! flightdeck's console UI core: owns all UI state, applies events, draws it. Talks to no AWS API.
//!
//! The console feeds `Event`s (keys, mouse, resize, ticks, agents' `Report`s) to [`update`], routes
//! the returned [`Command`]s to its agents, and calls [`render`] to draw from the state alone.

pub mod alarms;
pub mod config;
pub mod dlqfilter;
pub mod dlqsig;
pub mod event;
pub mod fmt;
pub mod keymap;
pub mod logs;
pub mod model;
pub mod state;
pub mod synthetic;
pub mod target;
pub mod theme;
pub mod time;
mod update;
pub mod views;

#[cfg(test)]
mod alarm_screen_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod logs_screen_tests;
#[cfg(test)]
mod screen_tests;

pub use config::{ConfigError, UiConfig};
pub use event::{Command, Event, MessageSelection, RedriveRequest};
pub use model::*;
pub use state::State;
pub use theme::{Theme, ThemeSet};
pub use update::update;
pub use views::render;
