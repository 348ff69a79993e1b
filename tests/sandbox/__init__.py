"""Tests of the sandbox package: real processes in the real bubblewrap sandbox."""
