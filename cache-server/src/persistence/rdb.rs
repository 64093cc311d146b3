//! Values in Redis's RDB format (version 10): type bytes, length encoding, strings (integer
//! and LZF forms), the compact encodings Redis writes (listpack, intset, quicklist 2) and the
//! CRC64 checksum DUMP payloads end with.
