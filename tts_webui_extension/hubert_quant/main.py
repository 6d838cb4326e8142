"""TTS-WebUI's entry module (its loader imports it): all of the adapter is hubert_quant.hosts.tts_webui."""
from hubert_quant.hosts.tts_webui import *  # noqa: F403 - EXTENSION, extension__tts_generation_webui, ui_settings
