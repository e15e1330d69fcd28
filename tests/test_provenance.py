"""What wrote a result (``runner/provenance.py``): the config hash ignores exactly the neutral
fields, the first differing field is named, and any edit of the package's sources changes the
code hash."""

import json

from alignment.runner import provenance


def test_config_hash_ignores_the_neutral_fields_only():
    base = {"lr": 0.1, "make_figures": True, "n_boot": 100}
    same = json.dumps(base | {"make_figures": False})
    assert provenance.config_hash(json.dumps(base)) == provenance.config_hash(same)
    other = json.dumps(base | {"n_boot": 5})
    assert provenance.config_hash(json.dumps(base)) != provenance.config_hash(other)
    neutral = (*provenance.NEUTRAL_FIELDS, "n_boot")  # a job adding its own
    assert provenance.config_hash(json.dumps(base), neutral) == provenance.config_hash(
        other, neutral
    )


def test_first_difference_names_the_dotted_field():
    old = {"a": 1, "verdict": {"gap_tol": 1e-3, "flat_tol": 1e-3}}
    new = {"a": 1, "verdict": {"gap_tol": 1e-2, "flat_tol": 1e-3}}
    assert provenance.first_difference(old, new) == "verdict.gap_tol (0.001 there, 0.01 now)"
    assert provenance.first_difference(old, old) is None
    assert provenance.first_difference({}, {"x": 1}) == "x ('<absent>' there, 1 now)"


def test_code_hash_covers_every_source_file_of_the_package(tmp_path, monkeypatch):
    for name, text in (("a.py", "x = 1\n"), ("sub/b.py", "y = 2\n")):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(provenance, "PACKAGE_DIR", tmp_path)
    provenance.code_hash.cache_clear()
    before = provenance.code_hash()
    (tmp_path / "sub/b.py").write_text("y = 3\n")  # an edit in a subpackage
    provenance.code_hash.cache_clear()
    after = provenance.code_hash()
    provenance.code_hash.cache_clear()
    assert before != after and len(before) == 16


def test_stamp_has_every_provenance_field():
    stamp = provenance.stamp(json.dumps({"lr": 0.1}))
    assert set(stamp) == {"config_hash", "code_hash", "package_version", "git_revision"}
