def test_count_stdin(wordstat):
    result = wordstat("count", "-", stdin="one two three\nfour\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "4"


def test_top_stdin(wordstat):
    result = wordstat("top", "-n", "1", "-", stdin="b a b\n")
    assert result.stdout.splitlines() == ["b 2"]
