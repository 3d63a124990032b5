#!/usr/bin/env python3
"""The hostile-input suite: every case under cases/<class>/ is one input a
hostile user or a broken peer could give faultline, with what must happen.

  cases/*/NAME.json   a command line (has "args") or a data-path case (has "link")
  cases/*/NAME.sh     a script: $FAULTLINE is the binary, $WORK a scratch
                      directory; exit 0 when the defect is absent, 77 when
                      this machine cannot run it (said on its last line)

Adding a case is adding a file. After a data-path case the proxy must still be
running and a second link of the same protocol must still carry a round trip.
usage: run.py --faultline PATH [--only SUBSTRING] [--list]
"""
import argparse
import base64
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
# A sanitizer build (FAULTLINE_SANITIZED=1, set by CMake) runs several times
# slower: cases of thousands of connections take a fifth of them there, and
# the control round trip waits longer. Its runtimes need descriptors of their
# own, so script cases that exhaust them skip (exit 77).
SANITIZED = os.environ.get("FAULTLINE_SANITIZED") == "1"
ROUND_TRIP_SECONDS = 20 if SANITIZED else 5


class CaseFailed(Exception):
    pass


class CaseSkipped(Exception):
    pass


SKIPPED = 77  # a script case's exit status when this machine cannot run it (no root, say)


def free_port():
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def expand(value, subst):
    """{work} and {port} in strings, recursively."""
    if isinstance(value, str):
        for key, text in subst.items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, list):
        return [expand(v, subst) for v in value]
    if isinstance(value, dict):
        return {k: expand(v, subst) for k, v in value.items()}
    return value


def build_bytes(spec):
    """Bytes from a spec: a string (sent as UTF-8), or a list of strings and
    {"repeat": TEXT, "times": N} parts, or {"http_request"/"http_response": ...}."""
    if spec is None:
        return b""
    if isinstance(spec, str):
        return spec.encode()
    if isinstance(spec, list):
        return b"".join(build_bytes(p) for p in spec)
    if "repeat" in spec:
        return build_bytes(spec["repeat"]) * int(spec["times"])
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    if "http_post" in spec:  # a well-formed POST around a body
        body = build_bytes(spec["http_post"])
        head = (f"POST {spec.get('path', '/mcp')} HTTP/1.1\r\nHost: {LOOPBACK}\r\n"
                "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        return head.encode() + body
    if "http_ok" in spec:  # a well-formed 200 response around a body
        body = build_bytes(spec["http_ok"])
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body
    raise CaseFailed(f"unknown bytes spec {spec!r}")


# ---------------------------------------------------------------- peers

class Upstream:
    """A misbehaving (or well-behaved) server on loopback, on a thread."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        self.stop = False
        if behaviour == "refuse":
            return  # bound, never listening: connections are refused, and no other socket gets the port
        self.sock.listen(512)
        self.sock.settimeout(0.2)
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self):
        self.stop = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        b = self.behaviour
        conn.settimeout(30)
        try:
            if b == "echo":
                while data := conn.recv(65536):
                    conn.sendall(data)
            elif b == "mcp_http":
                serve_mcp_http(conn)
            elif b == "ws_echo":
                serve_ws_echo(conn)
            elif isinstance(b, dict) and "ws_push" in b:  # a message to the client right after the upgrade
                serve_ws_echo(conn, push=build_bytes(b["ws_push"]))
            elif b == "close":
                conn.recv(65536)
            elif b == "reset":
                conn.recv(65536)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif b == "garbage":
                conn.recv(65536)
                conn.sendall(b"\x00\xff garbage \x16\x03\x01 not HTTP at all\r\n\r\n" * 20)
            elif isinstance(b, dict) and "reply" in b:
                read_http_request(conn)
                conn.sendall(build_bytes(b["reply"]))
                if b.get("then") == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif b.get("then") != "close":
                    while conn.recv(65536):
                        pass
        except OSError:
            pass
        finally:
            conn.close()


def read_http_request(conn):
    """Reads one request head and its Content-Length body; returns (head, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return None, None
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(m.group(1)) if m else 0
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return head, body[:length]


def serve_mcp_http(conn):
    """Answers every POSTed JSON-RPC request with an empty result."""
    while True:
        head, body = read_http_request(conn)
        if head is None:
            return
        try:
            msg = json.loads(body)
            reply = json.dumps({"jsonrpc": "2.0", "id": msg.get("id"), "result": {}}, separators=(",", ":")).encode()
        except Exception:  # not JSON, not an object, nested too deep for Python
            reply = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(reply)).encode() + b"\r\n\r\n" + reply)


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def serve_ws_echo(conn, push=None):
    head, _ = read_http_request(conn)
    if head is None:
        return
    key = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)", head).group(1)
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    if push is not None:
        conn.sendall(ws_frame(push, mask=False))
    while True:
        opcode, payload = ws_read(conn)
        if opcode is None or opcode == 8:
            return
        if opcode == 1:
            conn.sendall(ws_frame(payload, mask=False))


