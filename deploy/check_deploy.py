#!/usr/bin/env python3
"""Static checks of the container deployment: Dockerfile, docker-compose.yml,
.dockerignore, deploy/.env.example. No Docker engine, no network.

Run through scripts/check-deploy.sh (ctest -L deploy). Prints one line per
check (ok / FAIL / skip) and exits 1 when any check fails.

What a pass means:
  * docker-compose (Debian's 1.29) accepts the compose file with the example
    env file, with no env file at all (every variable has a default) and with
    a file of sentinel values (which must reach every credential: nothing is
    hard-coded), and the resolved services have the shape docs/DEPLOY.md
    promises (images, ports, volumes, healthchecks, replicas, depends_on).
  * The Dockerfile's build stage runs scripts/setup.sh and the exact cmake
    configure command of scripts/run.sh; the runtime stage is slim, non-root,
    with a HEALTHCHECK and photo-pipeline as ENTRYPOINT; a few hadolint-style
    rules; shellcheck on every RUN when shellcheck is installed.
  * Given a built binary: the Debian package of every DT_NEEDED library is in
    the runtime stage's apt-get install list (or in the base image), and the
    package of every library ldd resolves is in the dependency closure of
    that list plus the base image (debian:bookworm-slim = Priority required +
    Essential packages), computed from the installed packages' Depends.
"""

import argparse
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

import yaml

SECTIONS = ("dockerfile", "dockerignore", "compose", "libs")
PHOTO_SERVICES = ("api", "resize", "watermark", "detect", "events")
WORKER_REPLICAS = {"resize": 3, "watermark": 2, "detect": 2}
# Sanitizer runtimes link only into ASan/UBSan test builds, never the image.
SANITIZER_LIBS = re.compile(r"^lib(asan|ubsan|tsan|lsan|hwasan)\.so")


class Report:
    def __init__(self):
        self.failures = 0

    def ok(self, msg):
        print(f"ok    {msg}")

    def fail(self, msg):
        self.failures += 1
        print(f"FAIL  {msg}")

    def skip(self, msg):
        print(f"skip  {msg}")

    def check(self, cond, msg, detail=""):
        if cond:
            self.ok(msg)
        else:
            self.fail(msg + (f": {detail}" if detail else ""))
        return cond


# ---------------------------------------------------------------- Dockerfile


def parse_dockerfile(text):
    """[(keyword, args, line)] with continuations joined and comments dropped,
    as the Docker builder sees them."""
    instructions = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        keyword, _, args = buf.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip(), start))
        buf = ""
    return instructions


def split_stages(instructions):
    stages = []
    for ins in instructions:
        if ins[0] == "FROM":
            stages.append({"from": ins[1], "instructions": []})
        elif stages:
            stages[-1]["instructions"].append(ins)
    return stages


def norm_ws(s):
    return " ".join(s.split())


def apt_install_packages(run_args):
    """Package names given to `apt-get install` in one RUN command."""
    pkgs = []
    for segment in re.split(r"&&|\|\||;", run_args):
        words = shlex.split(segment)
        if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
            after = words[words.index("install") + 1:]
            pkgs += [w for w in after if not w.startswith("-")]
    return pkgs


def runtime_packages(text):
    """Packages `apt-get install`ed by the last (runtime) stage."""
    stages = split_stages(parse_dockerfile(text))
    if not stages:
        return []
    return [p for args, _ in run_commands_of(stages[-1]) for p in apt_install_packages(args)]


def run_commands_of(stage, keyword="RUN"):
    return [(args, line) for kw, args, line in stage["instructions"] if kw == keyword]


