//! cache-client's consistent hashing with real servers (ours and redis-server): 10k keys written
//! through a 3-node client; a client with a 4th node added finds all but about 1/4 of them (the
//! remapped ones), and a client with one of the 3 removed loses only that node's keys (about
//! 1/3). Both fractions must fall within [0.5/N, 1.5/N].

mod client_common;

use anyhow::{Result, ensure};
use cache_client::Client;
use cache_tests::ServerOpts;
use client_common::{Target, groups};

fn client(nodes: &[&Target]) -> Result<Client> {
    let mut b = Client::builder();
    for t in nodes {
        b = b.node(t.url());
    }
    Ok(b.build()?)
}

#[tokio::test]
async fn adding_or_removing_a_node_remaps_about_one_nth_of_the_keys() -> Result<()> {
    for group in groups(4, &ServerOpts::default()) {
        let who = group[0].name();
        let three = client(&[&group[0], &group[1], &group[2]])?;
        for t in &group {
            client(&[t])?.cmd(&["FLUSHALL"]).await?;
        }
        let keys: Vec<String> = (0..10_000).map(|i| format!("item:{i}")).collect();
        for chunk in keys.chunks(500) {
            let pairs: Vec<(&String, &String)> = chunk.iter().map(|k| (k, k)).collect();
            three.mset(&pairs).await?;
        }
        let four = client(&[&group[0], &group[1], &group[2], &group[3]])?;
        let mut missing = 0;
        for chunk in keys.chunks(500) {
            missing += four.mget(chunk).await?.iter().filter(|v| v.is_none()).count();
        }
        let frac = missing as f64 / keys.len() as f64;
        println!("{who}: adding a 4th node remapped {frac:.4} of 10k keys (ideal 0.25)");
        ensure!((0.125..=0.375).contains(&frac), "{who}: add remapped {frac}");

        let two = client(&[&group[0], &group[2]])?;
        let mut lost = 0;
        for chunk in keys.chunks(500) {
            let got = two.mget(chunk).await?;
            for (k, v) in chunk.iter().zip(got) {
                let was_on_removed = three.node_of(k) == 1;
                ensure!(v.is_none() == was_on_removed, "{who}: {k} moved although its node stayed");
                lost += usize::from(v.is_none());
            }
        }
        let frac = lost as f64 / keys.len() as f64;
        println!("{who}: removing 1 of 3 nodes remapped {frac:.4} of 10k keys (ideal 0.333)");
        ensure!((1.0 / 6.0..=0.5).contains(&frac), "{who}: remove remapped {frac}");
    }
    Ok(())
}
