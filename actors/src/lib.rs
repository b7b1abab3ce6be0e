//! The armory's actor tree and its domain rules.
//!
//! Every locker, compartment, reader and weapon is a supervised actor. The
//! actors decide and serialize; they reach the outside world only through
//! two handles the service gives them: a [`ports::Bus`] to publish on MQTT
//! and a [`ports::Store`] to make things durable. That keeps this crate free
//! of sockets and files, and lets tests drive it with a paused clock.

pub mod activity;
pub mod clock;
pub mod compartment;
pub mod directory;
pub mod domain;
pub mod import;
pub mod locker;
pub mod maintenance;
pub mod policy;
pub mod ports;
pub mod protocol;
pub mod reader;
pub mod rules;
pub mod services;
pub mod site;
pub mod tree;
pub mod weapon;
