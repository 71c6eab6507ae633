"""Detection power and false-alarm rate of the drift assessment, per corruption and window size.

Reference: 1,000 clean generated images. Pools: 3,000 further clean images (other seeds), the same pool under
each corruption at the demo severity, and 3,000 images with a skewed class balance (class-prior shift).
Each trial draws a window at random from a pool; features are computed once per pool, so a trial is one
`assess_drift` call.

The headline numbers use image features only: corruptions change pixels, and the class-prior shift is found
label-free through the image statistics that differ between classes, so they hold without any champion.
A second table adds model outputs (max_softmax, margin, predicted_class, PCA projection fitted on the
reference) from a tiny SurfaceClassifier trained here for a few epochs on separate training images: the
black-box shift detection path, measured on clean windows (false alarms) and on the class-prior shift.
The reference must not be the model's training data: outputs on seen images are more confident than on
any production window, a bias that shows up as false alarms.

Run: .venv/bin/python benchmarks/drift_power.py [--trials 50]
"""

import argparse
import json
import time

import numpy as np
import pandas as pd

from cvops.datagen import CLASSES, DEMO_DRIFT, Corruption, apply_corruption, generate_arrays
from cvops.drift.features import PredictProba, image_features
from cvops.drift.policy import DriftPolicy
from cvops.drift.reference import build_reference
from cvops.drift.stats import assess_drift

SIZE = 64
REFERENCE_IMAGES = 1_000
POOL_IMAGES = 3_000
WINDOW_SIZES = (50, 200, 1_000)
DEMO_SEVERITY = {corruption.kind: corruption.severity for corruption in DEMO_DRIFT}
OTHER_SEVERITY = 0.5  # kinds the demo drift does not use
MILD_SEVERITIES = (0.1, 0.25)  # power curve below the demo severity, at 200 images
CLEAN_TRIALS_FACTOR = 4  # false alarms are rare events: estimate them on more windows
CORRUPTIONS = ("blur", "brightness", "noise", "rotation", "color_cast")


def severity_of(kind: str) -> float:
    return DEMO_SEVERITY.get(kind, OTHER_SEVERITY)


def severities() -> dict[str, float]:
    return {kind: severity_of(kind) for kind in CORRUPTIONS}


SKEWED_BALANCE = {CLASSES[0]: 0.7, **{name: 0.1 for name in CLASSES[1:]}}


MODEL_EPOCHS = 4


def train_tiny_model(pixels: np.ndarray, labels: list[str]) -> PredictProba:
    """A small SurfaceClassifier fitted on `pixels`; returns its predict_proba on uint8 NHWC."""
    import torch

    from cvops.model.inference import predict_proba
    from cvops.model.network import NetworkConfig, SurfaceClassifier
    from cvops.model.preprocess import Preprocessing

    torch.manual_seed(0)
    preprocessing = Preprocessing(image_size=SIZE)
    model = SurfaceClassifier(NetworkConfig(num_classes=len(CLASSES), width=8, depth=3, embedding_dim=16))
    inputs = torch.from_numpy(preprocessing.normalise(pixels))
    targets = torch.tensor([CLASSES.index(label) for label in labels])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(MODEL_EPOCHS):
        for batch in torch.randperm(len(inputs)).split(32):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(inputs[batch]), targets[batch]).backward()
            optimizer.step()
    return lambda images: predict_proba(model, preprocessing, images)


def feature_pools() -> tuple[
    pd.DataFrame, dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, pd.DataFrame]
]:
    """Reference features; pools at the demo severity (plus clean and class prior); pools at mild severities;
    reference, clean and class-prior tables with model outputs (key "reference" for the reference)."""
    reference, _ = generate_arrays(REFERENCE_IMAGES, size=SIZE, seed=1)
    clean, _ = generate_arrays(POOL_IMAGES, size=SIZE, seed=2)
    pools = {"clean": image_features(clean)}
    for kind in CORRUPTIONS:
        pools[kind] = image_features(apply_corruption(clean, Corruption(kind, severity_of(kind)), seed=3))
    skewed, _ = generate_arrays(POOL_IMAGES, size=SIZE, seed=4, balance=SKEWED_BALANCE)
    pools["class_prior"] = image_features(skewed)
    mild = {
        f"{kind}@{severity}": image_features(apply_corruption(clean, Corruption(kind, severity), seed=3))
        for kind in CORRUPTIONS
        for severity in MILD_SEVERITIES
    }
    training, training_labels = generate_arrays(REFERENCE_IMAGES, size=SIZE, seed=5)
    model = train_tiny_model(training, training_labels)
    with_model = build_reference(reference, model, CLASSES)
    model_tables = {
        "reference": with_model.features,
        "clean": with_model.window_features(clean, model),
        "class_prior": with_model.window_features(skewed, model),
    }
    return image_features(reference), pools, mild, model_tables


