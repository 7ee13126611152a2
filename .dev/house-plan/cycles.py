import sys, collections
kinds = set(sys.argv[1].split(',')) if len(sys.argv) > 1 else {'top','lazy','tc'}
g = collections.defaultdict(set); lines = collections.defaultdict(list)
for l in open(sys.argv[2] if len(sys.argv) > 2 else '/tmp/i18tools/edges.txt'):
    a, n, b, k = l.split()
    if k in kinds and not b.startswith(a + '.') :
        # skip package->submodule re-export? keep
        g[a].add(b); lines[(a,b)].append(n+{'top':'T','lazy':'L','tc':'C'}[k])
# Tarjan
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in g[v]:
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        s = []
        while True:
            w = st.pop(); on.discard(w); s.append(w)
            if w == v: break
        if len(s) > 1: sccs.append(sorted(s))
for v in list(g):
    if v not in idx: sc(v)
for s in sccs:
    print('SCC', len(s), s)
    for a in s:
        for b in sorted(g[a]):
            if b in s: print('   ', a, '->', b, lines[(a,b)])
