"""``hubert-quant ui``: the web app on this machine (or, when asked, the network)."""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
from pathlib import Path

from ..constants import CONSENT
from ..exposure import reachable_from_others
from .clone import add_audio_limits, audio_limits
from .common import add_command, options


def add_app_parser(commands) -> None:
    ui = add_command(
        commands, "ui", "start the web app (clone, voice mask, speakers, models)", parents=options(),
        examples=("hubert-quant ui", "hubert-quant ui --speakers-dir ~/bark-speakers --port 7870 --device cpu"),
        description=f"Start the Gradio app on http://127.0.0.1 (only this machine can reach it). {CONSENT}",
    )
    ui.add_argument("--port", type=int, default=None, help="port (default: 7860, or the next free one)")
    ui.add_argument("--listen", action="store_true", help="serve on 0.0.0.0: every machine on the network can use it")
    ui.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    ui.add_argument("--speakers-dir", type=Path, default=Path("speakers"), help="where speakers are kept")
    ui.add_argument("--quantizer", default=None,
                    help="a quantizer checkpoint file every clone uses (default: the one picked on the page)")
    ui.add_argument("--hubert", default=None, help="HuBERT: a save_pretrained folder or Hub id")
    ui.add_argument("--codec", default=None, help="EnCodec 24 kHz state_dict file")
    ui.add_argument("--max-upload-mb", type=int, default=200, help="largest upload accepted (default 200 MB)")
    ui.add_argument("--allow-remote-model-changes", action="store_true",
                    help="with --listen/--share: let visitors download, remove and add models (off by default)")
    add_audio_limits(ui)
    ui.set_defaults(run=run_ui)


def run_ui(args: argparse.Namespace) -> int:
    from .. import ui

    if args.listen or args.share:
        print("warning: the app will be reachable from other machines; anyone who can reach it can clone "
              "voices and read the speakers folder", file=sys.stderr)
    exposed = args.listen or args.share
    if args.allow_remote_model_changes:  # the owner's choice: visitors may change models however it listens
        exposure = lambda: None  # noqa: E731
    else:
        exposure = functools.partial(reachable_from_others, share=args.share,
                                     said="it was started with --listen" if args.listen else None)
    local = {kind: _local_model(kind, getattr(args, kind)) for kind in ("quantizer", "hubert", "codec")}
    settings = ui.Settings(speakers_dir=args.speakers_dir.resolve(), device=args.device,
                           max_upload_mb=args.max_upload_mb, debug=args.debug,
                           manage_models=not exposed or args.allow_remote_model_changes, exposure=exposure,
                           trust_requests=args.allow_remote_model_changes, **local,
                           audio_limits=audio_limits(args, ui.common.APP_LIMIT))
    try:
        settings.speakers_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot keep speakers in {settings.speakers_dir} ({e.strerror or e}): "
                         "choose another folder with --speakers-dir") from e
    print(f"speakers are kept in {settings.speakers_dir}", file=sys.stderr)
    try:
        ui.launch(settings, listen=args.listen, port=args.port, share=args.share, block=True)
    except OSError as e:
        if "port" not in str(e).lower():
            raise
        asked = f"port {args.port} is" if args.port else "the ports from 7860 on are"
        raise ValueError(f"{asked} in use by another program: pass another one, e.g. --port 7870") from e
    return 0


def _local_model(kind: str, value: str | None) -> str | None:
    """An app option's model, checked now rather than at the first clone: a file (a folder for
    HuBERT), a HuBERT Hub id, or a quantizer's catalogue name."""
    if value is None:
        return None
    path = Path(os.path.expanduser(value))
    if path.exists():
        return str(path.resolve())
    if kind == "hubert" and re.fullmatch(r"[\w.-]+/[\w.-]+", value) and not value.startswith("."):
        return value
    if kind == "quantizer" and not path.suffix:
        from ..models.catalogue import find

        return find(value, "quantizer").name
    raise FileNotFoundError(f"--{kind} {value}: no such {'folder' if kind == 'hubert' else 'file'}")
