"""The L2 semantic cache on GPTCache's benchmark pairs and on labeled Quora question pairs.

    .venv/bin/python bench/semantic_cache.py --data ../shared/data/gptcache [--json] [--qqp-limit N]

mock_data.json (999 pairs of an "origin" sentence and a paraphrase, "similar"): every distinct origin is stored
through the real L2 store (pgvector in a throwaway embedded PostgreSQL) with itself as the answer; each paraphrase
is looked up through the real store. A served answer is a right hit when it is the paraphrase's origin, else a
wrong hit; no answer is a miss. This is GPTCache's own protocol, whose published figures are printed beside ours.

qqp_labeled_dev.json (10,000 pairs, 1 = same question): pairwise, the cache holds text_a and is asked text_b.
A served non-duplicate is a wrong hit; we report the wrong-hit rate on non-duplicates and the wrong share of hits,
the wrong share among the pairs MiniLM is surest about, and the labels' noise: how many pairs identical but for case,
punctuation, articles, a pronoun or can/could are labelled non-duplicate (with an exact 95 % interval).

Two deciders are compared on the same candidates: plain cosine (the best match at or above the threshold, as
GPTCache's distance evaluation does) and opsdesk's (cosine, a margin over the runner-up, and agreement of numbers,
codes and calendar words; `opsdesk.conversation.semantic.choose`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from bench._results import publish
from opsdesk.auth import service as auth
from opsdesk.conversation.cache import CacheScope
from opsdesk.conversation.semantic import Candidate, SemanticCache, choose
from opsdesk.core.context import AppContext
from opsdesk.core.settings import Settings
from opsdesk.db.embedded import EmbeddedPostgres
from opsdesk.providers.embedding.local_minilm import LocalMiniLM

THRESHOLDS = (0.80, 0.85, 0.90, 0.95)
CONFIDENT = (0.97, 0.98, 0.99)  # cosine floors for the most-confident QQP pairs
GPTCACHE = {0.95: (425, 25, 549), 0.90: (804, 77, 118), 0.80: (904, 92, 3)}  # its README, same 999 pairs
TARGET_RIGHT = 804
TARGET_WRONG_SHARE = 0.01
console = Console(stderr=True, width=160)


def _plain(candidates: list[Candidate], threshold: float) -> Candidate | None:
    return candidates[0] if candidates and candidates[0].similarity >= threshold else None


def _tally(outcomes: list[str]) -> dict[str, Any]:
    right, wrong = outcomes.count("right"), outcomes.count("wrong")
    served = right + wrong
    return {
        "right": right,
        "wrong": wrong,
        "miss": outcomes.count("miss"),
        "wrong_share": round(wrong / served, 4) if served else 0.0,
    }


async def gptcache_pairs(ctx: AppContext, pairs: list[dict[str, str]], margin: float) -> dict[str, Any]:
    embedder = LocalMiniLM()
    origins = sorted({pair["origin"] for pair in pairs})
    console.print(f"mock_data: embedding {len(origins)} origins and {len(pairs)} paraphrases …")
    origin_vectors = await asyncio.to_thread(embedder.embed_array, origins)
    query_vectors = await asyncio.to_thread(embedder.embed_array, [pair["similar"] for pair in pairs])
    async with ctx.db.session() as session:
        workspace = await auth.get_or_create_workspace(session, "bench")
    scope = CacheScope(workspace.id, "bench", "none", "bench", "bench")
    store = SemanticCache(threshold=0.0, margin=margin, ttl_s=86400)
    async with ctx.db.session() as session:
        for origin, vector in zip(origins, origin_vectors, strict=True):
            await store.store(session, scope, origin, vector.tolist(), {"text": origin})
    async with ctx.db.engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")
    found: list[list[Candidate]] = []
    latencies: list[float] = []
    async with ctx.db.session() as session:
        for vector in query_vectors:
            started = time.perf_counter()
            found.append(await store.candidates(session, scope, vector.tolist()))
            latencies.append((time.perf_counter() - started) * 1000)
    results: dict[str, Any] = {"entries": len(origins), "queries": len(pairs)}
    for threshold in THRESHOLDS:
        for name, decide in (
            ("plain", lambda c, q, t=threshold: _plain(c, t)),
            ("opsdesk", lambda c, q, t=threshold: choose(q, c, t, margin)),
        ):
            outcomes = []
            for pair, candidates in zip(pairs, found, strict=True):
                chosen = decide(candidates, pair["similar"])
                outcomes.append(
                    "miss" if chosen is None else "right" if chosen.answer["text"] == pair["origin"] else "wrong"
                )
            results[f"{name}@{threshold:.2f}"] = _tally(outcomes)
    latencies.sort()
    results["lookup_p50_ms"] = round(statistics.median(latencies), 2)
    results["lookup_p95_ms"] = round(latencies[int(0.95 * (len(latencies) - 1))], 2)
    return results


_SURFACE = re.compile(r"\w+|[^\w\s?.!,]")
_SAME_WORD = {"could": "can", "you": "i", "we": "i", "one": "i", "my": "i", "your": "i", "our": "i", "me": "i"}


def _surface(text: str) -> tuple[str, ...]:
    """Text without case, punctuation and articles, pronouns and can/could folded: what no decider can tell apart."""
    words = (word.lower() for word in _SURFACE.findall(text))
    return tuple(_SAME_WORD.get(word, word) for word in words if word not in ("a", "an", "the"))


def _binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def _clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) confidence interval of a binomial rate k / n, by bisection."""
    alpha = (1 - level) / 2

    def solve(target: float, rising: bool, f: Any) -> float:
        low, high = 0.0, 1.0
        for _ in range(60):
            mid = (low + high) / 2
            if (f(mid) < target) == rising:
                low = mid
            else:
                high = mid
        return (low + high) / 2

    lower = 0.0 if k == 0 else solve(alpha, True, lambda p: _binomial_tail(k, n, p))
    upper = 1.0 if k == n else solve(alpha, False, lambda p: 1 - _binomial_tail(k + 1, n, p))
    return lower, upper


