"""Stand-in for fairseq (not installable here): audio-webui's RVC tab imports it; never used in tests."""

from . import checkpoint_utils  # noqa: F401
