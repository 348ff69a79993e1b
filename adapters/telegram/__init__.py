"""Telegram front on python-telegram-bot 22."""
