"""The L2 semantic cache on GPTCache's benchmark pairs and on labeled Quora question pairs.

    .venv/bin/python bench/semantic_cache.py --data ../shared/data/gptcache [--cache DIR] [--json] [--qqp-limit N]

mock_data.json (999 pairs of an "origin" sentence and a paraphrase, "similar"): every distinct origin is stored
through the real L2 store (pgvector in a throwaway embedded PostgreSQL) with itself as the answer; each paraphrase
is looked up through the real store. A served answer is a right hit when it is the paraphrase's origin, else a
wrong hit; no answer is a miss. This is GPTCache's own protocol, whose published figures are printed beside ours.

qqp_labeled_dev.json (10,000 pairs, 1 = same question): pairwise, the cache holds text_a and is asked text_b. Only
the held-out half is measured (bench/train_pair_verifier.qqp_sides: pairs grouped by shared question, groups split
by a hash); the pair verifier was trained on the other half.
A served non-duplicate is a wrong hit; we report the wrong-hit rate on non-duplicates and the wrong share of hits,
the wrong share among the pairs MiniLM is surest about, and the labels' noise: how many pairs identical but for case,
punctuation, articles, a pronoun or can/could are labelled non-duplicate (with an exact 95 % interval).

Three deciders are compared on the same candidates: plain cosine (the best match at or above the threshold, as
GPTCache's distance evaluation does), opsdesk before the pair verifier (cosine, a margin over the runner-up, and
agreement of numbers, codes and calendar words) and opsdesk as shipped (the same checks from a lower cosine floor,
then the learned pair verifier; `opsdesk.conversation.semantic.choose`). On QQP the shipped decider is also compared
with plain cosine at matched recall: the cosine threshold that serves as many duplicates, and its wrong hits.
The frontier table shows, for every verifier threshold (steps of 0.01) at which GPTCache keeps at least 804 right
hits, the QQP ratio at matched recall: what any threshold of this verifier can reach under the GPTCache target.
The verifier's own cost per lookup (its two questions' word vectors, one MiniLM run each, and the network) is timed
on fresh GPTCache questions.
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
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from bench._results import publish
from bench.train_pair_verifier import encode, matched_recall, qqp_sides, word_source
from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.conversation.cache import CacheScope
from opsdesk.conversation.pair_verifier import (
    PairVerifier,
    load_pair_verifier,
    shipped_word_vectors,
    training_record,
)
from opsdesk.conversation.semantic import Candidate, SemanticCache, choose
from opsdesk.core.settings import Settings
from opsdesk.db.embedded import EmbeddedPostgres
from opsdesk.providers.embedding.local_minilm import LocalMiniLM

THRESHOLDS = (0.80, 0.85, 0.90, 0.95)
CONFIDENT = (0.97, 0.98, 0.99)  # cosine floors for the most-confident QQP pairs
GPTCACHE = {0.95: (425, 25, 549), 0.90: (804, 77, 118), 0.80: (904, 92, 3)}  # its README, same 999 pairs
TARGET_RIGHT = 804
TARGET_WRONG_SHARE = 0.01
TARGET_MATCHED_RATIO = 0.5  # the shipped decider's QQP wrong hits over plain cosine's at the same right hits
BEFORE = 0.80  # the cosine threshold opsdesk shipped before the pair verifier
VERIFIER_CURVE = (0.5, 0.6, 0.7, 0.8, 0.9)  # other verifier thresholds shown for the trade-off (floor as shipped)
FRONTIER = tuple(round(0.01 * step, 2) for step in range(1, 100))
COST_SAMPLE = 200  # fresh questions timed for the verifier's cost per lookup
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


def verifier_cost(questions: list[str], cached: list[str], verifier: PairVerifier) -> dict[str, float]:
    """Milliseconds the verifier adds to a lookup: word vectors of a question not seen before (one MiniLM run, the
    shipped source), and the features and network once both questions' word vectors are at hand."""
    runs, scores = [], []
    vector = np.zeros(LocalMiniLM.dim, dtype=np.float32)
    for question, other in zip(questions, cached, strict=True):
        started = time.perf_counter()
        shipped_word_vectors(question)
        runs.append((time.perf_counter() - started) * 1000)
        shipped_word_vectors(other)
        started = time.perf_counter()
        replace(verifier, word_vectors=shipped_word_vectors).probability(question, vector, other, vector)
        scores.append((time.perf_counter() - started) * 1000)
    return {
        "word_vectors_p50_ms": round(statistics.median(runs), 2),
        "word_vectors_p95_ms": round(sorted(runs)[int(0.95 * (len(runs) - 1))], 2),
        "score_p50_ms": round(statistics.median(scores), 3),
    }


