"""Safe YAML reading with positions: every value keeps the line and column it came from.

Guards: missing path, a symlink loop, a directory, a file over MAX_BYTES, binary content,
several documents, duplicate keys, and alias bombs (a document that expands past MAX_NODES) are
all UserErrors. UTF-8 (with or without BOM) and UTF-16/32 with a BOM are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crew.errors import UserError

MAX_BYTES = 1 << 20  # spec files are small; anything larger is a mistake
MAX_NODES = 50_000  # after alias expansion
MAX_DEPTH = 64

Loc = tuple[str | int, ...]


@dataclass
class YamlDoc:
    """A parsed YAML mapping plus the position (1-based line, column) of every key and value."""

    path: Path
    data: dict[str, Any]
    value_pos: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    key_pos: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """Position of the value (or key) at loc, else of its nearest located ancestor."""
        table = self.key_pos if key else self.value_pos
        for n in range(len(loc), -1, -1):
            sub = loc[:n]
            if sub in table:
                return table[sub]
            if sub in self.value_pos:
                return self.value_pos[sub]
        return (1, 1)

    def error(self, message: str, loc: Loc = (), *, key: bool = False,
              hint: str | None = None) -> UserError:
        line, col = self.where(loc, key=key)
        return UserError(message, file=str(self.path), line=line, column=col,
                         field=format_loc(loc) or None, hint=hint)


def parse_loc(text: str) -> Loc:
    """The inverse of format_loc: 'model_list[0].litellm_params' -> ('model_list', 0, ...)."""
    out: list[str | int] = []
    for part in re.findall(r"\[(\d+)\]|([^.\[\]]+)", text):
        out.append(int(part[0]) if part[0] else part[1])
    return tuple(out)


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _looks_utf16(raw: bytes) -> bool:
    """Mostly-ASCII text saved as UTF-16: a NUL in every other byte."""
    even, odd = raw[0::2], raw[1::2]
    return max(even.count(0), odd.count(0)) >= 0.9 * (len(raw) // 2)


def resolved(path: Path) -> Path:
    """`path.resolve()`, with a symlink loop as a UserError naming the path (pathlib raises
    RuntimeError or OSError(ELOOP) for it, depending on the Python version)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as e:
        raise UserError(f"cannot resolve the path: {getattr(e, 'strerror', None) or e}",
                        file=str(path), hint="a symlink on it points back to itself; "
                        "fix or remove the link") from None


def read_text(path: Path) -> str:
    """Read a spec file, refusing what cannot be one."""
    shown = str(path)
    try:
        path.stat()
        exists = True
    except FileNotFoundError:
        exists = False
    except OSError as e:  # ELOOP: a symlink loop; EACCES, ENAMETOOLONG, ...
        raise UserError(f"cannot access the file: {e.strerror or e}", file=shown,
                        hint="check the path (and where its symlinks point)") from None
    if not exists:
        raise UserError("no such file", file=shown, hint="check the path")
    if path.is_dir():
        raise UserError("is a directory, not a YAML file", file=shown,
                        hint=f"name a file inside it, e.g. {shown.rstrip('/')}/feature.yaml")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise UserError(f"file is {size / 1e6:.1f} MB; spec files are at most "
                        f"{MAX_BYTES // 1024} KiB", file=shown, line=1)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read the file: {e.strerror or e}", file=shown,
                        hint="check its permissions") from None
    for bom, codec in _BOMS:  # UTF-16/32 with a byte order mark, as editors save it
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(codec)
            except UnicodeDecodeError:
                raise UserError(f"not valid {codec.upper()} text (after its byte order mark)",
                                file=shown, line=1, hint="save the file as UTF-8") from None
    if b"\x00" in raw:
        if _looks_utf16(raw):
            raise UserError("UTF-16 text without a byte order mark", file=shown, line=1,
                            hint="save the file as UTF-8")
        raise UserError("binary file (contains NUL bytes), not YAML", file=shown, line=1)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise UserError("not UTF-8 text", file=shown, line=line,
                        hint="save the file as UTF-8") from None


