// Task 8's creator on BullMQ 5 for N jobs (argv[2]) of the benchmark's workload, as
// kue_creator.js: phone 41535187NN with NN = i % 100, so 2% are blacklisted (argv[3]:
// the failing share, 0.02 by default, 0 none, 1 all; as workload() in
// benchmarks/original.py). The jobs are saved in one queue.addBulk; each event's line is
// printed as the original's creator printed it. Writes on stderr, as JSON, the seconds
// until every job was saved and until every outcome was heard, the outcomes heard and its
// CPU seconds. argv[4] = 'create-only': ends once the jobs are saved. On SIGTERM (the
// bench gave up waiting) it writes what it heard so far, heard: null.
const { Queue, QueueEvents } = require('bullmq');
const IORedis = require('ioredis');

const QUEUE = 'push_notification_code_2';
const count = Number(process.argv[2]);
const failing = Number(process.argv[3] || '0.02');
const createOnly = process.argv[4] === 'create-only';
const number = (i) => {
  if (failing === 1) return 80 + (i % 2);
  if (failing === 0) return i % 80;
  return i % 100;
};

const started = process.hrtime.bigint();
const cpu = process.cpuUsage();
const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
const cpuSeconds = () => {
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1e6;
};
let created = null;
const ended = new Set();

function finish(heard) {
  const times = { created, heard, outcomes: ended.size, cpu: cpuSeconds() };
  process.stderr.write(`${JSON.stringify(times)}\n`);
  process.exit(0);
}
process.on('SIGTERM', () => finish(null));

function outcome(jobId, line) {
  if (ended.has(jobId)) return;
  console.log(line);
  ended.add(jobId);
  if (ended.size === count) finish(seconds());
}

async function main() {
  const connection = new IORedis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE, {
    connection,
    // Kept as ours keeps them: a finished job 500 s, a failed one a day (in seconds).
    defaultJobOptions: { removeOnComplete: { age: 500 }, removeOnFail: { age: 86400 } },
    // The event stream bounded as ours (about 100k events); BullMQ's default, 10k, is
    // fewer than 5,000 jobs write (about 6 each), so a creator lagging behind would lose
    // outcomes trimmed before it read them.
    streams: { events: { maxLen: 100000 } },
  });
  const data = Array.from({ length: count }, (_, i) => ({
    name: 'notification',
    data: {
      phoneNumber: `41535187${String(number(i)).padStart(2, '0')}`,
      message: `This is the code ${i} to verify your account`,
    },
  }));
  if (!createOnly) {
    // Events are read from a position taken before the first job is added, as ours reads
    // them. With BullMQ's default, lastEventId '$', the position is wherever the stream
    // ends when QueueEvents' first XREAD reaches Redis, after its connection is made, and
    // waitUntilReady() does not wait for that read (taskforcesh/bullmq#2874, #2517): the
    // events of jobs added and ended before it are never heard, and this creator would
    // wait for them for ever (here, with '$' and no wait: the first 2 outcomes of 5,000
    // lost, run after run).
    const client = await queue.client;
    const [last] = await client.xrevrange(queue.keys.events, '+', '-', 'COUNT', 1);
    const events = new QueueEvents(QUEUE, { connection, lastEventId: last ? last[0] : '0-0' });
    events.on('progress', ({ jobId, data: progress }) => console.log(`Notification job ${jobId} ${progress}% complete`));
    events.on('completed', ({ jobId }) => outcome(jobId, `Notification job ${jobId} completed`));
    events.on('failed', ({ jobId, failedReason }) => outcome(jobId, `Notification job ${jobId} failed: ${failedReason}`));
  }
  const jobs = await queue.addBulk(data);
  created = seconds();
  for (const job of jobs) console.log(`Notification job created: ${job.id}`);
  if (createOnly) finish(null);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
