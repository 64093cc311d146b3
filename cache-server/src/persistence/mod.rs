//! Persistence: Redis's serialization format for values (DUMP / RESTORE today, RDB snapshots
//! next). [`rdb`] encodes and decodes; nothing here touches the keyspace.

pub mod rdb;
