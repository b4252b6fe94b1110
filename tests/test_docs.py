"""Every Python code block of docs/*.md runs as written (issues 11, 18: docs that match the code).

The blocks of one page run in order as **one script in a fresh Python process** (``python page.py``, so
``__name__ == "__main__"``), with a temporary working directory: a later block may use an earlier one's
names, a block that forgets an import fails, and so does anything that only works inside pytest's process
(issue 18: the process-pool example of docs/mixture.md lacked its ``if __name__ == "__main__":`` guard and
raised BrokenProcessPool when run as a script, while ``exec`` in this process never noticed).  Pages run as
separate tests, so ``pytest -n`` spreads them over workers.  README.md's blocks: tests/test_readme.py.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))


def _blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def page_script(path) -> str:
    """A page's Python blocks joined into one script (a comment marks where each block starts)."""
    return "".join(f"# --- {path.name}, python block {i + 1}\n{block}\n" for i, block in enumerate(_blocks(path)))


def run_script(code: str, cwd: Path, name: str = "page.py", timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``code`` as ``python name`` in a fresh process with working directory ``cwd``."""
    script = Path(cwd) / name
    script.write_text(code)
    return subprocess.run([sys.executable, script.name], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("path", [p for p in DOCS if _blocks(p)], ids=[p.name for p in DOCS if _blocks(p)])
def test_doc_code_blocks_run_as_one_script(path, tmp_path):
    proc = run_script(page_script(path), tmp_path, f"doc_{path.stem}.py")
    assert proc.returncode == 0, f"{path.name} failed as a script:\n{proc.stderr[-4000:]}"


def test_a_process_pool_without_main_guard_fails_as_a_script(tmp_path):
    # the reproducer of issue 18: a spawned worker re-imports the script; without the guard it starts its own
    # pool and the pool breaks.  The runner above must see that failure (exec in this process did not).
    code = ("import multiprocessing\nfrom concurrent.futures import ProcessPoolExecutor\n"
            "with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn')) as ex:\n"
            "    print(sum(ex.map(abs, [-1, 2])))\n")
    proc = run_script(code, tmp_path, timeout=120)
    assert proc.returncode != 0 and ("BrokenProcessPool" in proc.stderr or "RuntimeError" in proc.stderr)
    guarded = "if __name__ == '__main__':\n" + "".join("    " + line + "\n" for line in code.splitlines())
    proc = run_script(guarded, tmp_path, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "3", proc.stderr


def test_mixture_page_guards_its_process_pool():
    text = page_script(ROOT / "docs" / "mixture.md")
    pool = text.index("ProcessPoolExecutor(")
    assert 'if __name__ == "__main__":' in text[:pool]


def test_docs_point_to_the_theory_guide_in_the_repository():
    # issue 11: README, guides and the package docstring cited a THEORY.md the repository does not contain
    import nent_ref
    assert (ROOT / "docs" / "theory.md").is_file()
    texts = {p.name: p.read_text() for p in [ROOT / "README.md", *DOCS]}
    texts["nent_ref/__init__.py"] = Path(nent_ref.__file__).read_text()
    for name, text in texts.items():
        assert "THEORY.md" not in text, f"{name} cites THEORY.md; cite docs/theory.md"
    assert "docs/theory.md" in texts["README.md"] and "docs/theory.md" in texts["nent_ref/__init__.py"]
