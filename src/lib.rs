//! The armory service: the embedded MQTT broker, the bus that connects the
//! actor tree to it, the SQLite store, the importer of agency files, the
//! configuration, the metrics and the command line.

pub mod broker;
pub mod cli;
pub mod config;
pub mod demo;
pub mod keyfile;
pub mod logging;
pub mod metrics;
pub mod mqtt;
pub mod personnel;
pub mod serve;
pub mod state_lock;
pub mod store;
