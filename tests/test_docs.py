"""Every Python code block of README.md and docs/*.md runs as written (issue 11: docs that match the code).

The blocks of one file run in order in one namespace (a later block may use an earlier one's names), in a
fresh namespace per file, so a block that forgets an import fails here.  Output is captured.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))


def _blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_doc_code_blocks_run(path, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)            # a block that writes files writes them here
    namespace = {"__name__": f"doc_{path.stem}"}
    for i, block in enumerate(_blocks(path)):
        exec(compile(block, f"{path.name} (python block {i + 1})", "exec"), namespace)
    capsys.readouterr()


def test_docs_point_to_the_theory_guide_in_the_repository():
    # issue 11: README, guides and the package docstring cited a THEORY.md the repository does not contain
    import nent_ref
    assert (ROOT / "docs" / "theory.md").is_file()
    texts = {p.name: p.read_text() for p in [ROOT / "README.md", *DOCS]}
    texts["nent_ref/__init__.py"] = Path(nent_ref.__file__).read_text()
    for name, text in texts.items():
        assert "THEORY.md" not in text, f"{name} cites THEORY.md; cite docs/theory.md"
    assert "docs/theory.md" in texts["README.md"] and "docs/theory.md" in texts["nent_ref/__init__.py"]
