#!/usr/bin/env python3
"""Host-side peers for the monitor's end-to-end tests (tests/e2e/monitor.sh).

  vsock_peer.py upper SOCKET          serve SOCKET: reply with each connection's
                                      bytes upper-cased, until killed
  vsock_peer.py tcpecho PORTFILE      TCP echo on 127.0.0.1, port written to
                                      PORTFILE, until killed
  vsock_peer.py inbound CONTROL PORT MSG TIMEOUT
                                      retry "CONNECT PORT" on the VM's control
                                      socket until the guest listens; send MSG,
                                      print the "OK" line and the guest's reply
"""
import os
import socket
import sys
import threading
import time


def upper(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    while True:
        c, _ = s.accept()
        data = b''
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        c.sendall(data.upper())
        c.close()


def tcpecho(portfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    s.listen(8)
    with open(portfile + '.tmp', 'w') as f:
        f.write('%d\n' % s.getsockname()[1])
    os.rename(portfile + '.tmp', portfile)

    def serve(c):
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b'echo:' + b)
        c.close()
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def inbound(control, port, msg, timeout):
    deadline = time.time() + float(timeout)
    while time.time() < deadline:
        try:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(control)
            c.sendall(b'CONNECT %s\n' % port.encode())
            f = c.makefile('rb')
            line = f.readline()
            if not line.startswith(b'OK '):
                c.close()
                time.sleep(0.5)
                continue
            c.sendall(msg.encode() + b'\n')
            c.shutdown(socket.SHUT_WR)
            reply = f.read()
            sys.stdout.write(line.decode())
            sys.stdout.write(reply.decode())
            return 0
        except OSError:
            time.sleep(0.5)
    print('inbound: no guest listener on port %s' % port)
    return 1


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'upper':
        upper(sys.argv[2])
    elif cmd == 'tcpecho':
        tcpecho(sys.argv[2])
    elif cmd == 'inbound':
        sys.exit(inbound(*sys.argv[2:6]))
    else:
        sys.exit(__doc__)
