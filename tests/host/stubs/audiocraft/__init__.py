"""Stand-in for audiocraft (not installable here): audio-webui's AudioCraft tab imports it; never used in tests."""
