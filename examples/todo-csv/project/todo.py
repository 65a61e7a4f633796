"""A tiny todo list kept in a JSON file: the sample project of the crew demo."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

STORE = Path("todos.json")


def load(store: Path = STORE) -> list[dict[str, object]]:
    return json.loads(store.read_text()) if store.exists() else []


def save(todos: list[dict[str, object]], store: Path = STORE) -> None:
    store.write_text(json.dumps(todos, indent=2))


def add(title: str, store: Path = STORE) -> dict[str, object]:
    todos = load(store)
    todo = {"id": len(todos) + 1, "title": title, "done": False}
    save([*todos, todo], store)
    return todo


def complete(todo_id: int, store: Path = STORE) -> None:
    todos = load(store)
    for t in todos:
        if t["id"] == todo_id:
            t["done"] = True
    save(todos, store)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="todo")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("add").add_argument("title")
    sub.add_parser("done").add_argument("id", type=int)
    sub.add_parser("list")
    args = parser.parse_args(argv)
    if args.cmd == "add":
        print(add(args.title)["id"])
    elif args.cmd == "done":
        complete(args.id)
    else:
        for t in load():
            print(f"[{'x' if t['done'] else ' '}] {t['id']}: {t['title']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