async def gptcache_pairs(
    ctx: AppContext,
    pairs: list[dict[str, str]],
    floor: float,
    margin: float,
    verifier: PairVerifier,
    cache: Path | None,
) -> dict[str, Any]:
    origins = sorted({pair["origin"] for pair in pairs})
    questions = [pair["similar"] for pair in pairs]
    console.print(f"mock_data: embedding {len(origins)} origins and {len(pairs)} paraphrases (with their words) …")
    origin_vectors, origin_words = await asyncio.to_thread(encode, origins, cache, "mock-origins")
    query_vectors, query_words = await asyncio.to_thread(encode, questions, cache, "mock-similar")
    verifier = replace(verifier, word_vectors=word_source([*origins, *questions], [*origin_words, *query_words]))
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
    deciders: list[tuple[str, Any]] = []
    for threshold in THRESHOLDS:
        deciders.append((f"plain@{threshold:.2f}", lambda c, q, v, t=threshold: _plain(c, t)))
        deciders.append((f"before@{threshold:.2f}", lambda c, q, v, t=threshold: choose(q, c, t, margin)))
    deciders.append(("shipped", lambda c, q, v: choose(q, c, floor, margin, verifier=verifier, vector=v)))
    for level in VERIFIER_CURVE:
        other = replace(verifier, threshold=level)
        deciders.append(
            (f"verifier@{level:.2f}", lambda c, q, v, o=other: choose(q, c, floor, margin, verifier=o, vector=v))
        )
    for name, decide in deciders:
        outcomes = []
        for pair, candidates, vector in zip(pairs, found, query_vectors, strict=True):
            chosen = decide(candidates, pair["similar"], vector)
            outcomes.append(
                "miss" if chosen is None else "right" if chosen.answer["text"] == pair["origin"] else "wrong"
            )
        results[name] = _tally(outcomes)
    scored = []  # (right candidate, probability or None when the checks before the verifier refuse)
    for pair, candidates, vector in zip(pairs, found, query_vectors, strict=True):
        best = choose(pair["similar"], candidates, floor, margin)
        probability = (
            None
            if best is None or best.vector is None
            else verifier.probability(pair["similar"], vector, best.question, best.vector)
        )
        scored.append((best is not None and best.answer["text"] == pair["origin"], probability))
    results["frontier"] = {
        f"{level:.2f}": [
            sum(1 for right, p in scored if p is not None and p >= level and right),
            sum(1 for right, p in scored if p is not None and p >= level and not right),
        ]
        for level in FRONTIER
    }
    sample = slice(0, COST_SAMPLE)
    results["verifier_cost"] = await asyncio.to_thread(
        verifier_cost, questions[sample], [origins[0]] * len(questions[sample]), verifier
    )
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


