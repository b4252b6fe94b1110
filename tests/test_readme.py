"""README.md stays true: its Python examples run, its test command is what CI runs, and it names nent-ref."""
import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_python_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    assert "overall: PASSED" in out and out.rstrip().endswith("True")


def test_two_commands_at_the_top():
    head = README[:1500]
    assert "nent-ref table" in head and "nent-ref figures" in head
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and "<!-- test-command -->" in head
    cmd = README.split("<!-- test-command -->", 1)[1].split("```", 2)[1].strip()
    assert "pip install -e '.[test]'" in cmd and "pytest" in cmd
