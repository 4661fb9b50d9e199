def test_ignore_case(wordstat, sample):
    result = wordstat("top", "--ignore-case", "-n", "2", str(sample))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["the 4", "sat 2"]
