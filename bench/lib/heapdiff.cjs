// Usage: node --max-old-space-size=6000 bench/lib/heapdiff.cjs A.heapsnapshot B.heapsnapshot
// node heapdiff.cjs A.heapsnapshot B.heapsnapshot — growth of live objects by (type, name)
const fs = require('fs');
function agg(file) {
  const snap = JSON.parse(fs.readFileSync(file));
  const m = snap.snapshot.meta;
  const NF = m.node_fields.length;
  const nodes = snap.nodes;
  const strings = snap.strings;
  const types = m.node_types[0];
  const ti = m.node_fields.indexOf('type'),
    ni = m.node_fields.indexOf('name'),
    si = m.node_fields.indexOf('self_size');
  const out = new Map();
  for (let i = 0; i < nodes.length; i += NF) {
    const t = types[nodes[i + ti]];
    let n = strings[nodes[i + ni]];
    if (t === 'string' || t === 'concatenated string' || t === 'sliced string') n = '';
    const k = `${t}:${n.slice(0, 80)}`;
    const e = out.get(k) || { n: 0, size: 0 };
    e.n++;
    e.size += nodes[i + si];
    out.set(k, e);
  }
  return out;
}
const a = agg(process.argv[2]),
  b = agg(process.argv[3]);
const keys = new Set([...a.keys(), ...b.keys()]);
const rows = [...keys].map((k) => {
  const x = a.get(k) || { n: 0, size: 0 },
    y = b.get(k) || { n: 0, size: 0 };
  return [k, y.n - x.n, y.size - x.size];
});
let tot = 0;
for (const r of rows) tot += r[2];
console.log('total growth', (tot / 1024).toFixed(0), 'KB');
for (const [k, dn, ds] of rows.sort((p, q) => q[2] - p[2]).slice(0, 30)) console.log((ds / 1024).toFixed(1).padStart(9), 'KB', String(dn).padStart(7), k);
