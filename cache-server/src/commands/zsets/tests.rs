//! Request → reply tables for the sorted-set family (texts checked against redis-server 7.0.15).

use crate::commands::testutil::run_table;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[tokio::test]
async fn zadd_and_its_options() {
    run_table(&[
        ("ZADD z 1 a 2 b 3 c", ":3\r\n"),
        ("ZADD z 1", "-ERR wrong number of arguments for 'zadd' command\r\n"),
        ("ZADD z 1 a 2", "-ERR syntax error\r\n"),
        ("ZADD z nx xx 1 a", "-ERR XX and NX options at the same time are not compatible\r\n"),
        ("ZADD z nx gt 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"),
        ("ZADD z gt lt 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"),
        ("ZADD z incr 1 a 2 b", "-ERR INCR option supports a single increment-element pair\r\n"),
        ("ZADD z 1 a x b", "-ERR value is not a valid float\r\n"),
        ("ZADD z nan a", "-ERR value is not a valid float\r\n"),
        ("ZADD z 1e400 a", "-ERR value is not a valid float\r\n"),
        ("ZADD z 1e-400 a", "-ERR value is not a valid float\r\n"),
        ("ZADD z \" 1\" a", "-ERR value is not a valid float\r\n"),
        ("ZADD z 0x10 d", ":1\r\n"),
        ("ZSCORE z d", "$2\r\n16\r\n"),
        ("ZADD z ch 5 a 2 b 9 e", ":2\r\n"),
        ("ZADD z xx ch 6 a 7 f", ":1\r\n"),
        ("ZADD z gt ch 1 a 10 b", ":1\r\n"),
        ("ZADD z lt 100 a", ":0\r\n"),
        ("ZSCORE z a", "$1\r\n6\r\n"),
        ("ZADD z incr 0.5 a", "$3\r\n6.5\r\n"),
        ("ZADD z incr nx 1 a", "$-1\r\n"),
        ("ZADD z incr xx 1 nope", "$-1\r\n"),
        ("ZADD z incr gt -1 a", "$-1\r\n"),
        ("ZINCRBY z 0.1 c", "$18\r\n3.1000000000000001\r\n"),
        ("ZINCRBY z inf c", "$3\r\ninf\r\n"),
        ("ZINCRBY z -inf c", "-ERR resulting score is not a number (NaN)\r\n"),
        ("ZINCRBY z nx c", "-ERR syntax error\r\n"),
        ("ZINCRBY z abc c", "-ERR value is not a valid float\r\n"),
        ("ZADD nokey xx 1 a", ":0\r\n"),
        ("EXISTS nokey", ":0\r\n"),
        ("SET s x", "+OK\r\n"),
        ("ZADD s xx 1 a", WRONGTYPE),
        ("ZINCRBY s 1 a", WRONGTYPE),
        ("ZADD n -0 m", ":1\r\n"),
        ("ZSCORE n m", "$1\r\n0\r\n"),
        ("ZINCRBY n2 -0 m", "$2\r\n-0\r\n"),
    ])
    .await;
}

#[tokio::test]
async fn reads_and_removes() {
    run_table(&[
        ("ZADD z 1 a 2 b 3 c 3 d", ":4\r\n"),
        ("ZCARD z", ":4\r\n"),
        ("ZCARD nokey", ":0\r\n"),
        ("ZSCORE z zz", "$-1\r\n"),
        ("ZMSCORE z a zz", "*2\r\n$1\r\n1\r\n$-1\r\n"),
        ("ZMSCORE nokey a", "*1\r\n$-1\r\n"),
        ("ZRANK z c", ":2\r\n"),
        ("ZREVRANK z c", ":1\r\n"),
        ("ZRANK z zz", "$-1\r\n"),
        ("ZRANK z a withscore", "-ERR wrong number of arguments for 'zrank' command\r\n"),
        ("ZCOUNT z (1 3", ":3\r\n"),
        ("ZCOUNT z -inf (3", ":2\r\n"),
        ("ZCOUNT z a b", "-ERR min or max is not a float\r\n"),
        ("ZCOUNT z \"\" +inf", ":4\r\n"),
        ("ZLEXCOUNT z - +", ":4\r\n"),
        ("ZLEXCOUNT z a b", "-ERR min or max not valid string range item\r\n"),
        ("ZREM z a zz", ":1\r\n"),
        ("ZREM z zz", ":0\r\n"),
        ("ZREM z b c d", ":3\r\n"),
        ("EXISTS z", ":0\r\n"),
        ("HSET h f v", ":1\r\n"),
        ("ZSCORE h f", WRONGTYPE),
        ("ZMSCORE h f", WRONGTYPE),
        ("ZCOUNT h 0 1", WRONGTYPE),
        ("ZCOUNT h x 1", "-ERR min or max is not a float\r\n"),
    ])
    .await;
}

