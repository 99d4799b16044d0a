// Task 9 of the original exercise on Kue 0.11, as written there: two jobs at a time,
// progress 0 then 50, blacklisted numbers fail. The benchmark's peer of 7_job_processor.py.
const kue = require('kue');

const QUEUE = 'push_notification_code_2';
const BLACKLISTED = ['4153518780', '4153518781'];
const queue = kue.createQueue({ redis: process.env.REDIS_URL });

function sendNotification(phoneNumber, message, job, done) {
  job.progress(0, 100);
  if (BLACKLISTED.includes(phoneNumber)) {
    done(new Error(`Phone number ${phoneNumber} is blacklisted`));
    return;
  }
  job.progress(50, 100);
  console.log(`Sending notification to ${phoneNumber}, with message: ${message}`);
  done();
}

queue.process(QUEUE, 2, (job, done) => sendNotification(job.data.phoneNumber, job.data.message, job, done));

process.on('SIGTERM', () => queue.shutdown(5000, () => process.exit(0)));
