"""hubert-quant as a TTS-WebUI extension (its loader imports ``.main``)."""
