"""The pipeline's stages, one module per step; their order is fixed once, in `bot/app.py`."""
