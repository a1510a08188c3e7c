#!/usr/bin/env python3
# Runs `age -d -o OUT IN` on a pseudo-terminal (age reads passphrases from a terminal only),
# typing AGE_TEST_PASSPHRASE at its prompt: the Go implementation of age as an independent
# check that Harbour's exports open with the common tools. Used by tests/it/export.rs.
# Usage: age_tty.py IN OUT
import os, pty, sys

pid, fd = pty.fork()
if pid == 0:
    os.execvp("age", ["age", "-d", "-o", sys.argv[2], sys.argv[1]])
out = b""
sent = False
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not sent and b"passphrase" in out.lower():
        os.write(fd, os.environ["AGE_TEST_PASSPHRASE"].encode() + b"\n")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stderr.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
