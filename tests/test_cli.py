"""The one entry point: subcommand routing and clean one-line errors."""

import pytest

from ecgviewer import cli


def test_version_does_not_start_the_app(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert "ecgviewer" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["gui"]),
        (["scan.png"], ["gui", "scan.png"]),
        (["--screenshot", "x.png", "scan.png"], ["gui", "--screenshot", "x.png", "scan.png"]),
        (["digitize", "a.png", "-o", "out"], ["digitize", "a.png", "-o", "out"]),
    ],
)
def test_files_and_app_flags_open_the_app(monkeypatch, argv, expected):
    seen = {}

    def fake_parse(self, args=None, namespace=None):
        seen["argv"] = list(args)
        raise SystemExit(0)

    monkeypatch.setattr(cli.argparse.ArgumentParser, "parse_args", fake_parse)
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert seen["argv"] == expected


def test_core_error_is_one_line(tmp_path, capsys):
    missing = tmp_path / "nothing.hea"
    code = cli.main(["classify", str(missing)])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code != 0
    assert "Traceback" not in text and "nothing.hea: no such file" in text


def test_train_overrides_reach_the_recipe(monkeypatch, tmp_path):
    """`ecgviewer train --seed/--keep-epoch` override the JSON recipe (a soup's ingredients are
    the same recipe with other seeds); without them the recipe's values stand."""
    import json

    from ecgviewer.rhythm.training import train

    seen = []
    monkeypatch.setattr(train, "train_cv", lambda cfg: seen.append(cfg) or [])
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"seed": 2017, "epochs": 6, "keep_epoch": "best"}))
    run = str(tmp_path / "run")
    common = ["train", "--data", str(tmp_path), "--out", run, "--config", str(recipe)]
    assert cli.main([*common, "--seed", "2019", "--keep-epoch", "last"]) == 0
    assert cli.main(common) == 0
    assert (seen[0].seed, seen[0].keep_epoch, seen[0].epochs) == (2019, "last", 6)
    assert (seen[1].seed, seen[1].keep_epoch) == (2017, "best")
    with pytest.raises(SystemExit):
        cli.main([*common, "--keep-epoch", "median"])
