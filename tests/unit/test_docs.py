"""The docs stay true: every link, make target, ``zkfl`` command and ``ape run`` option they show exists.

Checked, for README.md and every ``docs/*.md``:

- links: every relative link resolves to a file or folder of the checkout, and every ``#anchor`` (in the
  same page or another Markdown page) is a heading's GitHub slug there;
- ``make TARGET``: the target is in the Makefile;
- ``zkfl SUB ... --option``: every subcommand and option is in the click command tree the ``zkfl`` console
  script (``pyproject.toml``) points at, imported, not spawned;
- ``ape run NAME ... --option``: ``scripts/NAME.py`` exists and its click command takes each option;
- ``ape test PATH`` and ``python -m zkfl_dapp...`` / ``zkfl_flower...``: loosely, the path or module file exists;
- an inline code span that is a checkout path (``zkfl_dapp/core/layout.py``) or a dotted project name
  (``zkfl_dapp.core.aggregation.normalized_weights``): the file exists, the name is defined in its module's text.

Commands are read from code only (inline code spans and fenced blocks), so prose ("make sure") is not a
command. Skipped: external tools (``flwr``, ``flower-superlink``, ``forge``, ``npm``, ``ipfs``, ``anvil``,
``node``, ``pytest``, ...) and ``python -m`` of modules outside this project; ``NAME|OTHER`` alternatives are
each checked; placeholders (``...``, ``R``, ``<role>``) after a group are allowed.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~)")
_SHELL = {"", "bash", "sh", "shell", "console"}  # fenced blocks read as commands; ```text, ```json ... are not
_LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_SEPARATORS = {"&&", "||", ";", "|", "&", "#", ")", "(", "=", "/", "or", "and", "then"}
_PLACEHOLDER = re.compile(r"^(\.\.\.|…|[A-Z][A-Z0-9_]*|<[^>]*>|\[.*|.*[.<>…].*)$")


# --- reading Markdown ------------------------------------------------------------------------------------


def split_markdown(text: str) -> tuple[list[str], list[str], list[str]]:
    """(prose lines, code snippets, headings): inline spans and shell blocks' lines are code, other blocks skipped."""
    prose: list[str] = []
    code: list[str] = []
    headings: list[str] = []
    fenced: str | None = None  # the open fence's language
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            fenced = None if fenced is not None else line.strip()[3:].strip().lower()
            continue
        if fenced is not None:
            if fenced in _SHELL:
                code.append(line)
            continue
        if line.startswith("#"):
            headings.append(line.lstrip("#").strip())
        code.extend(m.group(2) for m in _INLINE_CODE.finditer(line))
        prose.append(_INLINE_CODE.sub("", line))
    return prose, code, headings


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: links and code marks dropped, lower case, punctuation removed."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.lower().strip()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's slug in a page, with GitHub's -1, -2 suffixes for repeated headings."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for heading in split_markdown(text)[2]:
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


# --- what exists ---------------------------------------------------------------------------------------------


@cache
def make_targets() -> frozenset[str]:
    targets: set[str] = set()
    for line in (ROOT / "Makefile").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-/ $()]+?)\s*::?(?![=])", line)
        if m and not line.startswith("\t"):
            targets.update(t for t in m.group(1).split() if not t.startswith("$"))
        if line.startswith(".PHONY:"):
            targets.update(line.split(":", 1)[1].replace("\\", " ").split())
    return frozenset(targets)


@cache
def zkfl_command() -> click.Command:
    """The ``zkfl`` console script's click command, found through pyproject.toml and imported."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attr = scripts["zkfl"].partition(":")
    command = getattr(importlib.import_module(module), attr)
    assert isinstance(command, click.Command)
    return command


@cache
def ape_script(name: str) -> click.Command | None:
    """``scripts/NAME.py``'s click command (imported: the scripts import no chain at import time)."""
    path = ROOT / "scripts" / f"{name}.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"_docs_script_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    command = module.cli
    assert isinstance(command, click.Command)
    return command


def option_names(command: click.Command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}


# --- checking ------------------------------------------------------------------------------------------------


def _tokens(snippet: str) -> list[str]:
    snippet = snippet.replace("\\|", "|")
    return [t.strip("[]{}`'\",") for t in snippet.split()]


def _command_words(tokens: list[str], start: int) -> list[str]:
    """The words of the command starting at ``start``, up to a shell separator."""
    out: list[str] = []
    for token in tokens[start:]:
        if token in _SEPARATORS or token.startswith("#"):
            break
        out.append(token.rstrip(";"))
    return out


