"""``drivetrain sources add|profile|list`` and ``drivetrain import SOURCE FILE`` beside ``import dealers``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from drivetrain.cli import app as cli
from drivetrain.db import Database
from drivetrain.sources.models import ImportRun, SourceRecord
from tests.sources.conftest import GOOD, PROFILE, ROWS, export_csv


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _register() -> None:
    assert _invoke("sources", "add", "dms-hz", "--type", "dms", "--trust", "80")[0] == 0
    maps = [arg for field, column in PROFILE.items() for arg in ("--map", f"{field}={column}")]
    code, output = _invoke(
        "sources", "profile", "dms-hz", "default", *maps, "--option", "date_format=%Y/%m/%d"
    )
    assert code == 0, output


def test_import_source_file_reports_counts_and_writes_the_problems(
    tmp_path: Path, db: Database, session: Session
) -> None:
    _register()
    export = tmp_path / "export.csv"
    export.write_bytes(export_csv(ROWS, "gbk"))
    code, output = _invoke("import", "dms-hz", str(export))
    assert code == 0, output
    assert "6 rows read, 3 created, 0 updated, 0 unchanged, 3 rejected" in output
    assert f"problems (row, field, value, reason): {tmp_path / 'export.errors.csv'}" in output
    run = session.scalars(select(ImportRun)).one()
    assert (run.rows_read, run.created, run.rejected, run.file_name) == (6, 3, 3, "export.csv")
    assert run.error_file == str((tmp_path / "export.errors.csv").resolve())
    with (tmp_path / "export.errors.csv").open(encoding="utf-8-sig", newline="") as handle:
        problems = list(csv.reader(handle))
    assert problems[0] == ["row", "field", "value", "reason"]
    assert ["2", "phone", "12345", "a mainland China mobile number has 11 digits, got 5"] in problems
    assert ["4", "external_id", "", "rejected: the key column is empty"] in problems
    stored = session.scalars(select(SourceRecord.external_id)).all()
    assert set(stored) == GOOD
    code, output = _invoke("import", "source", "dms-hz", str(export), "--errors", str(tmp_path / "again.csv"))
    assert code == 0 and (tmp_path / "again.csv").exists()
    assert session.scalar(select(func.count()).select_from(SourceRecord)) == 3


def test_import_names_what_is_wrong(tmp_path: Path, db: Database, session: Session) -> None:
    export = tmp_path / "export.csv"
    export.write_bytes(export_csv(ROWS))
    code, output = _invoke("import", "nowhere", str(export))
    assert code == 2 and "no source system named 'nowhere'" in output
    _register()
    code, output = _invoke("import", "dms-hz", str(export), "--profile", "erp")
    assert code == 2 and "has no profile 'erp'; it has: default" in output
    (tmp_path / "export.pdf").write_bytes(b"%PDF")
    code, output = _invoke("import", "dms-hz", str(tmp_path / "export.pdf"))
    assert code == 2 and "unsupported file type" in output
    assert session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_profiles_come_from_options_or_a_json_file(tmp_path: Path, db: Database, session: Session) -> None:
    _register()
    bad = _invoke("sources", "profile", "dms-hz", "erp", "--map", "mobile=手机")
    assert bad[0] == 2 and "unknown field 'mobile'" in bad[1]
    badly_named = _invoke("sources", "profile", "dms-hz", "ERP 2024", "--map", "phone=手机")
    assert badly_named[0] == 2 and "a profile name is" in badly_named[1]
    spec = tmp_path / "erp.json"
    spec.write_text(
        json.dumps({"mapping": {"phone": "电话", "email": "邮箱"}, "options": {"encoding": "gb18030"}})
    )
    code, output = _invoke("sources", "profile", "dms-hz", "erp", "--from-file", str(spec))
    assert code == 0, output
    code, output = _invoke("sources", "list")
    assert "dms-hz" in output and "default, erp" in output
    duplicate = _invoke("sources", "add", "dms-hz", "--type", "erp", "--trust", "1")
    assert duplicate[0] == 2 and "exists already" in duplicate[1]


def test_import_help_explains_both_forms(db: Database) -> None:
    code, output = _invoke("import", "--help")
    assert code == 0
    assert "SOURCE FILE" in output and "dealers" in output and "leads" in output
    code, output = _invoke("import", "dealers", "--help")
    assert code == 0 and "dealer network" in output
