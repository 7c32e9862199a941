"""A null-modem cable in software: two pseudo-terminals whose masters are bridged.

Each end is a real tty path (``/dev/pts/N``) that pyserial opens like a USB
RS-485 adapter, so a pymodbus serial server and the gateway's serial client
talk RTU to each other through the kernel's tty layer. Nothing to install
(socat does the same).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty


class SerialPair:
    def __init__(self) -> None:
        self._masters: list[int] = []
        self._slaves: list[int] = []
        self.paths: list[str] = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line editing, before anyone opens it
            self._masters.append(master)
            self._slaves.append(slave)
            self.paths.append(os.ttyname(slave))
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._bridge, name="serial-pair", daemon=True)

    def _bridge(self) -> None:
        a, b = self._masters
        other = {a: b, b: a}
        while True:
            ready, _, _ = select.select([a, b, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # the far end closed and reopened: nothing to carry
                    continue
                with contextlib.suppress(OSError):
                    os.write(other[fd], data)

    def __enter__(self) -> SerialPair:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(5)
        for fd in (*self._masters, *self._slaves, self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)
