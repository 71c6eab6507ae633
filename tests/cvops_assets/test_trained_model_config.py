"""The trained_model config exposes every training setting, and the README's training YAML validates against it."""

import re
from dataclasses import fields
from pathlib import Path
from typing import get_args

import dagster as dg
import pytest
import yaml

from cvops.datagen import SURFACE_FLIPS
from cvops.errors import InvalidTrainConfigError
from cvops.model.augmentations import AUGMENTATION_NAMES, AUGMENTATION_PARAMETERS
from cvops.model.training import TrainConfig
from cvops_assets.constants import TRAINED_MODEL
from cvops_assets.training.model import Augmentation, TrainedModelConfig

README = Path(__file__).resolve().parents[2] / "README.md"


def _validation_job() -> dg.JobDefinition:
    @dg.op(name=TRAINED_MODEL)
    def validate_only(config: TrainedModelConfig) -> None:
        del config

    @dg.job
    def config_schema() -> None:
        validate_only()

    return config_schema


def _readme_yaml_blocks_for_trained_model() -> list[dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    parsed = [yaml.safe_load(block) for block in blocks]
    return [block for block in parsed if isinstance(block, dict) and TRAINED_MODEL in block.get("ops", {})]


def test_every_train_config_field_is_settable_with_the_same_default_and_a_description() -> None:
    schema = TrainedModelConfig.model_fields
    for field in fields(TrainConfig):
        if field.name == "fine_tune_from":
            continue  # set from the champion by `fine_tune_from_champion`, never a path typed by hand
        assert field.name in schema, field.name
        assert schema[field.name].description, field.name
    assert TrainConfig.from_dict(TrainedModelConfig().model_dump()) == TrainConfig()


def test_every_augmentation_and_parameter_is_described() -> None:
    schema = Augmentation.model_fields
    assert set(get_args(schema["name"].annotation)) == set(AUGMENTATION_NAMES)
    parameters = {name for defaults in AUGMENTATION_PARAMETERS.values() for name in defaults}
    assert set(schema) == {"name", *parameters}
    assert all(field.description for field in schema.values())


def test_default_augmentation_keeps_orientation() -> None:
    names = [
        entry["name"] for entry in TrainConfig.from_dict(TrainedModelConfig().model_dump()).augmentations
    ]
    assert names and not {"hflip", "vflip"} & set(names)


def test_surface_flips_is_a_valid_config_that_adds_flips_to_the_defaults() -> None:
    result = dg.validate_run_config(_validation_job(), {"ops": {TRAINED_MODEL: {"config": SURFACE_FLIPS}}})
    chosen = TrainConfig.from_dict(result["ops"][TRAINED_MODEL]["config"]).augmentations
    assert chosen == (*TrainConfig().augmentations, {"name": "hflip"}, {"name": "vflip"})


def test_a_parameter_of_another_transform_is_refused_by_name() -> None:
    config = TrainedModelConfig(augmentations=[{"name": "rotate", "std": 0.1}])
    with pytest.raises(
        InvalidTrainConfigError, match=r"augmentations\[0\] \(rotate\): unknown parameter 'std'"
    ):
        TrainConfig.from_dict(config.model_dump())


def test_readme_training_yaml_validates_against_the_config_schema() -> None:
    blocks = _readme_yaml_blocks_for_trained_model()
    assert blocks, "README has no YAML example for trained_model"
    job = _validation_job()
    for block in blocks:
        run_config = {"ops": {TRAINED_MODEL: block["ops"][TRAINED_MODEL]}}
        result = dg.validate_run_config(job, run_config)
        assert result["ops"][TRAINED_MODEL]["config"]["strategy"] in {"auto", "ddp"}


def test_an_unknown_setting_is_rejected() -> None:
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(_validation_job(), {"ops": {TRAINED_MODEL: {"config": {"num_gpus": 4}}}})