def alarm_rate(
    reference: pd.DataFrame, pool: pd.DataFrame, size: int, trials: int, policy: DriftPolicy, seed: int
) -> float:
    rng = np.random.default_rng(seed)
    alarms = 0
    for _ in range(trials):
        window = pool.iloc[rng.choice(len(pool), size=size, replace=False)]
        alarms += assess_drift(reference, window, policy).status == "drift"
    return alarms / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    args = parser.parse_args()
    policy = DriftPolicy()
    started = time.perf_counter()
    reference, pools, mild, model_tables = feature_pools()
    rates: dict[str, dict[int, float]] = {}
    for index, (name, pool) in enumerate(pools.items()):
        trials = args.trials * (CLEAN_TRIALS_FACTOR if name == "clean" else 1)
        rates[name] = {
            size: alarm_rate(reference, pool, size, trials, policy, seed=100 + index) for size in WINDOW_SIZES
        }
    mild_rates = {
        name: alarm_rate(reference, pool, 200, args.trials, policy, seed=200) for name, pool in mild.items()
    }
    model_rates = {
        name: {
            size: alarm_rate(model_tables["reference"], model_tables[name], size, trials, policy, seed=300)
            for size in WINDOW_SIZES
        }
        for name, trials in (("clean", args.trials * CLEAN_TRIALS_FACTOR), ("class_prior", args.trials))
    }
    elapsed = time.perf_counter() - started
    print(f"policy: {policy}")
    print(
        f"alarm rate at the demo severity {severities()}; {args.trials} trials per cell ({args.trials * CLEAN_TRIALS_FACTOR} for clean = false alarms)"
    )
    print(f"{'case':<12}" + "".join(f"{f'n={size}':>9}" for size in WINDOW_SIZES))
    for name, by_size in rates.items():
        print(f"{name:<12}" + "".join(f"{by_size[size]:>9.2f}" for size in WINDOW_SIZES))
    print(f"\ndetection at n=200 by severity ({args.trials} trials)")
    print(f"{'kind':<12}" + "".join(f"{f's={s}':>9}" for s in MILD_SEVERITIES) + f"{'demo':>9}")
    for kind in CORRUPTIONS:
        row = [mild_rates[f"{kind}@{s}"] for s in MILD_SEVERITIES] + [rates[kind][200]]
        print(f"{kind:<12}" + "".join(f"{rate:>9.2f}" for rate in row))
    print(
        "\nwith model outputs (tiny SurfaceClassifier, image features + max_softmax/margin/predicted_class/proj)"
    )
    for name, by_size in model_rates.items():
        print(f"{name:<12}" + "".join(f"{by_size[size]:>9.2f}" for size in WINDOW_SIZES))
    print(f"elapsed {elapsed:.1f} s")
    result = {
        "detection_at_200": {name: rates[name][200] for name in (*CORRUPTIONS, "class_prior")},
        "false_alarm_rate": max(rates["clean"].values()),
        "false_alarm_rate_by_window": {str(size): rate for size, rate in rates["clean"].items()},
        "detection_by_window": {
            name: {str(s): r for s, r in rates[name].items()} for name in rates if name != "clean"
        },
        "detection_at_200_by_severity": {
            kind: {str(s): mild_rates[f"{kind}@{s}"] for s in MILD_SEVERITIES}
            | {str(severity_of(kind)): rates[kind][200]}
            for kind in CORRUPTIONS
        },
        "trials": args.trials,
        "false_alarm_trials_per_window_size": args.trials * CLEAN_TRIALS_FACTOR,
        "severity": severities(),
        "model_outputs_included": False,
        "with_model_outputs": {
            "false_alarm_rate": max(model_rates["clean"].values()),
            "class_prior_by_window": {str(s): r for s, r in model_rates["class_prior"].items()},
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
