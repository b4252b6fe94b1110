"""Run the derivation scripts of derivations/ in one interpreter and report each one's outcome.

    python tools/run_derivations.py [SCRIPT ...] [--json]

Each script (default: every ``derivations/*.py`` but the helper ``_checks.py``, in name order) runs as
``__main__`` exactly as ``python derivations/SCRIPT`` would run it: its exit status is the code of the
``SystemExit`` it raises (0 when it ends normally, 1 when a check failed), and any other exception counts
as a failure (status 1, the traceback in its output).  What one script changes that another could see is
reset before each: the shared failure list ``_checks.FAILURES``, mpmath's working precision, the module
``__main__`` namespace (each script gets a fresh one) and ``sys.argv``.  Sympy and numpy are imported
once, which saves the second or so that every separate process pays for them (about a quarter of the
scripts' time).

Prints one line per script (``ok``/``FAIL``, its status, seconds, last output line), or with ``--json``
a JSON object ``{script: {"status": int, "seconds": float, "stdout": str}}``.  Exit status: 0 when every
script exited 0, 1 otherwise, 2 on a usage error (a script that does not exist).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import runpy
import sys
import time
import traceback
from pathlib import Path

DERIVATIONS = Path(__file__).resolve().parents[1] / "derivations"
#: the helper module the scripts import; it verifies nothing itself
HELPER = "_checks.py"


def scripts() -> list[str]:
    """The derivation scripts, in name order (every ``derivations/*.py`` but the helper)."""
    return sorted(p.name for p in DERIVATIONS.glob("*.py") if p.name != HELPER)


def run_script(name: str) -> dict:
    """Run ``derivations/<name>`` as ``__main__`` in this interpreter: ``{"status", "seconds", "stdout"}``."""
    import mpmath

    if str(DERIVATIONS) not in sys.path:
        sys.path.insert(0, str(DERIVATIONS))
    import _checks

    path = DERIVATIONS / name
    _checks.FAILURES.clear()
    dps, argv = mpmath.mp.dps, sys.argv
    sys.argv = [str(path)]
    out = io.StringIO()
    status = 0
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
    except Exception:  # noqa: BLE001 - a script that crashes fails, with its traceback in the output
        status = 1
        out.write(traceback.format_exc())
    finally:
        mpmath.mp.dps, sys.argv = dps, argv
        _checks.FAILURES.clear()
    return {"status": status, "seconds": round(time.perf_counter() - t0, 3), "stdout": out.getvalue()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scripts", nargs="*", metavar="SCRIPT",
                        help="script names in derivations/ (default: all of them)")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of one line per script")
    args = parser.parse_args(argv)
    names = args.scripts or scripts()
    unknown = [n for n in names if n not in scripts()]
    if unknown:
        parser.error(f"SCRIPT: no derivation script named {', '.join(unknown)} (there are {', '.join(scripts())})")
    results = {name: run_script(name) for name in names}
    if args.json:
        print(json.dumps(results))
    else:
        for name, r in results.items():
            lines = r["stdout"].strip().splitlines()
            print(f"{'ok  ' if r['status'] == 0 else 'FAIL'} {name}: exit {r['status']} in {r['seconds']:.1f} s"
                  f" ({lines[-1] if lines else 'no output'})")
    return 0 if all(r["status"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
