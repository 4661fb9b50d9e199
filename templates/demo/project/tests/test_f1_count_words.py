def test_counts_words(wordstat, sample):
    result = wordstat("count", str(sample))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "13"