def qqp_pairs(
    pairs: list[dict[str, Any]], floor: float, margin: float, verifier: PairVerifier, cache: Path | None
) -> dict[str, Any]:
    console.print(f"qqp: embedding {len(pairs)} held-out pairs (two texts each, with their words) …")
    texts_a, texts_b = [str(pair["text_a"]) for pair in pairs], [str(pair["text_b"]) for pair in pairs]
    a, words_a = encode(texts_a, cache, "qqp-test-a")
    b, words_b = encode(texts_b, cache, "qqp-test-b")
    verifier = replace(verifier, word_vectors=word_source([*texts_a, *texts_b], [*words_a, *words_b]))
    similarities = (a * b).sum(axis=1)
    labels = np.array([int(pair["label"]) for pair in pairs])
    duplicates = int(labels.sum())
    results: dict[str, Any] = {
        "pairs": len(pairs),
        "duplicates": duplicates,
        "non_duplicates": len(pairs) - duplicates,
        "label_ceiling": label_ceiling(pairs),
        "most_confident": most_confident(similarities.tolist(), labels.tolist()),
    }

    def tally(served: Any) -> dict[str, Any]:
        right, wrong = int((served & (labels == 1)).sum()), int((served & (labels == 0)).sum())
        return {
            "dup_hits": right,
            "wrong": wrong,
            "wrong_rate_non_dup": round(wrong / max(1, len(pairs) - duplicates), 4),
            "wrong_share": round(wrong / (right + wrong), 4) if right + wrong else 0.0,
        }

    def decide(threshold: float, check: PairVerifier | None) -> Any:
        served = []
        for pair, vector_a, vector_b, similarity in zip(pairs, a, b, similarities, strict=True):
            candidate = Candidate(uuid.uuid4(), str(pair["text_a"]), {}, float(similarity), vector_a)
            found = choose(str(pair["text_b"]), [candidate], threshold, margin, verifier=check, vector=vector_b)
            served.append(found is not None)
        return np.array(served)

    for threshold in THRESHOLDS:
        results[f"plain@{threshold:.2f}"] = tally(similarities >= threshold)
        results[f"before@{threshold:.2f}"] = tally(decide(threshold, None))
    shipped = decide(floor, verifier)
    results["shipped"] = tally(shipped)
    results["shipped_matched"] = matched_recall(similarities, labels, shipped)
    results["before_matched"] = matched_recall(similarities, labels, decide(BEFORE, None))
    for level in VERIFIER_CURVE:
        served = decide(floor, replace(verifier, threshold=level))
        results[f"verifier@{level:.2f}"] = tally(served) | {"matched": matched_recall(similarities, labels, served)}
    gate = decide(floor, None)
    probability = np.array(
        [
            verifier.probability(text_b, vector_b, text_a, vector_a) if passes else -1.0
            for text_a, text_b, vector_a, vector_b, passes in zip(texts_a, texts_b, a, b, gate, strict=True)
        ]
    )
    results["frontier"] = {
        f"{level:.2f}": matched_recall(similarities, labels, probability >= level) for level in FRONTIER
    }
    return results


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(args.data)
    mock = json.loads((data / "mock_data.json").read_text())
    everything = json.loads((data / "qqp_labeled_dev.json").read_text())
    sides = qqp_sides(everything)
    held_out = [pair for pair, side in zip(everything, sides, strict=True) if side == "test"]
    qqp = held_out[: args.qqp_limit or None]
    shipped = Settings(_env_file=None)  # type: ignore[call-arg]
    floor, margin = shipped.semantic_cache_threshold, shipped.semantic_cache_margin
    verifier = load_pair_verifier(shipped.semantic_cache_verifier_threshold)
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
                gpt = await gptcache_pairs(ctx, mock, floor, margin, verifier, args.cache)
            finally:
                await ctx.close()
        finally:
            server.stop()
    quora = await asyncio.to_thread(qqp_pairs, qqp, floor, margin, verifier, args.cache)
    ours, matched = gpt["shipped"], quora["shipped_matched"]
    targets = {
        "gptcache_right_hits": {"value": ours["right"], "target": TARGET_RIGHT, "met": ours["right"] >= TARGET_RIGHT},
        "gptcache_wrong_share": {
            "value": ours["wrong_share"],
            "target": TARGET_WRONG_SHARE,
            "met": ours["wrong_share"] <= TARGET_WRONG_SHARE,
        },
        "qqp_wrong_vs_cosine_at_matched_recall": {
            "value": matched["ratio"],
            "target": TARGET_MATCHED_RATIO,
            "met": matched["ratio"] is not None and matched["ratio"] <= TARGET_MATCHED_RATIO,
        },
        "qqp_wrong_share": {
            "value": quora["shipped"]["wrong_share"],
            "target": TARGET_WRONG_SHARE,
            "met": quora["shipped"]["wrong_share"] <= TARGET_WRONG_SHARE,
        },
    }
    record = training_record()
    return {
        "shipped": {"floor": floor, "margin": margin, "verifier_threshold": verifier.threshold},
        "verifier_training": {"pairs": record["pairs"], "split": record["split"], "data_sha256": record["data_sha256"]},
        "qqp_pairs": {"train": sides.count("train"), "test": sides.count("test"), "measured": len(qqp)},
        "gptcache": gpt,
        "qqp": quora,
        "targets": targets,
    }


