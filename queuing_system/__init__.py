"""Shared plumbing for the numbered scripts of the queuing-system exercise."""
