// Task 9 on BullMQ 5 for the failover trials, as bullmq_processor.js (one Worker,
// concurrency 2, progress 0 then 50, blacklisted numbers fail), on $REDIS_URL, which may
// name Sentinels (connection.js).
const { Worker } = require('bullmq');
const IORedis = require('ioredis');
const { redisOptions } = require('./connection');

const QUEUE = 'failover_bullmq';
const BLACKLISTED = ['4153518780', '4153518781'];
const connection = new IORedis(...redisOptions(process.env.REDIS_URL, { maxRetriesPerRequest: null }));

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
worker.on('error', (error) => console.error(`worker error: ${error.message}`));

process.on('SIGTERM', async () => {
  await worker.close();
  process.exit(0);
});
