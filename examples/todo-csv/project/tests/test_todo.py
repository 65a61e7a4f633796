from pathlib import Path

import todo


def test_add_and_complete(tmp_path: Path) -> None:
    store = tmp_path / "todos.json"
    assert todo.add("write docs", store)["id"] == 1
    todo.add("ship", store)
    todo.complete(1, store)
    assert [t["done"] for t in todo.load(store)] == [True, False]
