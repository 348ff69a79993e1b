"""Platform fronts (console, Slack, Telegram): platform events in, platform messages out.

Platform specifics stop here. May import only `bot.types` and `policy`.
"""
