def test_counts_chars(wordstat, sample):
    result = wordstat("count", "--chars", str(sample))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(sample.read_text()))