#[tokio::test]
async fn ranges() {
    run_table(&[
        ("ZADD z 1 a 2 b 3 c 4 d 5 e", ":5\r\n"),
        ("ZRANGE z 0 -1", "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"),
        ("ZRANGE z -2 100 WITHSCORES", "*4\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n"),
        ("ZREVRANGE z 0 1", "*2\r\n$1\r\ne\r\n$1\r\nd\r\n"),
        ("ZRANGE z 0 1 REV", "*2\r\n$1\r\ne\r\n$1\r\nd\r\n"),
        ("ZRANGE z 3 1", "*0\r\n"),
        ("ZRANGE z (1 3 BYSCORE", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("ZRANGE z 10 0 BYSCORE REV LIMIT 1 2", "*2\r\n$1\r\nd\r\n$1\r\nc\r\n"),
        ("ZRANGE z 0 10 BYSCORE LIMIT -1 2", "*0\r\n"),
        ("ZRANGE z 0 10 BYSCORE LIMIT 1 -1", "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"),
        ("ZRANGE z 0 10 BYSCORE LIMIT 1 0", "*0\r\n"),
        ("ZRANGE z 0 -1 LIMIT 0 -1", "*5\r\n..."),
        (
            "ZRANGE z 0 -1 LIMIT 0 1",
            "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n",
        ),
        ("ZRANGE z - + BYLEX WITHSCORES", "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"),
        ("ZRANGE z 0 -1 REV REV", "-ERR syntax error\r\n"),
        ("ZRANGE z 0 -1 BYSCORE BYLEX", "-ERR syntax error\r\n"),
        ("ZRANGE z x y", "-ERR value is not an integer or out of range\r\n"),
        ("ZRANGEBYSCORE z 0 1 REV", "-ERR syntax error\r\n"),
        ("ZRANGEBYSCORE z -inf +inf LIMIT 1 1 WITHSCORES", "*2\r\n$1\r\nb\r\n$1\r\n2\r\n"),
        ("ZREVRANGEBYSCORE z +inf (4", "*1\r\n$1\r\ne\r\n"),
        ("ZRANGEBYSCORE z 1 nan", "-ERR min or max is not a float\r\n"),
        ("ZADD l 0 a 0 b 0 c 0 d", ":4\r\n"),
        ("ZRANGEBYLEX l [b (d", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("ZREVRANGEBYLEX l + (b LIMIT 0 2", "*2\r\n$1\r\nd\r\n$1\r\nc\r\n"),
        ("ZRANGEBYLEX l - + LIMIT 0 1 LIMIT 0 2", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("ZRANGEBYLEX l b d", "-ERR min or max not valid string range item\r\n"),
        ("ZRANGEBYLEX l +x +", "-ERR min or max not valid string range item\r\n"),
        ("ZRANGESTORE dst z 1 2", ":2\r\n"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"),
        ("ZRANGESTORE dst z 0 -1 WITHSCORES", "-ERR syntax error\r\n"),
        ("ZRANGESTORE dst nokey 0 -1", ":0\r\n"),
        ("EXISTS dst", ":0\r\n"),
        ("SET s x", "+OK\r\n"),
        ("ZRANGESTORE dst s 0 -1", WRONGTYPE),
        ("ZRANGE s 0 -1 foo", "-ERR syntax error\r\n"),
        ("ZRANGE nokey 0 -1", "*0\r\n"),
        ("ZREMRANGEBYSCORE z (4 +inf", ":1\r\n"),
        ("ZREMRANGEBYRANK z 0 0", ":1\r\n"),
        ("ZREMRANGEBYLEX l [a [b", ":2\r\n"),
        ("ZREMRANGEBYRANK z 5 10", ":0\r\n"),
        ("ZREMRANGEBYRANK nokey 0 -1", ":0\r\n"),
        ("ZRANGE z 0 -1", "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"),
        ("HELLO 3", "%7\r\n..."),
        ("ZRANGE z 0 0 WITHSCORES", "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n"),
        ("ZSCORE z b", ",2\r\n"),
        ("ZSCORE z x", "_\r\n"),
    ])
    .await;
}

#[tokio::test]
async fn algebra() {
    run_table(&[
        ("ZADD a 1 x 2 y 3 z", ":3\r\n"),
        ("ZADD b 10 y 20 z 30 w", ":3\r\n"),
        (
            "ZUNION 2 a b WITHSCORES",
            "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n$1\r\nw\r\n$2\r\n30\r\n",
        ),
        ("ZINTER 2 a b WEIGHTS 2 1 AGGREGATE MAX", "*2\r\n$1\r\ny\r\n$1\r\nz\r\n"),
        ("ZINTER 2 a b WEIGHTS 1 0 AGGREGATE MIN WITHSCORES", "*4\r\n$1\r\ny\r\n$1\r\n0\r\n$1\r\nz\r\n$1\r\n0\r\n"),
        ("ZDIFF 2 a b WITHSCORES", "*2\r\n$1\r\nx\r\n$1\r\n1\r\n"),
        ("ZINTERCARD 2 a b", ":2\r\n"),
        ("ZINTERCARD 2 a b LIMIT 1", ":1\r\n"),
        ("ZINTERCARD 2 a b LIMIT -1", "-ERR LIMIT can't be negative\r\n"),
        ("ZINTERCARD 0 a", "-ERR at least 1 input key is needed for 'zintercard' command\r\n"),
        ("ZUNIONSTORE out 0 a", "-ERR at least 1 input key is needed for 'zunionstore' command\r\n"),
        ("ZUNIONSTORE out 3 a b", "-ERR syntax error\r\n"),
        ("ZUNIONSTORE out 1 a WEIGHTS 1 2", "-ERR syntax error\r\n"),
        ("ZUNIONSTORE out 1 a WEIGHTS x", "-ERR weight value is not a float\r\n"),
        ("ZUNIONSTORE out 1 a WITHSCORES", "-ERR syntax error\r\n"),
        ("ZDIFF 1 a WEIGHTS 1", "-ERR syntax error\r\n"),
        ("ZUNION 1 a AGGREGATE foo", "-ERR syntax error\r\n"),
        ("ZINTERSTORE out 2 a b", ":2\r\n"),
        ("ZRANGE out 0 -1 WITHSCORES", "*4\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n"),
        ("ZDIFFSTORE out 2 a a", ":0\r\n"),
        ("EXISTS out", ":0\r\n"),
        ("SET s v", "+OK\r\n"),
        ("ZUNION 2 a s", WRONGTYPE),
        ("ZUNION 2 s a WEIGHTS x", WRONGTYPE),
        ("ZUNIONSTORE s 1 a", ":3\r\n"),
        ("TYPE s", "+zset\r\n"),
        ("ZADD i 1 p", ":1\r\n"),
        ("ZINCRBY i inf p", "$3\r\ninf\r\n"),
        ("ZADD j -inf p", ":1\r\n"),
        ("ZUNION 2 i j WITHSCORES", "*2\r\n$1\r\np\r\n$1\r\n0\r\n"),
        ("ZINTER 2 i j WEIGHTS 0 1 WITHSCORES", "*2\r\n$1\r\np\r\n$4\r\n-inf\r\n"),
        ("ZINTER 2 j i WEIGHTS 1 0 WITHSCORES", "*2\r\n$1\r\np\r\n$1\r\n0\r\n"),
    ])
    .await;
}

#[tokio::test]
async fn pops_and_random_members() {
    run_table(&[
        ("ZADD z 1 a 2 b 3 c", ":3\r\n"),
        ("ZPOPMIN z", "*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
        ("ZPOPMAX z 5", "*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n"),
        ("EXISTS z", ":0\r\n"),
        ("ZPOPMIN z", "*0\r\n"),
        ("ZPOPMIN z -1", "-ERR value is out of range, must be positive\r\n"),
        ("ZPOPMIN z abc", "-ERR value is out of range, must be positive\r\n"),
        ("ZPOPMIN z 1 2", "-ERR syntax error\r\n"),
        ("ZADD z 1 a 2 b 3 c", ":3\r\n"),
        ("ZPOPMIN z 0", "*0\r\n"),
        (
            "ZMPOP 2 nokey z MAX COUNT 2",
            "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
        ),
        ("ZMPOP 1 nokey MIN", "*-1\r\n"),
        ("ZMPOP 0 z MIN", "-ERR numkeys should be greater than 0\r\n"),
        ("ZMPOP 2 z MIN", "-ERR syntax error\r\n"),
        ("ZMPOP 1 z MIN COUNT 0", "-ERR count should be greater than 0\r\n"),
        ("ZMPOP 1 z MIN COUNT 1 COUNT 1", "-ERR syntax error\r\n"),
        ("BZPOPMIN z 0", "*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"),
        ("BZPOPMIN z abc", "-ERR timeout is not a float or out of range\r\n"),
        ("BZPOPMAX z -1", "-ERR timeout is negative\r\n"),
        ("BZMPOP abc 1 z MIN", "-ERR timeout is not a float or out of range\r\n"),
        ("BZMPOP 0 0 z MIN", "-ERR numkeys should be greater than 0\r\n"),
        ("BZMPOP abc 1 z MID", "-ERR syntax error\r\n"),
        ("SET s x", "+OK\r\n"),
        ("BZPOPMIN nokey s 0", WRONGTYPE),
        ("ZMPOP 2 nokey s MIN", WRONGTYPE),
        ("ZADD r 1 a", ":1\r\n"),
        ("ZRANDMEMBER r", "$1\r\na\r\n"),
        ("ZRANDMEMBER r -3", "*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n"),
        ("ZRANDMEMBER r 5 WITHSCORES", "*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
        ("ZRANDMEMBER r 0", "*0\r\n"),
        ("ZRANDMEMBER nokey", "$-1\r\n"),
        ("ZRANDMEMBER nokey 3", "*0\r\n"),
        ("ZRANDMEMBER r abc", "-ERR value is not an integer or out of range\r\n"),
        ("ZRANDMEMBER r 1 foo", "-ERR syntax error\r\n"),
        ("ZRANDMEMBER r 4611686018427387904 WITHSCORES", "-ERR value is out of range\r\n"),
        (
            "ZRANDMEMBER r -9223372036854775808",
            "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
        ),
        ("ZRANDMEMBER s 1", WRONGTYPE),
        ("ZSCAN r 0", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
        ("ZSCAN nokey 0 COUNT 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("ZSCAN r 0 COUNT 0", "-ERR syntax error\r\n"),
        ("ZSCAN r x", "-ERR invalid cursor\r\n"),
        ("ZSCAN s 0", WRONGTYPE),
        ("HELLO 3", "%7\r\n..."),
        ("ZADD z 1 a 2 b", ":2\r\n"),
        ("ZPOPMIN z", "*2\r\n$1\r\na\r\n,1\r\n"),
        ("ZPOPMIN z 1", "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n"),
        ("ZMPOP 1 z MIN", "_\r\n"),
        ("ZRANDMEMBER r -1 WITHSCORES", "*1\r\n*2\r\n$1\r\na\r\n,1\r\n"),
    ])
    .await;
}

#[test]
fn movable_keys_of_the_numkeys_forms() {
    use bytes::Bytes;
    let args = |s: &str| s.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect::<Vec<_>>();
    let keys = |name: &str, s: &str| super::movable_keys(name, &args(s)).cloned().collect::<Vec<_>>();
    assert_eq!(keys("zunionstore", "zunionstore d 2 a b WEIGHTS 1 2"), args("a b"));
    assert_eq!(keys("zinter", "zinter 1 a"), args("a"));
    assert_eq!(keys("bzmpop", "bzmpop 0 2 a b MIN"), args("a b"));
    assert_eq!(keys("zmpop", "zmpop 9 a MIN"), args("a MIN"));
    assert!(keys("zadd", "zadd z 1 a").is_empty());
}
