"""What a rerun keeps, refuses or recomputes (``runner/workdir.py``): a changed config is refused
naming its first field, chunks of other code are recomputed unless kept, a corrupted chunk is set
aside, ``--restart`` deletes every result, and an unusable workdir is named."""

import pytest
from micro import finish, micro_config

from alignment import registry as sweep
from alignment.runner import provenance, results, workdir


def test_changed_config_is_refused_naming_the_field_and_restart_starts_over(tmp_path):
    cfg = micro_config()
    workdir.check_config(tmp_path, sweep.config_json(cfg), sweep.job_for(cfg).neutral)
    cfg.lr = (0.1,)
    with pytest.raises(
        ValueError, match=r"first differing field: lr \(\[0.2\] there, \[0.1\] now\)"
    ):
        sweep.prepare(cfg, tmp_path)
    results.write_text(results.chunk_path(tmp_path, 0), "old")
    sweep.prepare(cfg, tmp_path, restart=True)  # deletes the old results, takes the new config
    assert not results.chunk_path(tmp_path, 0).exists()
    cfg.make_figures = True  # a field that changes no result may differ
    sweep.prepare(cfg, tmp_path)


def test_chunks_of_other_code_are_recomputed_unless_kept(micro_reference, tmp_path):
    want, _, _ = micro_reference
    cfg = micro_config()
    sweep.run(cfg, tmp_path)
    path = results.chunk_path(tmp_path, 1)
    ds = results.load_chunk(tmp_path, 1)
    ds.attrs["code_hash"] = "0123456789abcdef"
    results.write_netcdf(path, ds)
    neutral = sweep.job_for(cfg).neutral
    assert workdir.usable_chunks(tmp_path, sweep.config_json(cfg), True, neutral) == {
        0,
        1,
        2,
    }
    trained = []
    sweep.run(cfg, tmp_path, after_chunk=lambda c: trained.append(c.index))
    assert trained == [1]
    assert results.load_chunk(tmp_path, 1).attrs["code_hash"] == provenance.code_hash()
    assert finish(cfg, tmp_path) == want


def test_corrupted_chunk_is_set_aside_and_recomputed(micro_reference, tmp_path):
    want, _, _ = micro_reference
    cfg = micro_config()
    sweep.run(cfg, tmp_path)
    path = results.chunk_path(tmp_path, 2)
    path.write_bytes(path.read_bytes()[:200])  # truncated
    with pytest.raises(ValueError, match="chunk_00002.nc is unreadable"):
        workdir.check_merge(tmp_path, 3)
    trained = []
    sweep.run(cfg, tmp_path, after_chunk=lambda c: trained.append(c.index))
    assert trained == [2] and path.with_name(path.name + ".corrupt").exists()
    assert finish(cfg, tmp_path) == want


def test_chunk_of_another_config_is_refused(tmp_path):
    cfg = micro_config()
    sweep.run(cfg, tmp_path)
    ds = results.load_chunk(tmp_path, 0)
    ds.attrs["config_hash"] = "feedfeedfeedfeed"
    results.write_netcdf(results.chunk_path(tmp_path, 0), ds)
    with pytest.raises(ValueError, match="written under another config"):
        sweep.prepare(cfg, tmp_path)


def test_workdir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        workdir.check_usable(tmp_path / "f")
    with pytest.raises(ValueError, match="cannot be written"):
        workdir.check_usable(tmp_path / "f" / "sub")


def test_start_over_deletes_every_result_of_any_job(tmp_path):
    for name in ("summary.csv", "trajectories.nc", "config.json", "mean_field.json", "x.json"):
        (tmp_path / name).write_text("old")
    results.write_text(results.chunk_path(tmp_path, 0), "old")
    (tmp_path / "notes.txt").write_text("mine")
    workdir.start_over(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
