"""Core values as Dagster metadata a person can read: tables render as tables, floats are rounded."""

from collections.abc import Mapping

import dagster as dg
import numpy as np

from cvops.viz import Table

SIGNIFICANT_DIGITS = 4


def readable(values: Mapping[str, object]) -> dict[str, dg.MetadataValue]:
    """`values` as metadata: Tables as table metadata, floats to 4 significant digits, None as "none"."""
    return {key: metadata_value(value) for key, value in values.items()}


def metadata_value(value: object) -> dg.MetadataValue:
    if isinstance(value, dg.MetadataValue):
        return value
    if isinstance(value, Table):
        return table_value(value)
    if value is None:
        return dg.MetadataValue.text("none")
    if isinstance(value, bool | np.bool_):
        return dg.MetadataValue.bool(bool(value))
    if isinstance(value, int | np.integer):
        return dg.MetadataValue.int(int(value))
    if isinstance(value, float | np.floating):
        return dg.MetadataValue.float(rounded(float(value)))
    if isinstance(value, str):
        return dg.MetadataValue.text(value)
    return dg.MetadataValue.json(value)


def rounded(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def table_value(table: Table) -> dg.TableMetadataValue:
    cells = [[_cell(value) for value in row] for row in table.rows]
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(name, _column_type([row[index] for row in cells]))
            for index, name in enumerate(table.columns)
        ]
    )
    records = [dg.TableRecord(dict(zip(table.columns, row, strict=True))) for row in cells]
    return dg.MetadataValue.table(records, schema)


def _cell(value: object) -> str | int | float | bool | None:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return rounded(float(value))
    return None if value is None else str(value)


def _column_type(cells: list[object]) -> str:
    kinds = {type(cell) for cell in cells if cell is not None}
    if not kinds:
        return "string"
    if kinds <= {int}:
        return "int"
    if kinds <= {int, float}:
        return "float"
    return "bool" if kinds == {bool} else "string"
