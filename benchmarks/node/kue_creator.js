// Task 8's creator on Kue 0.11 for N jobs (argv[2]) of the benchmark's workload: phone
// 41535187NN with NN = i % 100, so 2% are blacklisted (argv[3]: the failing share, 0.02
// by default, 0 none, 1 all; as workload() in benchmarks/original.py). Prints each event's
// line as the original did. Writes on stderr, as JSON, the seconds until every job was
// saved and until every outcome was heard, the outcomes heard and its CPU seconds.
// argv[4] = 'create-only': ends once every job is saved. On SIGTERM (the bench gave up
// waiting) it writes what it heard so far, heard: null.
const kue = require('kue');

const QUEUE = 'push_notification_code_2';
const count = Number(process.argv[2]);
const failing = Number(process.argv[3] || '0.02');
const createOnly = process.argv[4] === 'create-only';
const number = (i) => {
  if (failing === 1) return 80 + (i % 2);
  if (failing === 0) return i % 80;
  return i % 100;
};
const queue = kue.createQueue({ redis: process.env.REDIS_URL });
const started = process.hrtime.bigint();
const cpu = process.cpuUsage();
const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
const cpuSeconds = () => {
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1e6;
};
let saved = 0;
let heard = 0;
let created = null;

function finish(allHeard) {
  const times = { created, heard: allHeard, outcomes: heard, cpu: cpuSeconds() };
  process.stderr.write(`${JSON.stringify(times)}\n`);
  process.exit(0);
}
process.on('SIGTERM', () => finish(null));

function outcome() {
  heard += 1;
  if (heard === count) finish(seconds());
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
      if (createOnly) finish(null);
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
