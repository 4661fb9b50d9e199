def test_top_three(wordstat, sample):
    result = wordstat("top", str(sample))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["the 3", "sat 2", "The 1"]


def test_top_n(wordstat, sample):
    result = wordstat("top", "-n", "1", str(sample))
    assert result.stdout.splitlines() == ["the 3"]
