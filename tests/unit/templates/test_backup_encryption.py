"""F20: with litellm_database_backup_gpg_public_key the backup command writes
only OpenPGP-encrypted dumps (*.dump.gpg), checked by pg_restore --list on
their way to gpg and never written in plain; the restore command decrypts
them with the secret key it is given, and refuses without it before the
database is touched. Real gpg with a throwaway key pair; stand-ins for the
PostgreSQL programs, as in test_database_templates.py."""

import os
import stat
import subprocess

import pytest
from test_database_templates import ROLE_TEMPLATES, STANDINS, render

DUMP = "PGDMP-standin-dump"
RESTORE_STANDINS = {
    **STANDINS,
    # --list checks the format; a restore records what it was given.
    "pg_restore": '#!/bin/sh\ncase "$*" in *--list*) grep -q "^PGDMP" ;; *) cat >"$STANDIN/restored" ;; esac\n',
    "dropdb": "#!/bin/sh\nexit 0\n",
    "createdb": "#!/bin/sh\nexit 0\n",
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """(armored public key, path of the armored secret key) of a throwaway pair."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--quick-gen-key", "--passphrase", "", "Backups <backups@example.org>",
                    "default", "default", "never"], env=env, check=True, capture_output=True)
    public = subprocess.run(["gpg", "--armor", "--export"], env=env, check=True, capture_output=True, text=True).stdout
    secret = home / "secret.asc"
    secret.write_bytes(subprocess.run(["gpg", "--armor", "--export-secret-keys"], env=env, check=True,
                                      capture_output=True).stdout)
    secret.chmod(0o600)
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)
    return public, secret


@pytest.fixture
def host(tmp_path, keys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in RESTORE_STANDINS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir(mode=0o700)
    recipient = tmp_path / "backup-recipient.asc"
    recipient.write_text(keys[0])
    scripts = {}
    for name in ("backup", "restore"):
        script = tmp_path / f"litellm-database-{name}"
        script.write_text(render(ROLE_TEMPLATES / f"litellm-database-{name}.sh.j2", litellm_database_mode="native",
                                 litellm_database_backup_dir=str(backup_dir), litellm_database_backup_keep=2,
                                 litellm_database_backup_gpg_public_key=keys[0],
                                 _litellm_database_backup_recipient_file=str(recipient)))
        script.chmod(0o755)
        scripts[name] = script
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STANDIN": str(tmp_path)}

    def run(name, *args):
        return subprocess.run([str(scripts[name]), *args], capture_output=True, text=True, env=env, check=False)

    run.dir = backup_dir
    run.tmp = tmp_path
    return run


def test_dumps_are_encrypted_and_never_written_in_plain(host, keys):
    for _unused in range(3):
        result = host("backup")
        assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in host.dir.iterdir())
    assert names == ["litellm-20250101T000002Z.dump.gpg", "litellm-20250101T000003Z.dump.gpg"]
    assert "1 older dump(s) removed, 2 kept (at most 2)" in result.stdout
    for dump in host.dir.iterdir():
        assert stat.S_IMODE(dump.stat().st_mode) == 0o600
        data = dump.read_bytes()
        assert DUMP.encode() not in data and not data.startswith(b"PGDMP")
        packets = subprocess.run(["gpg", "--batch", "--list-packets", "--homedir", str(host.tmp), str(dump)],
                                 capture_output=True, text=True, check=False)
        assert ":pubkey enc packet:" in packets.stdout
    # Nothing plain anywhere (no partial file, no fifo, no temporary copy).
    leftovers = [p for p in host.tmp.rglob("*")
                 if p.is_file() and p.parent.name != "bin" and DUMP.encode() in p.read_bytes()]
    assert leftovers == []


def test_an_unreadable_dump_fails_the_backup_and_keeps_nothing(host):
    (host.tmp / "fail").touch()
    result = host("backup")
    assert result.returncode != 0 and "backup of database litellm FAILED" in result.stderr
    assert list(host.dir.iterdir()) == []


def test_restore_decrypts_with_the_secret_key_and_refuses_without_it(host, keys):
    assert host("backup").returncode == 0
    dump = next(host.dir.iterdir())
    refused = host("restore", str(dump))
    assert refused.returncode == 2 and "is encrypted: give the secret key" in refused.stderr
    assert not (host.tmp / "restored").exists()
    result = host("restore", str(dump), str(keys[1]))
    assert result.returncode == 0, result.stderr
    assert (host.tmp / "restored").read_text() == DUMP


def test_without_a_key_the_dumps_stay_plain():
    script = render(ROLE_TEMPLATES / "litellm-database-backup.sh.j2", litellm_database_mode="native")
    assert "SUFFIX=.dump\n" in script and "--encrypt" not in script and "RECIPIENT" not in script
