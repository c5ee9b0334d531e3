"""The emulator tier's process and socket checks, against /proc's real formats and real processes."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from scripts.emulator import Emulator, Listener, _address, alive, children, listening, proc_net_sockets

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:B453 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 00000000:22B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0
   2: 0100007F:B453 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
"""  # noqa: E501 - /proc/net lines as the kernel writes them
TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 100 0 0 10 0
"""  # noqa: E501
UDP = """   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3001 2 0000000000000000 0
"""  # noqa: E501


def test_proc_net_tables_are_read_as_listening_addresses():
    assert proc_net_sockets(TCP, "tcp") == {
        "1001": Listener("tcp", "127.0.0.1", 46163),
        "1002": Listener("tcp", "0.0.0.0", 8883),
    }  # the established connection (st 01) is no listener
    assert proc_net_sockets(TCP6, "tcp6") == {
        "2001": Listener("tcp6", "0000:0000:0000:0000:0000:0000:0000:0000", 443),
        "2002": Listener("tcp6", "0000:0000:0000:0000:0000:0000:0000:0001", 80),
    }
    assert proc_net_sockets(UDP, "udp") == {"3001": Listener("udp", "0.0.0.0", 5353)}
    assert _address("0100007F") == "127.0.0.1"


def test_a_real_listening_socket_of_this_process_is_found_with_its_port():
    with socket.socket() as server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram:
        server.bind(("127.0.0.1", 0))
        server.listen()
        datagram.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        found = listening({os.getpid()})
        assert Listener("tcp", "127.0.0.1", port) in found
        assert Listener("udp", "127.0.0.1", datagram.getsockname()[1]) in found
    assert Listener("tcp", "127.0.0.1", port) not in listening({os.getpid()})


# a "server" whose worker ignores SIGTERM, as a busy Lambda worker of ministack may
STUBBORN = """
import signal, subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(600)"],
    stdout=subprocess.PIPE)
worker.stdout.readline()
print(worker.pid, flush=True)
time.sleep(600)
"""


def test_stop_ends_the_server_and_a_worker_that_ignores_sigterm(tmp_path: Path):
    server = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert server.stdout is not None
        worker = int(server.stdout.readline())
        emulator = Emulator(tmp_path, port=0, process=server, grace=1.0)
        assert emulator.pids() == {server.pid, worker}
        assert worker in children(server.pid)
        started = time.monotonic()
        assert emulator.stop() == []
        assert not alive(server.pid) and not alive(worker)
        assert time.monotonic() - started < 30
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()
