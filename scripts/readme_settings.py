"""Fill the README's settings table from `oja settings`."""
import re, subprocess, sys
table = subprocess.run([".venv/bin/oja", "settings"], capture_output=True, text=True, check=True).stdout
p = "README.md"; s = open(p).read()
s = re.sub(r"(<!-- settings:start -->\n).*?(<!-- settings:end -->)", lambda m: m.group(1) + table + m.group(2), s, flags=re.S)
open(p, "w").write(s)
