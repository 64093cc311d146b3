//! `nodes.conf` in Redis's format, and the CLUSTER NODES line it shares: one line per node
//! (`<id> <ip>:<port>@<cport> <flags> <primary> <ping-sent> <pong-recv> <config-epoch>
//! <link-state> <slot ranges>…`, this node's line carrying `myself` and its open slots as
//! `[slot->-target]` / `[slot-<-source]`), then `vars currentEpoch N lastVoteEpoch M`. A node
//! restarted on its file keeps its name, epochs and slots, and rejoins the nodes it names.
//! Writes go to a temporary file renamed over the old one, so a crash never leaves half a file.

use super::SLOTS;
use super::state::{Node, NodeId, Settings, State, now_ms, ranges};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Redis's flags field for `n` as `st` sees it (`myself,master`, `master,fail?`, …).
pub fn flags(st: &State, n: &Node) -> String {
    let mut f: Vec<&str> = Vec::new();
    if n.id == st.myself {
        f.push("myself");
    }
    f.push(if n.is_primary() { "master" } else { "slave" });
    if n.pfail && !n.failed() {
        f.push("fail?");
    }
    if n.failed() {
        f.push("fail");
    }
    if n.ip.is_empty() && n.id != st.myself {
        f.push("noaddr");
    }
    f.join(",")
}

/// One CLUSTER NODES line (with its `\n`); `file`: this node's own times are zeros, as Redis saves them.
pub fn line(st: &State, n: &Node, file: bool) -> String {
    line_with(st, n, file, &ranges(|slot| st.owners[slot] == Some(n.id)))
}

/// Every node's slot ranges, in one pass over the slots.
fn all_ranges(st: &State) -> HashMap<NodeId, Vec<(usize, usize)>> {
    let mut out: HashMap<NodeId, Vec<(usize, usize)>> = HashMap::new();
    let mut s = 0;
    while s < SLOTS {
        let owner = st.owners[s];
        let mut end = s;
        while end + 1 < SLOTS && st.owners[end + 1] == owner {
            end += 1;
        }
        if let Some(id) = owner {
            out.entry(id).or_default().push((s, end));
        }
        s = end + 1;
    }
    out
}

/// [`line`] with the node's slot ranges given.
fn line_with(st: &State, n: &Node, file: bool, slot_ranges: &[(usize, usize)]) -> String {
    let me = n.id == st.myself;
    let primary = n.replica_of.map_or_else(|| "-".to_string(), |p| p.to_string());
    let (ping, pong) = match (me, file) {
        (true, true) => (0, 0),
        (true, false) => (0, now_ms() / 1000 * 1000),
        (false, _) => (n.ping_sent, n.pong_received),
    };
    let link = if me || n.link_up { "connected" } else { "disconnected" };
    let mut s = format!(
        "{} {}:{}@{} {} {primary} {ping} {pong} {} {link}",
        n.id,
        n.ip,
        n.port,
        n.cport,
        flags(st, n),
        n.config_epoch
    );
    for &(a, b) in slot_ranges {
        if a == b {
            let _ = write!(s, " {a}");
        } else {
            let _ = write!(s, " {a}-{b}");
        }
    }
    if me {
        for (slot, to) in &st.migrating {
            let _ = write!(s, " [{slot}->-{to}]");
        }
        for (slot, from) in &st.importing {
            let _ = write!(s, " [{slot}-<-{from}]");
        }
    }
    s.push('\n');
    s
}

/// The whole CLUSTER NODES text (nodes in name order, as a dict walk gives no better one).
pub fn describe(st: &State, file: bool) -> String {
    let all = all_ranges(st);
    st.nodes.values().map(|n| line_with(st, n, file, all.get(&n.id).map_or(&[], Vec::as_slice))).collect()
}

/// The nodes.conf text.
pub fn render(st: &State) -> String {
    let mut s = describe(st, true);
    let _ = writeln!(s, "vars currentEpoch {} lastVoteEpoch {}", st.current_epoch, st.last_vote_epoch);
    s
}

