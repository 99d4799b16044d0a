"""tests/ports/ holds students' ports of the exercise for the grader's tests
(tests/grader/): their own tests are theirs to run, through the grader, never ours."""

collect_ignore_glob = ["*"]
