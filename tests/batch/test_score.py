"""`ytsentiment score`: the same classes in-process, with the pandas engine and on Spark; flat memory; formats.

The oracle for the classes is the Pipeline's own ``predict`` on all rows at once (no chunking, no Spark, no argmax
of ours); the rows are real YouTube comments (Thelwall's set from the shared data folder).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ytsentiment.cli import main


@pytest.fixture(scope="module")
def youtube_comments(training_sources, tmp_path_factory) -> Path:
    frame = training_sources["youtube_thelwall"][["text"]]
    frame.insert(0, "row", np.arange(len(frame)))
    path = tmp_path_factory.mktemp("comments") / "comments.parquet"
    frame.to_parquet(path, row_group_size=700)
    return path


@pytest.fixture(scope="module")
def oracle(youtube_comments, trained_model_dir) -> pd.DataFrame:
    import mlflow.sklearn

    frame = pd.read_parquet(youtube_comments)
    pipeline = mlflow.sklearn.load_model(str(trained_model_dir))
    return frame.assign(expected=pipeline.predict(frame[["text"]]),
                        expected_conf=pipeline.predict_proba(frame[["text"]]).max(axis=1))


def test_pandas_and_spark_engines_agree_with_the_pipeline_on_every_real_comment(youtube_comments, trained_model_dir,
                                                                                  oracle, tmp_path, capsys):
    from ytsentiment.batch.inputs import resolve_model
    from ytsentiment.batch.spark_model import score_spark

    assert len(oracle) > 2000 and oracle["expected"].nunique() == 3
    out = tmp_path / "pandas.parquet"
    assert main(["score", str(youtube_comments), "--out", str(out), "--model-uri", str(trained_model_dir),
                 "--batch-rows", "300"]) == 0
    assert f"scored {len(oracle)} comments with ytsentiment v1 (pandas" in capsys.readouterr().out
    chunked = pd.read_parquet(out)
    assert chunked["row"].tolist() == oracle["row"].tolist()  # order and every row kept
    assert (chunked["sentiment"].to_numpy() == oracle["expected"].to_numpy()).all()
    np.testing.assert_allclose(chunked["confidence"], oracle["expected_conf"], rtol=0, atol=1e-12)
    assert set(chunked["label"]) == {"negative", "neutral", "positive"}
    assert (chunked["label"] == chunked["sentiment"].map({-1: "negative", 0: "neutral", 1: "positive"})).all()
    assert set(chunked["model_name"]) == {"ytsentiment"} and set(chunked["model_version"]) == {"1"}

    # Spark local[2], 5 partitions, the package shipped as a zip (the --py-files path a real cluster uses).
    result = score_spark(youtube_comments, tmp_path / "spark", resolve_model(str(trained_model_dir)),
                         master="local[2]", rows_per_partition=500, ship_code=True)
    assert result.rows == len(oracle)
    spark = pd.read_parquet(tmp_path / "spark").sort_values("row").reset_index(drop=True)
    assert spark["row"].tolist() == oracle["row"].tolist()
    assert (spark["sentiment"].to_numpy() == oracle["expected"].to_numpy()).all()
    np.testing.assert_allclose(spark["confidence"], oracle["expected_conf"], rtol=0, atol=1e-9)
    assert (spark["label"] == chunked["label"]).all() and set(spark["model_version"]) == {"1"}


def test_csv_and_jsonl_inputs_score_like_parquet(oracle, trained_model_dir, tmp_path):
    sample = oracle[["row", "text"]].head(60).copy()
    sample.loc[0, "text"] = 'line one\nline two, with "quotes", commas'  # quoted newline in a CSV field
    sample.loc[1, "text"] = None  # a null text scores as the empty text
    sample.to_csv(tmp_path / "c.csv", index=False)
    sample.to_json(tmp_path / "c.jsonl", orient="records", lines=True)
    sample.to_parquet(tmp_path / "c.parquet")
    outs = {}
    for name in ("c.csv", "c.jsonl", "c.parquet"):
        assert main(["score", str(tmp_path / name), "--out", str(tmp_path / f"{name}.out.parquet"),
                     "--model-uri", str(trained_model_dir), "--batch-rows", "7"]) == 0
        outs[name] = pd.read_parquet(tmp_path / f"{name}.out.parquet")
    for name in ("c.csv", "c.jsonl"):
        assert outs[name]["row"].tolist() == sample["row"].tolist()
        assert outs[name]["sentiment"].tolist() == outs["c.parquet"]["sentiment"].tolist()
    assert outs["c.csv"].loc[0, "text"] == sample.loc[0, "text"]


def test_bad_inputs_exit_2_with_what_to_fix(trained_model_dir, tmp_path, caplog):
    pd.DataFrame({"comment": ["hi"]}).to_parquet(tmp_path / "x.parquet")
    assert main(["score", str(tmp_path / "x.parquet"), "--out", str(tmp_path / "o.parquet"),
                 "--model-uri", str(trained_model_dir)]) == 2
    assert "no column 'text'" in caplog.text and "--text-column" in caplog.text
    (tmp_path / "x.txt").write_text("hi")
    assert main(["score", str(tmp_path / "x.txt"), "--out", str(tmp_path / "o.parquet"),
                 "--model-uri", str(trained_model_dir)]) == 2
    assert "unknown input format '.txt'" in caplog.text
    assert main(["score", str(tmp_path / "x.parquet"), "--out", str(tmp_path / "o.parquet"),
                 "--model-uri", str(tmp_path)]) == 2
    assert "without an MLmodel file" in caplog.text
    assert not (tmp_path / "o.parquet").exists()


def test_partitions_follow_the_input_size():
    from ytsentiment.batch.spark_model import partitions_for

    assert partitions_for(0, 2, 20_000) == 2
    assert partitions_for(30_000, 2, 20_000) == 2
    assert partitions_for(200_000, 2, 20_000) == 10
    assert partitions_for(1_000_001, 8, 20_000) == 51


# ---- memory ---------------------------------------------------------------------------------------------------

WORDS = ("good bad great awful love hate video song watch funny boring music part first thanks "
         "amazing terrible ok fine nice wow lol cool best worst").split()


@pytest.fixture(scope="module")
def hashing_model(tmp_path_factory) -> Path:
    """A fast real sklearn Pipeline (hashing + logistic regression) as an MLflow model: memory, not accuracy."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from ytsentiment.artifact import save_model

    texts = pd.DataFrame({"text": ["good great love", "bad awful hate", "video part watch"] * 20})
    pipe = Pipeline([("features", ColumnTransformer([("hash", HashingVectorizer(n_features=2**12), "text")])),
                     ("clf", LogisticRegression(max_iter=200))]).fit(texts, [1, -1, 0] * 20)
    return save_model(pipe, tmp_path_factory.mktemp("hashing") / "model", {"name": "hashing", "version": "0"})


