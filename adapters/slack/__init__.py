"""Slack front on slack-bolt (Socket Mode and signed HTTP)."""