def show(results: dict[str, Any]) -> None:
    gpt, qqp, shipped = results["gptcache"], results["qqp"], results["shipped"]
    counts = results["qqp_pairs"]
    table = Table(
        title=f"Semantic cache (L2): GPTCache mock_data ({gpt['queries']} paraphrases of {gpt['entries']} entries) "
        f"and QQP held-out ({counts['measured']:,} of {counts['train'] + counts['test']:,} pairs; the verifier "
        f"trained on the other {counts['train']:,})"
    )
    for column in (
        "setting",
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
        table.add_column(column, justify="left" if column in ("setting", "decider") else "right")

    def row(setting: str, label: str, g: dict[str, Any], q: dict[str, Any]) -> None:
        table.add_row(
            setting,
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

    for threshold in sorted(THRESHOLDS, reverse=True):
        if threshold in GPTCACHE:
            right, wrong, miss = GPTCACHE[threshold]
            share = f"{100 * wrong / (right + wrong):.1f}"
            table.add_row(f"{threshold:.2f}", "GPTCache (published)", str(right), str(wrong), str(miss), share)
        key = f"{threshold:.2f}"
        row(key, "MiniLM cosine", gpt[f"plain@{key}"], qqp[f"plain@{key}"])
        row(key, "before: + margin, agreement", gpt[f"before@{key}"], qqp[f"before@{key}"])
    for level in VERIFIER_CURVE:
        key = f"verifier@{level:.2f}"
        row(f"{shipped['floor']:.2f} / p {level:.2f}", "verifier (other thresholds)", gpt[key], qqp[key])
    row(
        f"{shipped['floor']:.2f} / p {shipped['verifier_threshold']:.2f} *",
        "ours: + margin, agreement, verifier",
        gpt["shipped"],
        qqp["shipped"],
    )
    console.print(table)
    cost = gpt["verifier_cost"]
    console.print(
        f"* shipped: cosine floor {shipped['floor']}, margin {shipped['margin']}, pair verifier p >= "
        f"{shipped['verifier_threshold']}; pgvector candidates p50 {gpt['lookup_p50_ms']} ms, p95 "
        f"{gpt['lookup_p95_ms']} ms; the verifier adds per lookup: word vectors of a new question "
        f"{cost['word_vectors_p50_ms']} ms p50 ({cost['word_vectors_p95_ms']} ms p95; a stored question's once per "
        f"process), features and network {cost['score_p50_ms']} ms"
    )
    matched = Table(title="QQP held-out at matched recall: wrong hits of plain cosine serving as many duplicates")
    for column in ("decider", "dup hits", "wrong", "cosine threshold", "cosine dup hits", "cosine wrong", "ratio"):
        matched.add_column(column, justify="left" if column == "decider" else "right")
    rows = [(f"before (cosine {BEFORE:.2f}, margin, agreement)", qqp["before_matched"])]
    rows += [(f"verifier p {level:.2f}", qqp[f"verifier@{level:.2f}"]["matched"]) for level in VERIFIER_CURVE]
    rows.append((f"ours (shipped, p {shipped['verifier_threshold']:.2f})", qqp["shipped_matched"]))
    for label, item in rows:
        matched.add_row(
            label,
            str(item["right"]),
            str(item["wrong"]),
            f"{item['cosine_threshold']:.3f}",
            str(item["cosine_right"]),
            str(item["cosine_wrong"]),
            f"{item['ratio']:.2f}" if item["ratio"] is not None else "-",
        )
    console.print(matched)
    frontier = Table(
        title=f"Frontier: every verifier threshold at which GPTCache keeps >= {TARGET_RIGHT} right hits "
        f"(floor {shipped['floor']}), with the QQP held-out ratio at matched recall (target {TARGET_MATCHED_RATIO})"
    )
    for column in ("p", "GPTCache right", "wrong", "wrong %", "QQP dup hits", "QQP wrong", "cosine wrong", "ratio"):
        frontier.add_column(column, justify="right")
    for level, (right, wrong) in gpt["frontier"].items():
        if right < TARGET_RIGHT:
            continue
        item = qqp["frontier"][level]
        frontier.add_row(
            level + (" *" if float(level) == shipped["verifier_threshold"] else ""),
            str(right),
            str(wrong),
            f"{100 * wrong / max(1, right + wrong):.2f}",
            str(item["right"]),
            str(item["wrong"]),
            str(item["cosine_wrong"]),
            f"{item['ratio']:.2f}" if item["ratio"] is not None else "-",
        )
    console.print(frontier)
    for name, target in results["targets"].items():
        verdict = "[green]met[/green]" if target["met"] else "[red]NOT met[/red]"
        console.print(f"  {name}: {target['value']} (target {target['target']}) {verdict}")
    ceiling = qqp["label_ceiling"]
    lower, upper = ceiling["ci95"]
    console.print(
        f"QQP label noise (held-out pairs): of {ceiling['pairs']} pairs that differ only in case, punctuation, "
        f"articles, a pronoun or can/could, {ceiling['labelled_non_duplicate']} are labelled non-duplicate "
        f"({100 * ceiling['share']:.1f} %, 95 % CI {100 * lower:.1f}-{100 * upper:.1f} %; as many or more would happen "
        f"with probability {ceiling['p_if_noise_were_target']:.3f} if the noise were {100 * TARGET_WRONG_SHARE:.0f} %)"
    )
    for text_a, text_b in ceiling["examples"]:
        console.print(f"  {text_a!r} / {text_b!r}")
    confident = ", ".join(
        f"cosine >= {floor}: {item['wrong']} of {item['served']} ({100 * item['wrong_share']:.1f} %)"
        for floor, item in qqp["most_confident"].items()
    )
    console.print(f"QQP held-out pairs MiniLM is surest about, labelled non-duplicate: {confident}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/gptcache", help="folder with mock_data.json and qqp_*.json")
    parser.add_argument("--qqp-limit", type=int, default=0, help="use only the first N held-out QQP pairs (0: all)")
    parser.add_argument("--cache", type=Path, help="keep the MiniLM vectors and word vectors here between runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    show(results)
    publish("semantic_cache", results, as_json=args.json)


if __name__ == "__main__":
    main()