def check_dockerfile(rep, root, text):
    stages = split_stages(parse_dockerfile(text))
    if not rep.check(len(stages) >= 2, "Dockerfile is multi-stage", f"{len(stages)} stage(s)"):
        return
    build, runtime = stages[0], stages[-1]
    rep.check(re.fullmatch(r"debian:bookworm\s+AS\s+build", build["from"], re.I) is not None,
              "build stage is FROM debian:bookworm AS build", build["from"])
    rep.check(re.fullmatch(r"debian:bookworm-slim(\s+AS\s+\S+)?", runtime["from"], re.I)
              is not None, "runtime stage is FROM debian:bookworm-slim", runtime["from"])
    for st in stages:
        image = st["from"].split()[0]
        rep.check(":" in image and not image.endswith(":latest"),
                  f"FROM {image} has a pinned, non-latest tag")

    # The build stage runs the same setup script and build commands as CI.
    setup_runs = [(a, l) for a, l in run_commands_of(build)
                  if re.search(r"(^|\s|&&)\./scripts/setup\.sh(\s|$|&&)", a)]
    rep.check(bool(setup_runs), "build stage runs ./scripts/setup.sh")
    setup_sh = open(os.path.join(root, "scripts/setup.sh")).read()
    needed_scripts = {"scripts/setup.sh"} | set(
        m.group(1) for m in re.finditer(r"\./(scripts/[\w.-]+\.sh)", setup_sh))
    if setup_runs:
        setup_line = setup_runs[0][1]
        copied = set()
        for kw, args, line in build["instructions"]:
            if kw in ("COPY", "ADD") and line < setup_line:
                srcs = [w for w in shlex.split(args) if not w.startswith("--")][:-1]
                copied |= {os.path.normpath(s) for s in srcs}
        missing = sorted(s for s in needed_scripts
                         if s not in copied and os.path.dirname(s) not in copied and "." not in copied)
        rep.check(not missing, "files setup.sh needs are copied before it runs", ", ".join(missing))

    run_sh = open(os.path.join(root, "scripts/run.sh")).read()
    m = re.search(r"^\s*(cmake -S \. -B build [^>\n]*?)\s*(>|$)", run_sh, re.M)
    if rep.check(m is not None, "scripts/run.sh has a `cmake -S . -B build ...` configure line"):
        configure = norm_ws(m.group(1))
        build_text = " && ".join(norm_ws(a) for a, _ in run_commands_of(build))
        rep.check(configure in build_text,
                  "build stage configures exactly as scripts/run.sh", configure)
        rep.check(configure == "cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "
                  "-DPHOTO_BUILD_TESTS=OFF -DPHOTO_BUILD_BENCHMARKS=OFF",
                  "the configure line is Release without tests/benchmarks", configure)
        rep.check(re.search(r"cmake --build build(\s|$)", build_text) is not None,
                  "build stage runs `cmake --build build`")
        rep.check("cmake --install build" in build_text, "build stage runs `cmake --install build`")

    # Runtime stage.
    runs = run_commands_of(runtime)
    pkgs = []
    for args, line in runs:
        if "apt-get" in args and "install" in args:
            pkgs += apt_install_packages(args)
            rep.check("--no-install-recommends" in args,
                      f"line {line}: apt-get install --no-install-recommends")
            rep.check(re.search(r"apt-get update", args) is not None and
                      "rm -rf /var/lib/apt/lists" in args,
                      f"line {line}: apt-get update and list cleanup in the same RUN")
            rep.check(re.search(r"install\s+(-\S+\s+)*-y", args) is not None,
                      f"line {line}: apt-get install -y")
    rep.check(bool(pkgs), "runtime stage installs packages with apt-get", "")
    rep.check(not any(p.endswith("-dev") for p in pkgs), "runtime stage installs no -dev package",
              " ".join(p for p in pkgs if p.endswith("-dev")))
    users = [a for kw, a, _ in runtime["instructions"] if kw == "USER"]
    rep.check(bool(users) and users[-1].split(":")[0] not in ("root", "0"),
              "runtime stage runs as a non-root USER", users[-1] if users else "no USER")
    hc = [a for kw, a, _ in runtime["instructions"] if kw == "HEALTHCHECK"]
    rep.check(bool(hc) and "CMD" in hc[-1] and "/healthz" in text, "runtime stage has a HEALTHCHECK (/healthz)")
    ep = [a for kw, a, _ in runtime["instructions"] if kw == "ENTRYPOINT"]
    rep.check(bool(ep) and ep[-1].startswith("[") and "photo-pipeline" in ep[-1],
              "ENTRYPOINT is exec form and runs photo-pipeline", ep[-1] if ep else "none")
    copies = " ".join(a for kw, a, _ in runtime["instructions"] if kw == "COPY")
    rep.check("--from=build" in copies and "/usr/bin/photo-pipeline" in copies,
              "runtime stage copies the installed binary from the build stage")
    rep.check("/usr/share/photo-pipeline" in copies,
              "runtime stage copies the face models (/usr/share/photo-pipeline)")
    rep.check(not re.search(r"^\s*ADD\s+https?://", text, re.M | re.I), "no ADD <url>")
    rep.check(not re.search(r"\bsudo\b", " ".join(a for s in stages for a, _ in run_commands_of(s))),
              "no sudo in RUN")

    # shellcheck every shell-form RUN (what hadolint does), if available.
    if shutil.which("shellcheck"):
        bad = []
        for st in stages:
            for args, line in run_commands_of(st):
                if args.startswith("["):
                    continue
                with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
                    f.write("#!/bin/sh\n" + args + "\n")
                r = subprocess.run(["shellcheck", "-s", "sh", "-S", "warning", f.name],
                                   capture_output=True, text=True)
                os.unlink(f.name)
                if r.returncode != 0:
                    bad.append(f"line {line}: {r.stdout.strip()}")
        rep.check(not bad, "shellcheck: RUN commands", "\n".join(bad))
    else:
        rep.skip("shellcheck not installed: RUN commands not linted")


