"""Fault injection for the lakeFS stand-in: answer chosen requests with an error status, a reset or a stall.

A fault matches requests by method and a regex searched in the request path, and applies to the next `times`
matching requests; after that the stand-in answers them normally again.
"""

import re
import socket
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

STATUS_FAULTS = {"429": "too many requests", "500": "internal server error", "503": "service unavailable"}
FAULT_KINDS = (*STATUS_FAULTS, "reset", "stall")


@dataclass
class Fault:
    method: str
    path_pattern: re.Pattern[str]
    kind: str
    remaining: int
    stall_s: float

    @property
    def status(self) -> int | None:
        """The HTTP status this fault answers with; None when it withholds the response."""
        return int(self.kind) if self.kind in STATUS_FAULTS else None

    @property
    def message(self) -> str:
        return STATUS_FAULTS.get(self.kind, "")


class FaultInjector:
    """Thread-safe list of pending faults, consulted once per request by the stand-in's dispatch."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def inject(self, method: str, path_pattern: str, kind: str, times: int, stall_s: float) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self._faults.append(Fault(method.upper(), re.compile(path_pattern), kind, times, stall_s))

    def claim(self, method: str, path: str) -> Fault | None:
        """The first pending fault matching this request, with one of its uses spent."""
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.method == method and fault.path_pattern.search(path):
                    fault.remaining -= 1
                    return fault
        return None

    def withhold_response(self, fault: Fault, handler: BaseHTTPRequestHandler) -> bool:
        """Act out a reset or stall; True when the request should be answered normally afterwards."""
        if fault.kind == "reset":
            reset_connection(handler)
            return False
        # A stopping stand-in drops stalled requests, so no handler thread outlives the test.
        return not self._stopping.wait(fault.stall_s)

    def stop(self) -> None:
        self._stopping.set()


def reset_connection(handler: BaseHTTPRequestHandler) -> None:
    """Close the socket with SO_LINGER 0, so the client sees a TCP reset instead of a response."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # The handler's rfile/wfile keep the socket open until the handler finishes; then the RST goes out.
    handler.connection.close()
    handler.close_connection = True
