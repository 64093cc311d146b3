// ioredis and node-redis (RESP2 and RESP3) as real clients of a server.
//
// Prints one line per step: `<step> <JSON of the result or error>`. tests/tests/other_clients.rs
// runs this against our server and against redis-server and compares the transcripts line by line,
// so the script itself asserts nothing about the answers.
//
// usage: node node_clients.mjs HOST PORT

import Redis from "ioredis";
import { createClient } from "redis";

const [host, port] = [process.argv[2], Number(process.argv[3])];

const show = (v) =>
  JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x instanceof Map ? [...x].sort() : x));

async function step(name, fn) {
  let out;
  try {
    out = await fn();
  } catch (e) {
    out = `error: ${e.message}`;
  }
  console.log(`${name} ${show(out)}`);
}

async function ioredisSession() {
  const r = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  await r.connect();
  await step("ioredis flushall", () => r.flushall());
  await step("ioredis set", () => r.set("user:1", "Ada", "EX", 60));
  await step("ioredis get", () => r.get("user:1"));
  await step("ioredis ttl", () => r.ttl("user:1"));
  await step("ioredis incr", async () => [await r.incr("n"), await r.incrby("n", 41)]);
  await step("ioredis hset", () => r.hset("h", { a: "1", b: "2" }));
  await step("ioredis hgetall", () => r.hgetall("h"));
  await step("ioredis wrongtype", () => r.get("h"));
  await step("ioredis mget", () => r.mget("user:1", "n", "missing"));
  await step("ioredis pipeline", async () => {
    const p = r.pipeline();
    for (let i = 0; i < 100; i++) p.set(`k${i}`, i);
    for (let i = 0; i < 100; i++) p.get(`k${i}`);
    return (await p.exec()).slice(-2);
  });
  await step("ioredis scan", async () => {
    const keys = [];
    for await (const batch of r.scanStream({ match: "k9*", count: 10 })) keys.push(...batch);
    return keys.sort();
  });
  await step("ioredis dbsize", () => r.dbsize());
  r.disconnect();
}

async function nodeRedisSession(resp) {
  const c = createClient({ socket: { host, port, reconnectStrategy: false }, RESP: resp });
  c.on("error", () => {});
  await c.connect();
  const p = `node-redis${resp}`;
  await step(`${p} flushall`, () => c.flushAll());
  await step(`${p} set`, () => c.set("user:1", "Ada", { expiration: { type: "EX", value: 60 } }));
  await step(`${p} get`, () => c.get("user:1"));
  await step(`${p} incr`, () => c.incrBy("n", 5));
  await step(`${p} hset`, () => c.hSet("h", { a: "1", b: "2" }));
  await step(`${p} hgetall`, () => c.hGetAll("h"));
  await step(`${p} wrongtype`, () => c.get("h"));
  await step(`${p} multi-get`, () => c.mGet(["user:1", "n", "missing"]));
  await step(`${p} pipeline`, async () => {
    const replies = await Promise.all([...Array(100).keys()].map((i) => c.set(`k${i}`, String(i))));
    return [replies.length, await c.get("k99")];
  });
  await step(`${p} expire`, async () => [await c.expire("n", 100), await c.ttl("n"), await c.persist("n")]);
  await step(`${p} type`, async () => [await c.type("h"), await c.type("n"), await c.type("missing")]);
  await step(`${p} unknown`, () => c.sendCommand(["NOSUCHCOMMAND", "x"]));
  await c.quit();
}

await ioredisSession();
await nodeRedisSession(2);
await nodeRedisSession(3);
