#!/usr/bin/env python3
"""Every module a target imports is one it declares in Package.swift.

SwiftPM lets a target import a module it only reaches through another target's dependencies, so
Package.swift can understate the graph (a worker going Fuzzing -> dlsmith -> Fuzzing goes unseen).
This reads `swift package dump-package` and each target's Swift sources, and prints every import
of a package target or product that the importing target does not declare. Exit 1 if there is one.

Usage: python3 scripts/check-imports.py   (from the package root)
"""
import json
import pathlib
import re
import subprocess
import sys

IMPORT = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)


def main():
    package = json.loads(subprocess.run(["swift", "package", "dump-package"], check=True,
                                        capture_output=True, text=True).stdout)
    # Modules this package provides: its targets, and the products of its dependencies it names.
    ours = {t["name"] for t in package["targets"]}
    products = set()
    for t in package["targets"]:
        for dep in t.get("dependencies", []):
            if "product" in dep:
                products.add(dep["product"][0])
    known = ours | products
    problems = []
    for t in package["targets"]:
        name = t["name"]
        declared = set()
        for dep in t.get("dependencies", []):
            for kind in ("byName", "target", "product"):
                if kind in dep:
                    declared.add(dep[kind][0])
        default = ("Tests/" if t["type"] == "test" else "Sources/") + name
        root = pathlib.Path(t.get("path") or default)
        imported = set()
        for f in sorted(root.rglob("*.swift")):
            imported.update(IMPORT.findall(f.read_text()))
        for module in sorted(imported & known - declared - {name}):
            problems.append(f"{name} imports {module} without declaring it")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} undeclared import(s): add them to the target's dependencies in Package.swift",
              file=sys.stderr)
        return 1
    print(f"imports: every target declares what it imports ({len(package['targets'])} targets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