def check_dockerignore(rep, root):
    path = os.path.join(root, ".dockerignore")
    if not rep.check(os.path.exists(path), ".dockerignore exists"):
        return
    patterns = [l.strip() for l in open(path) if l.strip() and not l.startswith("#")]

    def ignored(p):
        result = False
        for pat in patterns:
            neg = pat.startswith("!")
            pat = pat[1:] if neg else pat
            pat = pat.strip("/")
            parts = p.split("/")
            prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
            if any(fnmatch.fnmatchcase(x, pat) or fnmatch.fnmatchcase(x, pat.replace("**/", ""))
                   for x in prefixes):
                result = not neg
        return result

    r = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True)
    if r.returncode != 0:
        rep.skip(".dockerignore: not a git checkout, build inputs not checked")
        return
    needed = [f for f in r.stdout.split()
              if f == "CMakeLists.txt" or f.split("/")[0] in ("src", "cmake", "data", "scripts")
              or f == "docs/openapi.json"]
    dropped = [f for f in needed if ignored(f)]
    rep.check(needed and not dropped, ".dockerignore keeps every build input (src, cmake, data, "
              "scripts, docs/openapi.json)", " ".join(dropped[:10]))
    for p in (".git/config", "build/CMakeCache.txt", "models/x.onnx", "var/data", ".env"):
        rep.check(ignored(p), f".dockerignore excludes {p.split('/')[0]}")


# ------------------------------------------------------------------- compose


def compose_config(root, compose, env_file, quiet):
    # A clean environment: the shell's variables would override the env file.
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL") if k in os.environ}
    cmd = ["docker-compose", "-f", compose, "--project-directory", root,
           "--env-file", env_file, "config"] + (["-q"] if quiet else [])
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)