def _is_program(token: str, name: str) -> bool:
    return token == name or token.endswith(f"/bin/{name}")


def _check_options(words: list[str], known: set[str], what: str) -> list[str]:
    problems = []
    for word in words:
        if word.startswith("--") and len(word) > 2:
            option = word.split("=", 1)[0]
            if option not in known:
                problems.append(f"{what}: no option {option}")
    return problems


def check_zkfl(words: list[str]) -> list[str]:
    """``words`` follow ``zkfl``: descend the click groups, then check the options of the command reached."""
    command = zkfl_command()
    path = "zkfl"
    for i, word in enumerate(words):
        if not isinstance(command, click.Group) or word.startswith("-"):
            return _check_options(words[i:], option_names(command), f"`{path}`")
        names = [n for n in word.split("|") if n]
        if not names or _PLACEHOLDER.match(word):
            return []
        missing = [n for n in names if n not in command.commands]
        if missing:
            return [f"`{path}`: no subcommand {', '.join(missing)}"]
        if len(names) > 1:  # alternatives: each exists; an option after them must belong to one of them
            known = set().union(*(option_names(command.commands[n]) for n in names))
            return _check_options(words[i + 1 :], known, f"`{path} {word}`")
        command = command.commands[names[0]]
        path += f" {names[0]}"
    return []


def check_ape_run(words: list[str]) -> list[str]:
    if not words or _PLACEHOLDER.match(words[0]):
        return []
    problems: list[str] = []
    names = [n for n in words[0].split("|") if n]
    commands = []
    for name in names:
        command = ape_script(name)
        if command is None:
            problems.append(f"`ape run {name}`: no scripts/{name}.py")
        else:
            commands.append(command)
    if commands:
        known = set().union(*(option_names(c) for c in commands)) | {"--verbosity"}  # ape run adds it
        problems += _check_options(words[1:], known, f"`ape run {words[0]}`")
    return problems


def check_code(snippet: str) -> list[str]:
    """Every project command in one code snippet."""
    tokens = _tokens(snippet)
    problems: list[str] = []
    for i, token in enumerate(tokens):
        if token.startswith("#"):  # a shell comment: the rest of the line is prose
            break
        words = _command_words(tokens, i + 1)
        if token == "make" and words:
            target = next((w for w in words if not w.startswith("-") and "=" not in w), None)
            if target and not _PLACEHOLDER.match(target) and target not in make_targets():
                problems.append(f"`make {target}`: no such target in the Makefile")
        elif _is_program(token, "zkfl"):
            problems += check_zkfl(words)
        elif _is_program(token, "ape") and words[:1] == ["run"]:
            problems += check_ape_run(words[1:])
        elif _is_program(token, "ape") and words[:1] == ["test"]:
            paths = [w.split("::")[0] for w in words[1:] if w.startswith("tests")]
            problems += [f"`ape test {p}`: no such path" for p in paths if not (ROOT / p).exists()]
        elif re.fullmatch(r"(\S*/)?python[0-9.]*", token) and words[:1] == ["-m"] and len(words) > 1:
            module = words[1]
            if module.split(".")[0] in {"zkfl_dapp", "zkfl_flower"}:
                base = ROOT / module.replace(".", "/")
                if not (base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()):
                    problems.append(f"`python -m {module}`: no such module in the checkout")
    return problems


_TOP_FOLDERS = "zkfl_dapp|zkfl_flower|tests|scripts|examples|forge|tools|flower|contracts|frontend"
_REPO_PATH = re.compile(rf"^({_TOP_FOLDERS})/[\w./-]*$")
_MODULE = re.compile(r"^(zkfl_dapp|zkfl_flower)(\.\w+)+$")


def check_reference(snippet: str) -> list[str]:
    """An inline code span naming a checkout path or a dotted ``zkfl_dapp``/``zkfl_flower`` name: it exists.

    Build outputs (``generated/``, ``dist/``) are not checked; a dotted name is a module file, or a module file
    and a name defined in it (read as text, not imported).
    """
    text = snippet.strip().rstrip(".,;:")
    if _REPO_PATH.match(text) and "generated" not in text and "/dist" not in text:
        return [] if (ROOT / text).exists() else [f"`{text}`: no such path in the checkout"]
    if _MODULE.match(text):
        parts = text.split(".")
        for n in range(len(parts), 0, -1):
            base = ROOT.joinpath(*parts[:n])
            source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
            if source.is_file() or base.is_dir():
                rest = parts[n:]
                if not rest or (source.is_file() and re.search(rf"\b{re.escape(rest[0])}\b", source.read_text())):
                    return []
                break
        return [f"`{text}`: no such module or name in the checkout"]
    return []


