"""Every import the documentation shows works, under the name it shows (issue 21); every
section of docs/architecture.md that a comment cites exists.

Modules move (the adapters became packages) and names change (with a deprecated alias for
a while); the guides must keep up, because people copy them. So every ``from X import a``
and ``import X`` of the library's packages, in every Python block and inline code span of
the READMEs and docs/architecture.md, is run in a fresh interpreter with Django configured
minimally, and must import without a deprecation warning.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from dataclasses import asdict, dataclass

from tests.architecture.import_graph import ROOT

DOCUMENTS = ("README.md", "integrations/flask/README.md", "integrations/django/README.md", "docs/architecture.md")
OURS = ("focus_middleware", "flask_focus", "django_focus")

_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", flags=re.S | re.M)
_INLINE = re.compile(r"`((?:from|import) [^`\n]+)`")


@dataclass(frozen=True, slots=True)
class Shown:
    where: str
    statement: str


def _ours(module: str) -> bool:
    return module.split(".", 1)[0] in OURS


def _statements(code: str) -> list[tuple[int, str]]:
    """(line, ``from X import a`` / ``import X``) for each of our names ``code`` imports."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return []
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level and _ours(node.module):
            found.extend((node.lineno, f"from {node.module} import {alias.name}") for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, f"import {alias.name}") for alias in node.names if _ours(alias.name))
    return found


def shown_imports() -> list[Shown]:
    shown = []
    for document in DOCUMENTS:
        text = (ROOT / document).read_text()
        for block in _BLOCK.finditer(text):
            first = text.count("\n", 0, block.start(1)) + 1
            for line, statement in _statements(block.group(1)):
                shown.append(Shown(f"{document}:{first + line - 1}", statement))
        for span in _INLINE.finditer(text):
            line = text.count("\n", 0, span.start()) + 1
            for _, statement in _statements(span.group(1)):
                shown.append(Shown(f"{document}:{line}", statement))
    return shown


_PROBE = textwrap.dedent(
    """
    import json, sys, warnings

    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="readme-names",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_focus"],
        FOCUS={"app": "readme"},
    )
    django.setup()

    failures = []
    for shown in json.loads(sys.stdin.read()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                exec(shown["statement"], {})
            except Exception as error:
                failures.append(f"{shown['where']}: {shown['statement']}: {type(error).__name__}: {error}")
                continue
        for warning in caught:
            if issubclass(warning.category, DeprecationWarning) and " is deprecated; use " in str(warning.message):
                failures.append(f"{shown['where']}: {shown['statement']}: {warning.message}")
    print(json.dumps(failures))
    """
)


def test_every_readme_shows_imports() -> None:
    """Guards the extraction: a README whose blocks stopped parsing would import nothing."""
    documents = {shown.where.split(":", 1)[0] for shown in shown_imports()}
    readmes = {document for document in DOCUMENTS if document.endswith("README.md")}
    assert readmes <= documents, readmes - documents


def test_every_name_the_documents_import_imports() -> None:
    shown = shown_imports()
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        input=json.dumps([asdict(item) for item in shown]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"the probe failed:\n{done.stdout}{done.stderr}"
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failures, "names the documentation imports that do not import as shown:\n" + "\n".join(failures)


_SECTION_REFERENCE = re.compile(r"docs/architecture\.md(?:``)?(?:'s)?,?\s+\"([^\"]+)\"")


def test_the_sections_code_points_to_exist() -> None:
    """Comments cite docs/architecture.md by section ("Caches"); a renamed heading would
    leave them pointing nowhere."""
    headings = set(re.findall(r"^#+ (.+)$", (ROOT / "docs/architecture.md").read_text(), flags=re.M))
    cited: dict[str, list[str]] = {}
    for top in ("focus_middleware", "integrations", "tests"):
        for path in sorted((ROOT / top).rglob("*.py")):
            for match in _SECTION_REFERENCE.finditer(path.read_text()):
                cited.setdefault(match.group(1), []).append(str(path.relative_to(ROOT)))
    assert len(cited) >= 3, cited  # the pattern still finds the citations
    missing = {section: files for section, files in cited.items() if section not in headings}
    assert not missing, f"sections cited but not in docs/architecture.md: {missing}"
