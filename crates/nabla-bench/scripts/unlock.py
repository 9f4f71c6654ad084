#!/usr/bin/env python3
"""Measurement only: copies BINARY to OUT with every lock prefix (0xF0) replaced by a CS
segment prefix (0x2E, ignored in 64-bit mode). Sound only for single-threaded runs."""
import re, subprocess, sys
binary, out = sys.argv[1], sys.argv[2]
hdr = subprocess.run(['readelf', '-lW', binary], capture_output=True, text=True).stdout
segs = []
for l in hdr.splitlines():
    p = l.split()
    if p and p[0] == 'LOAD':
        segs.append((int(p[1], 16), int(p[2], 16), int(p[4], 16)))
data = bytearray(open(binary, 'rb').read())
n = 0
for l in subprocess.run(['objdump', '-d', binary], capture_output=True, text=True).stdout.splitlines():
    m = re.match(r'\s+([0-9a-f]+):\s+f0 ', l)
    if not m: continue
    va = int(m.group(1), 16)
    for off, vaddr, sz in segs:
        if vaddr <= va < vaddr + sz:
            fo = va - vaddr + off
            assert data[fo] == 0xF0
            data[fo] = 0x2E; n += 1
open(out, 'wb').write(data)
print('patched', n)
