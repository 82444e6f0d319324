#!/usr/bin/env python3
"""rotate_keys.yml through ansible-runner, as AWX runs it, against the admin-API stand-in.

    scripts/runner_check.py [--keep DIR]

1. starts the stand-in (a fresh master key, a free port);
2. runs keys.yml with ansible-runner: one declared key, delivered to a file;
3. runs rotate_keys.yml with ansible-runner (``litellm_keys_rotation_older_than_days=0``,
   so the key is due), the master key passed as an extra variable the way the
   credential type of docs/awx.md injects it, a provider key in the inventory;
4. checks that both runs succeeded and that the rotation delivered a new key;
5. scans every file of the runner's artifacts (stdout, job events, command,
   env, status) for the master key, the provider key and both key values, and
   for anything that looks like a LiteLLM key (``sk-...``).

Exit 0 when all hold, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
from pathlib import Path

import ansible_runner
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tests.standin.fixture import run_standin  # noqa: E402

KEY_VALUE = re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_\-]{8,}")


def run(private: Path, playbook: str, extravars: dict) -> ansible_runner.Runner:
    # As AWX does: the extra variables (the credential's master key among them) go
    # in env/extravars, which the command line names as -e @FILE. (The extravars=
    # argument of ansible_runner.run would also put them on the command line, in
    # the argv of ansible-playbook and in the runner's `command` artifact.)
    (private / "env").mkdir(exist_ok=True)
    extravars_file = private / "env" / "extravars"
    extravars_file.write_text(yaml.safe_dump(extravars))
    extravars_file.chmod(0o600)
    return ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(ROOT / "playbooks" / playbook),
        inventory=str(private / "inventory" / "hosts.yml"),
        envvars={
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"),
            "ANSIBLE_NOCOLOR": "1",
        },
        quiet=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=Path, help="run in this directory and keep the artifacts")
    args = parser.parse_args()
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        master_key = "sk-runner-master-" + secrets.token_hex(16)
        provider_key = "sk-provider-runner-" + secrets.token_hex(16)
        key_file = work / "client" / "key"
        key_file.parent.mkdir(parents=True, exist_ok=True)
        private = work / "runner"
        (private / "inventory").mkdir(parents=True, exist_ok=True)
        alias = "runner-" + secrets.token_hex(4)
        with run_standin(db_path=work / "standin.db", master_key=master_key) as proxy:
            inventory = {"all": {
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                    "ansible_become": False,
                    "litellm_keys_api_url": proxy.url,
                    "litellm_keys_retries": 0,
                    "litellm_provider_keys": {"OPENAI_API_KEY": provider_key},
                    "litellm_keys_virtual_keys": [
                        {"key_alias": alias, "max_budget": 5,
                         "deliver": [{"host": "gw", "path": str(key_file), "mode": "0600"}]},
                    ],
                },
                "children": {"gateways": {"hosts": {"gw": {}}}},
            }}
            (private / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
            credential = {"litellm_keys_master_key": master_key}  # what the AWX credential type injects

            made = run(private, "keys.yml", credential)
            if made.rc != 0:
                problems.append(f"keys.yml: {made.status}, rc={made.rc}")
            created = key_file.read_text().strip() if key_file.exists() else ""
            rotated_run = run(private, "rotate_keys.yml", {**credential, "litellm_keys_rotation_older_than_days": 0})
            if rotated_run.rc != 0:
                problems.append(f"rotate_keys.yml: {rotated_run.status}, rc={rotated_run.rc}")
            rotated = key_file.read_text().strip() if key_file.exists() else ""
            print(f"runner-check: keys.yml {made.status}, rotate_keys.yml {rotated_run.status}, "
                  f"{sum(1 for _ in rotated_run.events)} job events")
            if not created.startswith("sk-"):
                problems.append("keys.yml delivered no key")
            if not rotated.startswith("sk-") or rotated == created:
                problems.append("rotate_keys.yml delivered no new key")

        secrets_by_name = {"master key": master_key, "provider key": provider_key,
                           "created key": created, "rotated key": rotated}
        artifacts = private / "artifacts"
        scanned = 0
        for path in sorted(p for p in artifacts.rglob("*") if p.is_file()):
            scanned += 1
            text = path.read_text(errors="replace")
            for name, value in secrets_by_name.items():
                if value and value in text:
                    problems.append(f"{path.relative_to(private)} holds the {name}")
            for found in set(KEY_VALUE.findall(text)):
                problems.append(f"{path.relative_to(private)} holds something like a key: {found[:8]}...")
        print(f"runner-check: scanned {scanned} artifact files under {artifacts.name}/")
        if scanned == 0:
            problems.append("the runner left no artifacts to scan")
    for problem in problems:
        print(f"runner-check: {problem}", file=sys.stderr)
    print("runner-check: " + ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
