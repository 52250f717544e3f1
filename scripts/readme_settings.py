"""Fill the README's settings table from `oja settings`."""

import re
import subprocess
from pathlib import Path

table = subprocess.run(
    [".venv/bin/oja", "settings"], capture_output=True, text=True, check=True
).stdout
readme = Path("README.md")
text = re.sub(
    r"(<!-- settings:start -->\n).*?(<!-- settings:end -->)",
    lambda m: m.group(1) + table + m.group(2),
    readme.read_text(),
    flags=re.S,
)
readme.write_text(text)
