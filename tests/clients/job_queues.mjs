// Bull as a real job queue on a server: its Lua scripts, its worker blocked in BRPOPLPUSH on the
// wait list, and its pub/sub events (global:completed, the delayed-job timer).
//
// Covers: queue.add with explicit jobIds (and a duplicate id), process() with a handler, results
// through job.finished(), a job that throws (failed, with its message and stack's first line),
// attempts with a fixed backoff (succeeding on the third try, and running out), job.retry() of a
// failed job, progress and job logs, removeOnComplete / removeOnFail, priorities (added while
// paused, run after resume in priority order), delayed jobs (run in order of delay) and promote(),
// a worker woken from BRPOPLPUSH by a job added 0.3 s later, getJobCounts(), local and global
// events, clean(), obliterate() and close().
//
// Prints one line per step: `<step> <JSON of the result or error>`, as node_clients.mjs does.
// tests/tests/job_queues.rs runs this against two servers and compares the transcripts line by
// line, so the script asserts nothing itself. Nothing random or time-dependent is printed: job ids
// are fixed, timestamps never shown, waits only as comparisons. Every wait is bounded (`within`),
// and a watchdog ends the process if something still hangs.
//
// usage: node job_queues.mjs HOST PORT

import Queue from "bull";
import Redis from "ioredis";

const [host, port] = [process.argv[2], Number(process.argv[3])];

const watchdog = setTimeout(() => {
  console.log("watchdog: the script did not finish in 50 s");
  process.exit(1);
}, 50_000);
watchdog.unref();

const show = (v) => JSON.stringify(v, (_, x) => (x === undefined ? null : x));

async function step(name, fn) {
  let out;
  try {
    out = await fn();
  } catch (e) {
    out = `error: ${e.message}`;
  }
  console.log(`${name} ${show(out)}`);
}

/**
 * `promise`, or a rejection after `ms` (so no step waits for ever). The default leaves room for
 * job.finished()'s own 5 s watchdog: it listens for global:completed only after reading the
 * job's state, so an event that arrives in between is missed and the watchdog finds it later.
 */
