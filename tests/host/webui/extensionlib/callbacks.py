"""Callback registry with the host's semantics: names are case-insensitive, created on first
use, and calling an event returns the list of every registered function's result."""

_callbacks: dict[str, list[tuple[int, object]]] = {}


def register_by_name(name, fn, priority=0):
    _callbacks.setdefault(name.lower(), []).append((priority, fn))


def get(name):
    return [fn for _, fn in sorted(_callbacks.get(name.lower(), []), key=lambda pair: -pair[0])]


def call(name, *args, **kwargs):
    return [fn(*args, **kwargs) for fn in get(name)]