def xor_mask(payload, key):
    """RFC 6455 masking, as one big-integer XOR (a byte loop takes seconds for 40 MiB)."""
    n = len(payload)
    if n == 0:
        return b""
    keystream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")).to_bytes(n, "big")


def ws_frame(payload, mask, opcode=1):
    head = bytes([0x80 | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([bit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + xor_mask(payload, key)


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        piece = conn.recv(n - len(data))
        if not piece:
            return None
        data += piece
    return data


def ws_read(conn):
    head = recv_exact(conn, 2)
    if head is None:
        return None, None
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(conn, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(conn, 8))[0]
    key = recv_exact(conn, 4) if head[1] & 0x80 else None
    payload = recv_exact(conn, n) or b""
    if key:
        payload = xor_mask(payload, key)
    return head[0] & 0x0F, payload


def ws_handshake(port, path="/"):
    conn = socket.create_connection((LOOPBACK, port), timeout=ROUND_TRIP_SECONDS)
    key = base64.b64encode(os.urandom(16))
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n".encode()
                 + b"Sec-WebSocket-Key: " + key + b"\r\n\r\n")
    data = b""
    while not data.endswith(b"\r\n\r\n"):  # a byte at a time: a message may follow the 101 at once
        piece = conn.recv(1)
        if not piece:
            raise CaseFailed("websocket handshake: connection closed")
        data += piece
    if not data.startswith(b"HTTP/1.1 101"):
        raise CaseFailed("websocket handshake: " + data.split(b"\r\n")[0].decode(errors="replace"))
    return conn


def round_trip(protocol, port):
    """One request and its answer through a link; raises CaseFailed when it fails."""
    try:
        if protocol == "tcp":
            with socket.create_connection((LOOPBACK, port), timeout=ROUND_TRIP_SECONDS) as c:
                c.sendall(b"ping\n")
                if recv_exact(c, 5) != b"ping\n":
                    raise CaseFailed("control round trip: echo did not come back")
        elif protocol == "http":
            with socket.create_connection((LOOPBACK, port), timeout=ROUND_TRIP_SECONDS) as c:
                c.sendall(build_bytes({"http_post": '{"jsonrpc":"2.0","id":7,"method":"ping"}'}))
                data = b""
                while b'"id":7' not in data:
                    piece = c.recv(65536)
                    if not piece:
                        break
                    data += piece
                if not data.startswith(b"HTTP/1.1 200") or b'"id":7' not in data:
                    raise CaseFailed("control round trip: " + data[:80].decode(errors="replace"))
        elif protocol == "websocket":
            c = ws_handshake(port)
            with c:
                c.sendall(ws_frame(b'{"jsonrpc":"2.0","id":7,"method":"ping"}', mask=True))
                opcode, payload = ws_read(c)
                if opcode != 1 or b'"id":7' not in payload:
                    raise CaseFailed(f"control round trip: got opcode {opcode}")
    except OSError as e:
        raise CaseFailed(f"control round trip on the {protocol} link: {e}") from None


CONTROL_UPSTREAM = {"tcp": "echo", "http": "mcp_http", "websocket": "ws_echo"}


# ---------------------------------------------------------------- case kinds

def finish(proc, timeout):
    """What a case's process printed once it exited; its whole group is killed when it hangs."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise CaseFailed(f"still running after {timeout} s (hung)") from None


def run_cli_case(case, binary, work, timeout):
    subst = {"work": str(work), "port": str(free_port())}
    for name, content in case.get("files", {}).items():
        (work / name).write_text(expand(content, subst))
    args = expand(case["args"], subst)
    nofile = case.get("nofile")
    if nofile and SANITIZED:
        raise CaseSkipped("sanitizer runtimes need descriptors of their own")

    def limits():
        os.setsid()
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.Popen([binary, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=limits, cwd=work)
    out, err = finish(proc, timeout)
    err_text = err.decode(errors="replace")
    first = err_text.strip().splitlines()[:3]
    if proc.returncode < 0:
        raise CaseFailed(f"died of signal {-proc.returncode}; stderr: {' | '.join(first)}")
    if proc.returncode != case["exit"]:
        raise CaseFailed(f"exit {proc.returncode}, want {case['exit']}; stderr: {' | '.join(first)}")
    pattern = expand(case.get("stderr", ""), subst)
    if pattern and not re.search(pattern, err_text):
        raise CaseFailed(f"stderr lacks /{pattern}/: {' | '.join(first)}")
    if case["exit"] != 0 and len(err_text.strip().splitlines()) > 2:
        raise CaseFailed(f"the error is not short ({len(err_text.splitlines())} lines): {' | '.join(first)}")


def start_proxy(binary, links, work, extra=(), soft_nofile=None):
    config = work / "links.json"
    config.write_text(json.dumps(links))
    events = work / "events.jsonl"
    err = open(work / "proxy.err", "wb")
    def limits():  # the soft limit a user's shell usually gives (the hard one stays)
        if soft_nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft_nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    proc = subprocess.Popen([binary, "proxy", "--config", str(config), "--events", str(events),
                             "--threads", "2", *extra],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                            preexec_fn=limits)
    deadline = time.monotonic() + 10
    ports = [int(l["listen"].rsplit(":", 1)[1]) for l in links]
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CaseFailed(f"proxy exited {proc.returncode} at start: {(work / 'proxy.err').read_text()[:300]}")
        try:
            for p in ports:
                socket.create_connection((LOOPBACK, p), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise CaseFailed("proxy did not start listening within 10 s")


def send_input(case, port):
    """Sends the case's bytes on `connections` connections; returns what the first one got back."""
    payload = build_bytes(case.get("send"))
    count = int(case.get("connections", 1))
    if SANITIZED and count > 1000:
        count //= 5
    vanish = case.get("vanish", False)  # close right after sending, without reading
    wait = float(case.get("read_seconds", 3))
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection((LOOPBACK, port), timeout=10)
        except ConnectionResetError:
            continue  # the link may reset a client at once (an upstream that refuses): what counts is what follows
        except OSError as e:
            raise CaseFailed(f"connect to the link: {e}") from None
        socks.append(s)
        if payload:
            s.settimeout(10)
            try:
                s.sendall(payload)
            except OSError:
                pass  # the link may refuse the input mid-way; what it answered is read below
        if vanish:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
    if case.get("hold") and payload:  # every connection, still open, answers
        silent = 0
        for s in socks:
            s.settimeout(wait)
            try:
                if not s.recv(len(payload)):
                    silent += 1
            except OSError:
                silent += 1
        if silent or len(socks) < count:
            for s in socks:
                s.close()
            raise CaseFailed(f"{silent + count - len(socks)} of {count} connections held open got no answer")
    answer = b""
    if socks and not vanish:
        s = socks[0]
        s.settimeout(0.5)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                piece = s.recv(65536)
            except socket.timeout:
                if answer:
                    break
                continue
            except OSError:
                break
            if not piece:
                break
            answer += piece
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    return answer


def ws_exchange(case, port):
    """Upgrades through the link, sends the case's message (if any), returns the first message back."""
    wait = float(case.get("read_seconds", 3))
    try:
        c = ws_handshake(port)
    except OSError as e:
        raise CaseFailed(f"websocket upgrade through the link: {e}") from None
    with c:
        if case.get("ws_send") is not None:
            try:
                c.sendall(ws_frame(build_bytes(case["ws_send"]), mask=True))
            except OSError:
                return b""
        c.settimeout(wait)
        try:
            opcode, payload = ws_read(c)
        except (OSError, TypeError, struct.error):
            return b""
        return payload or b""


def run_wire_case(case, binary, work, timeout):
    protocol = case["link"].get("protocol", "tcp")
    behaviour = case.get("upstream", "echo")
    victim_up = Upstream(behaviour)
    control_up = Upstream(CONTROL_UPSTREAM[protocol])
    victim_port, control_port = free_port(), free_port()
    links = [
        dict(case["link"], name="victim", listen=f"{LOOPBACK}:{victim_port}", upstream=f"{LOOPBACK}:{victim_up.port}"),
        {"name": "control", "protocol": protocol, "listen": f"{LOOPBACK}:{control_port}",
         "upstream": f"{LOOPBACK}:{control_up.port}"},
    ]
    proc = start_proxy(binary, links, work, soft_nofile=case.get("soft_nofile"))
    try:
        started = time.monotonic()
        ws = "ws_send" in case or isinstance(behaviour, dict) and "ws_push" in behaviour
        answer = ws_exchange(case, victim_port) if ws else send_input(case, victim_port)
        expect = case.get("expect", {})
        first_line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
        if "status" in expect:
            want = f"HTTP/1.1 {expect['status']}"
            if not first_line.startswith(want):
                raise CaseFailed(f"answer starts {first_line[:60]!r}, want {want!r}")
        if "answer" in expect and not re.search(expect["answer"].encode(), answer):
            raise CaseFailed(f"answer lacks /{expect['answer']}/: {answer[:120]!r}")
        if "not_answer" in expect and re.search(expect["not_answer"].encode(), answer):
            raise CaseFailed(f"answer has /{expect['not_answer']}/: {answer[:120]!r}")
        time.sleep(float(case.get("settle", 0.2)))
        if proc.poll() is not None:
            raise CaseFailed(f"the proxy died (exit {proc.returncode}): "
                             + (work / "proxy.err").read_text(errors="replace").strip()[-300:])
        round_trip(protocol, control_port)
        if case.get("victim_works_after"):
            round_trip(protocol, victim_port)
        if time.monotonic() - started > timeout:
            raise CaseFailed(f"took over {timeout} s")
        if "event" in expect:
            text = (work / "events.jsonl").read_text(errors="replace")
            if not re.search(expect["event"], text):
                raise CaseFailed(f"no event matching /{expect['event']}/")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise CaseFailed("the proxy did not stop within 10 s of SIGTERM") from None
        victim_up.close()
        control_up.close()
    if proc.returncode not in (0, None):
        raise CaseFailed(f"the proxy exited {proc.returncode} on SIGTERM: "
                         + (work / "proxy.err").read_text(errors="replace").strip()[-300:])


def run_script_case(path, binary, work, timeout):
    env = dict(os.environ, FAULTLINE=binary, WORK=str(work))
    proc = subprocess.Popen(["bash", str(path)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, cwd=work)
    out, _ = finish(proc, timeout)
    lines = out.decode(errors="replace").strip().splitlines()
    if proc.returncode == SKIPPED:
        raise CaseSkipped(" | ".join(lines[-1:]))
    if proc.returncode != 0:
        raise CaseFailed(f"exit {proc.returncode}: " + " | ".join(lines[-3:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faultline", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    binary = str(Path(args.faultline).resolve())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # cases open thousands of connections

    cases = sorted(p for p in (HERE / "cases").glob("*/*") if p.suffix in (".json", ".sh"))
    cases = [p for p in cases if args.only in str(p.relative_to(HERE / "cases"))]
    if args.list:
        for p in cases:
            print(p.relative_to(HERE / "cases"))
        return 0
    passed = failed = skipped = 0
    for path in cases:
        name = str(path.relative_to(HERE / "cases").with_suffix(""))
        work = Path(tempfile.mkdtemp(prefix="hostile."))
        started = time.monotonic()
        try:
            if path.suffix == ".sh":
                run_script_case(path, binary, work, timeout=120)
            else:
                case = json.loads(path.read_text())
                timeout = float(case.get("timeout", 20))
                if "args" in case:
                    run_cli_case(case, binary, work, timeout)
                elif "link" in case:
                    run_wire_case(case, binary, work, timeout)
                else:
                    raise CaseFailed("a case needs \"args\" or \"link\"")
            print(f"ok   {name} ({time.monotonic() - started:.1f} s)", flush=True)
            passed += 1
        except CaseSkipped as e:
            print(f"skip {name}: {e}", flush=True)
            skipped += 1
        except (CaseFailed, ValueError, KeyError) as e:
            print(f"FAIL {name}: {e}", flush=True)
            failed += 1
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(f"hostile: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
