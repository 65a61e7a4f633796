import tempfile
import unittest
from pathlib import Path

import todo


class TodoTest(unittest.TestCase):
    def test_add_and_complete(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            store = Path(d) / "todos.json"
            self.assertEqual(todo.add("write docs", store)["id"], 1)
            todo.add("ship", store)
            todo.complete(1, store)
            self.assertEqual([t["done"] for t in todo.load(store)], [True, False])


if __name__ == "__main__":
    unittest.main()
