//! Property tests of the two request decoders, fed the way sockets feed them: in arbitrary chunks.
//!
//! - RESP: any list of commands, encoded as multibulk requests and delivered in random chunks,
//!   decodes to exactly the same commands; and for arbitrary bytes (hostile input), decoding in
//!   chunks gives the same commands and the same error as decoding everything at once, without
//!   panicking.
//! - Memcached: arbitrary bytes never panic the decoder, a decision taken on a prefix (a request or
//!   an error) is the one taken on the whole input, and it never consumes more than it was given.

use bytes::BytesMut;
use cache_server::frame::{Limits, Parser};
use cache_server::memcache::parse::{Next, next};
use proptest::prelude::*;

type Commands = Vec<Vec<Vec<u8>>>;

/// Feeds `input` in chunks that end at `cuts` and collects every command and the first error.
fn decode_chunked(input: &[u8], cuts: &[usize]) -> (Commands, Option<String>) {
    let limits = Limits { inline_max: 1024, max_bulk: 4096, ..Limits::default() };
    let mut parser = Parser::default();
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    bounds.push(input.len());
    bounds.sort_unstable();
    let mut fed = 0;
    for end in bounds {
        buf.extend_from_slice(&input[fed..end]);
        fed = end;
        loop {
            match parser.parse(&mut buf, &limits) {
                Ok(Some(cmd)) => commands.push(cmd.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => break,
                Err(e) => return (commands, Some(e.to_string())),
            }
        }
    }
    (commands, None)
}

fn encode(commands: &Commands) -> Vec<u8> {
    let mut out = Vec::new();
    for cmd in commands {
        out.extend_from_slice(format!("*{}\r\n", cmd.len()).as_bytes());
        for arg in cmd {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn commands() -> impl Strategy<Value = Commands> {
    let arg = prop::collection::vec(any::<u8>(), 0..40);
    prop::collection::vec(prop::collection::vec(arg, 1..6), 1..12)
}

/// Bytes that look like protocol often enough to reach deep states.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"3".to_vec()),
        Just(b"99999999999".to_vec()),
        Just(b"\"a\\x4".to_vec()),
        Just(b"GET k ".to_vec()),
        Just(b"set k 0 0 3".to_vec()),
        Just(b"mg k v".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn resp_commands_survive_any_chunking(cmds in commands(), cuts in prop::collection::vec(any::<usize>(), 0..20)) {
        let (decoded, err) = decode_chunked(&encode(&cmds), &cuts);
        prop_assert_eq!(err, None);
        prop_assert_eq!(decoded, cmds);
    }

    #[test]
    fn resp_hostile_bytes_decode_the_same_in_chunks(input in hostile(), cuts in prop::collection::vec(any::<usize>(), 1..20)) {
        prop_assert_eq!(decode_chunked(&input, &[]), decode_chunked(&input, &cuts));
    }

    #[test]
    fn memcached_prefix_decisions_hold(mut input in hostile(), cut in any::<usize>()) {
        input.extend_from_slice(b"\r\n");
        let whole = next(&input, 1 << 20);
        if let Next::Ready { consumed, .. } = &whole {
            prop_assert!(*consumed <= input.len());
        }
        let prefix = &input[..cut % (input.len() + 1)];
        if let Next::Ready { req, consumed, swallow } = next(prefix, 1 << 20) {
            prop_assert!(consumed <= prefix.len());
            let Next::Ready { req: w_req, consumed: w_consumed, swallow: w_swallow } = whole else {
                return Err(TestCaseError::fail(format!("prefix decided {req:?}, whole input {whole:?}")));
            };
            prop_assert_eq!(format!("{req:?}"), format!("{w_req:?}"));
            prop_assert_eq!((consumed, swallow), (w_consumed, w_swallow));
        }
    }
}
