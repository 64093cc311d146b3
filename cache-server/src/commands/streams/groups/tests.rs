//! Request → reply tables for the consumer-group commands (the differential test against
//! redis-server covers the rest).