def load_yaml(path: Path, *, text: str | None = None) -> YamlDoc:
    """Parse one YAML mapping from path (or from text, reported as path)."""
    shown = str(path)
    if text is None:
        text = read_text(path)
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise UserError("file is empty", file=shown, line=1,
                        hint="see `crew init` or `crew schema` for what goes in it")
    root, loader = _fast_parse(text)
    try:
        if loader is None:  # libyaml refused it: the Python parser says why, better worded
            loader = yaml.SafeLoader(text)
            root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = " ".join(x for x in (e.context, e.problem) if x) or "invalid YAML"
        if "but found another document" in what:
            what = "several YAML documents in one file; a spec file holds one"
        raise UserError(f"YAML syntax error: {what}", file=shown, line=line,
                        column=col) from None
    except yaml.YAMLError as e:
        raise UserError(f"YAML error: {e}", file=shown, line=1) from None
    except RecursionError:
        raise UserError(f"nested more than {MAX_DEPTH} levels deep", file=shown,
                        line=1) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        raise UserError("file is empty", file=shown, line=1)
    if not isinstance(root, yaml.MappingNode):
        raise UserError(f"expected a mapping of fields at the top level, found a "
                        f"{_node_kind(root)}", file=shown, line=root.start_mark.line + 1,
                        column=root.start_mark.column + 1)
    doc = YamlDoc(path=path, data={})
    data = _convert(root, (), doc, loader, _Walk())
    assert isinstance(data, dict)
    doc.data = data
    return doc


def _fast_parse(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse with libyaml when PyYAML has it (every wheel does; ~5× faster, the same nodes and
    marks); (None, None) when it is missing or refuses the text."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is None:
        return None, None
    loader = fast(text)
    try:
        return loader.get_single_node(), loader
    except (yaml.YAMLError, RecursionError):
        loader.dispose()
        return None, None


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "list"
    if isinstance(node, yaml.ScalarNode):
        return f"scalar ({node.value[:40]!r})"
    return "mapping"


def _pos(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass
class _Walk:
    """Expansion state: values left before refusing, and each mapping's own keys (recorded
    before its merge keys are flattened in place, so a revisited alias is judged the same)."""

    left: int = MAX_NODES
    own_keys: dict[int, set[int]] = field(default_factory=dict)


def _construct(loader: yaml.SafeLoader, node: yaml.Node, doc: YamlDoc, loc: Loc) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except Exception as e:  # bad tags raise ConstructorError, ValueError, KeyError, ...
        line, col = _pos(node)
        problem = getattr(e, "problem", None) or f"{node.tag} {node.value!r}: {e}"
        raise UserError(f"cannot read value: {problem}", file=str(doc.path), line=line,
                        column=col, field=format_loc(loc) or None,
                        hint="remove the !!tag or quote the value") from None


def _convert(node: yaml.Node, loc: Loc, doc: YamlDoc, loader: yaml.SafeLoader,
             walk: _Walk) -> Any:
    walk.left -= 1
    if walk.left < 0:
        line, col = _pos(node)
        raise UserError(f"document expands to more than {MAX_NODES} values "
                        "(an alias bomb?); refusing to expand it",
                        file=str(doc.path), line=line, column=col)
    if len(loc) > MAX_DEPTH:
        line, col = _pos(node)
        raise UserError(f"nested more than {MAX_DEPTH} levels deep (a recursive alias?)",
                        file=str(doc.path), line=line, column=col)
    doc.value_pos.setdefault(loc, _pos(node))
    if isinstance(node, yaml.ScalarNode):
        return _construct(loader, node, doc, loc)
    if isinstance(node, yaml.SequenceNode):
        return [_convert(child, (*loc, i), doc, loader, walk)
                for i, child in enumerate(node.value)]
    assert isinstance(node, yaml.MappingNode)
    # keys written here (merged ones may be overridden by them)
    own = walk.own_keys.setdefault(id(node), {id(k) for k, _ in node.value})
    try:
        loader.flatten_mapping(node)  # YAML merge keys (<<)
    except yaml.constructor.ConstructorError as e:
        line, col = _pos(node)
        raise UserError(f"bad merge key: {e.problem}", file=str(doc.path), line=line,
                        column=col) from None
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            line, col = _pos(key_node)
            raise UserError("a key must be a plain name, not a list or mapping",
                            file=str(doc.path), line=line, column=col,
                            field=format_loc(loc) or None)
        key = _construct(loader, key_node, doc, loc)
        key = key if isinstance(key, str) else str(key)
        if key in out and id(key_node) in own and (*loc, key) in doc.key_pos:
            line, col = _pos(key_node)
            first = doc.key_pos.get((*loc, key), (0, 0))[0]
            raise UserError(f"duplicate key {key!r} (first defined on line {first})",
                            file=str(doc.path), line=line, column=col,
                            field=format_loc((*loc, key)))
        if id(key_node) in own:
            doc.key_pos[(*loc, key)] = _pos(key_node)
        out[key] = _convert(value_node, (*loc, key), doc, loader, walk)
    return out
