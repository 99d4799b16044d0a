// Task 9 on BullMQ 5, as its docs write a worker: one Worker, concurrency 2 (two jobs at a
// time in one process, as kue_processor.js), progress 0 then 50, blacklisted numbers fail.
// The benchmark's peer of 7_job_processor.py.
const { Worker } = require('bullmq');
const IORedis = require('ioredis');

const QUEUE = 'push_notification_code_2';
const BLACKLISTED = ['4153518780', '4153518781'];
// A worker's connection must retry for ever (BullMQ warns otherwise): its blocking
// wait for jobs would fail on a lost connection instead of waiting for Redis to return.
const connection = new IORedis(process.env.REDIS_URL, { maxRetriesPerRequest: null });

async function sendNotification(phoneNumber, message, job) {
  await job.updateProgress(0);
  if (BLACKLISTED.includes(phoneNumber)) {
    throw new Error(`Phone number ${phoneNumber} is blacklisted`);
  }
  await job.updateProgress(50);
  console.log(`Sending notification to ${phoneNumber}, with message: ${message}`);
}

const worker = new Worker(QUEUE, (job) => sendNotification(job.data.phoneNumber, job.data.message, job), {
  connection,
  concurrency: 2,
});
worker.on('error', (error) => console.error(error));

process.on('SIGTERM', async () => {
  await worker.close(); // lets the jobs in hand finish
  process.exit(0);
});