def check_links(text: str, page: Path, read: Callable[[Path], str] = lambda p: p.read_text()) -> list[str]:
    problems = []
    own = anchors(text)
    prose = "\n".join(split_markdown(text)[0])
    for target in _LINK.findall(prose):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        if not path_part:
            if anchor not in own:
                problems.append(f"link #{anchor}: no such heading in {page.name}")
            continue
        resolved = (page.parent / path_part).resolve()
        if not resolved.exists():
            problems.append(f"link {target}: {path_part} does not exist")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(read(resolved)):
            problems.append(f"link {target}: no heading #{anchor} in {path_part}")
    return problems


def check_markdown(text: str, page: Path) -> list[str]:
    """Every problem in one Markdown page: broken links and anchors, commands or options that do not exist."""
    problems = check_links(text, page)
    for snippet in split_markdown(text)[1]:
        problems += check_code(snippet) + check_reference(snippet)
    return sorted(set(problems))


# --- the docs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_show_only_what_exists(page: Path) -> None:
    assert check_markdown(page.read_text(), page) == []


def test_readme_is_short() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) < 250


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in DOCS[1:]:
        assert f"docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"


# --- the checker itself, on synthetic pages ------------------------------------------------------------------

SYNTHETIC = ROOT / "docs" / "synthetic.md"


def _problems(markdown: str) -> list[str]:
    return check_markdown(markdown, SYNTHETIC)


def test_checker_accepts_what_exists() -> None:
    page = """# Title

## Two words: `code` here

See [below](#two-words-code-here), [the README](../README.md), [tests](../tests/unit/).

```bash
make demo && make -n test   # a comment with make nothing
zkfl admin open-round --bound 0.5 --rule median
zkfl keys new --role hospital-0
ape run round --resume --workdir build/x
ape run demo|round --workdir w
ape test tests/unit/test_docs.py -q
python -m zkfl_dapp.experiments.bench --models logreg
flwr run examples/flower-app offline --whatever
```

`zkfl_dapp/core/`, `zkfl_dapp.core.aggregation.normalized_weights`, `contracts/generated/`, `a/b`.

| `zkfl admin deploy\\|admit` | `ape run round [--rule fedavg\\|median]` | `zkfl admin ...` |
"""
    assert _problems(page) == []


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("[x](#nowhere)", "link #nowhere: no such heading in synthetic.md"),
        ("[x](no-such-page.md)", "link no-such-page.md: no-such-page.md does not exist"),
        ("[x](../README.md#no-such-heading)", "link ../README.md#no-such-heading: no heading #no-such-heading"),
        ("`make no-such-target`", "`make no-such-target`: no such target in the Makefile"),
        ("`zkfl admin launch`", "`zkfl admin`: no subcommand launch"),
        ("```\nzkfl hospital --index 1 --turbo\n```", "`zkfl hospital`: no option --turbo"),
        ("`zkfl admin deploy|explode`", "`zkfl admin`: no subcommand explode"),
        ("`ape run nothing-here`", "`ape run nothing-here`: no scripts/nothing-here.py"),
        ("`ape run round --fast`", "`ape run round`: no option --fast"),
        ("`ape test tests/unit/test_nothing.py`", "`ape test tests/unit/test_nothing.py`: no such path"),
        ("`python -m zkfl_dapp.nothing`", "`python -m zkfl_dapp.nothing`: no such module in the checkout"),
        ("see `zkfl_dapp/no_such.py`", "`zkfl_dapp/no_such.py`: no such path in the checkout"),
        ("`zkfl_dapp.core.aggregation.no_such`", "`zkfl_dapp.core.aggregation.no_such`: no such module or name"),
    ],
)
def test_checker_finds(markdown: str, expected: str) -> None:
    problems = _problems(markdown)
    assert any(p.startswith(expected) for p in problems), problems


def test_checker_ignores_prose_and_links_in_code() -> None:
    assert _problems("Make sure to run zkfl admin launch; `[x](#nowhere)`.") == []


def test_slugs_follow_github() -> None:
    assert slug("Trust model, and what it does not (yet) give") == "trust-model-and-what-it-does-not-yet-give"
    assert slug("Large models: chunked commitments") == "large-models-chunked-commitments"
    assert slug("`zkfl` parties & keys") == "zkfl-parties--keys"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}
