//! Request → reply tables for the stream commands (the differential test against redis-server
//! covers the rest).

use crate::commands::testutil::run_table;

#[tokio::test]
async fn add_range_delete_trim() {
    run_table(&[
        ("XADD s 1-1 f v", "$3\r\n1-1\r\n"),
        ("XADD s 1-* f v g w", "$3\r\n1-2\r\n"),
        ("XADD s 1 f v", "-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n"),
        ("XADD s 0-0 f v", "-ERR The ID specified in XADD must be greater than 0-0\r\n"),
        ("XADD s NOMKSTREAM 5 f", "-ERR wrong number of arguments for 'xadd' command\r\n"),
        ("XADD nope NOMKSTREAM * f v", "$-1\r\n"),
        ("XLEN s", ":2\r\n"),
        ("XRANGE s - + COUNT 1", "*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"),
        ("XREVRANGE s + (1-1", "*1\r\n*2\r\n$3\r\n1-2\r\n*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n"),
        ("XRANGE s - + COUNT 0", "*-1\r\n"),
        ("XDEL s 1-1 9-9", ":1\r\n"),
        ("XADD s MAXLEN = 1 5-0 a b", "$3\r\n5-0\r\n"),
        ("XLEN s", ":1\r\n"),
        ("XTRIM s MAXLEN 0", ":1\r\n"),
        ("XTRIM s MINID 1 LIMIT 5", "-ERR syntax error, LIMIT cannot be used without the special ~ option\r\n"),
        ("XSETID s 4-0", "+OK\r\n"),
        ("XSETID s 9-0", "+OK\r\n"),
        ("XADD s * f v", "$...\r\n"),
        ("SET str x", "+OK\r\n"),
        ("XLEN str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("XREAD COUNT 1 STREAMS s 0", "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$...\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"),
        ("XREAD STREAMS s $", "*-1\r\n"),
    ])
    .await;
}
