"""The frontdoor process: config, the pipeline and its stages, admin commands, scheduler, logging, CLI and wiring.

May import every other package of ours (`policy`, `storage`, `sandbox`, `adapters`).
"""
