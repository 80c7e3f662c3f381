from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cxml.errors import InputFileError
from cxml.io import detect_format, read_chunks


def read_all(path: Path, **kwargs: object) -> tuple[list[str], pd.DataFrame, list]:
    header, chunks = read_chunks(path, chunk_rows=2, **kwargs)  # type: ignore[arg-type]
    frames, malformed = [], []
    for chunk in chunks:
        frame = chunk.frame.copy()
        frame["_row"] = chunk.rows
        frames.append(frame)
        malformed.extend(chunk.malformed)
    return header, pd.concat(frames, ignore_index=True), malformed


def test_quoted_newlines_quotes_and_commas_survive(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text('id,text\n1,"line one\nline ""two"", with comma"\n2,plain\n', encoding="utf-8")
    _, frame, malformed = read_all(path)
    assert frame["text"].tolist() == ['line one\nline "two", with comma', "plain"]
    assert frame["_row"].tolist() == [1, 2]
    assert malformed == []


def test_records_with_the_wrong_number_of_fields_are_returned_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2\n3,4,5\n6\n7,8\n", encoding="utf-8")
    _, frame, malformed = read_all(path)
    assert frame["_row"].tolist() == [1, 4]
    assert [(m.row, m.raw) for m in malformed] == [(2, "3,4,5"), (3, "6")]
    assert "3 fields; the header has 2" in malformed[0].reason


def test_undecodable_bytes_are_kept_for_the_contract_to_name(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,caf\xe9\n")
    _, frame, _ = read_all(path)
    assert frame["b"].iloc[0].encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_declared_encoding_and_bom(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a,b\n1,café\n".encode("latin-1"))
    _, frame, _ = read_all(latin, encoding="latin-1")
    assert frame["b"].iloc[0] == "café"
    bom = tmp_path / "bom.csv"
    bom.write_bytes("a,b\n1,x\n".encode("utf-8-sig"))
    header, _, _ = read_all(bom)
    assert header == ["a", "b"]


def test_jsonl_and_parquet_give_the_same_rows_as_csv(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["1", "2"], "text": ["a", None], "nps": [7, 9]})
    frame.to_csv(tmp_path / "f.csv", index=False)
    frame.to_parquet(tmp_path / "f.parquet", index=False)
    (tmp_path / "f.jsonl").write_text(
        "\n".join(json.dumps(r) for r in frame.to_dict("records")) + "\n", encoding="utf-8"
    )
    results = {}
    for name in ("f.csv", "f.parquet", "f.jsonl"):
        _, got, _ = read_all(tmp_path / name)
        results[name] = got.replace({"": None})[["id", "text", "nps"]].values.tolist()
    assert results["f.csv"] == results["f.parquet"] == results["f.jsonl"]


def test_bad_jsonl_lines_are_malformed_records(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text('{"id": 1}\nnot json\n[1, 2]\n{"id": 2}\n', encoding="utf-8")
    _, frame, malformed = read_all(path)
    assert frame["_row"].tolist() == [1, 4]
    assert [m.row for m in malformed] == [2, 3]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "the file is empty"), (b"\n\nid\n1\n", "the first line is empty")],
)
def test_unreadable_files_fail_with_one_message(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        read_all(path)


def test_repeated_header_names_fail(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,a\n1,2\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="repeats column name"):
        read_all(path)


def test_format_comes_from_the_extension() -> None:
    assert detect_format(Path("x.csv.gz")) == "csv"
    assert detect_format(Path("x.ndjson")) == "jsonl"
    with pytest.raises(InputFileError, match="cannot tell the format"):
        detect_format(Path("x.xlsx"))