def env_file_vars(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def check_compose(rep, root, compose, example):
    if not shutil.which("docker-compose"):
        rep.fail("docker-compose not installed (scripts/setup.sh installs Debian's docker-compose)")
        return
    raw = open(compose).read()
    referenced = set(re.findall(r"(?<!\$)\$\{(\w+)", raw))
    undefaulted = sorted(set(re.findall(r"(?<!\$)\$\{(\w+)\}", raw)))
    rep.check(not undefaulted, "every ${VAR} in the compose file has a default",
              " ".join(undefaulted))
    ex = env_file_vars(example)
    rep.check(referenced <= set(ex), "deploy/.env.example lists every variable the compose file "
              "reads", " ".join(sorted(referenced - set(ex))))
    rep.check(set(ex) <= referenced, "deploy/.env.example has no variable the compose file ignores",
              " ".join(sorted(set(ex) - referenced)))

    with tempfile.NamedTemporaryFile("w", suffix=".env") as empty:
        for label, env_file in (("deploy/.env.example", example), ("an empty env file", empty.name)):
            r = compose_config(root, compose, env_file, quiet=True)
            # stderr carries "variable is not set" warnings: they count as failures.
            rep.check(r.returncode == 0 and not r.stderr.strip(),
                      f"docker-compose config -q with {label}", (r.stderr or r.stdout).strip())

    # Sentinel credentials: every one must come through from the environment.
    sentinel = {k: v for k, v in ex.items()}
    sentinel.update({
        "RABBITMQ_USER": "chkrmquser", "RABBITMQ_PASSWORD": "chkrmqpass",
        "POSTGRES_USER": "chkpguser", "POSTGRES_PASSWORD": "chkpgpass", "POSTGRES_DB": "chkpgdb",
        "PHOTO_PIPELINE_API_TOKEN": "chktoken",
    })
    with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as f:
        f.write("".join(f"{k}={v}\n" for k, v in sentinel.items()))
        sentinel_file = f.name
    try:
        r = compose_config(root, compose, sentinel_file, quiet=False)
    finally:
        os.unlink(sentinel_file)
    if not rep.check(r.returncode == 0, "docker-compose config with sentinel credentials",
                     r.stderr.strip()):
        return
    cfg = yaml.safe_load(r.stdout)
    services = cfg.get("services", {})
    expected = {"rabbitmq", "postgres", *PHOTO_SERVICES}
    rep.check(expected <= set(services), "services: " + ", ".join(sorted(expected)),
              "missing " + " ".join(sorted(expected - set(services))))
    if not expected <= set(services):
        return

    def ports(svc):
        return {int(p["target"]) for p in services[svc].get("ports", [])}

    def health(svc):
        hc = services[svc].get("healthcheck") or {}
        t = hc.get("test", [])
        return " ".join(t) if isinstance(t, list) else str(t)

    def env(svc):
        e = services[svc].get("environment") or {}
        if isinstance(e, list):
            e = dict(x.split("=", 1) for x in e)
        return e

    def volume_mount(svc, target):
        for v in services[svc].get("volumes", []):
            if isinstance(v, str):
                parts = v.split(":")
                if len(parts) >= 2 and parts[1] == target:
                    return parts[0]
            elif v.get("target") == target:
                return v.get("source")
        return None

    def depends(svc):
        d = services[svc].get("depends_on") or {}
        return d if isinstance(d, dict) else {k: {} for k in d}

    rmq = services["rabbitmq"]
    rep.check(str(rmq.get("image", "")).startswith("rabbitmq:3-management"),
              "rabbitmq: image rabbitmq:3-management", rmq.get("image"))
    rep.check({5672, 15672} <= ports("rabbitmq"), "rabbitmq: ports 5672 and 15672 published")
    rep.check(volume_mount("rabbitmq", "/var/lib/rabbitmq") in cfg.get("volumes", {}),
              "rabbitmq: named volume on /var/lib/rabbitmq")
    rep.check("rabbitmq-diagnostics" in health("rabbitmq") and "ping" in health("rabbitmq"),
              "rabbitmq: healthcheck rabbitmq-diagnostics ping", health("rabbitmq"))
    rep.check(bool(rmq.get("hostname")), "rabbitmq: fixed hostname (the node name keys its data)")
    pg = services["postgres"]
    rep.check(str(pg.get("image", "")).startswith("postgres:15"), "postgres: image postgres:15",
              pg.get("image"))
    rep.check(volume_mount("postgres", "/var/lib/postgresql/data") in cfg.get("volumes", {}),
              "postgres: named volume on /var/lib/postgresql/data")
    rep.check("pg_isready" in health("postgres"), "postgres: healthcheck pg_isready",
              health("postgres"))

    api_image = services["api"].get("image")
    for svc in PHOTO_SERVICES:
        s = services[svc]
        rep.check(s.get("image") == api_image and s.get("build", {}).get("dockerfile") == "Dockerfile"
                  and os.path.realpath(s.get("build", {}).get("context", "")) == os.path.realpath(root),
                  f"{svc}: built from ./Dockerfile as the one image {api_image}")
        d = depends(svc)
        need = ["rabbitmq"] if svc == "events" else ["rabbitmq", "postgres"]
        rep.check(all(d.get(n, {}).get("condition") == "service_healthy" for n in need),
                  f"{svc}: depends_on {' and '.join(need)} with condition service_healthy", str(d))
        rep.check(s.get("restart") in ("unless-stopped", "always", "on-failure"),
                  f"{svc}: restart policy", str(s.get("restart")))
        e = env(svc)
        amqp = urllib.parse.urlsplit(e.get("PHOTO_PIPELINE_AMQP_URL", ""))
        rep.check(amqp.scheme in ("amqp", "amqps") and amqp.hostname == "rabbitmq"
                  and amqp.username == "chkrmquser" and amqp.password == "chkrmqpass",
                  f"{svc}: PHOTO_PIPELINE_AMQP_URL from RABBITMQ_USER/PASSWORD",
                  e.get("PHOTO_PIPELINE_AMQP_URL", "unset"))
        if svc == "events":
            continue
        db = urllib.parse.urlsplit(e.get("PHOTO_PIPELINE_DB", ""))
        rep.check(db.scheme in ("postgres", "postgresql") and db.hostname == "postgres"
                  and db.username == "chkpguser" and db.path == "/chkpgdb",
                  f"{svc}: PHOTO_PIPELINE_DB=postgres://… from POSTGRES_*",
                  e.get("PHOTO_PIPELINE_DB", "unset"))
        # The URL is logged at start-up: the password travels in PGPASSWORD.
        rep.check(db.password is None and e.get("PGPASSWORD") == "chkpgpass",
                  f"{svc}: PostgreSQL password in PGPASSWORD, not in the (logged) URL",
                  f"url password {db.password!r}, PGPASSWORD {e.get('PGPASSWORD')!r}")
        rep.check(e.get("PHOTO_PIPELINE_DATA_DIR") == "/data" and
                  volume_mount(svc, "/data") == "photo-data" and "photo-data" in cfg.get("volumes", {}),
                  f"{svc}: shared volume photo-data on /data = PHOTO_PIPELINE_DATA_DIR")

    api = services["api"]
    rep.check(api.get("command", [None])[0] == "api" and 8000 in ports("api"),
              "api: `photo-pipeline api` on port 8000")
    rep.check(env("api").get("PHOTO_PIPELINE_API_TOKEN") == "chktoken",
              "api: PHOTO_PIPELINE_API_TOKEN from the environment")
    rep.check("disable" not in (api.get("healthcheck") or {}) and
              (api.get("healthcheck") or {}).get("test") != ["NONE"],
              "api: keeps the image HEALTHCHECK")
    for svc, n in WORKER_REPLICAS.items():
        s = services[svc]
        rep.check(s.get("command") == ["worker", svc], f"{svc}: `photo-pipeline worker {svc}`",
                  str(s.get("command")))
        rep.check((s.get("deploy") or {}).get("replicas") == n, f"{svc}: deploy.replicas {n}",
                  str((s.get("deploy") or {}).get("replicas")))
        rep.check(not s.get("ports") and not s.get("container_name"),
                  f"{svc}: no published port or container_name (replicas must not collide)")
        # The image's HEALTHCHECK must reach this worker's own listener.
        e = env(svc)
        listen = e.get("PHOTO_PIPELINE_METRICS_LISTEN", "")
        url = urllib.parse.urlsplit(e.get("PHOTO_HEALTHCHECK_URL", ""))
        hc = s.get("healthcheck") or {}
        rep.check(listen.rpartition(":")[2].isdigit() and url.port == int(listen.rpartition(":")[2])
                  and url.path == "/healthz" and url.hostname in ("127.0.0.1", "localhost")
                  and not hc.get("disable") and hc.get("test") != ["NONE"],
                  f"{svc}: healthcheck URL is its PHOTO_PIPELINE_METRICS_LISTEN port's /healthz",
                  f"listen {listen!r}, url {url.geturl()!r}, healthcheck {hc}")
    ev = services["events"]
    cmd = ev.get("command") or []
    rep.check(cmd[:1] == ["events"] and "--queue" in cmd, "events: `photo-pipeline events --queue …`",
              str(cmd))
    queue = cmd[cmd.index("--queue") + 1] if "--queue" in cmd and cmd.index("--queue") + 1 < len(cmd) else ""
    rep.check(all(queue in env(s).get("PHOTO_PIPELINE_EVENT_QUEUES", "").split(",")
                  for s in ("api", "detect")),
              f"events queue {queue!r} is declared by the API and detect (PHOTO_PIPELINE_EVENT_QUEUES)")

    rmq_env, pg_env = env("rabbitmq"), env("postgres")
    rep.check(rmq_env.get("RABBITMQ_DEFAULT_USER") == "chkrmquser" and
              rmq_env.get("RABBITMQ_DEFAULT_PASS") == "chkrmqpass",
              "rabbitmq: credentials from RABBITMQ_USER/RABBITMQ_PASSWORD")
    rep.check(pg_env.get("POSTGRES_USER") == "chkpguser" and pg_env.get("POSTGRES_PASSWORD") == "chkpgpass"
              and pg_env.get("POSTGRES_DB") == "chkpgdb", "postgres: credentials from POSTGRES_*")
    rep.check("guest" not in r.stdout, "no hard-coded credential survives the sentinel env file",
              "'guest' found in the resolved config")

    binds = [(svc, v) for svc, s in services.items() for v in s.get("volumes", [])
             if isinstance(v, dict) and v.get("type") == "bind"]
    missing = [f"{svc}: {v['source']}" for svc, v in binds if not os.path.exists(v["source"])]
    rep.check(not missing, "every bind-mounted file exists", ", ".join(missing))


# ------------------------------------------------------------ runtime libs


def ldd_libs(binary):
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    libs, missing = {}, []
    for line in r.stdout.splitlines():
        line = line.strip()
        m = re.match(r"(\S+) => (not found|\S+)", line)
        if m:
            if m.group(2) == "not found":
                missing.append(m.group(1))
            else:
                libs[m.group(1)] = m.group(2)
        else:
            m = re.match(r"(/\S+) \(0x", line)
            if m:
                libs[os.path.basename(m.group(1))] = m.group(1)
    return r.returncode, libs, missing


def needed_of(binary):
    r = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)