/// Writes nodes.conf durably, as Redis 7.0 does before it replies: a temporary file, fsync,
/// rename, fsync of the directory. The caller holds the state lock and replies after this
/// returns, so an acknowledged slot change survives a crash (a node must not come back owning
/// a slot it gave away). Clears `dirty` on success.
///
/// # Errors
/// The I/O error, if the file could not be written.
pub fn save(st: &mut State) -> std::io::Result<()> {
    use std::io::Write as _;
    let path = std::path::Path::new(&st.settings.config_file);
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(render(st).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    std::fs::File::open(dir)?.sync_all()?;
    st.dirty = false;
    Ok(())
}

/// Parses a nodes.conf text into a state (`Err` names the bad line, as Redis refuses to start).
///
/// # Errors
/// A message naming the first line that does not parse, or a file without a `myself` line.
pub fn parse(text: &str, settings: Settings) -> Result<State, String> {
    let now = now_ms();
    let mut pending: Vec<(Node, Vec<String>, bool)> = Vec::new();
    let mut epochs = (0, 0);
    for raw in text.lines() {
        let words: Vec<&str> = raw.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let bad = || format!("Unrecoverable error: corrupted cluster config file \"{raw}\".");
        if words[0] == "vars" {
            for pair in words[1..].chunks(2) {
                match pair {
                    ["currentEpoch", v] => epochs.0 = v.parse().map_err(|_| bad())?,
                    ["lastVoteEpoch", v] => epochs.1 = v.parse().map_err(|_| bad())?,
                    _ => {}
                }
            }
            continue;
        }
        if words.len() < 8 {
            return Err(bad());
        }
        let id = NodeId::parse(words[0].as_bytes()).ok_or_else(bad)?;
        let (hostport, cport) = words[1].split_once('@').ok_or_else(bad)?;
        let cport = cport.split(',').next().unwrap_or("");
        let (ip, port) = hostport.rsplit_once(':').ok_or_else(bad)?;
        let mut n =
            Node::new(id, ip.to_string(), port.parse().map_err(|_| bad())?, cport.parse().map_err(|_| bad())?, now);
        let flags: Vec<&str> = words[2].split(',').collect();
        if words[3] != "-" {
            n.replica_of = Some(NodeId::parse(words[3].as_bytes()).ok_or_else(bad)?);
        }
        n.config_epoch = words[6].parse().map_err(|_| bad())?;
        let me = flags.contains(&"myself");
        pending.push((n, words[8..].iter().map(|w| w.to_string()).collect(), me));
    }
    let Some(mine) = pending.iter().find(|p| p.2).map(|p| p.0.clone()) else {
        return Err("Unrecoverable error: corrupted cluster config file (no myself line).".into());
    };
    let mut s = State::new(mine.id, mine.ip.clone(), mine.port, mine.cport, settings);
    if !s.settings.announce_ip.is_empty() {
        s.me_mut().ip = s.settings.announce_ip.clone();
    }
    for (n, slots, me) in pending {
        let id = n.id;
        if me {
            s.me_mut().config_epoch = n.config_epoch;
            s.me_mut().replica_of = n.replica_of;
        } else {
            s.nodes.insert(id, n);
        }
        for w in slots {
            parse_slot_word(&mut s, id, &w).ok_or_else(|| format!("Unrecoverable error: bad slot entry \"{w}\"."))?;
        }
    }
    s.current_epoch = epochs.0;
    s.last_vote_epoch = epochs.1;
    s.dirty = false;
    Ok(s)
}

/// One slot word of a node line: `5`, `0-5460`, `[5->-id]` (migrating), `[5-<-id]` (importing).
fn parse_slot_word(s: &mut State, id: NodeId, w: &str) -> Option<()> {
    if let Some(open) = w.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
        if let Some((slot, to)) = open.split_once("->-") {
            s.migrating.insert(
                slot.parse().ok().filter(|&x: &u16| usize::from(x) < super::SLOTS)?,
                NodeId::parse(to.as_bytes())?,
            );
        } else {
            let (slot, from) = open.split_once("-<-")?;
            s.importing.insert(
                slot.parse().ok().filter(|&x: &u16| usize::from(x) < super::SLOTS)?,
                NodeId::parse(from.as_bytes())?,
            );
        }
        return Some(());
    }
    let (a, b) = w.split_once('-').unwrap_or((w, w));
    let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
    if a > b || b >= super::SLOTS {
        return None;
    }
    for slot in a..=b {
        s.assign(slot, Some(id));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: u8) -> NodeId {
        NodeId([c; 40])
    }

    #[test]
    fn round_trip_keeps_names_epochs_slots_and_migrations() {
        let mut st = State::new(id(b'a'), "127.0.0.1".into(), 7000, 17000, Settings::default());
        st.me_mut().config_epoch = 3;
        st.current_epoch = 5;
        st.last_vote_epoch = 2;
        let mut b = Node::new(id(b'b'), "127.0.0.1".into(), 7001, 17001, 0);
        b.config_epoch = 5;
        st.nodes.insert(b.id, b);
        for s in 0..100 {
            st.assign(s, Some(id(b'a')));
        }
        st.assign(200, Some(id(b'a')));
        for s in 101..16384 {
            if s != 200 {
                st.assign(s, Some(id(b'b')));
            }
        }
        st.migrating.insert(7, id(b'b'));
        st.importing.insert(300, id(b'b'));
        let text = render(&st);
        assert!(text.contains("myself,master - 0 0 3 connected 0-99 200 [7->-bbbb"), "{text}");
        assert!(text.ends_with("vars currentEpoch 5 lastVoteEpoch 2\n"), "{text}");
        let back = parse(&text, Settings::default()).unwrap();
        assert_eq!(back.myself, st.myself);
        assert_eq!(back.owners, st.owners);
        assert_eq!((back.current_epoch, back.last_vote_epoch), (5, 2));
        assert_eq!(back.me().config_epoch, 3);
        assert_eq!(back.nodes[&id(b'b')].config_epoch, 5);
        assert_eq!((back.migrating.clone(), back.importing.clone()), (st.migrating.clone(), st.importing.clone()));
    }

    #[test]
    fn reads_a_redis_written_file_and_refuses_garbage() {
        let text = "c306b68060956b11b18585c63cbed9c053ae4231 127.0.0.1:41002@51002 master - 0 1796022863120 2 connected 5461-10922\n\
cddcc04107425515e400b97441bc9db878ac117e 127.0.0.1:41001@51001,host myself,master - 0 0 1 connected 0-5460\n\
vars currentEpoch 3 lastVoteEpoch 0\n";
        let st = parse(text, Settings::default()).unwrap();
        assert_eq!(st.myself.as_str(), "cddcc04107425515e400b97441bc9db878ac117e");
        assert_eq!((st.me().port, st.me().cport), (41001, 51001));
        assert_eq!(st.count_slots(&st.myself), 5461);
        assert_eq!(st.current_epoch, 3);
        assert!(parse("garbage line\n", Settings::default()).is_err());
        assert!(parse("vars currentEpoch 1 lastVoteEpoch 0\n", Settings::default()).is_err());
    }
}
