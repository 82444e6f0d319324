#!/usr/bin/env python3
"""Build the collection tarball, list it, and fail on anything that should not ship.

    scripts/tarball_check.py [--keep DIR]

Builds with ``ansible-galaxy collection build`` into a temporary directory (or
DIR), prints the listing, and checks it:

- nothing development-only ships (the checkout's ansible.cfg, the top-level
  site.yml, the make tooling, scripts/, benchmarks, CI, Molecule, the demo
  inventory, the example vaults, the tests of the make tooling, the developer
  docs, caches);
- what Galaxy and Automation Hub look for does ship (LICENSE, README.md,
  meta/runtime.yml, the changelog, tests/ with empty sanity ignore files);
- every relative link in a shipped Markdown file points at a shipped file;
- galaxy.yml's dependencies and collections/requirements.yml agree.

Exit 0 when all hold, 1 otherwise (each problem on its own line).
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

import yaml

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = [
    "ansible.cfg", "site.yml", "Makefile", "requirements-dev.txt", "CHANGELOG.md",
    ".ci/*", ".collections/*", ".config/*", ".venv/*", ".cache/*", ".git/*", ".gitignore",
    ".yamllint", ".ansible-lint", "scripts/*", "benchmarks/*", "molecule/*",
    "inventories/demo/*", "*/vault.yml", "tests/output/*", "tests/unit/scripts/test_preflight.py",
    "tests/unit/scripts/test_stage.py",
    "docs/development.md", "docs/performance.md", "*/__pycache__/*", "*.pyc", "*.tar", "*.tar.gz",
]
REQUIRED = [
    "LICENSE", "README.md", "MANIFEST.json", "FILES.json", "meta/runtime.yml",
    "meta/execution-environment.yml", "changelogs/changelog.yaml", "changelogs/config.yaml",
    "collections/requirements.yml", "tests/unit", "tests/integration",
    "tests/sanity/ignore-2.16.txt", "tests/sanity/ignore-2.19.txt",
]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def problems_of(tarball: Path) -> list[str]:
    problems = []
    with tarfile.open(tarball) as tar:
        members = {m.name.rstrip("/"): m for m in tar.getmembers()}
        names = sorted(members)
        for name in names:
            print(name)
        for name in names:
            for pattern in FORBIDDEN:
                if fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(name + "/", pattern):
                    problems.append(f"ships {name} (development-only: matches {pattern!r})")
                    break
        for name in REQUIRED:
            if name not in members:
                problems.append(f"does not ship {name}")
        for name in names:
            if name.startswith("tests/sanity/ignore-") and members[name].size:
                problems.append(f"{name} is not empty: fix the code instead of ignoring sanity errors")
        for name in names:
            if not name.endswith(".md"):
                continue
            text = tar.extractfile(members[name]).read().decode("utf-8")
            for target in LINK.findall(text):
                if re.match(r"^[a-z]+:", target):
                    continue  # http:, https:, mailto:
                resolved = PurePosixPath(name).parent / target
                parts: list[str] = []
                for part in resolved.parts:
                    if part == "..":
                        if not parts:
                            parts = ["<outside>"]
                            break
                        parts.pop()
                    elif part != ".":
                        parts.append(part)
                path = "/".join(parts)
                if path not in members:
                    problems.append(f"{name} links to {target}, which the tarball does not hold")
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    requirements = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())
    declared = {c["name"]: c.get("version", "*") for c in requirements["collections"]}
    if declared != galaxy.get("dependencies", {}):
        problems.append(f"collections/requirements.yml {declared} differs from galaxy.yml {galaxy.get('dependencies')}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=Path, help="build into this directory and keep the tarball there")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("sacred_brain-llm_gateway-*.tar.gz"):
            old.unlink()
        subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(out), str(ROOT)],
                       check=True, stdout=subprocess.DEVNULL)
        (tarball,) = out.glob("sacred_brain-llm_gateway-*.tar.gz")
        problems = problems_of(tarball)
    for problem in problems:
        print(f"tarball-check: {problem}", file=sys.stderr)
    print(f"tarball-check: {tarball.name}: {'ok' if not problems else '%d problems' % len(problems)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
