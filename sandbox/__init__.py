"""Running one command in isolation: bubblewrap namespaces, seccomp, rlimits, a clean environment, watchdogs, reaping.

Imports nothing of ours.
"""
