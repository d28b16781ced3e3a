#!/usr/bin/env python3
"""A connection-level round-robin TCP balancer for benchmarks (docs/BENCHMARKS.md, "Two
collectors sharing one database"), as HAProxy's `mode tcp` + `balance roundrobin` would be:
accepts on 127.0.0.1:LISTEN_PORT and hands connection n to BACKEND_PORT n mod k (all on
127.0.0.1), copying bytes in the kernel (os.splice, Linux, Python 3.10+), two threads per
connection. Loopback only; for measurements, not for production.

Usage: tcp-round-robin.py LISTEN_PORT BACKEND_PORT [BACKEND_PORT...]
"""
import itertools
import os
import socket
import sys
import threading


def pump(src, dst):
    r, w = os.pipe()
    try:
        while True:
            n = os.splice(src.fileno(), w, 1 << 20)
            if n == 0:
                break
            while n:
                n -= os.splice(r, dst.fileno(), n)
    except OSError:
        pass
    finally:
        os.close(r)
        os.close(w)
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    listen, backends = int(sys.argv[1]), [int(p) for p in sys.argv[2:]]
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen))
    server.listen(128)
    for port in itertools.cycle(backends):
        client, _ = server.accept()
        upstream = socket.create_connection(("127.0.0.1", port))
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        print(f"connection -> {port}", flush=True)
        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()


if __name__ == "__main__":
    main()
