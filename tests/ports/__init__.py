"""Students' ports for the grader's tests (tests/grader): not a test package of ours."""
