"""Step 1 of the plan, mechanically: move whole modules (git mv), make every svcctl import
absolute, and rewrite old module paths to new ones in cli/, tests/ and bench/.
Usage: python move.py REPO   (edits REPO in place; run on a clone)"""
import ast, pathlib, re, subprocess, sys
repo = pathlib.Path(sys.argv[1]).resolve()
pkg = repo / "cli"
MOVES = {  # old module -> new module (whole files)
    "svcctl.polling": "svcctl.wait",
    "svcctl.network": "svcctl.net",
    "svcctl.config": "svcctl.config.settings",
    "svcctl.layout": "svcctl.config.layout",
    "svcctl.engine": "svcctl.docker.engine",
    "svcctl.compose": "svcctl.docker.compose",
    "svcctl.images": "svcctl.docker.images",
    "svcctl.registration": "svcctl.registry.model",
    "svcctl.pki": "svcctl.security.pki",
    "svcctl.security": "svcctl.security.mode",
    "svcctl.dockerproxy": "svcctl.security.dockerproxy",
    "svcctl.cluster": "svcctl.ensemble.local",
    "svcctl.cluster_hosts": "svcctl.ensemble.hosts",
    "svcctl.registrator_compose": "svcctl.ensemble.project",
    "svcctl.gateway.stack": "svcctl.ensemble.gateway",
    "svcctl.discovery": "svcctl.consumer.cache",
    "svcctl.gateway": "svcctl.consumer.gateway",
    "svcctl.gateway.controller": "svcctl.consumer.gateway.controller",
    "svcctl.gateway.haproxy": "svcctl.consumer.gateway.haproxy",
    "svcctl.gateway.image": "svcctl.toolkit.gateway_image",
    "svcctl.registrator.image": "svcctl.toolkit.registrator_image",
    "svcctl.samples": "svcctl.walkthrough.samples",
    "svcctl.services": "svcctl.walkthrough.services",
    "svcctl.scenarios": "svcctl.walkthrough.scenarios",
    "svcctl.faults": "svcctl.walkthrough.faults",
    "svcctl.demo": "svcctl.walkthrough.demo",
    "svcctl.bootstrap": "svcctl.toolkit.doctor",
    "svcctl.hosts": "svcctl.toolkit.hosts",
}
def path_of(mod, is_pkg=False):
    p = pkg.joinpath(*mod.split("."))
    return p / "__init__.py" if is_pkg else p.with_suffix(".py")
def old_modules():
    out = {}
    for p in pkg.rglob("*.py"):
        parts = list(p.relative_to(pkg).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg: parts = parts[:-1]
        out[".".join(parts)] = is_pkg
    return out
mods = old_modules()
def rename(mod):
    best = max((o for o in MOVES if mod == o or mod.startswith(o + ".")), key=len, default=None)
    return mod if best is None else MOVES[best] + mod[len(best):]
# 1. rewrite imports in every python file (before moving: relative imports resolve against old places)
files = [p for d in ("cli", "tests", "bench") for p in (repo / d).rglob("*.py")] + [repo / "setup.py"]
for f in files:
    src = f.read_text(); lines = src.splitlines(keepends=True)
    tree = ast.parse(src)
    cur = None
    if pkg in f.parents:
        parts = list(f.relative_to(pkg).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        cur = ".".join(parts[:-1] if is_pkg else parts)
    edits = []
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom):
            if n.level:
                base = cur.split(".") if mods.get(cur) else cur.split(".")[:-1]
                if n.level > 1: base = base[: len(base) - (n.level - 1)]
                absmod = ".".join(base + ([n.module] if n.module else []))
            else:
                absmod = n.module or ""
            if not absmod.startswith("svcctl"): continue
            # names that are moved modules themselves: `from svcctl import cluster_hosts`
            groups = {}
            for a in n.names:
                full = absmod + "." + a.name
                if full in mods and rename(full) != full:
                    new = rename(full); parent, leaf = new.rsplit(".", 1)
                    groups.setdefault(parent, []).append(f"{leaf} as {a.asname or a.name}" if leaf != (a.asname or a.name) else leaf)
                else:
                    groups.setdefault(rename(absmod), []).append(f"{a.name} as {a.asname}" if a.asname else a.name)
            indent = re.match(r"\s*", lines[n.lineno - 1]).group(0)
            text = "".join(f"{indent if i else ''}from {m} import {', '.join(names)}\n" for i, (m, names) in enumerate(groups.items()))
            edits.append((n.lineno, n.end_lineno, text, n.col_offset))
        elif isinstance(n, ast.Import):
            for a in n.names:
                if a.name.startswith("svcctl.") and rename(a.name) != a.name:
                    raise SystemExit(f"{f}:{n.lineno}: import {a.name} needs a hand edit")
    for start, end, text, col in sorted(edits, reverse=True):
        first = lines[start - 1]
        lines[start - 1:end] = [first[:col] + text]
    new = "".join(lines)
    # dotted strings naming moved modules (importlib targets, docs)
    for o in sorted(MOVES, key=len, reverse=True):
        new = re.sub(r'(["\'])' + re.escape(o) + r'(["\'.])', lambda m: m.group(1) + MOVES[o] + m.group(2), new)
    if new != src: f.write_text(new)
# 2. move the files
def git(*args): subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
for old, new in sorted(MOVES.items(), key=lambda kv: (not mods.get(kv[0]), -kv[0].count("."))):
    src = path_of(old, mods.get(old, False))
    if not src.exists(): continue
    dst = path_of(new, False) if not mods.get(old) else path_of(new, True)
    for parent in list(dst.relative_to(pkg).parents)[:-1][::-1]:
        d = pkg / parent; d.mkdir(exist_ok=True)
        pkg_targets = {path_of(MOVES[o], True) for o in MOVES if mods.get(o)}
        if not (d / "__init__.py").exists() and d != pkg / "svcctl" and (d / "__init__.py") not in pkg_targets:
            (d / "__init__.py").write_text(""); git("add", str(d / "__init__.py"))
    git("mv", str(src), str(dst))
# an emptied old package directory (svcctl/gateway) goes
for d in sorted((pkg / "svcctl").rglob("*"), reverse=True):
    if d.is_dir() and d.name != "__pycache__" and not any(p.suffix == ".py" for p in d.rglob("*.py")):
        subprocess.run(["rm", "-rf", str(d)])
print("moved", len(MOVES))
