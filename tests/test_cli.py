import json

import pytest

from toyhelpers.cli import main


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "sort_fixed" in out and "START x1..xn MID y1..yn" in out


def test_unknown_task_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "sort_fixd", "--fast"])
    assert exit_info.value.code == 2
    assert "no training recipe for task 'sort_fixd'" in capsys.readouterr().err


def test_bad_device_is_a_clear_error(capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["train", "sort_fixed", "--fast", "--device", "tpu", "--out", str(tmp_path)])
    assert "unknown device 'tpu'" in capsys.readouterr().err


def test_missing_subcommand_shows_usage(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "usage: toyhelpers" in capsys.readouterr().err


def test_train_fast_then_eval_and_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "sort_fixed", "--fast", "--steps", "40", "--out", str(out)]) == 0
    assert (out / "model.safetensors").exists() and (out / "meta.json").exists()
    assert main(["eval", "sort_fixed", "--checkpoint", str(out), "--json", "--n", "100"]) == 0
    metrics = json.loads(
        capsys.readouterr().out.split("checkpoint written to")[-1].split("\n", 1)[1]
    )
    assert set(metrics) >= {"accuracy", "loss", "token_accuracy"}
    # A finished run resumes to the same step count and trains no further.
    assert (
        main(["train", "sort_fixed", "--fast", "--steps", "40", "--out", str(out), "--resume"]) == 0
    )
    assert "resumed from" in capsys.readouterr().out


def test_eval_pretrained(capsys):
    assert main(["eval", "sort_fixed", "--n", "500"]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_check_rejects_non_notebook(tmp_path, capsys):
    path = tmp_path / "x.txt"
    path.write_text("hi")
    with pytest.raises(SystemExit):
        main(["check", str(path)])
    assert "is not a notebook file" in capsys.readouterr().err


def test_second_stage_needs_the_first(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "othello_stage2", "--fast", "--steps", "2"])
    assert exit_info.value.code == 2
    assert "run `toyhelpers train othello_stage1` first" in capsys.readouterr().err


def test_second_stage_starts_from_the_first(tmp_path, monkeypatch, capsys):
    from safetensors.torch import load_file

    monkeypatch.chdir(tmp_path)
    assert main(["train", "othello_stage1", "--fast", "--steps", "3"]) == 0
    assert main(["train", "othello_stage2", "--fast", "--steps", "1"]) == 0
    assert "starting from the weights in runs/othello_stage1 (step 3)" in capsys.readouterr().out
    first = load_file(str(tmp_path / "runs/othello_stage1/model.safetensors"))
    second = load_file(str(tmp_path / "runs/othello_stage2/model.safetensors"))
    assert first.keys() == second.keys()
    # One warm-up step at lr 4e-4 / 200 moves no weight by more than about 2e-6.
    assert max((first[k] - second[k]).abs().max().item() for k in first) < 1e-4

    # The third stage is deeper: blocks 0-2 stay, block 3 becomes block 5, 3 and 4 are new.
    assert main(["train", "othello_stage3", "--fast", "--steps", "1"]) == 0
    assert "new blocks from index 3 on" in capsys.readouterr().out
    third = load_file(str(tmp_path / "runs/othello_stage3/model.safetensors"))
    moved = {k.replace("blocks.3.", "blocks.5."): v for k, v in second.items()}
    assert {k for k in third if k not in moved} == {
        k.replace("blocks.3.", f"blocks.{b}.") for k in second if "blocks.3." in k for b in (3, 4)
    }
    assert max((moved[k] - third[k]).abs().max().item() for k in moved) < 1e-4

    # The fourth stage is wider (d_model 256): the residual stream is the old one, twice.
    assert main(["train", "othello", "--fast", "--steps", "1"]) == 0
    assert "widened" in capsys.readouterr().out
    fourth = load_file(str(tmp_path / "runs/othello/model.safetensors"))
    assert fourth.keys() == third.keys()
    embed = fourth["embed.weight"]
    assert embed.shape == (third["embed.weight"].shape[0], 256)
    assert (embed[:, 128:] - third["embed.weight"]).abs().max() < 1e-4
