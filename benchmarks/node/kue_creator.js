// Task 8's creator on Kue 0.11 for N jobs (argv[2]) of the benchmark's workload: phone
// 41535187NN with NN = i % 100, so 2% are blacklisted (KUE_FAILING=0: none, 1: all; as
// workload() in benchmarks/original.py). Prints each event's line as the original did;
// once every job's outcome is heard, writes on stderr, as JSON, the seconds until every
// job was saved and until every outcome was heard. KUE_CREATE_ONLY=1: ends once every job
// is saved, with the first only.
const kue = require('kue');

const QUEUE = 'push_notification_code_2';
const count = Number(process.argv[2]);
const failing = Number(process.env.KUE_FAILING || '0.02');
const number = (i) => {
  if (failing === 1) return 80 + (i % 2);
  if (failing === 0) return i % 80;
  return i % 100;
};
const queue = kue.createQueue({ redis: process.env.REDIS_URL });
const started = process.hrtime.bigint();
const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
let saved = 0;
let heard = 0;
let created = null;

function outcome() {
  heard += 1;
  if (heard === count) {
    process.stderr.write(`${JSON.stringify({ created, heard: seconds() })}\n`);
    queue.shutdown(1000, () => process.exit(0));
  }
}

for (let i = 0; i < count; i += 1) {
  const data = {
    phoneNumber: `41535187${String(number(i)).padStart(2, '0')}`,
    message: `This is the code ${i} to verify your account`,
  };
  const job = queue.create(QUEUE, data);
  job.save((error) => {
    if (error) throw error;
    console.log(`Notification job created: ${job.id}`);
    saved += 1;
    if (saved === count) {
      created = seconds();
      if (process.env.KUE_CREATE_ONLY === '1') {
        process.stderr.write(`${JSON.stringify({ created })}\n`);
        queue.shutdown(1000, () => process.exit(0));
      }
    }
  });
  job.on('complete', () => {
    console.log(`Notification job ${job.id} completed`);
    outcome();
  });
  job.on('failed', (error) => {
    console.log(`Notification job ${job.id} failed: ${error}`);
    outcome();
  });
  job.on('progress', (progress) => console.log(`Notification job ${job.id} ${progress}% complete`));
}
