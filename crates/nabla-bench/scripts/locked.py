#!/usr/bin/env python3
"""Counts executed locked instructions per function from a callgrind --dump-instr=yes profile.
usage: locked.py PROFILE BINARY [ITERS_DIVISOR]"""
import re, subprocess, sys, collections
prof, binary = sys.argv[1], sys.argv[2]
div = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
names = {}
def name(kind, s):
    m = re.match(r'\((\d+)\)(?: (.*))?', s)
    if not m: return s
    k = (kind, m.group(1))
    if m.group(2) is not None: names[k] = m.group(2)
    return names.get(k, '?')
counts = collections.Counter()
fnof = {}
ob = fn = None; addr = 0; skip = False
for line in open(prof):
    line = line.rstrip('\n')
    if not line or line[0] == '#': continue
    if '=' in line.split(' ')[0]:
        key, _, val = line.partition('=')
        if key == 'ob': ob = name('ob', val)
        elif key == 'fn': fn = name('fn', val)
        elif key in ('cob',): name('ob', val)
        elif key == 'cfn': name('fn', val)
        elif key in ('fl','fi','fe','cfi','cfl'): name('fl', val)
        elif key == 'calls': skip = True
        continue
    if not (line[0] in '0123456789+-*'): continue
    parts = line.split()
    a = parts[0]
    if a.startswith('0x'): addr = int(a, 16)
    elif a[0] == '+': addr += int(a[1:], 16) if a[1:].startswith('0x') else int(a[1:])
    elif a[0] == '-': addr -= int(a[1:], 16) if a[1:].startswith('0x') else int(a[1:])
    if skip: skip = False; continue
    if ob and ob.endswith(binary.split('/')[-1]) and len(parts) >= 3:
        counts[addr] += int(parts[2]); fnof[addr] = fn
dis = subprocess.run(['objdump', '-d', '--no-show-raw-insn', binary], capture_output=True, text=True).stdout
locked = {}
for l in dis.splitlines():
    m = re.match(r'\s*([0-9a-f]+):\s+(.*)', l)
    if not m: continue
    ins = m.group(2)
    if ins.startswith('lock') or (ins.startswith('xchg') and '(' in ins):
        locked[int(m.group(1), 16)] = ins
per_fn = collections.Counter(); per_ins = collections.Counter()
for a, ins in locked.items():
    c = counts.get(a, 0)
    if c:
        per_fn[fnof[a]] += c; per_ins[(fnof[a], hex(a), ins)] += c
tot = sum(per_fn.values())
print(f'total locked: {tot} ({tot/div:.1f} per unit)')
for f, c in per_fn.most_common(40):
    print(f'{c/div:8.2f}  {f[:150]}')
if '-v' in sys.argv:
    for k, c in per_ins.most_common(80): print(f'{c/div:8.2f}', *k)
