#!/usr/bin/env python3
"""Mutation tests of deploy/check_deploy.py: the real deployment files pass,
and each typical mistake, applied to a copy, makes the named check fail.

  /usr/bin/python3 deploy/check_deploy_test.py [--binary build/photo-pipeline]

Without --binary the runtime-library mutation is skipped. Registered in ctest
as check_deploy_selftest (label deploy).
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FILES = ["Dockerfile", "docker-compose.yml", ".dockerignore", "scripts/setup.sh", "scripts/run.sh",
         "scripts/fetch-models.sh"]

# (name, file, regex, replacement, substring of the FAIL line expected, needs binary)
MUTATIONS = [
    ("runtime package dropped", "Dockerfile", r"\n\s+libvips42 \\", "",
     "DT_NEEDED library's package", True),
    ("runtime package renamed to a non-existent one", "Dockerfile", r"libturbojpeg0 ",
     "libturbojpeg9 ", "DT_NEEDED library's package", True),
    ("build type drifts from run.sh", "Dockerfile", r"-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_BUILD_TYPE=Debug",
     "configures exactly as scripts/run.sh", False),
    ("setup.sh not run", "Dockerfile", r"RUN \./scripts/setup\.sh", "RUN true", "runs ./scripts/setup.sh",
     False),
    ("root runtime user", "Dockerfile", r"USER photo:photo", "USER root", "non-root USER", False),
    ("recommends pulled in", "Dockerfile", r"install -y --no-install-recommends", "install -y",
     "--no-install-recommends", False),
    ("resize replicas", "docker-compose.yml", r"replicas: 3", "replicas: 1", "resize: deploy.replicas 3",
     False),
    ("hard-coded broker password", "docker-compose.yml",
     r"amqp://\$\{RABBITMQ_USER:-guest\}:\$\{RABBITMQ_PASSWORD:-guest\}@", "amqp://guest:guest@",
     "PHOTO_PIPELINE_AMQP_URL from RABBITMQ_USER/PASSWORD", False),
    ("no health condition", "docker-compose.yml", r"condition: service_healthy", "condition: service_started",
     "condition service_healthy", False),
    ("variable without default", "docker-compose.yml", r"\$\{PHOTO_API_MEMORY:-512m\}", "${PHOTO_API_MEMORY}",
     "has a default", False),
    ("schema error", "docker-compose.yml", r"replicas: 2", "replicas: two", "docker-compose config -q", False),
    ("data volume not shared", "docker-compose.yml", r"(watermark\"\]\n(?:.*\n)*?\s+- )photo-data:/data",
     r"\1./scratch:/data", "watermark: shared volume photo-data", False),
]


def make_tree(tmp):
    for f in FILES:
        os.makedirs(os.path.join(tmp, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(tmp, f))
    shutil.copytree(os.path.join(ROOT, "deploy"), os.path.join(tmp, "deploy"),
                    ignore=shutil.ignore_patterns("__pycache__"))


def run_checker(tree, binary, sections):
    cmd = ["/usr/bin/python3", os.path.join(tree, "deploy/check_deploy.py"), "--root", tree]
    cmd += [a for s in sections for a in ("--only", s)]
    if binary:
        cmd += ["--binary", binary]
    return subprocess.run(cmd, capture_output=True, text=True)


def run_case(case, binary):
    name, path, pattern, repl, expect, needs_binary = case
    with tempfile.TemporaryDirectory(prefix="check-deploy-") as tmp:
        make_tree(tmp)
        if path:
            p = os.path.join(tmp, path)
            text = open(p).read()
            new, n = re.subn(pattern, repl, text, count=1)
            if n != 1:
                return f"{name}: pattern {pattern!r} not found in {path} (update this test)"
            open(p, "w").write(new)
        if not path:
            sections = []
        elif path == "Dockerfile":
            sections = ["dockerfile"] + (["libs"] if needs_binary else [])
        else:
            sections = ["compose"]
        r = run_checker(tmp, binary if needs_binary else None, sections)
        fails = [l for l in r.stdout.splitlines() if l.startswith("FAIL")]
        if not path:
            return None if r.returncode == 0 and not fails else \
                f"{name}: expected a pass, got rc {r.returncode}:\n" + r.stdout + r.stderr
        if r.returncode != 1 or not any(expect in l for l in fails):
            return (f"{name}: expected a FAIL containing {expect!r}, got rc {r.returncode}:\n"
                    + "\n".join(fails) + r.stderr)
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary")
    args = ap.parse_args()
    cases = [("unchanged files pass", None, None, None, None, True)]
    for m in MUTATIONS:
        if m[5] and not args.binary:
            print(f"skip  {m[0]} (no --binary)")
            continue
        cases.append(m)
    errors = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for case, err in zip(cases, pool.map(lambda c: run_case(c, args.binary), cases)):
            print(("FAIL  " if err else "ok    ") + case[0])
            if err:
                errors.append(err)
    for e in errors:
        print("\n" + e)
    print(f"check_deploy_test: {len(cases) - len(errors)}/{len(cases)} cases passed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
