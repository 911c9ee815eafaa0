"""Shared by the indexer tests: wallets and vault transactions sent straight to the local
validator (never recorded by the back office, so only the indexer can store them), the indexer
as a real subprocess, and a loopback TCP proxy that cuts or freezes the network to it."""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.compute_budget import set_compute_unit_limit

from tests.localnet import fund_wallet

ROOT = Path(__file__).resolve().parents[2]
MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")


def wait_until(predicate, timeout: float, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {message}")


# ---- chain side ------------------------------------------------------------------------------


@dataclass
class Sent:
    signature: str
    last_valid_block_height: int


class VaultUser:
    """A funded wallet that opens its vault and deposits by itself (what a user's wallet does)."""

    def __init__(self, chain, localnet, tokens: int = 100_000_000):
        from vaults.services.transaction_builder import TransactionBuilder

        self.chain = chain
        self.keypair = Keypair()
        self.owner = str(self.keypair.pubkey())
        self.builder = TransactionBuilder(chain)
        fund_wallet(chain, localnet, self.keypair.pubkey(), tokens=tokens)

    @property
    def vault(self) -> str:
        return str(self.chain.vault_address(self.owner))

    @property
    def token_account(self):
        return self.chain.associated_token_address(self.owner)

    def send(self, instructions) -> Sent:
        built = self.builder.build(instructions, self.keypair.pubkey(), [self.keypair])
        return Sent(self.chain.send(built.transaction), built.last_valid_block_height)

    def send_unsimulated(self, instructions, compute_units: int = 400_000) -> Sent:
        """For transactions meant to fail on chain (the builder would refuse them)."""
        blockhash, last_valid = self.chain.get_latest_blockhash()
        message = MessageV0.try_compile(self.keypair.pubkey(), [set_compute_unit_limit(compute_units), *instructions],
                                        [], blockhash)
        return Sent(self.chain.send(VersionedTransaction(message, [self.keypair])), last_valid)

    def confirm(self, sent: Sent) -> str:
        self.chain.confirm(sent.signature, sent.last_valid_block_height)
        return sent.signature

    def open_vault(self) -> str:
        return self.confirm(self.send([self.chain.initialize_vault_instruction(self.owner)]))

    def deposit_instruction(self, amount: int):
        return self.chain.deposit_instruction(self.owner, amount, self.token_account)

    def deposit(self, amount: int) -> str:
        return self.confirm(self.send([self.deposit_instruction(amount)]))

    def deposit_after_memos(self, amount: int, memos: int = 50, memo_length: int = 8) -> str:
        """One transaction: many memo instructions, then the deposit. The memos' logs fill the
        runtime's 10 KB log limit, so the deposit's own logs (and its `Program data:` line) are
        cut off: "Log truncated"."""
        instructions = [Instruction(MEMO_PROGRAM_ID, b"m%0*d" % (memo_length - 1, i), []) for i in range(memos)]
        return self.confirm(self.send([*instructions, self.deposit_instruction(amount)]))


def newest_program_signature(chain) -> tuple[str, int]:
    newest = chain.get_signatures_for_address(chain.program_id, limit=1)[0]
    return newest.signature, newest.slot


def start_cursor_at_chain_head(chain) -> None:
    """The session's validator carries every earlier test's transactions; the indexer under test
    starts after them (those tests' rows were flushed, so their vaults are not ours to check)."""
    from monitoring.indexer.store import cursor_name
    from monitoring.models import IndexerCursor

    signature, slot = newest_program_signature(chain)
    IndexerCursor.objects.update_or_create(name=cursor_name(chain), defaults={"last_signature": signature,
                                                                              "last_slot": slot})


# ---- the indexer as a process ------------------------------------------------------------------


class IndexerProcess:
    """`python manage.py index` against the test database and Redis, logging to a file."""

    def __init__(self, log_path: Path, *, rpc_url: str, ws_url: str, mint: str, **settings_env):
        from django.db import connection

        db = connection.settings_dict
        self.log_path = log_path
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in {"LOCALNET_FILE", "DJANGO_SETTINGS_MODULE"}},
            "DJANGO_SETTINGS_MODULE": "vaultsite.settings.dev",
            "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
            "RPC_URL": rpc_url, "WS_URL": ws_url, "USDT_MINT": mint,
            "LOCALNET_FILE": str(log_path.parent / "no-localnet.json"),
            "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO",
            **{k: str(v) for k, v in settings_env.items()},
        }
        self.process: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> "IndexerProcess":
        self.runs += 1
        log = open(self.log_path, "a")
        log.write(f"==== run {self.runs} ====\n")
        log.flush()
        self.process = subprocess.Popen([sys.executable, "manage.py", "index"], cwd=ROOT, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for_log(self, text: str, timeout: float = 30, after: int = 0) -> None:
        wait_until(lambda: text in self.log()[after:], timeout, 0.1, f"{text!r} in the indexer log:\n{self.log()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# ---- the network fault -------------------------------------------------------------------------


class TcpProxy:
    """A loopback TCP proxy with three modes:
    - forward: a plain pipe;
    - freeze: connections stay open but nothing is passed on, either way (a silently dead
      stream: no error, no close);
    - refuse: every connection is reset, new ones as soon as they are accepted (the node is down).
    """

    def __init__(self, target_url: str):
        target = urlsplit(target_url)
        self.target = (target.hostname, target.port)
        self.scheme = target.scheme
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.mode = "forward"
        self.forwarded_bytes = 0
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def set_mode(self, mode: str) -> None:
        assert mode in {"forward", "freeze", "refuse"}
        self.mode = mode
        if mode == "refuse":
            with self._lock:
                doomed, self._connections = list(self._connections), set()
            for sock in doomed:
                _reset(sock)

    def close(self) -> None:
        self._closed = True
        self.set_mode("refuse")
        self.listener.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "refuse":
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._connections |= {client, upstream}
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._closed:
                if self.mode == "refuse":
                    break
                if self.mode == "freeze":
                    time.sleep(0.05)  # hold everything: the bytes wait in the kernel's buffers
                    continue
                readable, _, _ = select.select([a, b], [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    while self.mode == "freeze" and not self._closed:
                        time.sleep(0.05)  # frozen while this chunk was in flight: hold it too
                    if self.mode == "refuse" or self._closed:
                        return
                    peers[sock].sendall(data)
                    self.forwarded_bytes += len(data)
        except OSError:
            pass
        finally:
            for sock in (a, b):
                _reset(sock)
            with self._lock:
                self._connections -= {a, b}


def _reset(sock: socket.socket) -> None:
    """Close with RST, like a host that went away, not a polite FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


# ---- fixtures (imported by the test modules) ---------------------------------------------------


@pytest.fixture
def chain(localnet):
    from vaults.chain.client import get_chain_client

    return get_chain_client()


@pytest.fixture
def vault_user(chain, localnet):
    """A fresh wallet with SOL and tokens; call it to get one."""
    return lambda tokens=100_000_000: VaultUser(chain, localnet, tokens)


@pytest.fixture
def indexer_process(localnet, tmp_path, transactional_db):
    """Starts `manage.py index` subprocesses; every one is stopped before the database is flushed."""
    started: list[IndexerProcess] = []

    def start(*, rpc_url=None, ws_url=None, **settings_env) -> IndexerProcess:
        process = IndexerProcess(tmp_path / f"indexer-{len(started)}.log", rpc_url=rpc_url or localnet.rpc_url,
                                 ws_url=ws_url or localnet.description["ws_url"], mint=localnet.mint, **settings_env)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def proxy():
    """TcpProxy(url) factory; every proxy is closed after the test."""
    made: list[TcpProxy] = []

    def make(url: str) -> TcpProxy:
        made.append(TcpProxy(url))
        return made[-1]

    yield make
    for p in made:
        p.close()
