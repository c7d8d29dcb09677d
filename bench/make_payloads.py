#!/usr/bin/env python3
"""Payload files and matching upd:Update documents for bench/transfer.sh.

    make_payloads.py --out DIR --fixtures fixtures/upstream [--total-mib 3072]
                     [--subset-mib 1024] [--small 40] [--seed 1]

Writes, in DIR:
  payloads/        --small files of 1-200 MiB (log-uniform) plus two large ones (about 590 and
                   620 MiB) so that `export --max-volume-size 700M` cuts files across volumes;
                   pseudo-random bytes (a seeded PRNG, so runs are repeatable), sizes not
                   multiples of anything; about --total-mib MiB in all. With a smaller total
                   every size is scaled down in proportion.
  payloads-subset/ hard links to a subset of about --subset-mib MiB (the first large file and
                   small files), for the memory comparison at two content sizes.
  upstream/        the category documents of the fixtures (copied as they are) and one
                   upd:Update document per payload file or pair of files (Windows 10, Security
                   Updates), each File with its Size, base64 SHA-1 Digest and base64 SHA-256
                   AdditionalDigest, in the layout of
                   fixtures/upstream/update-a1-win10-2024-01-kb5034122.xml.
  payloads.tsv     name, size, sha1, sha256 (hex), in_subset, update id.

Prints a JSON summary on stdout. Each file is hashed while it is written (one pass).
"""

import argparse
import base64
import glob
import hashlib
import json
import math
import os
import random
import shutil
import sys
import uuid

MIB = 1 << 20
CHUNK = 8 * MIB

WIN10 = "a3c2375d-0c8a-42f9-bce0-28333e198407"
SECURITY = "0fa1201d-4330-4fa8-8ae9-b877473b6441"

UPDATE_XML = """<upd:Update xmlns:pub="http://schemas.microsoft.com/msus/2002/12/Publishing" xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update">
  <upd:UpdateIdentity UpdateID="{id}" RevisionNumber="200" />
  <upd:Properties DefaultPropertiesLanguage="en" UpdateType="Software" ExplicitlyDeployable="true" AutoSelectOnWebSites="true" MsrcSeverity="Important" IsPublic="false" IsBeta="false" PublicationState="Published" CreationDate="{created}" PublisherID="395392a0-19c0-48b7-a927-f7c15066d905" LegacyName="KB{kb}-Win10-22H2-RTM-X64-TSL-World">
    <upd:InstallationBehavior CanRequestUserInput="false" Impact="Normal" RebootBehavior="CanRequestReboot" RequiresNetworkConnectivity="false" />
    <upd:SupportUrl>https://support.microsoft.com/help/{kb}</upd:SupportUrl>
    <upd:KBArticleID>{kb}</upd:KBArticleID>
  </upd:Properties>
  <upd:LocalizedPropertiesCollection>
    <upd:LocalizedProperties>
      <upd:Language>en</upd:Language>
      <upd:Title>{month} Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB{kb})</upd:Title>
      <upd:Description>Install this update to resolve issues in Windows. Synthetic benchmark update {n} of offsync bench/transfer.sh.</upd:Description>
      <upd:MoreInfoUrl>https://support.microsoft.com/help/{kb}</upd:MoreInfoUrl>
    </upd:LocalizedProperties>
  </upd:LocalizedPropertiesCollection>
  <upd:Relationships>
    <upd:Prerequisites>
      <upd:AtLeastOne IsCategory="true">
        <upd:UpdateIdentity UpdateID="{security}" />
      </upd:AtLeastOne>
      <upd:AtLeastOne IsCategory="true">
        <upd:UpdateIdentity UpdateID="{win10}" />
      </upd:AtLeastOne>
    </upd:Prerequisites>
  </upd:Relationships>
  <upd:ApplicabilityRules>
    <upd:IsInstalled>
      <lar:And xmlns:lar="http://schemas.microsoft.com/msus/2002/12/LogicalApplicabilityRules">
        <bar:WindowsVersion Comparison="GreaterThanOrEqualTo" MajorVersion="10" MinorVersion="0" BuildNumber="19045" xmlns:bar="http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules" />
        <bar:RegDword Key="HKEY_LOCAL_MACHINE" Subkey="SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion" Value="UBR" Comparison="GreaterThanOrEqualTo" Data="{ubr}" xmlns:bar="http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules" />
      </lar:And>
    </upd:IsInstalled>
    <upd:IsInstallable>
      <bar:Processor Architecture="9" xmlns:bar="http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules" />
    </upd:IsInstallable>
  </upd:ApplicabilityRules>
  <upd:Files>
{files}  </upd:Files>
  <upd:HandlerSpecificData xsi:type="cbs:Cbs" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cbs="http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Cbs">
    <cbs:CbsData RestartRequired="true" />
  </upd:HandlerSpecificData>
</upd:Update>
"""

FILE_XML = """    <upd:File Digest="{sha1}" DigestAlgorithm="SHA1" FileName="{name}" Size="{size}" Modified="{modified}">
      <upd:AdditionalDigest Algorithm="SHA256">{sha256}</upd:AdditionalDigest>
    </upd:File>
"""


