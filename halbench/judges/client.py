"""One robust client for LLM judges on any OpenAI-compatible chat-completions endpoint.

- **Concurrency** (default 16 threads), a timeout per call, and retries with exponential
  backoff and jitter on 429, 5xx, timeouts and connection errors, honouring ``Retry-After``
  (seconds or an HTTP date) up to ``max_retry_wait`` seconds. Other errors (400, 401, ...)
  fail at once. Each item has a total deadline (``item_timeout``) over all its attempts.
- **Budget**: ``max_calls`` (calls actually sent) and ``max_cost`` (dollars, from a price
  table the user can override) stop cleanly *before* a call that could exceed them: each call
  reserves a true upper bound of its cost (prompt: UTF-8 bytes plus a per-message allowance;
  output: ``max_tokens``) under a lock, and the reservation is replaced by the cost of the
  usage the endpoint reports once the call returns. The items left over get an error result
  (the scorer reports them unscored). ``estimate`` gives calls, cached calls, tokens and the
  worst-case cost before a paid run starts.
- **Cache**: every successful call is stored in SQLite (WAL) under halbench's cache
  directory, keyed by endpoint, model, the full messages and every parameter, so re-scoring
  costs nothing. A **call log** (JSONL) records each call with its tokens.
- The API key is read from the environment and is never written to the cache, the log or
  any record: every error text goes through ``halbench.redact.redact`` where it is made.
- A call that finally fails returns ``JudgeResult(content=None, error=...)``: never a 0, a
  -1 or another item's verdict.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import math
import os
import random
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError
from halbench.paths import cache_dir
from halbench.progress import track
from halbench.redact import add_secret, redact

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: USD per 1M tokens (input, output): list prices as published by the provider; they change,
#: so override them with ``prices`` (``--judge-prices FILE``) when it matters.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4-0314": (30.0, 60.0),
    "gpt-4-1106-preview": (10.0, 30.0),
    "gpt-3.5-turbo-0613": (1.5, 2.0),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
}
#: Tokens allowed per message (role, separators) and per request (reply priming) on top of
#: the UTF-8 bytes of the contents when bounding the prompt tokens a call can be billed for.
MESSAGE_TOKEN_ALLOWANCE = 16
REQUEST_TOKEN_ALLOWANCE = 16


@dataclass(frozen=True)
class JudgeConfig:
    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    timeout: float = 60.0
    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_wait: float = 60.0  # cap on a server's Retry-After, seconds
    item_timeout: float | None = 600.0  # all attempts of one item together, seconds
    max_calls: int | None = None
    max_cost: float | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    cache_dir: Path | None = None
    log_path: Path | None = None
    use_cache: bool = True


@dataclass(frozen=True)
class JudgeRequest:
    key: str  # the item it is for
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)  # temperature, max_tokens, ...


@dataclass
class JudgeResult:
    key: str
    content: str | None
    error: str | None = None
    cached: bool = False
    usage: dict[str, int] = field(default_factory=dict)
    returned_model: str | None = None


def retry_after_seconds(headers: Any, now: float | None = None) -> float | None:
    """Seconds a response asks to wait: ``retry-after-ms``, or ``Retry-After`` in seconds or
    as an HTTP date (RFC 9110); None when absent or unreadable, never negative."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except (TypeError, ValueError):
            continue
        return max(0.0, seconds) if not math.isnan(seconds) else None
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _retryable(exc: Exception) -> tuple[bool, float | None]:
    """(retry?, seconds the server asked us to wait)."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        try:
            retry_after = retry_after_seconds(exc.response.headers)
        except AttributeError:
            retry_after = None
        return exc.status_code == 429 or exc.status_code >= 500, retry_after
    return isinstance(exc, openai.APITimeoutError | openai.APIConnectionError), None


def _error_text(exc: Exception) -> str:
    text = str(exc)
    return redact(f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}")


class JudgeClient:
    def __init__(self, config: JudgeConfig) -> None:
        try:
            import openai
        except ImportError:
            raise HalbenchError(
                "LLM judges need the openai package: pip install 'halbench[openai]'"
            ) from None
        self.config = config
        self.base_url = (
            config.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        ).rstrip("/")
        key = os.environ.get(config.api_key_env)
        if not key:
            if self.base_url == DEFAULT_BASE_URL:
                raise HalbenchError(
                    f"${config.api_key_env} is not set: the OpenAI API needs a key for the judge"
                )
            key = "EMPTY"
        add_secret(key)
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=key, timeout=config.timeout, max_retries=0
        )
        self._prices = {**DEFAULT_PRICES, **config.prices}
        root = config.cache_dir or cache_dir()
        root.mkdir(parents=True, exist_ok=True)
        self._db_path = root / "judge.sqlite"
        self._local = threading.local()
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, request TEXT NOT NULL, content TEXT NOT NULL, "
                "usage TEXT NOT NULL, returned_model TEXT, created REAL NOT NULL)"
            )
        self._lock = threading.Lock()
        self.calls = 0
        self.cost = 0.0  # spent: the price of the usage endpoints reported (or the reservation)
        self.reserved = 0.0  # upper bounds held by calls in flight
        self._in_flight = 0
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}

    # -- cache -------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self._db_path, timeout=30, isolation_level=None)
        return db

    def cache_key(self, req: JudgeRequest) -> tuple[str, str]:
        request = json.dumps(
            {
                "endpoint": self.base_url,
                "model": self.config.model,
                "messages": req.messages,
                "params": req.params,
            },
            sort_keys=True,
        )
        return hashlib.sha256(request.encode()).hexdigest(), request

    def _cached(self, req: JudgeRequest) -> JudgeResult | None:
        if not self.config.use_cache:
            return None
        key, _ = self.cache_key(req)
        row = (
            self._db()
            .execute("SELECT content, usage, returned_model FROM calls WHERE key = ?", (key,))
            .fetchone()
        )
        if row is None:
            return None
        return JudgeResult(
            req.key, row[0], cached=True, usage=json.loads(row[1]), returned_model=row[2]
        )

    def _store(self, req: JudgeRequest, result: JudgeResult) -> None:
        if not self.config.use_cache:
            return
        key, request = self.cache_key(req)
        self._db().execute(
            "INSERT OR REPLACE INTO calls (key, request, content, usage, returned_model, created) VALUES (?, ?, ?, ?, ?, ?)",
            (
                key,
                request,
                result.content,
                json.dumps(result.usage),
                result.returned_model,
                time.time(),
            ),
        )

    # -- cost --------------------------------------------------------------------------
    def price(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        p = self._prices.get(self.config.model)
        if p is None:
            return None
        return (prompt_tokens * p[0] + completion_tokens * p[1]) / 1e6

    def _estimate_one(self, req: JudgeRequest) -> tuple[int, int]:
        chars = sum(len(str(m.get("content", ""))) for m in req.messages)
        return chars // 4 + 8 * len(req.messages), int(req.params.get("max_tokens") or 512)

    def bound(self, req: JudgeRequest) -> tuple[int, int | None]:
        """An upper bound on the (prompt, completion) tokens a call can be billed for.

        Prompt: the UTF-8 bytes of every message's content and role (a byte-level BPE token
        covers at least one byte) plus ``MESSAGE_TOKEN_ALLOWANCE`` per message and
        ``REQUEST_TOKEN_ALLOWANCE``. Completion: ``max_tokens`` (or ``max_completion_tokens``);
        None when the request sets neither (there is then no bound).
        """
        size = sum(
            len(json.dumps(m.get("content", ""), ensure_ascii=False).encode())
            + len(str(m.get("role", "")).encode())
            for m in req.messages
        )
        prompt = size + MESSAGE_TOKEN_ALLOWANCE * len(req.messages) + REQUEST_TOKEN_ALLOWANCE
        out = req.params.get("max_completion_tokens") or req.params.get("max_tokens")
        return prompt, int(out) if out else None

    def estimate(self, requests: Sequence[JudgeRequest]) -> dict[str, Any]:
        """What a run would send: calls not in the cache, tokens (chars/4 as the estimate, the
        byte bound as the maximum) and the cost at worst (None without a price or a bound)."""
        todo = [r for r in requests if self._cached(r) is None]
        bounds = [self.bound(r) for r in todo]
        tin = sum(self._estimate_one(r)[0] for r in todo)
        tin_max = sum(b[0] for b in bounds)
        unbounded = any(b[1] is None for b in bounds)
        tout = sum(b[1] or 0 for b in bounds)
        worst = None if unbounded else self.price(tin_max, tout)
        return {
            "requests": len(requests),
            "cached": len(requests) - len(todo),
            "calls": len(todo),
            "prompt_tokens_est": tin,
            "prompt_tokens_max": tin_max,
            "max_completion_tokens": None if unbounded else tout,
            "max_cost_usd": worst,
        }

    # -- calls -------------------------------------------------------------------------
    def _spent_text(self) -> str:
        text = f"spent ${self.cost:.4f} on {self.calls} calls"
        if self._in_flight:
            text += f", ${self.reserved:.4f} reserved by calls in flight"
        return text

    def _admit(self, req: JudgeRequest) -> tuple[str | None, float]:
        """Reserve a call within the budget (and its cost bound), or say why not."""
        with self._lock:
            if self.config.max_calls is not None and self.calls >= self.config.max_calls:
                return f"judge budget reached: --judge-max-calls {self.config.max_calls}", 0.0
            worst = 0.0
            if self.config.max_cost is not None:
                prompt, out = self.bound(req)
                if out is None:
                    return (
                        "--judge-max-cost needs a bound on the reply: the request sets no "
                        "max_tokens (give --judge-max-tokens)"
                    ), 0.0
                price = self.price(prompt, out)
                if price is None:
                    return (
                        f"no price known for judge model {self.config.model!r}: give --judge-prices"
                    ), 0.0
                worst = price
                if self.cost + self.reserved + worst > self.config.max_cost:
                    return (
                        f"judge budget reached: --judge-max-cost {self.config.max_cost} "
                        f"({self._spent_text()}; this call could cost up to ${worst:.4f})"
                    ), 0.0
                self.reserved += worst
            self._in_flight += 1  # settled once by _settle
            self.calls += 1
        return None, worst

    def _settle(self, reserved: float, usage: dict[str, int] | None, *, billed: bool) -> None:
        """Replace a call's reservation by its cost: the price of the usage the endpoint
        reported, the whole reservation when a billed reply reported none, nothing when the
        call failed (no reply)."""
        with self._lock:
            self._in_flight -= 1
            self.reserved = self.reserved - reserved if self._in_flight > 0 else 0.0
            if not billed:
                return
            if usage is None:
                self.cost += reserved
                return
            self.usage["prompt_tokens"] += usage["prompt_tokens"]
            self.usage["completion_tokens"] += usage["completion_tokens"]
            self.cost += self.price(usage["prompt_tokens"], usage["completion_tokens"]) or 0.0

    def _call(self, req: JudgeRequest) -> JudgeResult:
        cached = self._cached(req)
        if cached is not None:
            self._log(req, cached, 0.0)
            return cached
        refusal, reserved = self._admit(req)
        if refusal is not None:
            return JudgeResult(req.key, None, error=refusal)
        t0 = time.perf_counter()
        deadline = None if not self.config.item_timeout else t0 + self.config.item_timeout
        last, note = "no attempt", ""
        for attempt in range(self.config.max_retries + 1):
            timeout = self.config.timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.perf_counter())
                if timeout <= 0:
                    note += self._deadline_note(attempt)
                    break
            try:
                resp = self._client.chat.completions.create(
                    model=self.config.model, messages=req.messages, timeout=timeout, **req.params
                )
            except Exception as exc:  # classified below; anything else is a plain failure
                retry, asked = _retryable(exc)
                last = _error_text(exc)
                if not retry or attempt == self.config.max_retries:
                    if deadline is not None and time.perf_counter() >= deadline:
                        note += self._deadline_note(attempt + 1)
                    break
                if asked is None:
                    backoff = min(self.config.backoff_max, self.config.backoff_base * 2**attempt)
                    delay = backoff * (0.5 + random.random())
                else:
                    delay = min(asked, self.config.max_retry_wait)
                    if asked > self.config.max_retry_wait and "capped" not in note:
                        note += (
                            f" (the server's Retry-After {asked:.0f} s was capped at "
                            f"--judge-max-retry-wait {self.config.max_retry_wait:g} s)"
                        )
                if deadline is not None and time.perf_counter() + delay >= deadline:
                    note += self._deadline_note(attempt + 1, delay)
                    break
                time.sleep(delay)
                continue
            usage = self._usage(resp)
            self._settle(reserved, usage, billed=True)
            content = resp.choices[0].message.content if resp.choices else None
            if content is None:
                result = JudgeResult(req.key, None, error="the reply had no message content")
                self._log(req, result, time.perf_counter() - t0)
                return result
            result = JudgeResult(req.key, content, usage=usage or {}, returned_model=resp.model)
            self._store(req, result)
            self._log(req, result, time.perf_counter() - t0)
            return result
        self._settle(reserved, None, billed=False)
        result = JudgeResult(req.key, None, error=redact(last + note))
        self._log(req, result, time.perf_counter() - t0)
        return result

    def _deadline_note(self, attempts: int, delay: float | None = None) -> str:
        wait = "" if delay is None else f"; the next retry would start in {delay:.1f} s"
        return (
            f"; stopped at the item's deadline, --judge-item-timeout {self.config.item_timeout:g} s "
            f"({attempts} attempt(s){wait})"
        )

    @staticmethod
    def _usage(resp: Any) -> dict[str, int] | None:
        """The usage the endpoint reported (None when it reported none)."""
        u = getattr(resp, "usage", None)
        if u is None:
            return None
        return {
            "prompt_tokens": getattr(u, "prompt_tokens", 0) or 0,
            "completion_tokens": getattr(u, "completion_tokens", 0) or 0,
        }

    def _log(self, req: JudgeRequest, result: JudgeResult, seconds: float) -> None:
        if self.config.log_path is None:
            return
        line = json.dumps(
            {
                "time": time.time(),
                "key": req.key,
                "model": self.config.model,
                "cached": result.cached,
                "usage": result.usage,
                "error": result.error,
                "seconds": round(seconds, 3),
                "returned_model": result.returned_model,
            }
        )
        with self._lock:
            self.config.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.config.log_path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")

    def run(self, requests: Sequence[JudgeRequest]) -> list[JudgeResult]:
        """Results in the order of ``requests``; failures and budget stops carry ``error``."""
        with ThreadPoolExecutor(max_workers=max(1, self.config.concurrency)) as pool:
            futures = [pool.submit(self._call, r) for r in requests]
            return [
                f.result() for f in track(futures, total=len(futures), desc="judge", unit="call")
            ]

    def describe(self) -> dict[str, Any]:
        """For records: endpoint, model, calls and tokens (never the key)."""
        cost = self.price(self.usage["prompt_tokens"], self.usage["completion_tokens"])
        return {
            "endpoint": self.base_url,
            "model": self.config.model,
            "calls": self.calls,
            "usage": dict(self.usage),
            "cost_usd": cost,
        }

    def close(self) -> None:
        self._client.close()
