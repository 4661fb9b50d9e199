def test_counts_lines(wordstat, sample):
    result = wordstat("count", "--lines", str(sample))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "4"
