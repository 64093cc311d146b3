//! Request → reply tables for the consumer-group commands, pinned from redis-server 7.0.15 (the
//! differential test in `tests/` covers the rest, with clock readings compared by range; here
//! they are `...`).

use crate::commands::testutil::run_table;

#[tokio::test]
async fn a_group_delivers_acks_claims_and_forgets() {
    run_table(&[
        ("XGROUP CREATE s g $ MKSTREAM", "+OK\r\n"),
        ("XGROUP CREATE s g $", "-BUSYGROUP Consumer Group name already exists\r\n"),
        ("XADD s 1-0 a 1", "$3\r\n1-0\r\n"),
        ("XADD s 2-0 b 2", "$3\r\n2-0\r\n"),
        (
            "XREADGROUP GROUP g c1 COUNT 1 STREAMS s >",
            "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
        (
            "XREADGROUP GROUP g c2 STREAMS s >",
            "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
        ),
        ("XREADGROUP GROUP g c2 STREAMS s >", "*-1\r\n"),
        (
            "XPENDING s g",
            "*4\r\n:2\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n*2\r\n*2\r\n$2\r\nc1\r\n$1\r\n1\r\n*2\r\n$2\r\nc2\r\n$1\r\n1\r\n",
        ),
        ("XPENDING s g - + 10 c2", "*1\r\n*4\r\n$3\r\n2-0\r\n$2\r\nc2\r\n:...\r\n:1\r\n"),
        ("XPENDING s g IDLE 3600000 - + 10", "*0\r\n"),
        ("XACK s g 1-0 9-9", ":1\r\n"),
        ("XCLAIM s g c1 0 2-0 JUSTID RETRYCOUNT 7", "*1\r\n$3\r\n2-0\r\n"),
        ("XPENDING s g - + 10", "*1\r\n*4\r\n$3\r\n2-0\r\n$2\r\nc1\r\n:...\r\n:7\r\n"),
        ("XCLAIM s g c1 0 2-0 BOGUS", "-ERR Unrecognized XCLAIM option 'BOGUS'\r\n"),
        ("XDEL s 2-0", ":1\r\n"),
        // The deleted entry leaves the PEL, reported in XAUTOCLAIM's third element.
        ("XAUTOCLAIM s g c2 0 0", "*3\r\n$3\r\n0-0\r\n*0\r\n*1\r\n$3\r\n2-0\r\n"),
        (
            "XINFO GROUPS s",
            "*1\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:2\r\n$7\r\npending\r\n:0\r\n\
             $17\r\nlast-delivered-id\r\n$3\r\n2-0\r\n$12\r\nentries-read\r\n:2\r\n$3\r\nlag\r\n:0\r\n",
        ),
        ("XGROUP DELCONSUMER s g c1", ":0\r\n"),
        ("XGROUP CREATECONSUMER s g c3", ":1\r\n"),
        ("XGROUP CREATECONSUMER s g c3", ":0\r\n"),
        ("XGROUP DESTROY s g", ":1\r\n"),
        ("XGROUP DESTROY s g", ":0\r\n"),
        (
            "XREADGROUP GROUP g c STREAMS s >",
            "-NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option\r\n",
        ),
        ("XACK s nog 1-0", ":0\r\n"),
        ("XGROUP SETID s g 0", "-NOGROUP No such consumer group 'g' for key name 's'\r\n"),
        (
            "XGROUP CREATE nokey g 0",
            "-ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.\r\n",
        ),
        ("XGROUP CREATE s g - ", "-ERR Invalid stream ID specified as stream command argument\r\n"),
        ("XGROUP CREATE s g 0 ENTRIESREAD -2", "-ERR value for ENTRIESREAD must be positive or -1\r\n"),
        ("SET str x", "+OK\r\n"),
        ("XPENDING str g", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("XINFO STREAM nokey", "-ERR no such key\r\n"),
    ])
    .await;
}
