"""The one build step setuptools cannot express declaratively: compile libkoppeltaal_ffi with
cargo and ship it inside the package, in a platform wheel.

Environment:
  KOPPELTAAL_CARGO_PROFILE  cargo profile to build (default "release"; CI uses "test", already built)
  KOPPELTAAL_PREBUILT_LIB   package this library instead of running cargo (for packagers)
  KOPPELTAAL_WHEEL_PLATFORM the wheel's platform tag (default: this machine's), for a library
                            built for another one (dist/build.sh: linux_aarch64, before
                            auditwheel gives it its manylinux tag)
  CARGO                     the cargo binary (default "cargo")
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
LIBRARY_FILE = {"darwin": "libkoppeltaal_ffi.dylib", "win32": "koppeltaal_ffi.dll"}.get(
    sys.platform, "libkoppeltaal_ffi.so"
)
# Where cargo puts a profile's artifacts: the built-in profiles share directories.
PROFILE_DIRECTORY = {"dev": "debug", "test": "debug", "bench": "release"}


def workspace_root():
    root = HERE.parents[2]
    if not (root / "Cargo.toml").is_file() or not (root / "adapters" / "ffi" / "Cargo.toml").is_file():
        raise SystemExit(
            f"koppeltaal: the koppeltaal-rs workspace is not at {root}; build the wheel from a "
            "checkout (pip install ./adapters/ffi/python), or set KOPPELTAAL_PREBUILT_LIB"
        )
    return root


def build_library():
    """Runs cargo and returns the path of the library it built."""
    prebuilt = os.environ.get("KOPPELTAAL_PREBUILT_LIB")
    if prebuilt:
        return pathlib.Path(prebuilt)
    root = workspace_root()
    cargo = os.environ.get("CARGO", "cargo")
    if shutil.which(cargo) is None:
        raise SystemExit("koppeltaal: cargo is needed to build the library (https://rustup.rs)")
    profile = os.environ.get("KOPPELTAAL_CARGO_PROFILE", "release")
    command = [cargo, "build", "--locked", "--profile", profile, "-p", "koppeltaal-ffi"]
    print("koppeltaal:", " ".join(command), file=sys.stderr)
    subprocess.run(command, cwd=root, check=True)
    metadata = subprocess.run(
        [cargo, "metadata", "--format-version", "1", "--no-deps", "--locked"],
        cwd=root, check=True, capture_output=True, text=True,
    )
    target = pathlib.Path(json.loads(metadata.stdout)["target_directory"])
    return target / PROFILE_DIRECTORY.get(profile, profile) / LIBRARY_FILE


class BuildWithLibrary(build_py):
    """build_py, then the shared library beside the package's modules."""

    def run(self):
        super().run()
        library = build_library()
        if not library.is_file():
            raise SystemExit(f"koppeltaal: {library} was not built")
        destination = pathlib.Path(self.build_lib) / "koppeltaal" / LIBRARY_FILE
        shutil.copyfile(library, destination)


class NativeDistribution(Distribution):
    """A distribution carrying native code: installed to platlib, wheel not pure."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """A wheel for this platform (it carries native code) but any Python 3: ctypes, no ABI."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", os.environ.get("KOPPELTAAL_WHEEL_PLATFORM") or platform


setup(distclass=NativeDistribution, cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel})
