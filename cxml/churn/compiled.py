"""LightGBM trees compiled to flat arrays, walked by one numba kernel that returns, per row, the raw
log-odds and the top-k path (Saabas) attributions — one pass over the trees serves both.

Why: LightGBM's own ``predict`` and ``pred_leaf`` run ≈ 100,000 rows/s here, and summing path
attributions from ``pred_leaf`` output costs as much again; bulk scoring of a million customers
with reasons needs both in one walk. The decision rules copy LightGBM's ``tree.h``
(``NumericalDecision``: NaN becomes 0 unless the split's missing type is NaN, then the default
side for missing values; ``CategoricalDecision``: NaN or negative goes right, else left when the
category is in the split's set), and a test checks leaves and raw scores against LightGBM's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, prange

_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
CHUNK = 2048  # rows per parallel task: one credit buffer each


@dataclass(frozen=True)
class CompiledTrees:
    """Every tree of a LightGBM model as flat arrays (nodes, leaves, per-leaf path credits)."""

    roots: np.ndarray  # per tree: first node, or ~leaf for a tree without a split
    feature: np.ndarray
    threshold: np.ndarray
    categorical: np.ndarray
    missing: np.ndarray
    default_left: np.ndarray
    left: np.ndarray  # ≥ 0: a node; < 0: ~leaf
    right: np.ndarray
    category_start: np.ndarray  # per node: its categories going left, in ``categories``
    categories: np.ndarray
    leaf_value: np.ndarray
    path_start: np.ndarray  # per leaf: its credits in ``path_feature`` / ``path_value``
    path_feature: np.ndarray
    path_value: np.ndarray
    bias: float  # sum of the roots' mean outputs: raw score = bias + Σ attributions
    n_features: int


def compile_trees(dump: dict[str, Any]) -> CompiledTrees:
    """Flatten LightGBM's ``dump_model()`` output; path credits as in Saabas attribution.

    At each split the change in the node's mean output is credited to the split's feature, so
    along a leaf's path the credits add up to leaf value − root value.
    """
    feature: list[int] = []
    threshold: list[float] = []
    categorical: list[bool] = []
    missing: list[int] = []
    default_left: list[bool] = []
    left: list[int] = []
    right: list[int] = []
    category_start: list[int] = [0]
    categories: list[int] = []
    leaf_value: list[float] = []
    path_start: list[int] = [0]
    path_feature: list[int] = []
    path_value: list[float] = []
    roots: list[int] = []
    bias = 0.0

    def add_leaf(value: float, credit: dict[int, float]) -> int:
        leaf_value.append(value)
        for f in sorted(credit):
            path_feature.append(f)
            path_value.append(credit[f])
        path_start.append(len(path_feature))
        return ~(len(leaf_value) - 1)

    def add(node: dict[str, Any], credit: dict[int, float]) -> int:
        if "leaf_index" in node:
            return add_leaf(float(node["leaf_value"]), credit)
        index = len(feature)
        split = int(node["split_feature"])
        feature.append(split)
        is_categorical = node["decision_type"] == "=="
        categorical.append(is_categorical)
        if is_categorical:
            threshold.append(0.0)
            categories.extend(int(c) for c in str(node["threshold"]).split("||"))
        else:
            threshold.append(float(node["threshold"]))
        category_start.append(len(categories))
        missing.append(_MISSING[str(node["missing_type"])])
        default_left.append(bool(node["default_left"]))
        left.append(0)
        right.append(0)
        here = float(node["internal_value"])
        for side, slots in (("left_child", left), ("right_child", right)):
            child = node[side]
            value = float(child.get("internal_value", child.get("leaf_value", 0.0)))
            slots[index] = add(child, {**credit, split: credit.get(split, 0.0) + value - here})
        return index

    for tree in dump["tree_info"]:
        root = tree["tree_structure"]
        if (
            "split_index" not in root
        ):  # no split (a one-leaf tree has no leaf_index either): all bias
            bias += float(root.get("leaf_value", 0.0))
            roots.append(add_leaf(float(root.get("leaf_value", 0.0)), {}))
            continue
        bias += float(root["internal_value"])
        roots.append(add(root, {}))
    return CompiledTrees(
        roots=np.array(roots, dtype=np.int64),
        feature=np.array(feature, dtype=np.int64),
        threshold=np.array(threshold, dtype=np.float64),
        categorical=np.array(categorical, dtype=np.bool_),
        missing=np.array(missing, dtype=np.int64),
        default_left=np.array(default_left, dtype=np.bool_),
        left=np.array(left, dtype=np.int64),
        right=np.array(right, dtype=np.int64),
        category_start=np.array(category_start, dtype=np.int64),
        categories=np.array(categories, dtype=np.int64),
        leaf_value=np.array(leaf_value, dtype=np.float64),
        path_start=np.array(path_start, dtype=np.int64),
        path_feature=np.array(path_feature, dtype=np.int64),
        path_value=np.array(path_value, dtype=np.float64),
        bias=bias,
        n_features=int(dump["max_feature_idx"]) + 1,
    )


@njit(cache=True, nogil=True)
def _leaf(
    row, node, feature, threshold, categorical, missing, default_left, left, right, cstart, cats
):
    while node >= 0:
        value = row[feature[node]]
        if categorical[node]:
            go_left = False
            if not np.isnan(value) and value >= 0:
                category = int(value)
                for j in range(cstart[node], cstart[node + 1]):
                    if cats[j] == category:
                        go_left = True
                        break
        else:
            kind = missing[node]
            if np.isnan(value) and kind != 2:
                value = 0.0
            if (kind == 1 and abs(value) <= 1e-35) or (kind == 2 and np.isnan(value)):
                go_left = default_left[node]
            else:
                go_left = value <= threshold[node]
        node = left[node] if go_left else right[node]
    return ~node


@njit(parallel=True, cache=True, nogil=True)
def _walk(
    X,
    roots,
    feature,
    threshold,
    categorical,
    missing,
    default_left,
    left,
    right,
    cstart,
    cats,
    leaf_value,
    pstart,
    pfeature,
    pvalue,
    n_features,
    k,
    raw,
    top_index,
    top_value,
    full,
    leaves,
):
    n = X.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    want_full = full.shape[0] == n
    want_leaves = leaves.shape[0] == n
    for c in prange(n_chunks):
        credit = np.zeros(n_features)
        for r in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            credit[:] = 0.0
            total = 0.0
            for t in range(roots.shape[0]):
                leaf = _leaf(
                    X[r],
                    roots[t],
                    feature,
                    threshold,
                    categorical,
                    missing,
                    default_left,
                    left,
                    right,
                    cstart,
                    cats,
                )
                if want_leaves:
                    leaves[r, t] = leaf
                total += leaf_value[leaf]
                for j in range(pstart[leaf], pstart[leaf + 1]):
                    credit[pfeature[j]] += pvalue[j]
            raw[r] = total
            if want_full:
                full[r, :] = credit
            # top-k by size; ties go to the lower feature index; zero credits are left out (-1)
            for slot in range(k):
                best = -1
                best_size = 0.0
                for f in range(n_features):
                    size = abs(credit[f])
                    if size > best_size:
                        taken = False
                        for s in range(slot):
                            if top_index[r, s] == f:
                                taken = True
                                break
                        if not taken:
                            best = f
                            best_size = size
                top_index[r, slot] = best
                top_value[r, slot] = credit[best] if best >= 0 else 0.0


def walk(
    trees: CompiledTrees,
    X: np.ndarray,
    *,
    k: int = 3,
    full: bool = False,
    leaves: bool = False,
) -> dict[str, np.ndarray]:
    """Raw log-odds, top-k attributions (indices, values; -1 where fewer are non-zero), and on
    request every attribution (``full``, rows × features) and the leaf of each tree (global ids).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    raw = np.empty(n)
    top_index = np.full((n, k), -1, dtype=np.int64)
    top_value = np.zeros((n, k))
    all_credit = np.zeros((n if full else 0, trees.n_features))
    leaf_ids = np.zeros((n if leaves else 0, len(trees.roots)), dtype=np.int64)
    _walk(
        X,
        trees.roots,
        trees.feature,
        trees.threshold,
        trees.categorical,
        trees.missing,
        trees.default_left,
        trees.left,
        trees.right,
        trees.category_start,
        trees.categories,
        trees.leaf_value,
        trees.path_start,
        trees.path_feature,
        trees.path_value,
        trees.n_features,
        k,
        raw,
        top_index,
        top_value,
        all_credit,
        leaf_ids,
    )
    out = {"raw": raw, "top_index": top_index, "top_value": top_value}
    if full:
        out["contributions"] = all_credit
    if leaves:
        out["leaves"] = leaf_ids
    return out
