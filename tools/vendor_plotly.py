"""Vendor plotly.js into src/heapwatch/_vendor/ at build time.

The HTML report (heapwatch/report.py) and the Django staff page draw their
charts with plotly.js.  It is not in the repository: this script takes it
from the `plotly` wheel on PyPI (pinned by version and by the wheel's
sha256, so a changed upload is refused), checks the file's own sha256,
and copies it with its licence next to heapwatch's code:

    src/heapwatch/_vendor/plotly.min.js
    src/heapwatch/_vendor/plotly.LICENSE.txt
    src/heapwatch/_vendor/plotly.VERSION

`make` runs it before any build (a fresh clone needs PyPI once); running
it again with the files in place does nothing.

    python tools/vendor_plotly.py [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL_VERSION = "7.1.0"             # the plotly (Python) wheel
PLOTLY_JS_VERSION = "4.1.1"         # the plotly.js it ships
WHEEL_SHA256 = "dbb7fa18afce40d0a8e80d1bf162eceb3faa0ce5a77fe741ad09a74cf78f53f3"
JS_SHA256 = "3b6e15d45dbb7fca5bd2094291e961ddc5472cd887009e6009a56dab668d721f"
JS_MEMBER = "plotly/package_data/plotly.min.js"
LICENSE_MEMBER = f"plotly-{WHEEL_VERSION}.dist-info/licenses/LICENSE.txt"

HERE = os.path.dirname(os.path.abspath(__file__))
DEST = os.path.join(HERE, os.pardir, "src", "heapwatch", "_vendor")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def up_to_date() -> bool:
    try:
        with open(os.path.join(DEST, "plotly.min.js"), "rb") as f:
            return _sha256(f.read()) == JS_SHA256
    except OSError:
        return False


def vendor() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        req = os.path.join(tmp, "requirements.txt")
        with open(req, "w") as f:
            f.write(f"plotly=={WHEEL_VERSION} --hash=sha256:{WHEEL_SHA256}\n")
        # --require-hashes makes pip refuse any other file.
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--only-binary=:all:", "--require-hashes", "-r", req, "-d", tmp],
                       check=True)
        wheel = os.path.join(tmp, f"plotly-{WHEEL_VERSION}-py3-none-any.whl")
        with open(wheel, "rb") as f:
            if _sha256(f.read()) != WHEEL_SHA256:
                sys.exit(f"{wheel}: sha256 does not match the pinned one")
        with zipfile.ZipFile(wheel) as z:
            js = z.read(JS_MEMBER)
            licence = z.read(LICENSE_MEMBER)
    if _sha256(js) != JS_SHA256:
        sys.exit(f"{JS_MEMBER}: sha256 does not match the pinned one")
    os.makedirs(DEST, exist_ok=True)
    for name, data in (("plotly.LICENSE.txt", licence),
                       ("plotly.VERSION", f"plotly.js {PLOTLY_JS_VERSION} from the PyPI wheel "
                        f"plotly=={WHEEL_VERSION} (sha256 {WHEEL_SHA256})\n".encode()),
                       ("plotly.min.js", js)):        # last: up_to_date() looks at it
        path = os.path.join(DEST, name)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="download even if up to date")
    args = parser.parse_args()
    if args.force or not up_to_date():
        vendor()
        print(f"vendored plotly.js {PLOTLY_JS_VERSION} into {os.path.normpath(DEST)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
