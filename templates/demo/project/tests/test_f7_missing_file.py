def test_missing_file(wordstat, tmp_path):
    result = wordstat("count", str(tmp_path / "nope.txt"))
    assert result.returncode == 2
    assert "wordstat: cannot read" in result.stderr
    assert result.stdout == ""
