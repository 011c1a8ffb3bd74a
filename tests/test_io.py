"""Sources and sinks: every format round-trips, symbols are shared across
files, nothing is ever unpickled, writes are atomic, and errors point at
`path:line`."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from fuse.errors import FuseError
from fuse.runtime import io as fio
from fuse.runtime.io import IOContext, SinkSpec, SourceSpec, load_source, write_sink
from fuse.runtime.symbols import ENTITY, TOKEN, SymbolRegistry, SymbolTable


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def roundtrip(tmp_path: Path, name: str, array: np.ndarray) -> np.ndarray:
    ctx = IOContext(tmp_path)
    ctx.write(name, array, dims=[f"i{k}" for k in range(array.ndim)])
    return IOContext(tmp_path).load("T", name, dims=[f"i{k}" for k in range(array.ndim)])


# --- numeric formats -------------------------------------------------------------


@pytest.mark.parametrize("ext", [".npy", ".npz", ".json", ".jsonl"])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 3, 2)])
def test_numeric_roundtrip(tmp_path: Path, ext: str, shape: tuple[int, ...]) -> None:
    array = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 7 - 0.5
    back = roundtrip(tmp_path, "t" + ext, array)
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("ext", [".csv", ".tsv"])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_table_roundtrip(tmp_path: Path, ext: str, shape: tuple[int, ...]) -> None:
    array = (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) - 2) / 3
    back = roundtrip(tmp_path, "t" + ext, array)
    assert back.shape == shape and back.dtype == np.float32
    np.testing.assert_array_equal(back, array)


def test_floats_are_written_short_and_exact(tmp_path: Path) -> None:
    array = np.array([0.1, 1e-8, np.inf, -np.inf], dtype=np.float32)
    write_sink(tmp_path / "v.csv", array)
    assert (tmp_path / "v.csv").read_text() == "0.1\n1e-08\ninf\n-inf\n"
    nan = roundtrip(tmp_path, "n.csv", np.array([np.nan], dtype=np.float32))
    assert np.isnan(nan).all()


def test_csv_header_row_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "w.csv", "a, b\n1, 2\n3, 4e0\n")
    array = load_source("w.csv", base_dir=tmp_path)
    np.testing.assert_array_equal(array, [[1, 2], [3, 4]])


def test_one_column_csv_fits_a_vector(tmp_path: Path) -> None:
    write(tmp_path / "v.csv", "1\n2\n\n3\n")
    assert load_source("v.csv", base_dir=tmp_path).shape == (3, 1)
    assert load_source("v.csv", base_dir=tmp_path, dims=["i"]).shape == (3,)


def test_npy_memory_map(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", np.ones((3, 2), dtype=np.float32))
    array = load_source("w.npy", base_dir=tmp_path, mmap=True)
    assert isinstance(array, np.memmap) and not array.flags.writeable


@pytest.mark.parametrize(
    "array",
    [
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.array([[True, False]]),
        np.arange(4, dtype=">i4"),
        np.zeros((0, 3), dtype=np.uint8),
        np.float32(2.5),
        np.zeros(2, dtype=[("a", "<f4")]),  # a header only NumPy's reader parses
    ],
    ids=["fortran", "bool", "big-endian", "empty", "scalar", "structured"],
)
def test_npy_reads_what_numpy_wrote(tmp_path: Path, array: np.ndarray) -> None:
    np.save(tmp_path / "w.npy", array)
    if array.dtype.names:
        with pytest.raises(FuseError, match="holds dtype"):
            load_source("w.npy", base_dir=tmp_path)
        return
    loaded = load_source("w.npy", base_dir=tmp_path)
    assert loaded.dtype == array.dtype and loaded.flags.writeable
    np.testing.assert_array_equal(loaded, array)


def test_truncated_npy_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", np.ones((3, 2), dtype=np.float32))
    (tmp_path / "w.npy").write_bytes((tmp_path / "w.npy").read_bytes()[:-1])
    with pytest.raises(FuseError, match=r"w\.npy: is not a valid NumPy file: the file ends"):
        load_source("w.npy", base_dir=tmp_path)


def test_npz_several_arrays_need_the_tensor_name(tmp_path: Path) -> None:
    np.savez(tmp_path / "w.npz", W=np.ones(2), B=np.zeros(3))
    assert load_source("w.npz", base_dir=tmp_path, name="B").shape == (3,)
    with pytest.raises(FuseError, match=r"w\.npz: has several arrays; its keys: W, B"):
        load_source("w.npz", base_dir=tmp_path)
    with pytest.raises(FuseError, match="no array named 'X'; its keys: W, B"):
        load_source("w.npz", base_dir=tmp_path, name="X")


def test_npz_single_array_loads_whatever_its_key(tmp_path: Path) -> None:
    np.savez(tmp_path / "w.npz", weights=np.ones(2))
    assert load_source("w.npz", base_dir=tmp_path, name="W").shape == (2,)


def test_pickles_are_refused(tmp_path: Path) -> None:
    objects = np.array([{"a": 1}, None], dtype=object)
    np.savez(tmp_path / "p.npz", W=objects)
    with pytest.raises(FuseError, match="pickled Python objects"):
        load_source("p.npz", base_dir=tmp_path)
    np.save(tmp_path / "p.npy", objects, allow_pickle=True)
    with pytest.raises(FuseError, match="pickled Python objects"):
        load_source("p.npy", base_dir=tmp_path)
    (tmp_path / "raw.npy").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(FuseError, match=r"raw\.npy: is not a \.npy file"):
        load_source("raw.npy", base_dir=tmp_path)


def test_sinks_to_one_npz_share_the_archive(tmp_path: Path) -> None:
    IOContext(tmp_path).write_all(
        [
            SinkSpec("out/acts.npz", np.ones(2), key="A"),
            SinkSpec("out/acts.npz", np.zeros((2, 2)), key="file"),  # np.savez's keyword
        ]
    )
    with np.load(tmp_path / "out" / "acts.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["A", "file"]
        assert archive["file"].shape == (2, 2)


def test_npz_key_defaults_to_the_file_stem(tmp_path: Path) -> None:
    write_sink(tmp_path / "acts.npz", np.ones(2))
    with np.load(tmp_path / "acts.npz") as archive:
        assert archive.files == ["acts"]


# --- relations and symbols ----------------------------------------------------------


FAMILY = {
    "sister.tsv": "alice\tbeth\nbeth\talice\n",
    "parent.tsv": "beth\tcarl\nbeth\tdora\nerin\tfred\n",
}


def family(tmp_path: Path) -> tuple[IOContext, dict[str, np.ndarray]]:
    for name, text in FAMILY.items():
        write(tmp_path / name, text)
    ctx = IOContext(tmp_path)
    arrays = ctx.load_all(
        [
            SourceSpec("Sister", "sister.tsv", ("x", "y")),
            SourceSpec("Parent", "parent.tsv", ("y", "z")),
        ]
    )
    return ctx, arrays


def test_relations_share_one_symbol_table(tmp_path: Path) -> None:
    ctx, arrays = family(tmp_path)
    people = ctx.symbols.table(ENTITY)
    assert people.symbols == ["alice", "beth", "carl", "dora", "erin", "fred"]
    assert arrays["Sister"].shape == arrays["Parent"].shape == (6, 6)
    assert arrays["Sister"].dtype == np.float32
    assert arrays["Sister"][people.index("alice"), people.index("beth")] == 1
    assert arrays["Sister"].sum() == 2 and arrays["Parent"].sum() == 3


def test_relation_roundtrip_writes_symbols_back(tmp_path: Path) -> None:
    ctx, arrays = family(tmp_path)
    aunt = np.minimum(np.einsum("xy,yz->xz", arrays["Sister"], arrays["Parent"]), 1)
    ctx.write("aunt.tsv", aunt, dims=["x", "z"])
    assert (tmp_path / "aunt.tsv").read_text() == "alice\tcarl\nalice\tdora\n"
    ctx.write("aunt.csv", aunt, dims=["x", "z"])
    assert (tmp_path / "aunt.csv").read_text() == "alice,carl\nalice,dora\n"
    again = IOContext(tmp_path, ctx.symbols)
    np.testing.assert_array_equal(again.load("Aunt", "aunt.tsv", dims=["x", "z"]), aunt)


def test_weighted_relation_keeps_its_values(tmp_path: Path) -> None:
    ctx, arrays = family(tmp_path)
    ctx.write("w.tsv", arrays["Sister"] * 0.5, dims=["x", "y"])
    assert (tmp_path / "w.tsv").read_text() == "alice\tbeth\t0.5\nbeth\talice\t0.5\n"


def test_sink_dims_without_a_table_write_numbers(tmp_path: Path) -> None:
    ctx, arrays = family(tmp_path)
    ctx.write("n.tsv", arrays["Sister"][:2, :2], dims=["x", "y"])  # sizes differ from the table
    assert (tmp_path / "n.tsv").read_text() == "0.0\t1.0\n1.0\t0.0\n"


def test_an_index_name_on_two_domains_labels_neither() -> None:
    registry = SymbolRegistry()
    registry.table(ENTITY).intern("a")
    registry.table(TOKEN).intern("b")
    registry.bind("t", TOKEN)
    assert registry.table_for("t") is registry.table(TOKEN)
    registry.bind("t", ENTITY)
    assert registry.table_for("t") is None


def test_a_symbol_after_its_table_is_frozen_is_an_error(tmp_path: Path) -> None:
    for name, text in FAMILY.items():
        write(tmp_path / name, text)
    ctx = IOContext(tmp_path)
    ctx.load("Sister", "sister.tsv")
    with pytest.raises(FuseError) as error:
        ctx.load("Parent", "parent.tsv")
    assert "parent.tsv:1:6: error: symbol 'carl' is new to the 'entity' table" in str(error.value)


def test_forced_relation_reads_integer_ids_as_symbols(tmp_path: Path) -> None:
    write(tmp_path / "edges.tsv", "10\t20\n20\t30\n")
    assert load_source("edges.tsv", base_dir=tmp_path).shape == (2, 2)
    edges = load_source("edges.tsv", base_dir=tmp_path, kind="relation")
    assert edges.shape == (3, 3) and edges.sum() == 2


def test_empty_relation_needs_its_rank(tmp_path: Path) -> None:
    write(tmp_path / "none.tsv", "\n")
    ctx = IOContext(tmp_path)
    ctx.symbols.table(ENTITY).intern("a")
    assert ctx.load("R", "none.tsv", dims=["x", "y"]).shape == (1, 1)
    with pytest.raises(FuseError, match="is empty"):
        ctx.load("R", "none.tsv")


# --- text ---------------------------------------------------------------------------


def test_text_is_a_position_by_token_matrix(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "The cat sat\n on the mat the\n")
    write(tmp_path / "b.txt", "a cat")
    ctx = IOContext(tmp_path)
    arrays = ctx.load_all(
        [SourceSpec("A", "a.txt", ("p", "t")), SourceSpec("B", "b.txt", ("p", "t"))]
    )
    vocabulary = ctx.symbols.table(TOKEN)
    assert vocabulary.symbols == ["The", "cat", "sat", "on", "the", "mat", "a"]
    assert arrays["A"].shape == (7, 7) and arrays["B"].shape == (2, 7)
    assert arrays["A"].sum(axis=1).tolist() == [1.0] * 7
    assert arrays["A"][6, vocabulary.index("the")] == 1
    ctx.write("copy.txt", arrays["A"], dims=["p", "t"])
    assert (tmp_path / "copy.txt").read_text() == "The cat sat on the mat the\n"


def test_topk_sink_writes_scored_tokens(tmp_path: Path) -> None:
    write(tmp_path / "v.txt", "a b c")
    ctx = IOContext(tmp_path)
    ctx.load_all([SourceSpec("V", "v.txt", ("p", "t"))])
    scores = np.array([[0.0, 0.2, 0.7], [0.5, 0.0, 0.0]], dtype=np.float32)
    ctx.write("top.jsonl", scores, dims=["q", "t"])
    lines = [json.loads(line) for line in (tmp_path / "top.jsonl").read_text().splitlines()]
    assert lines == [
        {"position": 0, "token": "c", "score": 0.7},
        {"position": 0, "token": "b", "score": 0.2},
        {"position": 1, "token": "a", "score": 0.5},
    ]
    back = IOContext(tmp_path, ctx.symbols).load("S", "top.jsonl", dims=["q", "t"])
    np.testing.assert_array_equal(back, scores)


# --- json lines records -----------------------------------------------------------


def test_jsonl_records_with_symbols_roundtrip(tmp_path: Path) -> None:
    write(
        tmp_path / "r.jsonl",
        '{"indices": ["alice", 2], "value": 0.5}\n\n{"indices": ["bob", 0]}\n',
    )
    ctx = IOContext(tmp_path)
    array = ctx.load_all([SourceSpec("R", "r.jsonl", ("x", "k"))])["R"]
    assert ctx.symbols.table(ENTITY).symbols == ["alice", "bob"]
    np.testing.assert_array_equal(array, [[0, 0, 0.5], [1, 0, 0]])
    ctx.write("s.jsonl", array, dims=["x", "k"])
    assert (tmp_path / "s.jsonl").read_text() == (
        '{"indices": ["alice", 2], "value": 0.5}\n{"indices": ["bob", 0], "value": 1.0}\n'
    )


def test_jsonl_rows_of_numbers(tmp_path: Path) -> None:
    write(tmp_path / "m.jsonl", "[1, 2]\n[3, 4.5]\n")
    np.testing.assert_array_equal(load_source("m.jsonl", base_dir=tmp_path), [[1, 2], [3, 4.5]])


# --- atomic writes ------------------------------------------------------------------


def test_failed_write_leaves_target_untouched(tmp_path: Path, monkeypatch) -> None:
    target = write(tmp_path / "out.npy", "old contents")

    def broken_save(stream, array, allow_pickle=False) -> None:
        stream.write(b"half a fi")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fio.np, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_sink(target, np.ones(3))
    assert target.read_text() == "old contents"
    assert os.listdir(tmp_path) == ["out.npy"]


def test_failed_rename_leaves_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    def broken_replace(source, destination) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fio.os, "replace", broken_replace)
    with pytest.raises(FuseError, match=r"out\.csv: cannot write: Permission denied"):
        write_sink(tmp_path / "out.csv", np.ones(3))
    assert os.listdir(tmp_path) == []


def test_unwritable_sink_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(FuseError, match="at most 2 dimensions"):
        write_sink(tmp_path / "cube.csv", np.ones((2, 2, 2)))
    with pytest.raises(FuseError, match="position x token"):
        write_sink(tmp_path / "x.txt", np.ones((2, 2)))
    assert os.listdir(tmp_path) == []


def test_written_files_get_ordinary_permissions(tmp_path: Path) -> None:
    path = write_sink(tmp_path / "out.json", np.ones(2))
    assert path.stat().st_mode & 0o777 == fio._FILE_MODE


# --- errors -------------------------------------------------------------------------


def test_missing_file_and_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(FuseError, match=r"error: .*nope\.npy: no such file"):
        load_source("nope.npy", base_dir=tmp_path)
    with pytest.raises(FuseError, match=r"weights\.bin: unknown source format '\.bin'"):
        load_source("weights.bin", base_dir=tmp_path)
    with pytest.raises(FuseError, match="unknown sink format"):
        write_sink(tmp_path / "out", np.ones(2))


def test_ragged_csv_names_the_line(tmp_path: Path) -> None:
    write(tmp_path / "r.csv", "1,2\n\n3,4\n5\n")
    with pytest.raises(FuseError) as error:
        load_source("r.csv", base_dir=tmp_path)
    assert f"{tmp_path / 'r.csv'}:4:1: error: row has 1 cells, expected 2 as on line 1" in str(
        error.value
    )


def test_non_numeric_cell_names_line_and_column(tmp_path: Path) -> None:
    write(tmp_path / "n.tsv", "1\t2\n3\tx4\n5\t6\n")
    with pytest.raises(FuseError) as error:
        load_source("n.tsv", base_dir=tmp_path)
    text = str(error.value)
    assert f"{tmp_path / 'n.tsv'}:2:3: error: non-numeric cell 'x4'" in text
    assert text.endswith("3 x4\n  ^~")  # the tab is shown as one space


def test_empty_symbol_in_relation(tmp_path: Path) -> None:
    write(tmp_path / "e.csv", "a,b\nc,\n")
    with pytest.raises(FuseError, match=r"e\.csv:2:\d+: error: empty cell"):
        load_source("e.csv", base_dir=tmp_path)


def test_bad_json_line_is_named(tmp_path: Path) -> None:
    write(tmp_path / "b.jsonl", "[1, 2]\n[3, 4\n")
    with pytest.raises(FuseError, match=r"b\.jsonl:2:\d+: error: invalid JSON"):
        load_source("b.jsonl", base_dir=tmp_path)
    write(tmp_path / "m.jsonl", "[1, 2]\n[3]\n")
    with pytest.raises(FuseError, match=r"m\.jsonl:2:1: error: row has shape \[1\]"):
        load_source("m.jsonl", base_dir=tmp_path)
    write(tmp_path / "k.jsonl", '{"indices": [0], "valeu": 2}\n')
    with pytest.raises(FuseError, match=r"k\.jsonl:1:1: error: a record is"):
        load_source("k.jsonl", base_dir=tmp_path)


def test_bad_json_documents(tmp_path: Path) -> None:
    write(tmp_path / "r.json", "[[1, 2], [3]]")
    with pytest.raises(
        FuseError, match=r"r\.json: \[1\] has shape \[1\] but \[0\] has shape \[2\]"
    ):
        load_source("r.json", base_dir=tmp_path)
    write(tmp_path / "s.json", '[1, "two"]')
    with pytest.raises(FuseError, match=r"\[1\] is a JSON str"):
        load_source("s.json", base_dir=tmp_path)
    write(tmp_path / "t.json", "[1,\n 2,,]")
    with pytest.raises(FuseError, match=r"t\.json:2:\d+: error: invalid JSON"):
        load_source("t.json", base_dir=tmp_path)


def test_rank_mismatch_names_the_tensor(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", np.ones((2, 3)))
    with pytest.raises(FuseError, match=r"shape \[2, 3\], but tensor W has 1 indices"):
        load_source("w.npy", base_dir=tmp_path, name="W", dims=["i"])


def test_symbol_table_basics() -> None:
    table = SymbolTable("d", ["x", "y", "x"])
    assert len(table) == 2 and table.index("y") == 1 and table.symbol(0) == "x"
    table.freeze()
    assert table.intern("y") == 1
    with pytest.raises(FuseError, match="new to the 'd' table"):
        table.intern("z")
    with pytest.raises(FuseError, match="unknown symbol 'z'"):
        table.index("z")


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", "1,2\n")
    ctx = IOContext(tmp_path)
    assert ctx.load("M", "m.csv").tolist() == [[1, 2]]
    write(path, "3,4,5\n")
    os.utime(path, ns=(1, 1))  # a new mtime even on coarse clocks
    assert ctx.load("M", "m.csv").tolist() == [[3, 4, 5]]


def test_later_record_replaces_earlier(tmp_path: Path) -> None:
    write(tmp_path / "d.jsonl", '{"indices": [1], "value": 2}\n{"indices": [1], "value": 3}\n')
    assert load_source("d.jsonl", base_dir=tmp_path).tolist() == [0, 3]


def test_non_utf8_text_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(FuseError, match=r"b\.txt:2:1: error: is not UTF-8 text"):
        load_source("b.txt", base_dir=tmp_path)


@pytest.mark.filterwarnings("error")  # NumPy's overflow warning was all a user saw
@pytest.mark.parametrize(
    ("name", "content", "value"),
    [
        ("w.csv", "1e39,2\n3,4\n", "1e+39"),
        ("w.json", "[[1e39, 2], [3, 4]]", "1e+39"),
        ("w.jsonl", "[1e39, 2]\n[3, 4]\n", "1e+39"),
        ("w.jsonl", '{"indices": [0, 1], "value": -1e39}\n', "1e+39"),
        ("w.json", "[[1" + "0" * 400 + ", 2], [3, 4]]", None),
        ("w.npy", np.array([[1e39, 2.0], [3.0, 4.0]]), "1e+39"),
    ],
)
def test_a_source_value_beyond_fp32_is_an_error_naming_the_file(
    tmp_path: Path, name: str, content: str | np.ndarray, value: str | None
) -> None:
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_text(content)
    with pytest.raises(FuseError) as info:
        IOContext(tmp_path).load("W", name, dims=["i", "j"])
    message = info.value.render()
    assert message.startswith(f"error: {path}: holds ")
    assert "beyond the float32 range" in message
    if value is not None:
        assert f"the finite value {value}," in message


@pytest.mark.filterwarnings("error")
def test_infinities_written_in_a_source_pass(tmp_path: Path) -> None:
    (tmp_path / "w.csv").write_text("inf,-inf\nnan,3.4e38\n")
    array = IOContext(tmp_path).load("W", "w.csv", dims=["i", "j"])
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array[0], [np.inf, -np.inf])
    assert np.isnan(array[1, 0]) and array[1, 1] == np.float32(3.4e38)
