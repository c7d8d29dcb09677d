#!/usr/bin/env python3
"""Writes a WSUS export package (uncompressed cabinet: package.xml, then metadata.txt) of the
fixture categories and N copies of one fixture update under new UpdateIDs, to measure the
package reader: python3 bench/make_wsus_package.py N OUT.cab (results: WSUS-PACKAGE-RESULTS.md).
The cabinet's data blocks carry no checksum (0 means none in the CAB format)."""
import glob, os, re, struct, sys, uuid
n = int(sys.argv[1])
fx = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "upstream") + "/"
cats = sorted(glob.glob(fx + "category-*.xml"))
tmpl = open(fx + "update-a1-win10-2024-01-kb5034122.xml", encoding="utf-8").read()
oid = "1d956cd9-8a3f-44d7-8ccb-031ebc0ba36b"
recs = []
def rec(xml):
    m = re.search(r'UpdateID="([^"]+)" RevisionNumber="(\d+)"', xml)
    return (m.group(1).lower(), int(m.group(2)), xml)
for c in cats:
    recs.append(rec(open(c, encoding="utf-8").read()))
for i in range(n):
    nid = str(uuid.UUID(int=i + 1))
    recs.append(rec(tmpl.replace(oid, nid)))
meta = b"".join(b"%s,%08x,%08x,%s\r\n" % (i.encode(), r, len(x.encode("utf-16-le")) // 2, x.encode()) for i, r, x in recs)
pkg = ("\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?><ExportPackage ServerID=\"5fd0d2e4-7d5c-4a0e-9c8e-2d1b0f7c1a11\" CreationTime=\"2025-06-01T10:00:00Z\" FormatVersion=\"1.0\" ProtocolVersion=\"1.20\"><Languages/><Files/><Updates>"
       + "".join('<Update UpdateId="%s" RevisionNumber="%d"><Files/><Categories/><Classifications/></Update>' % (i, r) for i, r, _ in recs)
       + "</Updates></ExportPackage>").encode("utf-8")
members = [("package.xml", pkg), ("metadata.txt", meta)]
data = b"".join(m[1] for m in members)
blocks = [data[i:i + 32768] for i in range(0, len(data), 32768)]
files_tbl = b""
off = 0
for name, d in members:
    files_tbl += struct.pack("<IIHHHH", len(d), off, 0, 0x21, 0, 0x20) + name.encode() + b"\0"
    off += len(d)
hdr_len = 36 + 8
coff = hdr_len + len(files_tbl)
dblocks = b"".join(struct.pack("<IHH", 0, len(b), len(b)) + b for b in blocks)
total = coff + len(dblocks)
hdr = b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, total, 0, hdr_len, 0, 3, 1, 1, len(members), 0, 0, 0)
fold = struct.pack("<IHH", coff, len(blocks), 0)
open(sys.argv[2], "wb").write(hdr + fold + files_tbl + dblocks)
print(len(recs), len(meta))
