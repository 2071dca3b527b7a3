"""The keys a process remembers: only those that authenticated, at most as many as the cache
holds, never one read before a change to it was seen, and none while nothing vouches for them."""

from __future__ import annotations

import secrets

from services.api_keys import ApiKeys, Caller, Role
from services.bootstrap import Runtime
from services.key_cache import KeyCache


class Vouching:
    """A watch that has seen every change, or (``vouching = False``) one that is away."""

    def __init__(self) -> None:
        self.vouching = True

    def start(self) -> None:
        pass

    def vouches(self) -> bool:
        return self.vouching

    def close(self) -> None:
        pass


def _caller(key_id: str) -> Caller:
    return Caller(key_id=key_id, name=f"clerk-{key_id}", tenant_id="acme", role=Role.clerk)


def _cache(capacity: int) -> tuple[KeyCache, Vouching]:
    cache = KeyCache(capacity)
    watch = Vouching()
    cache.watch = watch
    return cache, watch


def test_the_cache_keeps_the_most_recently_used_keys_up_to_its_capacity() -> None:
    cache, _ = _cache(capacity=3)
    for key_id in ("k1", "k2", "k3"):
        cache.remember(cache.ticket(), key_id, f"sha-{key_id}", _caller(key_id))
    assert cache.lookup("k1", "sha-k1") == _caller("k1")  # k1 is now the most recent
    for key_id in ("k4", "k5"):
        cache.remember(cache.ticket(), key_id, f"sha-{key_id}", _caller(key_id))
    assert len(cache) == 3
    assert [k for k in ("k1", "k2", "k3", "k4", "k5") if cache.lookup(k, f"sha-{k}")] == [
        "k1",
        "k4",
        "k5",
    ]


def test_a_remembered_key_with_another_secret_is_not_taken_from_the_cache() -> None:
    cache, _ = _cache(capacity=3)
    cache.remember(cache.ticket(), "k1", "sha-right", _caller("k1"))
    assert cache.lookup("k1", "sha-wrong") is None
    assert cache.lookup("k1", "sha-right") == _caller("k1")


def test_a_key_read_before_a_change_was_seen_is_not_remembered() -> None:
    cache, _ = _cache(capacity=3)
    ticket = cache.ticket()
    cache.forget("k1")  # the key was revoked while it was being read
    cache.remember(ticket, "k1", "sha-k1", _caller("k1"))
    assert cache.lookup("k1", "sha-k1") is None
    assert len(cache) == 0


def test_nothing_is_remembered_or_answered_while_the_watch_does_not_vouch() -> None:
    cache, watch = _cache(capacity=3)
    cache.remember(cache.ticket(), "k1", "sha-k1", _caller("k1"))
    watch.vouching = False
    assert cache.lookup("k1", "sha-k1") is None
    assert cache.ticket() is None
    cache.remember(cache.ticket(), "k2", "sha-k2", _caller("k2"))
    watch.vouching = True
    assert cache.lookup("k2", "sha-k2") is None


def test_a_flood_of_made_up_keys_remembers_nothing(sqlite_runtime: Runtime) -> None:
    keys: ApiKeys = sqlite_runtime.keys
    real = keys.create(name="clerk-ann", tenant_id="acme", role=Role.clerk)
    wrong_secret = f"{real.secret.rsplit('_', 1)[0]}_{secrets.token_urlsafe(32)}"
    flood = [f"ar_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}" for _ in range(300)]
    assert all(keys.authenticate(made_up) is None for made_up in [*flood, wrong_secret])
    assert keys.remembered == 0
    assert keys.authenticate(real.secret) is not None
    assert keys.cached(real.secret) == keys.authenticate(real.secret)
    assert keys.cached(wrong_secret) is None
    assert keys.remembered == 1