def label_ceiling(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """How noisy the QQP labels are on pairs that are certainly the same question.

    Pairs whose questions differ only in case, punctuation, articles, a pronoun or can/could are true duplicates;
    the share of them labelled non-duplicate estimates the labels' noise on true duplicates. Every true duplicate a
    decider serves carries that chance of being counted wrong, so a perfect decider's wrong share is about this rate,
    not zero. `p_if_noise_were_target` is how likely this many noisy labels would be if the noise were only 1 %.
    """
    same = [pair for pair in pairs if _surface(str(pair["text_a"])) == _surface(str(pair["text_b"]))]
    non_dup = sum(1 for pair in same if pair["label"] == 0)
    lower, upper = _clopper_pearson(non_dup, len(same)) if same else (0.0, 1.0)
    return {
        "pairs": len(same),
        "labelled_non_duplicate": non_dup,
        "share": round(non_dup / len(same), 4) if same else 0.0,
        "ci95": [round(lower, 4), round(upper, 4)],
        "p_if_noise_were_target": round(_binomial_tail(non_dup, len(same), TARGET_WRONG_SHARE), 4),
        "examples": [[pair["text_a"], pair["text_b"]] for pair in same if pair["label"] == 0][:4],
    }


def most_confident(similarities: Any, labels: list[int]) -> dict[str, dict[str, Any]]:
    """Wrong share among the QQP pairs MiniLM is surest about: what no threshold on this model gets below."""
    found = {}
    for floor in CONFIDENT:
        served = [label for similarity, label in zip(similarities, labels, strict=True) if similarity >= floor]
        wrong = served.count(0)
        found[f"{floor:.2f}"] = {
            "served": len(served),
            "wrong": wrong,
            "wrong_share": round(wrong / len(served), 4) if served else 0.0,
        }
    return found


def qqp_pairs(pairs: list[dict[str, Any]], margin: float) -> dict[str, Any]:
    embedder = LocalMiniLM()
    console.print(f"qqp: embedding {len(pairs)} pairs (two texts each) …")
    a = embedder.embed_array([str(pair["text_a"]) for pair in pairs])
    b = embedder.embed_array([str(pair["text_b"]) for pair in pairs])
    similarities = (a * b).sum(axis=1)
    duplicates = sum(1 for pair in pairs if pair["label"] == 1)
    results: dict[str, Any] = {
        "pairs": len(pairs),
        "duplicates": duplicates,
        "non_duplicates": len(pairs) - duplicates,
        "label_ceiling": label_ceiling(pairs),
        "most_confident": most_confident(similarities.tolist(), [int(pair["label"]) for pair in pairs]),
    }
    for threshold in THRESHOLDS:
        for name in ("plain", "opsdesk"):
            right = wrong = 0
            for pair, similarity in zip(pairs, similarities, strict=True):
                candidate = Candidate(uuid.uuid4(), str(pair["text_a"]), {}, float(similarity))
                if name == "plain":
                    served = similarity >= threshold
                else:
                    served = choose(str(pair["text_b"]), [candidate], threshold, margin) is not None
                if served:
                    right += pair["label"] == 1
                    wrong += pair["label"] == 0
            results[f"{name}@{threshold:.2f}"] = {
                "dup_hits": right,
                "wrong": wrong,
                "wrong_rate_non_dup": round(wrong / max(1, len(pairs) - duplicates), 4),
                "wrong_share": round(wrong / (right + wrong), 4) if right + wrong else 0.0,
            }
    return results


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(args.data)
    mock = json.loads((data / "mock_data.json").read_text())
    qqp = json.loads((data / "qqp_labeled_dev.json").read_text())[: args.qqp_limit or None]
    shipped = Settings(_env_file=None)  # type: ignore[call-arg]
    threshold, margin = shipped.semantic_cache_threshold, shipped.semantic_cache_margin
    with tempfile.TemporaryDirectory(prefix="opsdesk-bench-") as tmp:
        os.chmod(tmp, 0o755)
        server = EmbeddedPostgres(Path(tmp), cleanup_mode="delete")
        server.start()
        try:
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                env="test",
                data_dir=Path(tmp),
                database_url=SecretStr(server.url("asyncpg")),
                local_llm_enabled=False,
                log_level="WARNING",
            )
            ctx = await AppContext.open(settings)
            try:
                gpt = await gptcache_pairs(ctx, mock, margin)
            finally:
                await ctx.close()
        finally:
            server.stop()
    quora = await asyncio.to_thread(qqp_pairs, qqp, margin)
    key = f"opsdesk@{threshold:.2f}"
    ours, theirs = gpt.get(key, {}), quora.get(key, {})
    targets = {
        "gptcache_right_hits": {
            "value": ours.get("right"),
            "target": TARGET_RIGHT,
            "met": (ours.get("right") or 0) >= TARGET_RIGHT,
        },
        "gptcache_wrong_share": {
            "value": ours.get("wrong_share"),
            "target": TARGET_WRONG_SHARE,
            "met": (ours.get("wrong_share") or 1) <= TARGET_WRONG_SHARE,
        },
        "qqp_wrong_share": {
            "value": theirs.get("wrong_share"),
            "target": TARGET_WRONG_SHARE,
            "met": (theirs.get("wrong_share") or 1) <= TARGET_WRONG_SHARE,
        },
        "qqp_wrong_rate_non_dup": {
            "value": theirs.get("wrong_rate_non_dup"),
            "target": TARGET_WRONG_SHARE,
            "met": (theirs.get("wrong_rate_non_dup") or 1) <= TARGET_WRONG_SHARE,
        },
    }
    return {"shipped_threshold": threshold, "margin": margin, "gptcache": gpt, "qqp": quora, "targets": targets}