def owners(paths):
    """dpkg -S over each path's usrmerge spellings: {path: package}."""
    variants = {}
    for p in paths:
        cands = {p, os.path.realpath(p)}
        for c in list(cands):
            if c.startswith("/usr/"):
                cands.add(c[4:])
            else:
                cands.add("/usr" + c)
        for c in cands:
            variants[c] = p
    r = subprocess.run(["dpkg", "-S", *sorted(variants)], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        if line.startswith("diversion "):
            continue
        pkgs, _, path = line.partition(": ")
        if path in variants:
            out.setdefault(variants[path], pkgs.split(",")[0].strip().split(":")[0])
    return out


def installed_db():
    fmt = "${Package}\t${Priority}\t${Essential}\t${Provides}\t${Pre-Depends}, ${Depends}\t${db:Status-Abbrev}\n"
    r = subprocess.run(["dpkg-query", "-W", "-f=" + fmt], capture_output=True, text=True)
    db, provides = {}, {}
    for line in r.stdout.splitlines():
        name, prio, essential, prov, deps, status = (line.split("\t") + [""] * 6)[:6]
        if not status.startswith("ii"):
            continue
        db[name] = {"priority": prio, "essential": essential == "yes", "deps": deps}
        for p in prov.split(","):
            p = p.strip().split(" ")[0]
            if p:
                provides.setdefault(p, set()).add(name)
    return db, provides


def closure(roots, db, provides):
    """Installed packages reachable from roots over Depends/Pre-Depends (the
    installed branch of each alternative, virtual names through Provides)."""
    seen, todo = set(), [r for r in roots if r in db]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        for clause in db[p]["deps"].split(","):
            for alt in clause.split("|"):
                name = alt.strip().split(" ")[0].split(":")[0]
                if not name:
                    continue
                targets = ({name} if name in db else set()) | provides.get(name, set())
                todo += [t for t in targets if t not in seen]
    return seen


def check_runtime_libs(rep, binary, pkgs):
    if not binary:
        rep.skip("no built binary (build/photo-pipeline or --binary): runtime libraries not checked")
        return
    if not rep.check(os.access(binary, os.X_OK), f"binary {binary} exists"):
        return
    rc, libs, missing = ldd_libs(binary)
    if not rep.check(rc == 0 and not missing, f"ldd {binary} resolves every library", " ".join(missing)):
        return
    needed = [n for n in needed_of(binary) if not SANITIZER_LIBS.match(n)]
    rep.check(bool(needed), "readelf lists the binary's DT_NEEDED libraries")
    libs = {n: p for n, p in libs.items() if not SANITIZER_LIBS.match(n) and not n.startswith("linux-vdso")}
    own = owners(libs.values())
    unowned = sorted(n for n, p in libs.items() if p not in own)
    rep.check(not unowned, "dpkg -S finds the package of every resolved library", " ".join(unowned))

    db, provides = installed_db()
    base_roots = [p for p, v in db.items() if v["priority"] == "required" or v["essential"]]
    base = closure(base_roots, db, provides)
    listed = set(pkgs)
    full = closure(listed | set(base_roots), db, provides)

    direct_missing = []
    for n in needed:
        pkg = own.get(libs.get(n, ""))
        if pkg and pkg not in listed and pkg not in base:
            direct_missing.append(f"{n} ({pkg})")
    rep.check(not direct_missing,
              f"every DT_NEEDED library's package is in the runtime apt-get list or the base image "
              f"({len(needed)} libraries)", ", ".join(direct_missing))
    in_base = sorted({own[libs[n]] for n in needed if own.get(libs.get(n, "")) in base
                      and own[libs[n]] not in listed})
    if in_base:
        print(f"      (from debian:bookworm-slim itself: {' '.join(in_base)})")
    trans_missing = sorted({f"{n} ({own[p]})" for n, p in libs.items() if p in own and own[p] not in full})
    rep.check(not trans_missing,
              f"every library ldd resolves ({len(libs)}) comes with the listed packages' dependencies",
              ", ".join(trans_missing))

    # Package names exist in Debian 12 (needs apt lists; offline).
    r = subprocess.run(["apt-cache", "policy", *sorted(listed)], capture_output=True, text=True)
    cands = dict(re.findall(r"^(\S+):\n\s+Installed: .*\n\s+Candidate: (\S+)", r.stdout, re.M))
    if not any(v != "(none)" for v in cands.values()):
        rep.skip("no apt lists: package names in the runtime stage not checked against the archive")
    else:
        unknown = sorted(p for p in listed if cands.get(p, "(none)") == "(none)")
        rep.check(not unknown, f"every runtime package ({len(listed)}) has an apt candidate",
                  " ".join(unknown))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--binary", help="built photo-pipeline (default: <root>/build/photo-pipeline if present)")
    ap.add_argument("--only", action="append", choices=SECTIONS,
                    help="run only these sections (repeatable; default: all)")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    only = set(args.only or SECTIONS)
    rep = Report()

    dockerfile = open(os.path.join(root, "Dockerfile")).read()
    if "dockerfile" in only:
        check_dockerfile(rep, root, dockerfile)
    if "dockerignore" in only:
        check_dockerignore(rep, root)
    if "compose" in only:
        check_compose(rep, root, os.path.join(root, "docker-compose.yml"),
                      os.path.join(root, "deploy/.env.example"))
    if "libs" in only:
        binary = args.binary
        if not binary and os.path.exists(os.path.join(root, "build/photo-pipeline")):
            binary = os.path.join(root, "build/photo-pipeline")
        check_runtime_libs(rep, binary, runtime_packages(dockerfile))

    print(f"check-deploy: {'FAILED: %d check(s)' % rep.failures if rep.failures else 'all checks passed'}")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
