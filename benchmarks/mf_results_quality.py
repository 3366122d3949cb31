"""APGR of multi-model mf routers trained on results tables, on the full MMLU, GSM8K and MT Bench.

Every source and benchmark prompt is embedded once (MiniLM-L6, on-disk cache under ``$ROUTELLM_CACHE_DIR``)
and every configuration is trained on the cached vectors, so a configuration costs seconds. APGR uses
the evaluator's own sweep (``routellm.evaluation.metrics``: 10 quantile bins, 11 points) and a
bootstrap 95% interval (resampling prompts, the router's scores fixed). Reported beside random,
length (longer prompt → strong) and the rank average of mf with length.

    ROUTELLM_DATA_DIR=../shared/data ROUTELLM_CACHE_DIR=.cache/routellm nice -n 5 \\
        .venv/bin/python benchmarks/mf_results_quality.py [--configs default,loso] [--seeds 3]

``--embedder static`` (with ``-E model=DIR``) or ``-E backend=torch`` compare prompt encoders on the same recipes
(``--configs recipes``: the three shipped checkpoints' source sets).

Writes ``results/mf_results_quality.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from routellm.evaluation.metrics import compute_metrics, sweep
from routellm.registry import get_registry
from routellm_router_mf.checkpoint import MFConfig
from routellm_router_mf.scoring import model_logits
from routellm_router_mf.train_results import (
    ResultsTrainOptions,
    cached_embedder,
    feature_matrix,
    fit_results,
    stack_results,
)
from routellm_train.decontaminate import decontaminate
from routellm_train.sources import SOURCES

BENCHMARKS = ("mmlu", "gsm8k", "mt_bench")
STRONG = "gpt-4-1106-preview"
# Weak model rows tried at routing time (the benchmarks' weak model is Mixtral-8x7B-Instruct).
WEAK_CANDIDATES = ("mistralai/mixtral-8x7b-chat", "Mixtral-8x7B-Instruct-v0.1")
SAME_MODEL = {"gpt4_1106_preview": "gpt-4-1106-preview"}


def apgr(scores, strong_q, weak_q) -> float:
    return compute_metrics(sweep(scores, strong_q, weak_q), float(np.mean(weak_q)), float(np.mean(strong_q))).apgr


def apgr_interval(scores, strong_q, weak_q, *, draws: int = 300, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    n = len(scores)
    values = []
    for _ in range(draws):
        idx = rng.integers(0, n, n)
        s, w = strong_q[idx], weak_q[idx]
        if np.isclose(s.mean(), w.mean()):
            continue
        values.append(apgr(scores[idx], s, w))
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    return r / max(len(x) - 1, 1)


def load_benchmarks():
    registry = get_registry()
    out = {}
    for name in BENCHMARKS:
        data = registry.create_benchmark(name).load()
        out[name] = (
            list(data.prompts),
            np.asarray(data.quality[data.strong_model], dtype=np.float64),
            np.asarray(data.quality[data.weak_model], dtype=np.float64),
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="main", help="comma list: main, recipes, loso, options, all")
    parser.add_argument("--embedder", default="huggingface", help="embedder name (see `routellm plugins`)")
    parser.add_argument("-E", "--embedder-option", action="append", default=[], metavar="KEY=VALUE",
                        help="embedder option (JSON values parsed), e.g. -E backend=torch or -E model=DIR")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run are first-seed .. first-seed + seeds - 1")
    parser.add_argument("--near-also", action="append", default=[], metavar="BENCHMARK",
                        help="also drop near-duplicates of this benchmark's prompts (e.g. routerbench, as the CLI does)")
    parser.add_argument("--out", type=Path, default=Path("results/mf_results_quality.json"))
    parser.add_argument("--embed-only", action="store_true")
    parser.add_argument("--benchmarks", default="mt_bench,gsm8k,mmlu", help="benchmarks to embed and evaluate")
    parser.add_argument("--extra-cache", action="append", help="other EmbeddingCache folders to take vectors from first")
    parser.add_argument("--mmlu-pro-subsample", type=int, default=0, help="use only the MMLU-Pro items already in --extra-cache")
    parser.add_argument("--mmlu-subsample", type=int, default=0, help="evaluate MMLU on at most N prompts already in --extra-cache")
    parser.add_argument("--sw-ranking", default="", help="';'-separated source sets (a+b) to evaluate sw_ranking on")
    parser.add_argument("--checkpoint", action="append", help="also score a trained mf folder, DIR or DIR|STRONG,WEAK (default pair: gpt-4-1106-preview vs RouterBench's Mixtral)")
    parser.add_argument("--skip-mmlu-pro", action="store_true", help="leave the MMLU-Pro source out (its long prompts are slow to embed)")
    args = parser.parse_args()

    t0 = time.time()
    bench = load_benchmarks()
    options = {"num_threads": 2} if args.embedder == "huggingface" else {}
    for item in args.embedder_option:
        key, _, value = item.partition("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    emb, cache, recorded = cached_embedder(args.embedder, options)
    print(f"embedder: {recorded} (cache {cache.folder})", flush=True)
    extras = []
    for folder in args.extra_cache or []:
        # Vectors embedded by other processes (same embedder) are taken from their cache folders first.
        from routellm_train.embedding_cache import EmbeddingCache

        extras.append(EmbeddingCache(folder, lambda texts: emb.embed(texts)))

    def from_extras(texts):
        out = []
        for text in texts:
            hit = next((e for e in extras if e.has(text)), None)
            out.append(hit.embed([text])[0] if hit is not None else emb.embed([text])[0])
        return np.array(out)

    if extras:
        cache = EmbeddingCache(cache.folder, from_extras)
    embed = lambda texts: cache.embed(texts, echo=print, chunk=256)  # noqa: E731
    evaluated = args.benchmarks.split(",")
    tables = {name: SOURCES[name].load() for name in SOURCES if not (args.skip_mmlu_pro and name == "mmlu_pro")}
    if args.mmlu_pro_subsample and "mmlu_pro" in tables:
        t = tables["mmlu_pro"]
        have = np.array([any(e.has(p) for e in extras) for p in t.prompts])
        keep = np.flatnonzero(have)[: args.mmlu_pro_subsample]
        tables["mmlu_pro"] = t.subset(keep)
        print(f"mmlu_pro: random subset of {len(keep)} of {len(t)} items (embedding budget)", flush=True)
    # Small sets first (each chunk is saved as it is done), MMLU last.
    for name in ("routerbench", "gsm8k_train_7b", "routerarena", "alpaca_eval_mixtral"):
        embed(tables[name].prompts)
    for name in ("mt_bench", "gsm8k"):
        if name in evaluated:
            embed(bench[name][0])
    if not args.skip_mmlu_pro:
        embed(tables["mmlu_pro"].prompts)
    bench_x = {}
    for name in [e for e in evaluated if not (args.mmlu_subsample and e == "mmlu")]:
        t = time.time()
        bench_x[name] = embed(bench[name][0])
        print(f"{name}: {len(bench[name][0])} prompts embedded/cached in {time.time() - t:.0f} s", flush=True)
    # Normalised-prefix test against every benchmark; near-duplicates against the embedded ones.
    cleaned, report = decontaminate(
        list(tables.values()), {k: v[0] for k, v in bench.items()}, embed=None, threshold=None, echo=None
    )
    near_ref = {k: bench[k][0] for k in evaluated if k in bench_x}
    for extra_bench in args.near_also:
        # as `routellm train mf` does: near-duplicates of every installed benchmark, not only the evaluated ones
        near_ref[extra_bench] = list(get_registry().create_benchmark(extra_bench).load().prompts)
    if args.mmlu_subsample and "mmlu" in evaluated:  # near-duplicates vs the embedded part of MMLU
        near_ref["mmlu"] = [p for p in bench["mmlu"][0] if any(e.has(p) for e in extras)]
    cleaned, near = decontaminate(cleaned, near_ref, embed=embed, echo=None)
    for name, counts in report.counts.items():
        counts["near_duplicate"] = near.counts[name]["near_duplicate"]
        counts["kept"] = near.counts[name]["kept"]
        print(f"decontamination {name}: {counts} (near-duplicates vs {', '.join(evaluated)})", flush=True)
    tables = {t.info.name: t for t in cleaned}
    source_x = {name: embed(t.prompts) for name, t in tables.items()}
    if args.mmlu_subsample and "mmlu" in evaluated:
        # Only the MMLU prompts already embedded by the other process, which embeds them in a seeded random
        # order: a uniform random subsample, reported as such.
        prompts, sq, wq = bench["mmlu"]
        order = np.random.default_rng(0).permutation(len(prompts))
        have = [i for i in order if any(e.has(prompts[i]) for e in extras)]
        keep = np.sort(np.array(have[: args.mmlu_subsample], dtype=int))
        bench["mmlu"] = ([prompts[i] for i in keep], sq[keep], wq[keep])
        print(f"mmlu: random subsample of {len(keep)} of {len(prompts)} prompts", flush=True)
    bench_x = {name: embed(bench[name][0]) for name in evaluated}
    bench = {k: bench[k] for k in evaluated}
    print(f"loading + embedding: {time.time() - t0:.0f} s", flush=True)
    if args.embed_only:
        return

    baselines = {}
    for name, (prompts, sq, wq) in bench.items():
        length = np.array([len(p) for p in prompts], dtype=np.float64)
        baselines[name] = {"length": apgr(length, sq, wq), "length_ci": apgr_interval(length, sq, wq)}
        print(f"{name}: length APGR {baselines[name]['length']:.3f} {baselines[name]['length_ci']}", flush=True)

    results = {"embedder": recorded, "baselines": baselines, "decontamination": report.counts, "benchmarks": evaluated,
               "configs": {}}
    for folder in args.checkpoint or []:
        # A trained folder (e.g. the shipped default), scored exactly as the router scores it.
        from routellm_router_mf.checkpoint import find_model, load_checkpoint
        from routellm_router_mf.scoring import prompt_matrix

        folder, _, pair_spec = folder.partition("|")
        cfg, weights = load_checkpoint(Path(folder))
        pair = pair_spec.split(",") if pair_spec else [STRONG, WEAK_CANDIDATES[0]]
        rows = [find_model(cfg.names, m, where=folder, aliases=cfg.aliases) for m in pair]
        row = {"pair": [cfg.names[r] for r in rows]}
        # The blend router (mf + length, equal weights, builtin reference prompts), computed as it computes it:
        # each member's score through its empirical CDF on the reference prompts, then the weighted mean.
        from routellm_router_blend.reference import EmpiricalCDF, load_reference

        ref_prompts, _ = load_reference("builtin")
        ref_out = model_logits(cfg, weights, prompt_matrix(cfg, embed(ref_prompts), ref_prompts), rows)
        mf_cdf = EmpiricalCDF(ref_out[:, 0] - ref_out[:, 1])
        len_cdf = EmpiricalCDF([len(p) for p in ref_prompts])
        for bname, (prompts, sq, wq) in bench.items():
            out = model_logits(cfg, weights, prompt_matrix(cfg, bench_x[bname], prompts), rows)
            score = out[:, 0] - out[:, 1]
            length = np.array([len(p) for p in prompts], dtype=np.float64)
            row[bname] = apgr(score, sq, wq)
            row[f"{bname}|ci"] = apgr_interval(score, sq, wq, draws=1000)
            row[f"{bname}|+length"] = apgr(ranks(score) + ranks(length), sq, wq)
            row[f"{bname}|+length|ci"] = apgr_interval(ranks(score) + ranks(length), sq, wq, draws=1000)
            blend = 0.5 * mf_cdf(score) + 0.5 * len_cdf(length)
            row[f"{bname}|blend"] = apgr(blend, sq, wq)
            row[f"{bname}|blend|ci"] = apgr_interval(blend, sq, wq, draws=1000)
        results.setdefault("checkpoints", {})[folder + (f"|{pair_spec}" if pair_spec else "")] = row
        print(f"checkpoint {folder}: {row}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1, default=float))

    all_sources = [s for s in ("routerbench", "gsm8k_train_7b", "routerarena", "mmlu_pro", "alpaca_eval_mixtral") if s in tables]
    configs: dict[str, tuple[list[str], dict, dict]] = {}
    wanted = {c for c in args.configs.split(",") if c}
    if wanted & {"main", "all"}:
        configs["all5"] = (all_sources, {}, {})
        configs["all5+len"] = (all_sources, {"features": ["log_chars"]}, {})
        configs["rb+gsm+ra"] = (["routerbench", "gsm8k_train_7b", "routerarena"], {}, {})
        configs["no_alpaca"] = ([s for s in all_sources if s != "alpaca_eval_mixtral"], {}, {})
        configs["apache"] = ([s for s in ("routerarena", "mmlu_pro", "alpaca_eval_mixtral") if s in tables], {}, {})
        configs["routerbench"] = (["routerbench"], {}, {})
    if "recipes" in wanted:
        # The shipped checkpoints' recipes (docs/routers/mf.md commands (1), (2), (3)).
        configs["all5"] = (all_sources, {}, {})
        configs["apache"] = ([s for s in ("routerarena", "mmlu_pro", "alpaca_eval_mixtral") if s in tables], {}, {})
        configs["routerbench"] = (["routerbench"], {}, {})
    if wanted & {"options", "all"}:
        configs["all5 pointwise"] = (all_sources, {"pairwise_weight": 0.0}, {})
        configs["all5 pairwise"] = (all_sources, {"pointwise_weight": 0.0}, {})
        configs["all5 dim32"] = (all_sources, {"dim": 32}, {})
        configs["all5 dim128"] = (all_sources, {"dim": 128}, {})
    if wanted & {"merged", "all"}:
        # RouterBench's "mistralai/mixtral-8x7b-chat" and MMLU-Pro's "Mixtral-8x7B-Instruct-v0.1" are the same model
        # (Mixtral-8x7B-Instruct): one row for both (a true synonym, not an alias of different models).
        merged = {"same_model": {"Mixtral-8x7B-Instruct-v0.1": "mistralai/mixtral-8x7b-chat"}}
        configs["all5 mixtral-merged"] = (all_sources, merged, {})
        configs["all5+len mixtral-merged"] = (all_sources, {**merged, "features": ["log_chars"]}, {})
    if wanted & {"loso", "all"}:
        for left in all_sources:
            configs[f"all5 - {left}"] = ([s for s in all_sources if s != left], {}, {})
    for spec in wanted - {"main", "recipes", "options", "loso", "merged", "all"}:
        # custom: "src1+src2[@opt=val...]"
        head, _, opts = spec.partition("@")
        extra = dict(o.split("=") for o in opts.split("/") if o)
        parsed = {k: (json.loads(v) if v[:1] in "[{0123456789.-" else v) for k, v in extra.items()}
        configs[spec] = (head.split("+"), parsed, {})

    from routellm_router_blend.reference import EmpiricalCDF, load_reference

    ref_prompts, _ = load_reference("builtin")  # the blend router's builtin reference prompts
    ref_x = embed(ref_prompts)
    ref_len_cdf = EmpiricalCDF([len(p) for p in ref_prompts])
    for cname, (srcs, opt_over, _) in configs.items():
        rows = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            over = dict(opt_over)
            options = ResultsTrainOptions(seed=seed, same_model={**SAME_MODEL, **over.pop("same_model", {})}, **over)
            data = stack_results([tables[s] for s in srcs], options.same_model)
            e = np.concatenate([source_x[s] for s in srcs])
            rng = np.random.default_rng(seed)
            val = np.zeros(len(data.prompts), dtype=bool)
            val[rng.permutation(len(val))[: round(0.1 * len(val))]] = True
            feats, mean, std = feature_matrix(options.features, data.prompts, ~val)
            t = time.time()
            fitted = fit_results(np.concatenate([e, feats], axis=1), data, val, options)
            seconds = time.time() - t
            cfg = MFConfig(
                dim=options.dim, num_models=len(data.names), text_dim=e.shape[1], model_names=data.names,
                features=options.features, feature_mean=mean, feature_std=std,
                activation="tanh", normalize_models=False, model_bias=True,
            )
            from routellm_router_mf.scoring import prompt_matrix

            strong = data.names.index(STRONG) if STRONG in data.names else None
            row = {"seed": seed, "train_seconds": seconds, **{k: v for k, v in fitted.metrics.items()}}
            for weak_name in WEAK_CANDIDATES:
                if strong is None or weak_name not in data.names:
                    continue
                weak = data.names.index(weak_name)
                ref_out = model_logits(cfg, fitted.weights, prompt_matrix(cfg, ref_x, ref_prompts), [strong, weak])
                ref_cdf = EmpiricalCDF(ref_out[:, 0] - ref_out[:, 1])
                for bname, (prompts, sq, wq) in bench.items():
                    x = prompt_matrix(cfg, bench_x[bname], prompts)
                    out = model_logits(cfg, fitted.weights, x, [strong, weak])
                    score = out[:, 0] - out[:, 1]
                    length = np.array([len(p) for p in prompts], dtype=np.float64)
                    row[f"{weak_name}|{bname}"] = apgr(score, sq, wq)
                    row[f"{weak_name}|{bname}|+length"] = apgr(ranks(score) + ranks(length), sq, wq)
                    row[f"{weak_name}|{bname}|blend"] = apgr(0.5 * ref_cdf(score) + 0.5 * ref_len_cdf(length), sq, wq)
                    if seed == args.first_seed:
                        row[f"{weak_name}|{bname}|ci"] = apgr_interval(score, sq, wq)
            rows.append(row)
        results["configs"][cname] = rows
        keys = [k for k in rows[0] if "|" in k and not k.endswith("|ci")]
        summary = "  ".join(
            f"{k.replace('mistralai/mixtral-8x7b-chat', 'rbmix').replace('Mixtral-8x7B-Instruct-v0.1', 'mix')}="
            f"{np.mean([r[k] for r in rows]):.3f}[{min(r[k] for r in rows):.3f},{max(r[k] for r in rows):.3f}]"
            for k in keys
        )
        print(f"{cname}: train {np.mean([r['train_seconds'] for r in rows]):.1f}s  {summary}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1, default=float))
    if args.sw_ranking:
        # sw_ranking on the same decontaminated data: results -> battles, one embedding per distinct prompt.
        from routellm_router_sw_ranking.ranking_data import RankingData, distinct_prompts
        from routellm_router_sw_ranking.router import SWRankingRouter
        from routellm_train.results import results_to_battles

        for sname in args.sw_ranking.split(";"):
            srcs = sname.split("+")
            t = time.time()
            frame = results_to_battles([tables[x] for x in srcs]).drop("weight")
            frame = frame.with_columns(
                frame["model_a"].replace(SAME_MODEL), frame["model_b"].replace(SAME_MODEL)
            )
            prompts = distinct_prompts(frame)
            data = RankingData.from_battles(frame, embed(prompts), num_tiers=10, source=sname)
            row = {"train_seconds": time.time() - t}
            for weak_name in WEAK_CANDIDATES:
                if weak_name not in data.tiers:
                    continue
                try:
                    router = SWRankingRouter(SWRankingRouter.Config(strong_model=STRONG, weak_model=weak_name), data=data)
                except Exception as exc:  # same tier
                    row[f"{weak_name}|error"] = str(exc)
                    continue
                for bname, (_bp, sq, wq) in bench.items():
                    wr = router.win_rates_from_embeddings(bench_x[bname])
                    row[f"{weak_name}|{bname}"] = apgr(wr, sq, wq)
                    row[f"{weak_name}|{bname}|ci"] = apgr_interval(wr, sq, wq)
            results.setdefault("sw_ranking", {})[sname] = row
            print(f"sw_ranking {sname}: {row}", flush=True)
            args.out.write_text(json.dumps(results, indent=1, default=float))
    print(f"wrote {args.out}")
    emb.close()


if __name__ == "__main__":
    main()
