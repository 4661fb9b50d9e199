import json


def test_count_json(wordstat, sample):
    result = wordstat("count", "--lines", "--json", str(sample))
    assert json.loads(result.stdout) == {"lines": 4}


def test_top_json(wordstat, sample):
    result = wordstat("top", "-n", "2", "--json", str(sample))
    assert json.loads(result.stdout) == [["the", 3], ["sat", 2]]
