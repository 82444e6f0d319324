"""The checkout's ansible.cfg applies to every production run from it: SSH host
keys stay checked (issue 14). Molecule and the demo use the docker connection,
which has no host keys."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_root_config_keeps_host_key_checking_on():
    config = configparser.ConfigParser()
    config.read(ROOT / "ansible.cfg")
    for section in config.sections():
        assert "host_key_checking" not in config[section], section
        assert config[section].get("ssh_args", "").find("StrictHostKeyChecking=no") < 0, section
