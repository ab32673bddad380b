import json

import pytest

from toyhelpers.cli import main


def test_list_shows_every_recipe_with_its_task_checkpoint_and_lessons(capsys):
    import toyhelpers as th
    from toyhelpers.checkpoints import shipped

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    recipe_table = out.split("\n\n")[0]
    rows = {line.split()[0]: line.split() for line in recipe_table.splitlines()}
    for name, recipe in th.recipes.all_recipes().items():
        assert rows[name][1] == recipe.task
        assert rows[name][2] == ("shipped" if name in shipped() else "-")
    assert rows["othello_4x4"][3] == "24" and rows["othello_stage2"][-1] == "othello_stage1"
    assert rows["sort_fixed"][3:5] == ["00,", "01"]
    assert "START x1..xn MID y1..yn" in out  # the tasks follow, with their formats


def test_unknown_recipe_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "sort_fixd", "--fast"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no recipe called 'sort_fixd'; recipes: " in err
    listed = err.split("recipes: ", 1)[1].strip().rstrip(".").split(", ")
    assert "sort_fixed" in listed and listed == sorted(listed)


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


def test_every_shipped_checkpoint_evaluates_by_its_name(capsys):
    from toyhelpers.checkpoints import shipped

    # mod_add_half and mod_add_gelu are recipes on the task mod_add, not tasks themselves
    for name in ("sort_fixed", "mod_add_half", "mod_add_gelu"):
        assert name in shipped()
        assert main(["eval", name, "--n", "300"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"{name}: ") and "accuracy" in out


def test_eval_of_an_unknown_name_lists_the_shipped_ones(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "mod_add_halve"])
    err = capsys.readouterr().err
    assert "shipped checkpoints: " in err
    listed = err.split("shipped checkpoints: ", 1)[1].strip().rstrip(".").split(", ")
    assert {"mod_add", "mod_add_half", "sort_fixed"} <= set(listed) and listed == sorted(listed)


def test_check_rejects_non_notebook_and_missing_files(tmp_path, capsys):
    path = tmp_path / "x.txt"
    path.write_text("hi")
    with pytest.raises(SystemExit):
        main(["check", str(path)])
    assert "is not a notebook file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["check", str(tmp_path / "nope.ipynb")])
    assert "nope.ipynb does not exist" in capsys.readouterr().err


def test_resume_with_nothing_to_resume_warns_before_training(tmp_path, capsys):
    with pytest.warns(UserWarning, match="nothing to resume, so this is a new run from step 0"):
        assert (
            main(
                [
                    "train",
                    "sort_fixed",
                    "--fast",
                    "--steps",
                    "2",
                    "--out",
                    str(tmp_path),
                    "--resume",
                ]
            )
            == 0
        )


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
