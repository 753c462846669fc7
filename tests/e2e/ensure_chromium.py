"""Install Debian's chromium and a CJK font for the browser tests when missing (run by `make test`).

Without root or apt the browser tests skip and say why; nothing here fails the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
PACKAGES = ["chromium", "fonts-wqy-microhei"]


def main() -> None:
    if CHROMIUM.exists():
        return
    if shutil.which("apt-get") is None:
        print("browser tests will skip: no /usr/bin/chromium and no apt-get to install it")
        return
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        print("browser tests will skip: installing chromium needs root")
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("installing", " ".join(PACKAGES), "with apt-get …")
    subprocess.run([*prefix, "apt-get", "update", "-qq"], check=False, env=env)
    result = subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", *PACKAGES], check=False, env=env)
    if result.returncode != 0:
        print("browser tests will skip: apt-get could not install chromium")


if __name__ == "__main__":
    main()
