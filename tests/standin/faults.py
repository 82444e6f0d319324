"""Fault switches for the stand-in: make the "proxy" fail the way real networks and proxies do."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

FAULTS_PATH_PREFIX = "/__standin/"


@dataclass
class FaultConfig:
    """What to break.  Every counter counts down once per matching request.

    - ``error_rate``: probability (0..1) that a matching request answers ``fail_status``.
    - ``fail_next``: the next N matching requests answer ``fail_status`` (default 500) without
      touching any state.
    - ``fail_status``: 500 or 503 (any 4xx/5xx is accepted).
    - ``delay_seconds``: sleep this long before handling every matching request.
    - ``drop_next``: the next N matching requests get the connection closed without any answer,
      before anything is processed.
    - ``drop_after_next``: the next N matching requests are fully processed (state changes are
      committed) and then the connection is closed without an answer: the "did my change land?"
      case that re-runnable modules must survive.
    - ``malformed_next``: the next N matching requests get a 200 with a body that is not JSON,
      before anything is processed.
    - ``skip_next``: the next N matching requests pass untouched before the switches above apply,
      so that a fault can hit the second of two identical requests (e.g. the second ``/key/update``).
    - ``path_prefix``: only requests whose path starts with this are affected (``None``: all).

    Requests under ``/__standin/`` are never affected.
    """

    error_rate: float = 0.0
    fail_next: int = 0
    fail_status: int = 500
    delay_seconds: float = 0.0
    drop_next: int = 0
    drop_after_next: int = 0
    malformed_next: int = 0
    skip_next: int = 0
    path_prefix: str | None = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault switch(es): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        cfg = cls(**data)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if not 0.0 <= float(self.error_rate) <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        for name in ("fail_next", "drop_next", "drop_after_next", "malformed_next", "skip_next"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        if not isinstance(self.fail_status, int) or not 400 <= self.fail_status <= 599:
            raise ValueError("fail_status must be an HTTP error status (400-599)")
        if float(self.delay_seconds) < 0:
            raise ValueError("delay_seconds must be >= 0")
        if self.path_prefix is not None and not isinstance(self.path_prefix, str):
            raise ValueError("path_prefix must be a string or null")


@dataclass
class FaultDecision:
    delay: float = 0.0
    action: str | None = None  # "drop", "malformed", "fail" or None
    drop_after: bool = False
    status: int = 500


class Faults:
    """Thread-safe holder of the active fault configuration and its counters."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._cfg = FaultConfig()
        self._rng = random.Random(seed)
        self.injected: dict[str, int] = {"fail": 0, "drop": 0, "drop_after": 0, "malformed": 0, "delayed": 0}

    def set(self, cfg: FaultConfig) -> None:
        with self._lock:
            self._cfg = cfg

    def clear(self) -> None:
        self.set(FaultConfig())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**asdict(self._cfg), "injected": dict(self.injected)}

    def decide(self, path: str) -> FaultDecision:
        decision = FaultDecision()
        if path.startswith(FAULTS_PATH_PREFIX):
            return decision
        with self._lock:
            cfg = self._cfg
            if cfg.path_prefix is not None and not path.startswith(cfg.path_prefix):
                return decision
            if cfg.skip_next > 0:
                cfg.skip_next -= 1
                return decision
            decision.status = cfg.fail_status
            if cfg.delay_seconds:
                decision.delay = float(cfg.delay_seconds)
                self.injected["delayed"] += 1
            if cfg.drop_next > 0:
                cfg.drop_next -= 1
                decision.action = "drop"
            elif cfg.malformed_next > 0:
                cfg.malformed_next -= 1
                decision.action = "malformed"
            elif cfg.fail_next > 0:
                cfg.fail_next -= 1
                decision.action = "fail"
            elif cfg.error_rate and self._rng.random() < cfg.error_rate:
                decision.action = "fail"
            if decision.action is None and cfg.drop_after_next > 0:
                cfg.drop_after_next -= 1
                decision.drop_after = True
                self.injected["drop_after"] += 1
            if decision.action is not None:
                self.injected[decision.action] += 1
        return decision
