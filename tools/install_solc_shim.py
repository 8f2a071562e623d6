"""Install the solc shim where py-solc-x and ezkl look for a native solc.

py-solc-x runs ``<dir>/solc-v<X.Y.Z>`` from ``$SOLCX_BINARY_PATH`` (the Makefile points it at
``.toolchain/solcx``); ezkl's verifier generation runs ``<HOME>/.svm/<X.Y.Z>/solc-<X.Y.Z>``, and zkfl_dapp runs it with
``HOME=.toolchain/home`` so that the shim stays inside the checkout. Both get a
two-line wrapper that runs ``tools/solc-shim.js`` with this checkout's ``node_modules``.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    node = shutil.which("node")
    if node is None:
        print("error: node is not on PATH; install Node.js >= 18 first", file=sys.stderr)
        return 1
    pkg = ROOT / "node_modules" / "solc" / "package.json"
    if not pkg.exists():
        print("error: npm package 'solc' missing; run `npm ci` in the repository root", file=sys.stderr)
        return 1
    version = json.loads(pkg.read_text())["version"]
    wrapper = f'#!/bin/sh\nexec "{node}" "{ROOT / "tools" / "solc-shim.js"}" "$@"\n'
    targets = [
        ROOT / ".toolchain" / "solcx" / f"solc-v{version}",
        # ezkl looks for <HOME>/.svm/<v>/solc-<v>; zkfl_dapp runs it with HOME=.toolchain/home, so nothing is
        # written outside this checkout and two checkouts never share (or overwrite) one shim
        ROOT / ".toolchain" / "home" / ".svm" / version / f"solc-{version}",
    ]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(wrapper)
        target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    out = subprocess.run([str(targets[0]), "--version"], capture_output=True, text=True, check=True)
    print(f"solc shim installed ({out.stdout.strip().splitlines()[-1]}):")
    for target in targets:
        print(f"  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
