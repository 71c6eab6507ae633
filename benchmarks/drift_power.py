"""Detection power and false-alarm rate of the drift assessment, per corruption and window size.

Every trial is drawn independently: a fresh reference of 1,000 images from a pool of 20,000 clean generated
images and a fresh window (disjoint from that reference) from the pool of the case: the clean pool itself for
false alarms, 3,000 further images under each corruption at the demo severity, and 3,000 images with a skewed
class balance (class-prior shift). Features are computed once per pool, so a trial is one `assess_drift` call.
False alarms are counted over at least 200 trials per window size and reported with a 95% Wilson interval.
The same false-alarm estimate is repeated on a real data set the generator did not make (scikit-learn's
bundled digits: reference and window drawn afresh, disjointly, from its 1,797 images).

The headline numbers use image features only: corruptions change pixels, and the class-prior shift is found
label-free through the image statistics that differ between classes, so they hold without any champion.
A second table adds model outputs (max_softmax, margin, predicted_class, PCA projection fitted on the
reference) from a tiny SurfaceClassifier trained here for a few epochs on separate training images: the
black-box shift detection path, measured on clean windows (false alarms) and on the class-prior shift.
The reference must not be the model's training data: outputs on seen images are more confident than on
any production window, a bias that shows up as false alarms.

Run: .venv/bin/python benchmarks/drift_power.py [--trials 50] [--clean-trials 600]
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
CLEAN_POOL_IMAGES = 20_000
POOL_IMAGES = 3_000
DIGITS_REFERENCE_IMAGES = 800
DIGITS_WINDOW_SIZES = (50, 200)
MIN_CLEAN_TRIALS = 200
FALSE_ALARM_TARGET = 0.05
WINDOW_SIZES = (50, 200, 1_000)
DEMO_SEVERITY = {corruption.kind: corruption.severity for corruption in DEMO_DRIFT}
OTHER_SEVERITY = 0.5  # kinds the demo drift does not use
MILD_SEVERITIES = (0.1, 0.25)  # power curve below the demo severity, at 200 images
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


def clean_pool(images: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """`images` clean generated images in chunks of distinct seeds (one call would hold them all twice)."""
    chunks = [
        generate_arrays(min(2_000, images - start), size=SIZE, seed=seed + start)
        for start in range(0, images, 2_000)
    ]
    return np.concatenate([pixels for pixels, _ in chunks]), [
        label for _, labels in chunks for label in labels
    ]


def feature_pools() -> tuple[
    pd.DataFrame, dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, pd.DataFrame]
]:
    """The clean reference pool; pools at the demo severity (plus class prior); pools at mild severities;
    clean and class-prior tables with model outputs (key "clean" also serves as their reference pool)."""
    reference_pool, _ = clean_pool(CLEAN_POOL_IMAGES, seed=1_000)
    shifted, _ = generate_arrays(POOL_IMAGES, size=SIZE, seed=2)
    pools = {
        kind: image_features(apply_corruption(shifted, Corruption(kind, severity_of(kind)), seed=3))
        for kind in CORRUPTIONS
    }
    skewed, _ = generate_arrays(POOL_IMAGES, size=SIZE, seed=4, balance=SKEWED_BALANCE)
    pools["class_prior"] = image_features(skewed)
    mild = {
        f"{kind}@{severity}": image_features(apply_corruption(shifted, Corruption(kind, severity), seed=3))
        for kind in CORRUPTIONS
        for severity in MILD_SEVERITIES
    }
    training, training_labels = generate_arrays(REFERENCE_IMAGES, size=SIZE, seed=5)
    model = train_tiny_model(training, training_labels)
    fitting, _ = generate_arrays(REFERENCE_IMAGES, size=SIZE, seed=6)
    with_model = build_reference(fitting, model, CLASSES)
    model_tables = {
        "clean": with_model.window_features(reference_pool[:6_000], model),
        "class_prior": with_model.window_features(skewed, model),
    }
    return image_features(reference_pool), pools, mild, model_tables


def digits_features() -> pd.DataFrame:
    from cvops.datagen.public import load_public

    images, _ = load_public("digits")
    return image_features(np.stack(images))


def alarm_rate(
    reference_pool: pd.DataFrame,
    window_pool: pd.DataFrame | None,
    size: int,
    trials: int,
    policy: DriftPolicy,
    seed: int,
    reference_size: int = REFERENCE_IMAGES,
) -> tuple[int, int]:
    """(alarms, trials). Each trial draws a fresh reference from `reference_pool` and a fresh window from
    `window_pool`, or, when it is None, a window from the rest of `reference_pool` (a clean trial)."""
    rng = np.random.default_rng(seed)
    alarms = 0
    for _ in range(trials):
        order = rng.permutation(len(reference_pool))
        reference = reference_pool.iloc[order[:reference_size]]
        if window_pool is None:
            window = reference_pool.iloc[order[reference_size : reference_size + size]]
        else:
            window = window_pool.iloc[rng.choice(len(window_pool), size=size, replace=False)]
        alarms += assess_drift(reference, window, policy).status == "drift"
    return alarms, trials


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a binomial rate: sound near 0, where the normal interval is not."""
    rate = successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def false_alarm_summary(counts: dict[int, tuple[int, int]]) -> dict[str, dict[str, float | int]]:
    summary = {}
    for size, (alarms, trials) in counts.items():
        low, high = wilson_interval(alarms, trials)
        summary[str(size)] = {
            "alarms": alarms,
            "trials": trials,
            "rate": alarms / trials,
            "ci95": [low, high],
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50, help="trials per detection cell")
    parser.add_argument("--clean-trials", type=int, default=600, help="trials per false-alarm cell (>= 200)")
    args = parser.parse_args()
    if args.clean_trials < MIN_CLEAN_TRIALS:
        parser.error(f"--clean-trials must be at least {MIN_CLEAN_TRIALS}: false alarms are rare events")
    policy = DriftPolicy()
    started = time.perf_counter()
    reference_pool, pools, mild, model_tables = feature_pools()
    clean = {
        size: alarm_rate(reference_pool, None, size, args.clean_trials, policy, seed=100 + size)
        for size in WINDOW_SIZES
    }
    rates = {
        name: {
            size: alarm_rate(reference_pool, pool, size, args.trials, policy, seed=200 + index)[0]
            / args.trials
            for size in WINDOW_SIZES
        }
        for index, (name, pool) in enumerate(pools.items())
    }
    mild_rates = {
        name: alarm_rate(reference_pool, pool, 200, args.trials, policy, seed=300)[0] / args.trials
        for name, pool in mild.items()
    }
    model_clean = {
        size: alarm_rate(model_tables["clean"], None, size, args.clean_trials, policy, seed=400 + size)
        for size in WINDOW_SIZES
    }
    model_prior = {
        size: alarm_rate(model_tables["clean"], model_tables["class_prior"], size, args.trials, policy, 500)[
            0
        ]
        / args.trials
        for size in WINDOW_SIZES
    }
    digits = digits_features()
    digits_clean = {
        size: alarm_rate(
            digits,
            None,
            size,
            args.clean_trials,
            policy,
            seed=600 + size,
            reference_size=DIGITS_REFERENCE_IMAGES,
        )
        for size in DIGITS_WINDOW_SIZES
    }
    elapsed = time.perf_counter() - started
    false_alarms = {
        "generated": false_alarm_summary(clean),
        "generated_with_model_outputs": false_alarm_summary(model_clean),
        "digits": false_alarm_summary(digits_clean),
    }
    print(f"policy: {policy}")
    print(
        f"\nfalse alarms on clean windows ({args.clean_trials} independent trials per cell, 95% Wilson interval)"
    )
    print(f"{'data':<30}{'window':>8}{'alarms':>8}{'rate':>8}{'ci95':>18}")
    for data, by_size in false_alarms.items():
        for size, cell in by_size.items():
            low, high = cell["ci95"]
            print(
                f"{data:<30}{size:>8}{cell['alarms']:>8}{cell['rate']:>8.3f}{f'[{low:.3f}, {high:.3f}]':>18}"
            )
    print(f"\ndetection at the demo severity {severities()}; {args.trials} trials per cell")
    print(f"{'case':<12}" + "".join(f"{f'n={size}':>9}" for size in WINDOW_SIZES))
    for name, by_size in rates.items():
        print(f"{name:<12}" + "".join(f"{by_size[size]:>9.2f}" for size in WINDOW_SIZES))
    print(f"\ndetection at n=200 by severity ({args.trials} trials)")
    print(f"{'kind':<12}" + "".join(f"{f's={s}':>9}" for s in MILD_SEVERITIES) + f"{'demo':>9}")
    for kind in CORRUPTIONS:
        row = [mild_rates[f"{kind}@{s}"] for s in MILD_SEVERITIES] + [rates[kind][200]]
        print(f"{kind:<12}" + "".join(f"{rate:>9.2f}" for rate in row))
    print("\nclass-prior shift with model outputs (max_softmax/margin/predicted_class/proj)")
    print(f"{'class_prior':<12}" + "".join(f"{model_prior[size]:>9.2f}" for size in WINDOW_SIZES))
    print(f"elapsed {elapsed:.1f} s")
    worst_upper = max(cell["ci95"][1] for by_size in false_alarms.values() for cell in by_size.values())
    result = {
        "false_alarm_rate": max(
            cell["rate"] for by_size in false_alarms.values() for cell in by_size.values()
        ),
        "false_alarm_upper_95": worst_upper,
        "false_alarm_target": FALSE_ALARM_TARGET,
        "false_alarms": false_alarms,
        "detection_at_200": {name: rates[name][200] for name in rates},
        "detection_by_window": {
            name: {str(s): r for s, r in by_size.items()} for name, by_size in rates.items()
        },
        "detection_at_200_by_severity": {
            kind: {str(s): mild_rates[f"{kind}@{s}"] for s in MILD_SEVERITIES}
            | {str(severity_of(kind)): rates[kind][200]}
            for kind in CORRUPTIONS
        },
        "class_prior_with_model_outputs": {str(s): r for s, r in model_prior.items()},
        "trials": args.trials,
        "clean_trials": args.clean_trials,
        "severity": severities(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
