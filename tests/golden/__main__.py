"""`python -m tests.golden`: compare the golden files; `--update` (what `make golden` runs) rewrites them."""

from __future__ import annotations

import argparse
import sys

from tests.golden import GOLDEN, REGENERATE, cases, difference, stale, update


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.golden", description=__doc__)
    parser.add_argument("--update", action="store_true", help="rewrite the golden files from the current output")
    args = parser.parse_args()
    if args.update:
        changed = update()
        for line in changed:
            print(line)
        print(f"{GOLDEN}: {len(changed)} changed; review with git diff" if changed else f"{GOLDEN}: up to date")
        return 0
    failed = False
    for case in cases():
        diff = difference(case)
        if diff is not None:
            print(diff)
            failed = True
    for name in stale():
        print(f"stale golden file: tests/golden/{name}")
        failed = True
    if failed:
        print(f"the output differs from the golden files; if the new output is right, run `{REGENERATE}`")
        return 1
    print("golden files match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
