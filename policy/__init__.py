"""Pure decision logic: permissions, pairing, rate limits, autonomy, approvals, tools, injection, redaction.

Plain functions and frozen dataclasses; time is passed in. Imports nothing of ours,
and never asyncio, aiosqlite or a platform library.
"""
