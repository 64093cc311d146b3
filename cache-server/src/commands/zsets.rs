//! Sorted-set commands: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT, the ZRANGE family, ZREMRANGEBY*, ZPOPMIN/MAX, ZMPOP, ZRANDMEMBER, ZINTER/ZUNION/ZDIFF (+STORE), ZINTERCARD, ZSCAN and the blocking BZPOPMIN BZPOPMAX BZMPOP.

use super::CommandSpec;

/// The zset family's table rows.
pub const COMMANDS: &[CommandSpec] = &[];