def write_comments(path: Path, rows: int, chars: int = 300) -> int:
    """``rows`` random comments of about ``chars`` characters, in row groups of 10k; returns the text bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(rows)
    words = np.array(WORDS)
    total = 0
    with pq.ParquetWriter(path, pa.schema([("comment_id", pa.string()), ("text", pa.string())])) as writer:
        for start in range(0, rows, 10_000):
            n = min(10_000, rows - start)
            picks = words[rng.integers(0, len(words), size=(n, chars // 6))]
            texts = [" ".join(p) for p in picks]
            total += sum(map(len, texts))
            writer.write_table(pa.table({"comment_id": [f"c{start + i}" for i in range(n)], "text": texts}))
    return total


PEAK = textwrap.dedent("""
    import json, resource, sys
    from ytsentiment.batch.inputs import resolve_model
    from ytsentiment.batch.score import score_pandas
    result = score_pandas(sys.argv[1], sys.argv[2], resolve_model(sys.argv[3]), batch_rows=int(sys.argv[4]))
    print(json.dumps({"rows": result.rows, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""")


def peak_rss_mb(source: Path, out: Path, model: Path, batch_rows: int) -> tuple[int, float]:
    done = subprocess.run([sys.executable, "-c", PEAK, str(source), str(out), str(model), str(batch_rows)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["rows"], result["peak_kb"] / 1024


def test_pandas_engine_memory_stays_flat_from_20k_to_200k_rows(hashing_model, tmp_path):
    """Peak RSS (getrusage, a fresh process each) grows by far less than the input's text: the input is never held
    whole. Reading 200k rows at once would add at least their ~53 MB of text (Arrow) plus as much again as Python
    strings; streamed 2k-row batches measured +9 MB (and the same peak at 600k rows as at 200k)."""
    small, large = tmp_path / "20k.parquet", tmp_path / "200k.parquet"
    write_comments(small, 20_000)
    text_mb = write_comments(large, 200_000) / 2**20
    rows_small, peak_small = peak_rss_mb(small, tmp_path / "s.parquet", hashing_model, 2_000)
    rows_large, peak_large = peak_rss_mb(large, tmp_path / "l.parquet", hashing_model, 2_000)
    assert (rows_small, rows_large) == (20_000, 200_000)
    assert len(pd.read_parquet(tmp_path / "l.parquet", columns=["sentiment"])) == 200_000
    growth = peak_large - peak_small
    assert text_mb > 50  # big enough for a whole-input read to show
    assert growth < 30, f"peak RSS grew {growth:.0f} MB from 20k to 200k rows ({peak_small:.0f} -> {peak_large:.0f})"
