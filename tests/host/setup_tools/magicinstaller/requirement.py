"""The host installer's requirement objects (enough of them for extensions' requirements.py)."""

import importlib.metadata
import subprocess
import sys
from enum import Enum


class CompareAction(Enum):
    EQ = "=="
    GEQ = ">="


class SimpleRequirement:
    package_name = ""

    def is_installed(self):
        try:
            importlib.metadata.version(self.package_name)
        except importlib.metadata.PackageNotFoundError:
            return False
        return True

    def is_right_version(self):
        return True

    def install(self):
        raise NotImplementedError

    def install_or_upgrade_if_needed(self):
        if not self.is_installed() or not self.is_right_version():
            code, out, err = self.install()
            if code != 0:
                raise RuntimeError(err)


class SimpleRequirementInit(SimpleRequirement):
    def __init__(self, package_name, compare=None, version=None):
        self.package_name, self.compare, self.version = package_name, compare, version

    def install(self):
        spec = self.package_name + (f"{self.compare.value}{self.version}" if self.compare else "")
        return install_pip(spec, self.package_name)


def install_pip(args, name=None):
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--upgrade", *args.split()],
                            capture_output=True, text=True)
    return result.returncode, result.stdout, result.stderr
