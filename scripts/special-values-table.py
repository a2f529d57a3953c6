#!/usr/bin/env python3
"""Regenerates the per-operator table of Docs/SpecialValues.md from `dlsmith ops --json`."""
import json, pathlib, subprocess, sys

root = pathlib.Path(__file__).resolve().parent.parent
exe = sys.argv[1] if len(sys.argv) > 1 else str(root / ".build/debug/dlsmith")
ops = json.loads(subprocess.run([exe, "ops", "--json"], capture_output=True, check=True, text=True).stdout)
doc = root / "Docs/SpecialValues.md"
text = doc.read_text()
marker = "| operator | special values |\n|---|---|\n"
head = text[: text.index(marker) + len(marker)]
rows = [f"| `{o['id']}` | {o['specialValues']} |" for o in ops if o.get("specialValues")]
doc.write_text(head + "\n".join(rows) + "\n")
print(f"{doc}: {len(rows)} operators")
