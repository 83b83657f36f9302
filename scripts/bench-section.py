#!/usr/bin/env python3
"""Replace (or append) one marked section of docs/BENCHMARKS.md.

usage: bench-section.py NAME SECTION_TEXT PATH
The section runs from "<!-- NAME: start" to "<!-- NAME: end -->"; the text
given must carry both markers. The rest of the file is kept as it is, so
each bench script owns its part.
"""
import re
import sys

name, section, path = sys.argv[1], sys.argv[2], sys.argv[3]
old = open(path).read()
pat = re.compile(r"<!-- " + re.escape(name) + r": start.*?<!-- " + re.escape(name) + r": end -->", re.S)
new = pat.sub(lambda m: section, old) if pat.search(old) else old.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(new)
