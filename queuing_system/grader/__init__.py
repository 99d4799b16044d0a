"""The grader: runs a port's numbered scripts as a user would and judges them, task by task.

`python -m queuing_system` (cli.py) grades this repository (the tour), a student's port,
or a class. Where each part is:

- cli.py: the command line, the ports found, their grading processes, the tables;
- port.py: grading one port, in a process (and namespaces) of its own: a copy of the port,
  a fresh Redis for each task, whatever a task left running killed;
- isolation.py: the namespaces, the processes' marks, finding and killing them;
- tasks.py: the fourteen tasks, from redis_tasks.py (0-5), job_tasks.py (6-11) and
  app_tasks.py (12-13), on what checks.py gives them all;
- trial.py, running.py: one task's run, one script's process and its capped output;
- evidence.py: what RQ keeps in Redis, read as plain data;
- verdicts.py, diffs.py, reports.py: the verdicts, their diffs, the JSON and JUnit reports;
- expected.py: the spec's lines and bodies; harness.py, redis_server.py: shared with the tests.

The scripts never import it. docs/grader.md is its account for educators.
"""
