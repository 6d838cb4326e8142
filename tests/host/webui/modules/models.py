"""The host's text-to-speech loader base class (the shape extensions implement)."""


class TTSModelLoader:
    no_install = False
    model = "unnamed"

    def _components(self, **quick_kwargs):
        raise NotImplementedError

    def get_response(self, *inputs, progress=None):
        raise NotImplementedError

    def load_model(self, progress=None):
        raise NotImplementedError

    def unload_model(self):
        raise NotImplementedError
