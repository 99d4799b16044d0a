// Task 8's creator on BullMQ 5 for the failover trials (benchmarks/failover_peers.py): the
// eleven jobs of 7_job_creator.py in one addBulk, each event's line printed as ours prints
// it, QueueEvents read from a position taken before the jobs are added (as ours reads its
// events); ends once every job's outcome is heard. $REDIS_URL may name Sentinels
// (connection.js): ioredis's `sentinels`, as BullMQ's docs connect.
const { Queue, QueueEvents } = require('bullmq');
const IORedis = require('ioredis');
const { redisOptions } = require('./connection');

const QUEUE = 'failover_bullmq';
const JOBS = [
  ['4153518780', 'This is the code 1234 to verify your account'],
  ['4153518781', 'This is the code 4562 to verify your account'],
  ['4153518743', 'This is the code 4321 to verify your account'],
  ['4153538781', 'This is the code 4562 to verify your account'],
  ['4153118782', 'This is the code 4321 to verify your account'],
  ['4153718781', 'This is the code 4562 to verify your account'],
  ['4159518782', 'This is the code 4321 to verify your account'],
  ['4158718781', 'This is the code 4562 to verify your account'],
  ['4153818782', 'This is the code 4321 to verify your account'],
  ['4154318781', 'This is the code 4562 to verify your account'],
  ['4151218782', 'This is the code 4321 to verify your account'],
];

const ended = new Set();
let created = null;

function outcome(jobId, line) {
  if (ended.has(jobId) || !created || !created.has(jobId)) return;
  console.log(line);
  ended.add(jobId);
  if (ended.size === JOBS.length) process.exit(0);
}
process.on('SIGTERM', () => process.exit(0));

async function main() {
  // A connection that waits for Redis for ever, as the worker's must (BullMQ's advice).
  const connection = new IORedis(...redisOptions(process.env.REDIS_URL, { maxRetriesPerRequest: null }));
  const queue = new Queue(QUEUE, { connection });
  const client = await queue.client;
  const [last] = await client.xrevrange(queue.keys.events, '+', '-', 'COUNT', 1);
  const events = new QueueEvents(QUEUE, { connection, lastEventId: last ? last[0] : '0-0' });
  events.on('completed', ({ jobId }) => outcome(jobId, `Notification job ${jobId} completed`));
  events.on('failed', ({ jobId, failedReason }) => outcome(jobId, `Notification job ${jobId} failed: ${failedReason}`));
  const jobs = await queue.addBulk(JOBS.map(([phoneNumber, message]) => ({ name: 'notification', data: { phoneNumber, message } })));
  created = new Set(jobs.map((job) => job.id));
  for (const job of jobs) console.log(`Notification job created: ${job.id}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
