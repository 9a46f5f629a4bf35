"""``chaoyun rul-bench`` and ``chaoyun failure-bench``: the benchmark commands' logic. Bad input ends with one
line in Chinese and English naming the file's line, and exit status 2."""

from __future__ import annotations

import json
import sys
from typing import Any

from chaoyun.apps.maintenance.predict.features import DataError


def _fail(exc: DataError) -> int:
    m = exc.messages()
    print(f"错误：{m['zh']} / Error: {m['en']}", file=sys.stderr)
    return 2


def rul_bench(
    train: str, test: str, out: str, folds: int = 5, cuts: int = 5, jobs: int = 2, as_json: bool = False
) -> int:
    from chaoyun.apps.maintenance.predict import rul

    try:
        res = rul.bench(train, test, out, folds=folds, cuts=cuts, n_jobs=jobs)
    except DataError as exc:
        return _fail(exc)
    _print(
        res,
        as_json,
        [
            (
                "交叉验证 RMSE / CV RMSE",
                f"{res['rmse']:.2f} (folds {', '.join(f'{r:.2f}' for r in res['rmse_folds'])})",
            ),
            ("PHM08 得分 / PHM08 score", f"{res['phm08']:.1f} (per {res['engines']} engines, one cut each)"),
            (
                "80% 区间 / 80 % interval",
                f"[{res['residual_q10']:+.1f}, {res['residual_q90']:+.1f}] cycles around the prediction",
            ),
            ("工况数 / operating conditions", str(res["conditions"])),
            ("特征 / features", f"{res['features']} from {res['sensors']} sensors"),
            (
                "训练 / training",
                f"final model {res['fit_seconds']:.1f} s; cross-validation {res['seconds']:.1f} s; "
                f"total {res['total_seconds']:.1f} s",
            ),
            ("输出 / written", f"{res['test_engines']} predictions → {res['out']}"),
        ],
    )
    return 0


def failure_bench(path: str, folds: int = 5, jobs: int = 2, as_json: bool = False) -> int:
    from chaoyun.apps.maintenance.predict import failure

    try:
        res = failure.bench(path, folds=folds, n_jobs=jobs)
    except DataError as exc:
        return _fail(exc)
    _print(
        res,
        as_json,
        [
            ("数据 / rows", f"{res['rows']} ({res['positives']} failures, {100 * res['positive_rate']:.2f} %)"),
            (
                "F1",
                f"{res['f1']:.3f} ± {res['f1_std']:.3f} ({len(res['folds'])}-fold stratified CV, "
                "threshold chosen in training folds)",
            ),
            ("PR-AUC", f"{res['pr_auc']:.3f} ± {res['pr_auc_std']:.3f}"),
            ("精确率 / precision", f"{res['precision']:.3f}"),
            ("召回率 / recall", f"{res['recall']:.3f}"),
            (
                "准确率 / accuracy",
                f"{res['accuracy']:.4f} (always 'no failure' would score {1 - res['positive_rate']:.4f})",
            ),
            ("用时 / seconds", f"{res['seconds']:.1f}"),
        ],
    )
    return 0


def _print(res: dict[str, Any], as_json: bool, lines: list[tuple[str, str]]) -> None:
    if as_json:
        print(json.dumps(res, ensure_ascii=False))
        return
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k.ljust(width)}  {v}")