def plan_sizes(rng, total, small, scale):
    """Two large files and `small` files of 1..200 MiB (scaled), summing to about `total`."""
    big = [int(590 * MIB * scale) + rng.randrange(4096), int(620 * MIB * scale) + rng.randrange(4096)]
    lo, hi = 1 * MIB, max(2 * MIB, int(200 * MIB * scale))
    target = max(total - sum(big), small * lo)
    sizes = [math.exp(rng.uniform(math.log(lo), math.log(hi))) for _ in range(small)]
    for _ in range(30):
        k = target / sum(sizes)
        sizes = [min(hi, max(lo, s * k)) for s in sizes]
    sizes = [int(s) + rng.randrange(65536) for s in sizes]
    return big, sizes


def write_payload(path, size, seed):
    rng = random.Random(seed)
    h1, h256 = hashlib.sha1(), hashlib.sha256()
    left = size
    with open(path, "wb") as f:
        while left:
            n = min(CHUNK, left)
            b = rng.randbytes(n)
            h1.update(b)
            h256.update(b)
            f.write(b)
            left -= n
    return h1.digest(), h256.digest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fixtures", required=True, help="folder holding category-*.xml")
    ap.add_argument("--total-mib", type=float, default=3072)
    ap.add_argument("--subset-mib", type=float, default=1024)
    ap.add_argument("--small", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    total = int(a.total_mib * MIB)
    scale = a.total_mib / 3072
    big, small = plan_sizes(rng, total, a.small, scale)

    out = a.out
    pay = os.path.join(out, "payloads")
    sub = os.path.join(out, "payloads-subset")
    up = os.path.join(out, "upstream")
    for d in (pay, sub, up):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    cats = sorted(glob.glob(os.path.join(a.fixtures, "category-*.xml")))
    if not cats:
        sys.exit(f"make_payloads: no category-*.xml in {a.fixtures}")
    for c in cats:
        shutil.copyfile(c, os.path.join(up, os.path.basename(c)))

    # Large files first in the list: the first one goes into the subset.
    sizes = big + small
    files = []
    subset_target = int(a.subset_mib * MIB)
    subset_bytes = 0
    for i, size in enumerate(sizes):
        kb = 5040000 + i
        tmp = os.path.join(pay, f".payload-{i:03d}.tmp")
        sha1, sha256 = write_payload(tmp, size, a.seed * 1_000_003 + i)
        ext = "msu" if i < len(big) else ("cab" if i % 3 else "psf")
        name = f"windows10.0-kb{kb}-x64_{sha1.hex()}.{ext}"
        os.rename(tmp, os.path.join(pay, name))
        in_subset = (i == 0) or (i >= len(big) and subset_bytes < subset_target)
        if in_subset:
            os.link(os.path.join(pay, name), os.path.join(sub, name))
            subset_bytes += size
        files.append({"name": name, "size": size, "sha1": sha1, "sha256": sha256, "kb": kb, "subset": in_subset})
        print(f"  payload {i + 1}/{len(sizes)}: {size / MIB:.1f} MiB", file=sys.stderr)

    # One update per file; every fifth update carries two files.
    updates = []
    i = 0
    while i < len(files):
        take = 2 if (len(updates) % 5 == 4 and i + 1 < len(files)) else 1
        updates.append(files[i:i + take])
        i += take
    with open(os.path.join(out, "payloads.tsv"), "w") as tsv:
        tsv.write("name\tsize\tsha1\tsha256\tin_subset\tupdate_id\n")
        for n, group in enumerate(updates):
            uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            kb = group[0]["kb"]
            month = f"2024-{n % 12 + 1:02d}"
            created = f"{month}-09T18:00:00.000Z"
            fx = "".join(
                FILE_XML.format(
                    sha1=base64.b64encode(f["sha1"]).decode(),
                    sha256=base64.b64encode(f["sha256"]).decode(),
                    name=f["name"],
                    size=f["size"],
                    modified=f"{month}-05T22:16:41Z",
                )
                for f in group
            )
            doc = UPDATE_XML.format(
                id=uid, kb=kb, n=n + 1, month=month, created=created, files=fx,
                security=SECURITY, win10=WIN10, ubr=3930 + n,
            )
            with open(os.path.join(up, f"update-bench-{n:03d}-kb{kb}.xml"), "w", encoding="utf-8") as f:
                f.write(doc)
            for f in group:
                tsv.write(f"{f['name']}\t{f['size']}\t{f['sha1'].hex()}\t{f['sha256'].hex()}\t{int(f['subset'])}\t{uid}\n")

    print(json.dumps({
        "files": len(files),
        "bytes": sum(f["size"] for f in files),
        "large_files": [f["size"] for f in files[:len(big)]],
        "largest_small_file": max(small),
        "smallest_file": min(sizes),
        "subset_files": sum(f["subset"] for f in files),
        "subset_bytes": subset_bytes,
        "updates": len(updates),
    }))


if __name__ == "__main__":
    main()
