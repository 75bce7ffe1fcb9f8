#!/usr/bin/env python3
"""Write the seed corpora in fuzz/corpus/<target>/ (run from the repo root).

Each seed is a small valid case or a near miss for one harness; the byte
layouts follow the input format described at the top of fuzz/fuzz_<target>.c.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- queue: mode, log2(max), chain-bound selector, [size/addrs], desc
# table (size * 16), avail flags/idx/ring, then events.
NEXT, WRITE, INDIRECT = 1, 2, 4


def desc(addr, ln, flags, nxt):
    return struct.pack("<QIHH", addr, ln, flags, nxt)


def queue_seed(descs, heads, idx=None, events=b"\x00" * 8, mode=0, size=16):
    table = b"".join(descs).ljust(16 * size, b"\0")
    ring = b"".join(struct.pack("<H", h) for h in heads).ljust(2 * size, b"\0")
    avail = struct.pack("<HH", 0, len(heads) if idx is None else idx) + ring
    return bytes([mode, size.bit_length() - 1, 1]) + table + avail + events


req = [desc(0x4000, 16, NEXT, 1), desc(0x5000, 512, WRITE | NEXT, 2),
       desc(0x6000, 1, WRITE, 0)]
put("queue", "valid-3-desc", queue_seed(req, [0]))
put("queue", "two-chains-inflight",
    queue_seed(req + [desc(0x7000, 16, NEXT, 4), desc(0x7100, 1, WRITE, 0)],
               [0, 3], events=b"\x02\x02\x03\x00\x03\x00"))
put("queue", "cycle", queue_seed([desc(0x4000, 16, NEXT, 1),
                                  desc(0x4100, 16, NEXT, 0)], [0]))
put("queue", "indirect", queue_seed([desc(0x4000, 32, INDIRECT, 0)], [0]))
put("queue", "next-out-of-range", queue_seed([desc(0x4000, 16, NEXT, 99)], [0]))
put("queue", "head-out-of-range", queue_seed(req, [77]))
put("queue", "avail-ahead", queue_seed(req, [0], idx=100))
put("queue", "read-after-write", queue_seed(
    [desc(0x4000, 16, WRITE | NEXT, 1), desc(0x4100, 16, 0, 0)], [0]))
put("queue", "outside-ram", queue_seed([desc(0xfff0, 0x20, 0, 0)], [0]))
put("queue", "wrap-len", queue_seed([desc(0xffffffffffffff00, 0x200, 0, 0)], [0]))
put("queue", "zero-len", queue_seed([desc(0x4000, 0, NEXT, 1),
                                     desc(0x4000, 0, 0, 0)], [0]))
put("queue", "same-head-twice", queue_seed(req, [0, 0],
                                           events=b"\x02\x02\x02"))
# Raw ring addresses (mode bit 1): misaligned desc.
put("queue", "misaligned-rings",
    bytes([2, 4, 1]) + struct.pack("<QQQ", 0x1008, 0x2000, 0x3000))
put("queue", "size-not-pow2",
    bytes([1, 4, 1]) + struct.pack("<H", 12))

# ---- blk: one request (fuzz_blkreq.h), phase-1 capacity/flags, phase-2
# mode byte. shape bits: 0-2 type, 3 raw sector, 4 raw bufs, 5 split header,
# 6 perturb lengths, 7 odd status.
def blkreq(shape, sector=0, k=0x01, extra=b""):
    return bytes([shape, sector, k]) + extra


ph = b"\x00\x04"  # capacity = disk, flags: FLUSH negotiated
for mode, mname in ((0, "ro"), (1, "rw"), (2, "cow")):
    put("blk", "read-1-sector-" + mname, blkreq(0, 3, 0x01) + ph + bytes([mode | 8]))
    put("blk", "write-2-sectors-" + mname, blkreq(1, 5, 0x12) + ph + bytes([mode | 8]))
put("blk", "read-sync", blkreq(0, 3, 0x21) + ph + b"\x05")
put("blk", "read-past-end", blkreq(0, 127, 0x02) + ph + b"\x01")
put("blk", "big-sector", bytes([8]) + struct.pack("<Q", 2**64 - 1) + b"\x01" + ph + b"\x01")
put("blk", "flush", blkreq(2) + ph + b"\x09")
put("blk", "flush-not-negotiated", blkreq(2) + b"\x00\x00" + b"\x01")
put("blk", "get-id", blkreq(3) + ph + b"\x01")
put("blk", "get-id-short", bytes([3 | 0x40, 0, 0, 10, 16]) + ph + b"\x01")
put("blk", "discard", blkreq(5) + ph + b"\x01")
put("blk", "split-header", bytes([0x20, 1, 0x01, 7]) + ph + b"\x01")
put("blk", "not-512", bytes([0x40, 1, 0x01, 0x10, 0x00, 16]) + ph + b"\x01")
put("blk", "wrong-direction", blkreq(0, 1, 0x81) + ph + b"\x01")
put("blk", "no-status", bytes([0x80, 1, 0x01, 0]) + ph + b"\x01")

# ---- mmio: mode byte, then ops (o % 10): 0 write, 1 read, 2 kick,
# 3 bring-up, 4-6 request, 7 poke, 8 reset, 9 int ack.
up = b"\x13\x08"  # bring-up with FLUSH, queue size 256
put("mmio", "bringup-read", b"\x01" + up + b"\x04" + blkreq(0, 2, 0x31) + b"\x09")
put("mmio", "bringup-write-flush", b"\x01" + up + b"\x04" + blkreq(1, 2, 0x22)
    + b"\x04" + blkreq(2) + b"\x09")
put("mmio", "ro-write", b"\x00" + up + b"\x04" + blkreq(1, 0, 0x01))
put("mmio", "cow-write-read", b"\x02" + up + b"\x04" + blkreq(1, 4, 0x02)
    + b"\x04" + blkreq(0, 3, 0x04))
put("mmio", "batch-no-kick", b"\x05" + up + (b"\x14" + blkreq(0, 1, 0x01)) * 6
    + b"\x02")
put("mmio", "bad-width", b"\x01" + b"\x00\x70\x00\x01\x01" + b"\x00" * 7
    + b"\x01\x00\x01\x05")
put("mmio", "queue-sel-bad", b"\x01" + b"\x10\x30\x00\x00" + b"\x07\x00\x00\x00"
    + b"\x00" * 4 + b"\x11\x44\x00\x00" + up)
put("mmio", "reset-mid-io", b"\x01" + up + b"\x14" + blkreq(0, 1, 0x01)
    + b"\x08" + b"\x02")
put("mmio", "poke-ring", b"\x01" + up + b"\x07" + struct.pack("<I", 0x1000 + 4096 + 2)
    + b"\xff" + b"\x04" + blkreq(0, 1, 0x01))
put("mmio", "config-read", b"\x01" + b"\x01\x00\x01\x05" + b"\x01\x08\x01\x03")

# ---- elf: a tiny vmlinux-shaped ELF64 x86-64 ET_EXEC.
def elf(etype=2, machine=62, phnum=1, paddr=0x2000, filesz=None, memsz=None,
        entry=None, phoff=64, trunc=None):
    code = b"\xf4" * 16  # hlt
    off = 64 + 56
    fs = off + len(code) if filesz is None else filesz
    ms = fs + 0x100 if memsz is None else memsz
    ent = paddr + off if entry is None else entry
    eh = (b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
          + struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, ent, phoff, 0, 0,
                        64, 56, phnum, 0, 0, 0))
    ph = struct.pack("<IIQQQQQQ", 1, 7, 0, paddr, paddr, fs, ms, 0x1000)
    b = eh + ph + code
    return b[:trunc] if trunc else b


put("elf", "valid", elf())
put("elf", "truncated-phdr", elf(trunc=100))
put("elf", "not-exec", elf(etype=3))
put("elf", "wrong-machine", elf(machine=3))
put("elf", "no-phdrs", elf(phnum=0))
put("elf", "too-many-phdrs", elf(phnum=65))
put("elf", "below-min", elf(paddr=0x800))
put("elf", "past-ram", elf(paddr=0x3ff00))
put("elf", "filesz-gt-memsz", elf(memsz=10))
put("elf", "entry-outside", elf(entry=0x90000))
put("elf", "phoff-huge", elf(phoff=2**64 - 8))
put("elf", "filesz-huge", elf(filesz=2**64 - 1, memsz=2**64 - 1))

# ---- jobchan: type, le16 length, payload.
def frame(t, payload):
    return bytes([t]) + struct.pack("<H", len(payload)) + payload


put("jobchan", "two-frames", frame(1, b"hello\n") + frame(2, b"oops\n"))
put("jobchan", "max-frame", frame(1, b"x" * 4096))
put("jobchan", "too-long", bytes([1]) + struct.pack("<H", 4097) + b"x" * 8)
put("jobchan", "zero-len", bytes([2, 0, 0]) + frame(1, b"a"))
put("jobchan", "bad-type", frame(7, b"a"))
put("jobchan", "exit-frame", frame(1, b"x") + frame(3, b"\x07"))
put("jobchan", "long-status", frame(4, b"\x01\x01"))
put("jobchan", "split", frame(1, b"abc")[:4])

# ---- manifest
put("manifest", "minimal", b"mvm-manifest 1\nexec /bin/sh\n")
put("manifest", "full", b"""# job
mvm-manifest 1
exec /usr/local/bin/hello
arg hello
arg from the manifest\r
arg
env GREETING=hello
env PATH=/bin
workdir /tmp
user 1000:1000
mount tmpfs /tmp tmpfs rw
mount /dev/vdb /data ext4 ro
""")
put("manifest", "crlf", b"mvm-manifest 1\r\nexec /bin/sh\r\n")
put("manifest", "relative-exec", b"mvm-manifest 1\nexec bin/sh\n")
put("manifest", "dup-env", b"mvm-manifest 1\nexec /a\nenv A=1\nenv A=2\n")
put("manifest", "bad-user", b"mvm-manifest 1\nexec /a\nuser 4294967295:0\n")
put("manifest", "bad-mount", b"mvm-manifest 1\nexec /a\nmount a b c rw\n")
put("manifest", "nul", b"mvm-manifest 1\nexec /a\0\n")
put("manifest", "version-2", b"mvm-manifest 2\nexec /a\n")
put("manifest", "many-envs", b"mvm-manifest 1\nexec /a\nenv PATH=/bin\nenv HOME=/\n"
    + b"".join(b"env V%d=\n" % i for i in range(1022)))

# ---- regressions: inputs that failed an oracle, kept until fixed and after.
REG = os.path.join(os.path.dirname(OUT), "regressions")


def regression(target, name, data):
    d = os.path.join(REG, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# 1023 env lines without PATH/HOME: manifest_parse() accepts them and adds
# both defaults (envc = 1025), manifest_format() writes 1025 env lines, and
# parsing that back fails "too many env lines (limit 1024)".
regression("manifest", "format-envc-over-limit", b"mvm-manifest 1\nexec /a\n"
           + b"".join(b"env V%d=\n" % i for i in range(1023)))

# ---- jobargs: token (or command line) NUL raw argument
put("jobargs", "simple", b"hello%20world\0hello world")
put("jobargs", "empty-arg", b"%00\0")
put("jobargs", "cmdline", b"console=ttyS0 quiet -- a%20b c \"d e\"\n\0x\"y")
put("jobargs", "bad-escape", b"a%2\0%")
put("jobargs", "nul-inside", b"a%00b\0\xff\x80")
put("jobargs", "lowercase-hex", b"%2f%2F\0/")

# ---- cmdline: flags (bit0 pvm, bits1-3 ndevs, bit3 extra), le16 outlen,
# devs, [extra], args as (len, bytes).
def cmdline(flags, outlen, devs=(), extra=None, args=()):
    b = bytes([flags]) + struct.pack("<H", outlen)
    for base, size, irq in devs:
        b += struct.pack("<QII", base, size, irq)
    if extra is not None:
        b += bytes([len(extra)]) + extra
    for a in args:
        b += bytes([len(a)]) + a
    return b


dev = [(0xd0000000, 0x1000, 5)]
put("cmdline", "typical", cmdline(0x02, 2048, dev, args=[b"/bin/sh", b"-c", b"echo hi"]))
put("cmdline", "pvm-extra", cmdline(0x0b, 2048, dev, b"loglevel=7", [b""]))
put("cmdline", "tiny-buffer", cmdline(0x00, 10, args=[b"a"]))
put("cmdline", "exact-fit", cmdline(0x00, 119, args=[b"x y"]))
put("cmdline", "many-args", cmdline(0x00, 4000, args=[b"%d" % i for i in range(33)]))
put("cmdline", "quotes", cmdline(0x00, 2048, args=[b'"--"', b"--", b"\xff\x01"]))


# ---- snapfile: mode byte, then a whole file (0) or a body (1); sections
# are { u32 type, u32 index, u32 len, u32 pad } + data padded to 8.
def section(t, i, data):
    return struct.pack("<IIII", t, i, len(data), 0) + data.ljust((len(data) + 7) & ~7, b"\0")


body = section(1, 0, b"/img\0") + section(8, 0, b"r" * 144) + section(13, 0, b"")
put("snapfile", "body-three-sections", b"\x01" + body)
put("snapfile", "body-overrun", b"\x01" + struct.pack("<IIII", 8, 0, 1000, 0))
put("snapfile", "raw-magic-only", b"\x00MVMSNAP\n")
