"""Suite facts live in one record each: the leaderboard's schema, the tables, the sweeps and the figures read them."""

from harness.registry import SUITES, TASKS


def test_every_suite_record_agrees_with_the_leaderboard_and_feeds_the_study_tools():
    from harness.sweep import SUITE_OF
    from harness.tables import TABLE_SUITES
    from leaderboards import store

    assert list(SUITES) == ["shapes-fid", "shapes-geneval", "imagenet256", "geneval"]
    for name, s in SUITES.items():
        assert store.SUITES[name] == s.task and store.DEFAULT_PROTOCOL[name] == s.protocol
        assert s.task in TASKS and callable(s.scorer())
    assert TABLE_SUITES == {
        1: ("geneval", "shapes-geneval"),
        2: ("imagenet256", "shapes-fid"),
        3: ("geneval", "shapes-geneval"),
        4: ("geneval", "shapes-geneval"),
    }
    assert SUITE_OF == {"shapes": ("shapes-fid", "fid", min), "shapes-t2i": ("shapes-geneval", "overall", max)}
    assert SUITES["shapes-geneval"].identify()["detector"] == "shapes-exact"
