//! Table tests of the CLUSTER subcommands on a node alone (no bus): reply shapes and Redis's
//! error texts.

use crate::commands::testutil::*;

/// Config for a cluster node alone: a nodes.conf in a fresh directory and a free bus port.
fn alone(tag: &str) -> impl FnOnce(&mut crate::config::Config) {
    let dir = std::env::temp_dir().join(format!("cluster-cmd-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("nodes.conf").display().to_string();
    let bus = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    move |c| {
        c.set("cluster-enabled", &["yes"]).unwrap();
        c.set("cluster-config-file", &[&file]).unwrap();
        c.set("cluster-port", &[&bus]).unwrap();
    }
}

#[tokio::test]
async fn disabled_without_cluster_enabled() {
    run_table(&[
        ("CLUSTER INFO", "-ERR This instance has cluster support disabled\r\n"),
        ("CLUSTER NODES", "-ERR This instance has cluster support disabled\r\n"),
    ])
    .await;
}

#[tokio::test]
async fn slot_assignment_errors_and_shapes() {
    run_table_with(
        alone("slots"),
        &[
            ("CLUSTER INFO", "$...\r\ncluster_state:fail\r\ncluster_slots_assigned:0\r\n...cluster_known_nodes:1\r\ncluster_size:0\r\ncluster_current_epoch:0\r\ncluster_my_epoch:0\r\n..."),
            ("CLUSTER SLOTS", "*0\r\n"),
            ("CLUSTER ADDSLOTS 99999", "-ERR Invalid or out of range slot\r\n"),
            ("CLUSTER ADDSLOTS x", "-ERR Invalid or out of range slot\r\n"),
            ("CLUSTER ADDSLOTS 1 1", "-ERR Slot 1 specified multiple times\r\n"),
            ("CLUSTER ADDSLOTSRANGE 5 3", "-ERR start slot number 5 is greater than end slot number 3\r\n"),
            ("CLUSTER ADDSLOTSRANGE 1 2 3", "-ERR wrong number of arguments for 'cluster|addslotsrange' command\r\n"),
            ("CLUSTER DELSLOTS 6000", "-ERR Slot 6000 is already unassigned\r\n"),
            ("CLUSTER ADDSLOTSRANGE 0 16383", "+OK\r\n"),
            ("CLUSTER ADDSLOTS 1", "-ERR Slot 1 is already busy\r\n"),
            ("CLUSTER INFO", "$...\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n..."),
            ("CLUSTER DELSLOTS 5", "+OK\r\n"),
            ("CLUSTER INFO", "$...\r\ncluster_state:fail\r\n..."),
            ("CONFIG SET cluster-require-full-coverage no", "+OK\r\n"),
            ("CLUSTER INFO", "$...\r\ncluster_state:ok\r\n..."),
            ("CONFIG SET cluster-require-full-coverage yes", "+OK\r\n"),
            ("CLUSTER ADDSLOTS 5", "+OK\r\n"),
            ("CLUSTER SLOTS", "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$0\r\n\r\n:...\r\n$40\r\n...\r\n*0\r\n"),
            ("CLUSTER DELSLOTSRANGE 10 20", "+OK\r\n"),
            ("CLUSTER SHARDS", "*1\r\n*4\r\n$5\r\nslots\r\n*4\r\n:0\r\n:9\r\n:21\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*14\r\n$2\r\nid\r\n...$6\r\nhealth\r\n$6\r\nonline\r\n"),
            ("CLUSTER SETSLOT 1 bogus", "-ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP\r\n"),
            ("CLUSTER SETSLOT 1 node abc", "-ERR Unknown node abc\r\n"),
            ("CLUSTER SETSLOT 15 migrating abc", "-ERR I'm not the owner of hash slot 15\r\n"),
            ("CLUSTER SETSLOT 1 migrating abc", "-ERR I don't know about node abc\r\n"),
            ("CLUSTER SETSLOT 1 importing abc", "-ERR I'm already the owner of hash slot 1\r\n"),
            ("CLUSTER SETSLOT x node a", "-ERR Invalid or out of range slot\r\n"),
            ("CLUSTER SETSLOT 1 stable x", "-ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP\r\n"),
            ("CLUSTER SETSLOT 1 stable", "+OK\r\n"),
            ("CLUSTER FLUSHSLOTS", "+OK\r\n"),
            ("CLUSTER SLOTS", "*0\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn membership_errors_and_epochs() {
    run_table_with(
        alone("members"),
        &[
            ("CLUSTER MEET 1.2.3 5", "-ERR Invalid node address specified: 1.2.3:5\r\n"),
            ("CLUSTER MEET 127.0.0.1 x", "-ERR Invalid TCP base port specified: x\r\n"),
            ("CLUSTER MEET 127.0.0.1 0", "-ERR Invalid node address specified: 127.0.0.1:0\r\n"),
            ("CLUSTER MEET 127.0.0.1 5 x", "-ERR Invalid TCP bus port specified: x\r\n"),
            (
                "CLUSTER MEET 1.2.3.4 5 6 7",
                "-ERR unknown subcommand or wrong number of arguments for 'meet'. Try CLUSTER HELP.\r\n",
            ),
            ("CLUSTER FORGET abc", "-ERR Unknown node abc\r\n"),
            ("CLUSTER COUNT-FAILURE-REPORTS abc", "-ERR Unknown node abc\r\n"),
            ("CLUSTER REPLICATE abc", "-ERR Unknown node abc\r\n"),
            ("CLUSTER REPLICAS abc", "-ERR Unknown node abc\r\n"),
            ("CLUSTER RESET bogus", "-ERR syntax error\r\n"),
            (
                "CLUSTER RESET hard x",
                "-ERR unknown subcommand or wrong number of arguments for 'reset'. Try CLUSTER HELP.\r\n",
            ),
            ("CLUSTER SET-CONFIG-EPOCH x", "-ERR value is not an integer or out of range\r\n"),
            ("CLUSTER SET-CONFIG-EPOCH -1", "-ERR Invalid config epoch specified: -1\r\n"),
            ("CLUSTER SET-CONFIG-EPOCH 5", "+OK\r\n"),
            ("CLUSTER SET-CONFIG-EPOCH 6", "-ERR Node config epoch is already non-zero\r\n"),
            ("CLUSTER BUMPEPOCH", "+STILL 5\r\n"),
            ("CLUSTER INFO", "$...cluster_current_epoch:5\r\ncluster_my_epoch:5\r\n..."),
            ("CLUSTER BOGUS", "-ERR unknown subcommand 'BOGUS'. Try CLUSTER HELP.\r\n"),
            ("CLUSTER INFO x", "-ERR wrong number of arguments for 'cluster|info' command\r\n"),
            ("CLUSTER NODES", "$...myself,master - 0 ... 5 connected\n\r\n"),
            ("CLUSTER RESET HARD", "+OK\r\n"),
            ("CLUSTER INFO", "$...cluster_current_epoch:0\r\ncluster_my_epoch:0\r\n..."),
            ("CLUSTER BUMPEPOCH", "+BUMPED 1\r\n"),
            ("HELLO 3", "%...$4\r\nmode\r\n$7\r\ncluster\r\n..."),
            ("CLUSTER SLOTS", "*0\r\n"),
            ("CLUSTER ADDSLOTS 7", "+OK\r\n"),
            ("CLUSTER SLOTS", "*1\r\n*3\r\n:7\r\n:7\r\n*4\r\n$0\r\n\r\n:...\r\n$40\r\n...\r\n%0\r\n"),
            ("CLUSTER INFO", "=...\r\ntxt:cluster_state:fail\r\ncluster_slots_assigned:1\r\n..."),
        ],
    )
    .await;
}
