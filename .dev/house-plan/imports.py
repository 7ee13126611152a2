"""List every svcctl-internal import (module-level and lazy) in cli/svcctl: importer lineno imported [lazy]."""
import ast, sys, pathlib
root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else 'cli')
def modname(p):
    parts = list(p.relative_to(root).with_suffix('').parts)
    if parts[-1] == '__init__': parts = parts[:-1]
    return '.'.join(parts)
mods = {modname(p): p for p in root.rglob('*.py')}
def resolve(cur, is_pkg, node):
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = cur.split('.') if is_pkg else cur.split('.')[:-1]
    if node.level:
        base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
        prefix = '.'.join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module
    out = []
    for a in node.names:
        cand = prefix + '.' + a.name
        out.append(cand if cand in mods else prefix)
    return out
for m, p in sorted(mods.items()):
    tree = ast.parse(p.read_text())
    is_pkg = p.name == '__init__.py'
    top = set(id(n) for n in tree.body)
    # module level = not inside a function
    func_nodes = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for s in ast.walk(n):
                func_nodes.add(id(s))
    tc = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.If) and 'TYPE_CHECKING' in ast.unparse(n.test):
            for s in ast.walk(n): tc.add(id(s))
    for n in ast.walk(tree):
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            for t in resolve(m, is_pkg, n):
                # normalise to known module
                while t and t not in mods and '.' in t: t = t.rsplit('.', 1)[0]
                if t in mods and t.startswith('svcctl') and t != m:
                    kind = 'tc' if id(n) in tc else ('lazy' if id(n) in func_nodes else 'top')
                    print(m, n.lineno, t, kind)
