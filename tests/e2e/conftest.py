"""One fixture weights folder per paper-scale task for the whole test session (random weights, official formats)."""

import pytest

PROMPTS = ["a photo of a red car", "a photo of two cats on a sofa", "a blue bird left of a green apple"]


@pytest.fixture(scope="session")
def paper_env(tmp_path_factory):
    """Environment for `harness` subprocesses: fixture weights of both tasks, a caption file, no HF cache, one thread.

    Returns (env for a task, scratch folder): runs, grids and caches go under the scratch folder, never runs/.
    """
    from harness.networks.fixtures import write_fixtures

    root = tmp_path_factory.mktemp("paper-scale")
    for task in ("imagenet", "t2i"):
        write_fixtures(task, root / "weights" / task)
    (root / "prompts.txt").write_text("\n".join(PROMPTS) + "\n")
    (root / "hf-cache").mkdir()

    def env(task: str) -> dict:
        return {
            "FPD_WEIGHTS_DIR": str(root / "weights" / task),
            "FPD_T2I_PROMPTS": str(root / "prompts.txt"),
            "HF_HUB_CACHE": str(root / "hf-cache"),
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
        }

    return env, root
