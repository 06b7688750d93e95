"""The executor's own dependency list is enough: a pandas + matplotlib job on the reference data,
run through the HTTP API of a server started from a fresh venv holding only that list."""

from __future__ import annotations

from tests.runtimes.executor.conftest import DATA, run

JOB = """
import pandas as pd
import matplotlib.pyplot as plt

sales = pd.read_csv("data/fresh-food-sales.csv")
total = int(sales["금액"].sum())
by_category = sales.groupby("카테고리")["금액"].sum().sort_values(ascending=False)
fig, ax = plt.subplots(figsize=(6, 4))
by_category.plot.bar(ax=ax)
ax.set_title("카테고리별 매출")
ax.set_xlabel("카테고리")
ax.set_ylabel("금액 (원)")
fig.tight_layout()
fig.savefig("charts/sales_by_category.png", dpi=100)
print(total)
"""


def test_reference_job_runs_from_a_fresh_venv(executor):
    with executor.client() as client:
        upload = client.put("/v1/sessions/venv-proof/files/data/fresh-food-sales.csv", content=DATA.read_bytes())
        assert upload.status_code == 201, upload.text
        assert upload.json() == {"path": "data/fresh-food-sales.csv", "bytes": DATA.stat().st_size}
        assert run(client, "venv-proof", "import os; os.makedirs('charts', exist_ok=True)")["status"] == "ok"
        result = run(client, "venv-proof", JOB)
        assert result["status"] == "ok", result
        assert result["stdout"].strip() == "157685452"
        chart = client.get("/v1/sessions/venv-proof/files/charts/sales_by_category.png")
        assert chart.status_code == 200
        assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(chart.content) > 5000
        # State persists: the data frame loaded above is still there.
        again = run(client, "venv-proof", "print(len(sales), sales.columns.tolist())")
        assert again["stdout"].strip() == "2726 ['날짜', '카테고리', '제품명', '수량', '단가', '금액']"
