"""Stand-in for the pip bootstrap script that ansible-test downloads.

``ansible-test ... --venv`` bootstraps pip in each virtual environment it creates
with ``get-pip-<version>.py`` from a host these machines cannot reach; it looks
for the script in ``~/.ansible/test/cache/get_pip_<version>.py`` first. make
(scripts/ansible-test.sh) puts this file there when no real one is: it
installs the venv's bundled pip with ensurepip, then runs ``pip install`` with
ansible-test's arguments (the exact pip version it asks for, from PyPI).
"""
import subprocess
import sys

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args))
