"""The single read of the host (litellm_host_state) and the filter that skips
a task on its strength (litellm_host_differs): a task is skipped only when the
read shows its target exactly as asked, and runs whenever in doubt."""

import importlib.util
import os
import pwd
import grp
import hashlib

import pytest

from preflight_loader import ROOT


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


differs = _load("litellm_host_differs", ROOT / "plugins" / "filter" / "litellm_host_differs.py").litellm_host_differs
state = _load("litellm_host_state", ROOT / "plugins" / "modules" / "litellm_host_state.py")

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "conf").mkdir(mode=0o750)
    os.chmod(tmp_path / "conf", 0o750)
    config = tmp_path / "conf" / "config.yaml"
    config.write_text("model_list: []\n")
    os.chmod(config, 0o644)
    (tmp_path / "venvs" / "litellm-1").mkdir(parents=True)
    (tmp_path / "venvs" / "litellm-2").mkdir()
    (tmp_path / "venvs" / "litellm-notes.txt").write_text("")
    os.symlink(tmp_path / "venvs" / "litellm-2", tmp_path / "active")
    paths = [str(tmp_path / name) for name in ("conf", "conf/config.yaml", "active", "missing")]
    read = {"paths": {path: state.path_state(path) for path in paths}}
    return tmp_path, read


def test_a_file_as_asked_is_skipped(tree):
    root, read = tree
    checksum = hashlib.sha1(b"model_list: []\n").hexdigest()
    assert not differs(read, str(root / "conf/config.yaml"), owner=ME, group=MY_GROUP, mode="0644", checksum=checksum)
    assert not differs(read, str(root / "conf"), "directory", owner=ME, group=MY_GROUP, mode="0750")
    assert not differs(read, str(root / "active"), "link", src=str(root / "venvs" / "litellm-2"))
    assert not differs(read, str(root / "missing"), "absent")


@pytest.mark.parametrize("change", [
    {"checksum": hashlib.sha1(b"other\n").hexdigest()},
    {"mode": "0600"},
    {"owner": "nobody-such-user"},
    {"group": "nobody-such-group"},
])
def test_any_difference_runs_the_task(tree, change):
    root, read = tree
    asked = dict(owner=ME, group=MY_GROUP, mode="0644", checksum=hashlib.sha1(b"model_list: []\n").hexdigest())
    asked.update(change)
    assert differs(read, str(root / "conf/config.yaml"), **asked)


def test_wrong_type_link_target_or_presence_runs_the_task(tree):
    root, read = tree
    assert differs(read, str(root / "conf/config.yaml"), "directory")
    assert differs(read, str(root / "active"), "link", src=str(root / "venvs" / "litellm-1"))
    assert differs(read, str(root / "active"), "file")
    assert differs(read, str(root / "missing"))
    assert differs(read, str(root / "conf"), "absent")


def test_without_a_read_or_for_a_path_not_read_the_task_runs(tree):
    root, read = tree
    assert differs({}, str(root / "conf/config.yaml"))
    assert differs(None, str(root / "conf/config.yaml"))
    assert differs(read, str(root / "conf/other.yaml"))


def test_the_read_gives_checksums_and_globs_never_content(tree):
    root, read = tree
    config = read["paths"][str(root / "conf/config.yaml")]
    assert config["checksum"] == hashlib.sha1(b"model_list: []\n").hexdigest()
    assert "model_list" not in repr(read)
    found = state.glob_state(str(root / "venvs" / "litellm-*"))
    assert [(os.path.basename(f["path"]), f["isdir"]) for f in found] == [
        ("litellm-1", True), ("litellm-2", True), ("litellm-notes.txt", False)]
    assert state.glob_state(str(root / "nowhere" / "litellm-*")) == []