function within(promise, ms = 12_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Waits (up to `ms`) until the worker has reported every job of `ids` completed, through its local
 * events. Unlike job.finished() (see `within`), this cannot miss a job that completes while it
 * starts waiting, so it also times how fast the worker was woken. Returns whether they all
 * completed in time.
 */
function settled(ids, ms = 4000) {
  return until(() => ids.every((id) => events.completed.includes(id)), ms);
}

/** What the worker reported for job `id` (its result, or `error: <message>`), once it has. */
async function outcome(id, ms = 4000) {
  await until(() => events.outcome.has(id), ms);
  return events.outcome.get(id);
}

/** The first line of each stack trace: the error and its message (the frames carry paths). */
const firstLines = (stacks) => stacks.map((s) => s.split("\n")[0]);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (up to `ms`) until `probe()` is true; returns its last answer. */
async function until(probe, ms = 3000) {
  const deadline = Date.now() + ms;
  let ok = await probe();
  while (!ok && Date.now() < deadline) {
    await sleep(20);
    ok = await probe();
  }
  return ok;
}

const raw = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
await raw.connect();
const blockedClients = async () => Number((await raw.info("clients")).match(/blocked_clients:(\d+)/)[1]);

await step("bull flushall", () => raw.flushall());

const queue = new Queue("jobs", { redis: { host, port } });
const ran = []; // the ids of the jobs the handler saw, in the order it saw them
const events = { completed: [], failed: [], global: [], outcome: new Map() };
queue.on("error", (e) => console.error("bull error:", e));
queue.on("completed", (job, result) => (events.completed.push(job.id), events.outcome.set(job.id, result)));
queue.on("failed", (job, e) => (events.failed.push(job.id), events.outcome.set(job.id, `error: ${e.message}`)));
queue.on("global:completed", (jobId) => events.global.push(jobId));

async function handler(job) {
  ran.push(job.id);
  const d = job.data;
  switch (d.kind) {
    case "add":
      return d.a + d.b;
    case "fail":
      throw new Error(d.message);
    case "flaky":
      // Fails until it has been tried `failures` times: the outcome depends only on attemptsMade.
      if (job.attemptsMade < d.failures) throw new Error(`attempt ${job.attemptsMade + 1} failed`);
      return `succeeded on attempt ${job.attemptsMade + 1}`;
    case "progress":
      await job.progress(50);
      await job.log("halfway");
      await job.progress(100);
      return "done";
    default:
      return job.id;
  }
}

await step("bull ready", async () => (await within(queue.isReady()), "ready"));
await step("bull global events subscribed", () =>
  within(
    new Promise((resolve) => {
      if (queue.registeredEvents?.completed) resolve("subscribed");
      else queue.once("registered:global:completed", () => resolve("subscribed"));
    }),
  ),
);

// Before any processor: jobs wait.
await step("bull add", async () => {
  const job = await queue.add({ kind: "add", a: 2, b: 3 }, { jobId: "add" });
  return [job.id, job.data, await job.getState()];
});
await step("bull add duplicate id", async () => {
  const job = await queue.add({ kind: "add", a: 100, b: 100 }, { jobId: "add" });
  return [job.id, await queue.count()];
});
await step("bull get job", async () => {
  const job = await queue.getJob("add");
  return [job.id, job.data, job.opts.attempts, await job.getState()];
});
await step("bull get missing", () => queue.getJob("missing"));
await step("bull counts before", () => queue.getJobCounts());

// Runs until close(); the steps below wait on the jobs. A failure to start shows in the steps.
queue.process(handler).catch((e) => console.error("bull process:", e));

await step("bull finished", async () => within((await queue.getJob("add")).finished()));
await step("bull completed job", async () => {
  const job = await queue.getJob("add");
  return [await job.getState(), job.returnvalue, job.attemptsMade, job.finishedOn > 0];
});

await step("bull failing job", async () => {
  const job = await queue.add({ kind: "fail", message: "bad input 7" }, { jobId: "boom" });
  return within(job.finished());
});
await step("bull failed job", async () => {
  const job = await queue.getJob("boom");
  return [await job.getState(), job.failedReason, job.attemptsMade, firstLines(job.stacktrace)];
});

await step("bull attempts with backoff", async () => {
  const opts = { jobId: "flaky", attempts: 3, backoff: { type: "fixed", delay: 50 } };
  const job = await queue.add({ kind: "flaky", failures: 2 }, opts);
  return within(job.finished());
});
await step("bull retried job", async () => {
  const job = await queue.getJob("flaky");
  return [await job.getState(), job.attemptsMade, firstLines(job.stacktrace)];
});
await step("bull attempts exhausted", async () => {
  const opts = { jobId: "hopeless", attempts: 2, backoff: { type: "fixed", delay: 50 } };
  const job = await queue.add({ kind: "flaky", failures: 5 }, opts);
  const outcome = await within(job.finished()).catch((e) => `error: ${e.message}`);
  const again = await queue.getJob("hopeless");
  return [outcome, await again.getState(), again.attemptsMade];
});

await step("bull retry failed job", async () => {
  const job = await queue.add({ kind: "flaky", failures: 1 }, { jobId: "once" });
  const first = await within(job.finished()).catch((e) => `error: ${e.message}`);
  const failed = await queue.getJob("once");
  await failed.retry();
  const second = await within(failed.finished());
  return [first, second, await (await queue.getJob("once")).getState()];
});

await step("bull progress and logs", async () => {
  const job = await queue.add({ kind: "progress" }, { jobId: "progress" });
  const result = await within(job.finished());
  const again = await queue.getJob("progress");
  return [result, again.progress(), await queue.getJobLogs("progress")];
});

// A removed job cannot be awaited with finished() (were it to miss the event, its watchdog would
// look for the job in vain): the worker's own events tell the outcome.
await step("bull removeOnComplete", async () => {
  await queue.add({ kind: "add", a: 1, b: 1 }, { jobId: "ephemeral", removeOnComplete: true });
  return [await outcome("ephemeral"), await queue.getJob("ephemeral")];
});
await step("bull removeOnFail", async () => {
  await queue.add({ kind: "fail", message: "gone" }, { jobId: "vanish", removeOnFail: true });
  return [await outcome("vanish"), await queue.getJob("vanish")];
});

// Priorities: added while the queue is paused, run after resume, most urgent (lowest number) first.
await step("bull pause", async () => (await queue.pause(), await queue.isPaused()));
await step("bull add while paused", async () => {
  ran.length = 0;
  for (const [id, priority] of [["p-low", 10], ["p-high", 1], ["p-mid", 5], ["p-high-2", 1]]) {
    await queue.add({ kind: "record" }, { jobId: id, priority });
  }
  await sleep(200);
  return [ran, await queue.getJobCounts()];
});
await step("bull resume", async () => {
  const started = Date.now();
  await queue.resume();
  // RENAME of the paused list back to wait wakes the worker blocked on wait at once (were it not
  // woken, it would take the jobs only when its BRPOPLPUSH times out, 5 s later).
  const done = await settled(["p-low", "p-high", "p-mid", "p-high-2"]);
  return [await queue.isPaused(), done, ran, Date.now() - started < 2500];
});

// Delayed jobs run in order of their delay, whatever the order they were added in.
await step("bull delayed", async () => {
  ran.length = 0;
  const jobs = [];
  for (const [id, delay] of [["d-300", 300], ["d-100", 100], ["d-200", 200]]) {
    jobs.push(await queue.add({ kind: "record" }, { jobId: id, delay }));
  }
  const states = await Promise.all(jobs.map((j) => j.getState()));
  const counts = await queue.getJobCounts();
  return [states, counts.delayed, await settled(jobs.map((j) => j.id)), ran];
});
await step("bull promote", async () => {
  ran.length = 0;
  const job = await queue.add({ kind: "record" }, { jobId: "d-hour", delay: 3_600_000 });
  const before = await job.getState();
  await job.promote();
  return [before, await within(job.finished()), ran];
});

// The worker is parked in BRPOPLPUSH on the empty wait list; a job added 0.3 s later wakes it.
await step("bull blocking wake", async () => {
  const blocked = await until(async () => (await blockedClients()) >= 1);
  await sleep(300);
  await queue.add({ kind: "add", a: 20, b: 22 }, { jobId: "wake" });
  const done = await settled(["wake"]);
  return [blocked, done, (await queue.getJob("wake")).returnvalue];
});

await step("bull counts after", () => queue.getJobCounts());
await step("bull completed ids", async () => (await queue.getCompleted()).map((j) => j.id).sort());
await step("bull failed ids", async () => (await queue.getFailed()).map((j) => j.id).sort());
await step("bull local events", () => [[...events.completed].sort(), [...events.failed].sort()]);
await step("bull global completed", async () => {
  await until(() => events.global.length >= events.completed.length);
  return [...events.global].sort();
});
await step("bull clean failed", async () => (await queue.clean(0, "failed")).map((j) => j.id ?? j).sort());
await step("bull counts after clean", () => queue.getJobCounts());
/** Bull's keys (and the jobs' own), sorted, by type: what Bull keeps where. */
async function keyTypes() {
  const keys = {};
  for (const k of (await raw.keys("bull:jobs:*")).sort()) (keys[await raw.type(k)] ??= []).push(k);
  return keys;
}
for (const kind of ["string", "list", "set", "zset", "hash"]) {
  await step(`bull keys ${kind}`, async () => (await keyTypes())[kind] ?? []);
}
await step("bull obliterate", async () => {
  await within(queue.obliterate({ force: true }));
  return raw.keys("bull:jobs:*");
});
await step("bull close", async () => (await within(queue.close()), "closed"));
await step("bull clients left", async () => {
  // Bull's three connections (commands, the blocked worker, pub/sub) are gone: only `raw` is left.
  await until(async () => (await raw.client("LIST")).trim().split("\n").length === 1);
  return [(await raw.client("LIST")).trim().split("\n").length, await blockedClients()];
});
await raw.quit();
