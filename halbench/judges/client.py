"""One robust client for LLM judges on any OpenAI-compatible chat-completions endpoint.

- **Concurrency** (default 16 threads), a timeout per call, and retries with exponential
  backoff and jitter on 429, 5xx, timeouts and connection errors, honouring ``Retry-After``.
  Other errors (400, 401, ...) fail at once.
- **Budget**: ``max_calls`` (calls actually sent) and ``max_cost`` (dollars, from a price
  table the user can override) stop cleanly *before* a call that would exceed them; the
  items left over get an error result (the scorer reports them unscored). ``estimate``
  gives calls, cached calls, tokens and cost before a paid run starts.
- **Cache**: every successful call is stored in SQLite (WAL) under halbench's cache
  directory, keyed by endpoint, model, the full messages and every parameter, so re-scoring
  costs nothing. A **call log** (JSONL) records each call with its tokens.
- The API key is read from the environment and is never written to the cache, the log or
  any record.
- A call that finally fails returns ``JudgeResult(content=None, error=...)``: never a 0, a
  -1 or another item's verdict.
"""

from __future__ import annotations

import hashlib
import json
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


def _retryable(exc: Exception) -> tuple[bool, float | None]:
    """(retry?, seconds the server asked us to wait)."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        retry_after = None
        try:
            value = exc.response.headers.get("retry-after")
            retry_after = float(value) if value is not None else None
        except (TypeError, ValueError):
            retry_after = None
        return exc.status_code == 429 or exc.status_code >= 500, retry_after
    return isinstance(exc, openai.APITimeoutError | openai.APIConnectionError), None


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
        self.cost = 0.0
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}

    # -- cache -------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self._db_path, timeout=30, isolation_level=None)
        return db

    def cache_key(self, req: JudgeRequest) -> tuple[str, str]:
        request = json.dumps({"endpoint": self.base_url, "model": self.config.model, "messages": req.messages, "params": req.params}, sort_keys=True)  # fmt: skip
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
        return chars // 4 + 8 * len(req.messages), int(req.params.get("max_tokens", 512))

    def estimate(self, requests: Sequence[JudgeRequest]) -> dict[str, Any]:
        """What a run would send: calls not in the cache, tokens (chars/4) and the cost at worst."""
        todo = [r for r in requests if self._cached(r) is None]
        tin = sum(self._estimate_one(r)[0] for r in todo)
        tout = sum(self._estimate_one(r)[1] for r in todo)
        return {"requests": len(requests), "cached": len(requests) - len(todo), "calls": len(todo),
                "prompt_tokens_est": tin, "max_completion_tokens": tout, "max_cost_usd": self.price(tin, tout)}  # fmt: skip

    # -- calls -------------------------------------------------------------------------
    def _admit(self, req: JudgeRequest) -> str | None:
        """Reserve a call within the budget, or say why not."""
        with self._lock:
            if self.config.max_calls is not None and self.calls >= self.config.max_calls:
                return f"judge budget reached: --judge-max-calls {self.config.max_calls}"
            if self.config.max_cost is not None:
                worst = self.price(*self._estimate_one(req))
                if worst is None:
                    return (
                        f"no price known for judge model {self.config.model!r}: give --judge-prices"
                    )
                if self.cost + worst > self.config.max_cost:
                    return f"judge budget reached: --judge-max-cost {self.config.max_cost} (spent {self.cost:.4f})"
                self.cost += worst  # reserved; corrected with the real usage after the call
            self.calls += 1
        return None

    def _call(self, req: JudgeRequest) -> JudgeResult:
        cached = self._cached(req)
        if cached is not None:
            self._log(req, cached, 0.0)
            return cached
        refusal = self._admit(req)
        if refusal is not None:
            return JudgeResult(req.key, None, error=refusal)
        reserved = (
            self.price(*self._estimate_one(req)) if self.config.max_cost is not None else None
        )
        t0 = time.perf_counter()
        last = "no attempt"
        for attempt in range(self.config.max_retries + 1):
            try:
                resp = self._client.chat.completions.create(
                    model=self.config.model, messages=req.messages, **req.params
                )
            except Exception as exc:  # classified below; anything else is a plain failure
                retry, wait = _retryable(exc)
                last = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                if not retry or attempt == self.config.max_retries:
                    break
                delay = (
                    wait
                    if wait is not None
                    else min(self.config.backoff_max, self.config.backoff_base * 2**attempt)
                )
                time.sleep(delay * (0.5 + random.random()) if wait is None else delay)
                continue
            content = resp.choices[0].message.content if resp.choices else None
            if content is None:
                last = "the reply had no message content"
                break
            usage = {"prompt_tokens": getattr(resp.usage, "prompt_tokens", 0) or 0,
                     "completion_tokens": getattr(resp.usage, "completion_tokens", 0) or 0}  # fmt: skip
            with self._lock:
                self.usage["prompt_tokens"] += usage["prompt_tokens"]
                self.usage["completion_tokens"] += usage["completion_tokens"]
                real = self.price(usage["prompt_tokens"], usage["completion_tokens"])
                if reserved is not None and real is not None:
                    self.cost += real - reserved
            result = JudgeResult(req.key, content, usage=usage, returned_model=resp.model)
            self._store(req, result)
            self._log(req, result, time.perf_counter() - t0)
            return result
        with self._lock:
            if reserved is not None:
                self.cost -= reserved
        result = JudgeResult(req.key, None, error=last)
        self._log(req, result, time.perf_counter() - t0)
        return result

    def _log(self, req: JudgeRequest, result: JudgeResult, seconds: float) -> None:
        if self.config.log_path is None:
            return
        line = json.dumps({"time": time.time(), "key": req.key, "model": self.config.model, "cached": result.cached,
                           "usage": result.usage, "error": result.error, "seconds": round(seconds, 3),
                           "returned_model": result.returned_model})  # fmt: skip
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
        return {"endpoint": self.base_url, "model": self.config.model, "calls": self.calls,
                "usage": dict(self.usage), "cost_usd": cost}  # fmt: skip

    def close(self) -> None:
        self._client.close()