def show(results: dict[str, Any]) -> None:
    gpt, qqp = results["gptcache"], results["qqp"]
    table = Table(
        title=f"Semantic cache (L2): GPTCache mock_data ({gpt['queries']} paraphrases of {gpt['entries']} "
        f"entries) and QQP ({qqp['pairs']:,} pairs)"
    )
    for column in (
        "threshold",
        "decider",
        "right",
        "wrong",
        "miss",
        "wrong % of hits",
        "QQP dup hits",
        "QQP wrong",
        "QQP wrong % non-dup",
        "QQP wrong % of hits",
    ):
        table.add_column(column, justify="right" if column not in ("decider",) else "left")
    for threshold in sorted(THRESHOLDS, reverse=True):
        if threshold in GPTCACHE:
            right, wrong, miss = GPTCACHE[threshold]
            table.add_row(
                f"{threshold:.2f}",
                "GPTCache (published)",
                str(right),
                str(wrong),
                str(miss),
                f"{100 * wrong / (right + wrong):.1f}",
                "-",
                "-",
                "-",
                "-",
            )
        for name in ("plain", "opsdesk"):
            g, q = gpt[f"{name}@{threshold:.2f}"], qqp[f"{name}@{threshold:.2f}"]
            label = "MiniLM cosine" if name == "plain" else "opsdesk (+ margin, agreement)"
            shipped = name == "opsdesk" and abs(threshold - results["shipped_threshold"]) < 1e-9
            table.add_row(
                f"{threshold:.2f}" + (" *" if shipped else ""),
                label,
                str(g["right"]),
                str(g["wrong"]),
                str(g["miss"]),
                f"{100 * g['wrong_share']:.2f}",
                str(q["dup_hits"]),
                str(q["wrong"]),
                f"{100 * q['wrong_rate_non_dup']:.1f}",
                f"{100 * q['wrong_share']:.1f}",
            )
    console.print(table)
    console.print(
        f"* shipped: threshold {results['shipped_threshold']}, margin {results['margin']}; "
        f"lookup p50 {gpt['lookup_p50_ms']} ms, p95 {gpt['lookup_p95_ms']} ms"
    )
    for name, target in results["targets"].items():
        verdict = "[green]met[/green]" if target["met"] else "[red]NOT met[/red]"
        console.print(f"  {name}: {target['value']} (target {target['target']}) {verdict}")
    ceiling = qqp["label_ceiling"]
    lower, upper = ceiling["ci95"]
    console.print(
        f"QQP label noise: of {ceiling['pairs']} pairs that differ only in case, punctuation, articles, a pronoun or "
        f"can/could, {ceiling['labelled_non_duplicate']} are labelled non-duplicate ({100 * ceiling['share']:.1f} %, "
        f"95 % CI {100 * lower:.1f}-{100 * upper:.1f} %; as many or more would happen with probability "
        f"{ceiling['p_if_noise_were_target']:.3f} if the noise were {100 * TARGET_WRONG_SHARE:.0f} %). Every true "
        "duplicate served carries that chance of counting as wrong, so even a perfect decider's wrong share is "
        "about this rate"
    )
    for text_a, text_b in ceiling["examples"]:
        console.print(f"  {text_a!r} / {text_b!r}")
    confident = ", ".join(
        f"cosine >= {floor}: {row['wrong']} of {row['served']} ({100 * row['wrong_share']:.1f} %)"
        for floor, row in qqp["most_confident"].items()
    )
    console.print(f"QQP pairs MiniLM is surest about, labelled non-duplicate: {confident}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/gptcache", help="folder with mock_data.json and qqp_*.json")
    parser.add_argument("--qqp-limit", type=int, default=0, help="use only the first N QQP pairs (0: all 10,000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    show(results)
    publish("semantic_cache", results, as_json=args.json)


if __name__ == "__main__":
    main()
