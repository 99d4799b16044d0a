"""The grader: runs the numbered scripts as a user would and checks them against the spec.

The tour (`python -m queuing_system`) and the tests share it; the scripts never import it.
"""
