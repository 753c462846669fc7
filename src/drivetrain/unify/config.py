"""Identity-resolution settings, apart from the engine so the CLI can show them without loading it."""

from __future__ import annotations

from dataclasses import dataclass

ENGINES = ("duckdb", "spark")
REQUIRED_COLUMNS = ("record_id", "source", "name", "phone", "vin", "address", "city", "wechat_id")
OPTIONAL_COLUMNS = ("id_number", "email", "plate", "id_hash", "pinned_key")
"""The resolver's input. ``id_hash``: an ID number already hashed (stored records keep only that);
``pinned_key``: the customer a record must stay with (what Drivetrain itself holds about an existing
customer)."""


@dataclass(frozen=True)
class ResolveConfig:
    """Thresholds and resource limits; the defaults suit a few million records on 2 cores."""

    match_probability: float = 0.6  # a probabilistic link at or above this joins records
    review_probability: float = 0.2  # pairs between the two thresholds go to review
    max_shared_identifier: int = 500  # a phone/VIN on more records is a placeholder
    u_sample_pairs: float = 1e6  # random pairs for estimating u parameters
    em_max_pairs: float = 1e6  # blocked pairs per EM session
    min_records_for_training: int = 5000  # fewer: EM has too little to learn from, use defaults
    min_pairs_for_training: int = 2000  # nor when an EM blocking yields fewer pairs than this
    seed: int = 2026
    threads: int = 2
    memory_limit: str = "1GB"
    engine: str = "duckdb"  # duckdb | spark: where Splink scores pairs (see unify/spark_engine.py)
