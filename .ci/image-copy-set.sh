#!/usr/bin/env bash
# Proves, without a Docker engine, that the image's build stage copies everything the build
# reads: the build stage's COPY lines of the Dockerfile, less what .dockerignore keeps out of
# the context, are laid out in a scratch directory as the image would hold them, and
# `cargo check --locked --bin grants` runs there (an `include_str!` of a file left out, a
# migration folder or a target the manifest names fails it). Dependencies are shared with the
# checkout's own target directory, so only the crate itself is checked again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 - "$root" "$scratch" <<'PY'
import fnmatch, os, shlex, shutil, sys
root, scratch = sys.argv[1], sys.argv[2]
ignored = []
with open(os.path.join(root, ".dockerignore")) as f:
    for line in f:
        line = line.strip()
        if line and not line.startswith("#"):
            ignored.append(line.rstrip("/"))
def kept(rel):
    parts = rel.split("/")
    return not any(fnmatch.fnmatch("/".join(parts[: i + 1]), p) or fnmatch.fnmatch(parts[i], p)
                   for p in ignored for i in range(len(parts)))
def copy(source_abs, target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(source_abs, target)
workdir, stage, copies = "/", 0, 0
instructions, pending = [], ""
for raw in open(os.path.join(root, "Dockerfile")):
    line = raw.strip()
    if line.startswith("#") and not pending:
        continue
    if line.endswith("\\"):
        pending += line[:-1] + " "
        continue
    instructions.append(pending + line)
    pending = ""
for line in instructions:
    if not line:
        continue
    keyword = line.split()[0].upper()
    words = shlex.split(line) if keyword in ("COPY", "WORKDIR") else line.split()
    stage += keyword == "FROM"
    if stage != 1:
        continue  # only the build stage reads the context
    if keyword == "WORKDIR":
        workdir = os.path.join(workdir, words[1])
    if keyword != "COPY" or any(w.startswith("--from") for w in words):
        continue
    *sources, dest = [w for w in words[1:] if not w.startswith("--")]
    # Docker's rules: a directory's contents go into the destination; a file goes into a
    # destination ending in / (or given several sources) under its own name, else becomes it.
    into = dest.endswith("/") or len(sources) > 1
    dest = os.path.relpath(os.path.normpath(os.path.join(workdir, dest)), workdir)
    for source in sources:
        copies += 1
        source_abs = os.path.join(root, source)
        if not os.path.exists(source_abs):
            sys.exit(f"the Dockerfile copies {source}, which the repository does not hold")
        if os.path.isdir(source_abs):
            for dirpath, _, files in os.walk(source_abs):
                for name in files:
                    path = os.path.join(dirpath, name)
                    if kept(os.path.relpath(path, root)):
                        copy(path, os.path.join(scratch, dest, os.path.relpath(path, source_abs)))
        elif kept(source):
            copy(source_abs, os.path.join(scratch, dest, os.path.basename(source)) if into else os.path.join(scratch, dest))
print(f"the image's build stage copies {copies} paths from the context")
PY
CARGO_TARGET_DIR="$root/target" cargo check --quiet --locked --bin grants --manifest-path "$scratch/Cargo.toml"
echo "the image's copy set builds"
