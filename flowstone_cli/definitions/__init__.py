"""The Python surface users write: decorators that turn functions into frozen specs, and the context
those functions receive.
"""
