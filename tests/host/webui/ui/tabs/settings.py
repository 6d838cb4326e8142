"""The host's settings getter: values the user set, else the registered defaults."""

values: dict = {}
defaults: dict = {}


def get(key):
    return values.get(key, defaults.get(key))
