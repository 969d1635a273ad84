"""The library as a tree: themes, their groups (a theme's headings: Afterlife, Nature),
their prompt variants (an edit is a child of what it edits), and each variant's runs by
seed, with counts on every node. A variant with no group (queued before groups were
kept, or by ``queue add``) sits right under its theme.

A variant's label is its prompt with the words all its sides share folded away
(``Heaven | Hell`` for "entrance to Heaven | entrance to Hell", ``core.text.fold_shared``);
the details show it whole.

The tree is updated in place (labels change, nodes come and go) so the cursor and what is
expanded survive every refresh. Seeds are listed only when a variant is expanded: the
screen answers ``SeedsWanted`` with ``set_seeds``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from doorways_tui.core.text import fold_shared, printable
from doorways_tui.core.triage import DOORS, REJECT, STAR, UNTRIAGED, early_words, rejected_early
from doorways_tui.store import VariantNode
from doorways_tui.tui.compat.textual import drop_bindings
from doorways_tui.workstation.browse import Scope, SeedRow
from doorways_tui.workstation.poll import TreeData

NodeKind = Literal["all", "theme", "group", "variant", "seed"]
PROMPT_CHARS = 26
SEED_ORDER = (STAR, REJECT, DOORS)
"""The marks beside a run's seed, in this order (the rating is left to the details)."""


@dataclass(frozen=True)
class NodeData:
    kind: NodeKind
    theme_id: int | None = None
    variant_id: int | None = None
    job_id: int | None = None
    label: str = ""

    def scope(self) -> Scope:
        if self.kind in ("theme", "group"):  # a group steps through its whole theme
            return Scope("theme", theme_id=self.theme_id, label=self.label)
        if self.kind in ("variant", "seed"):
            return Scope("variant", self.theme_id, self.variant_id, label=self.label)
        return Scope()


def short(text: str, n: int = PROMPT_CHARS) -> str:
    """A prompt from the library cut to a label; ``printable`` first, so the cut counts
    what is shown."""
    text = printable(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def counts_text(done: int, waiting: int, starred: int, untriaged: int, failed: int = 0) -> Text:
    """`12✓ 3⋯ 1! 2★ 5?`: done, queued or running, failed, starred, not yet triaged."""
    text = Text()
    for value, mark, style in (
        (done, "✓", "green"),
        (waiting, "⋯", "yellow"),
        (failed, "!", "bold red"),
        (starred, STAR.glyph, STAR.style),
        (untriaged, UNTRIAGED.glyph, UNTRIAGED.style),
    ):
        if value:
            text.append(f" {value}{mark}", style=style)
    return text


def prompt_label(prompt: str) -> str:
    """A variant's prompt as the tree names it: its sides with what they share folded."""
    return short(fold_shared(prompt))


def variant_label(node: VariantNode) -> Text:
    if node.edit_kind == "root" or not node.edit_text:
        name = Text(prompt_label(node.prompt))
    else:
        name = Text(short(node.edit_text), style="italic")
    waiting = node.queued + node.running
    return name + counts_text(node.done, waiting, node.starred, node.untriaged, node.failed)


def seed_label(row: SeedRow) -> Text:
    text = Text(f"seed {row.seed}", style="bold" if row.status == "running" else "")
    image = row.image
    if row.status == "running":
        pct = f"{100 * row.step // row.total}%" if row.total else "…"
        text.append(f"  ⋯ {pct}", style="yellow")
    elif row.status == "queued":
        text.append("  queued", style="dim")
    elif row.status == "failed":
        text.append("  failed", style="red")
    elif image is not None and rejected_early(image.kind, image.rejected, row.status):
        text.append(f" {REJECT.glyph} {early_words(image.step)}", style=REJECT.tree_style)
    elif image is not None:
        for mark in SEED_ORDER:
            brief = mark.brief(mark.value(image))
            if brief is not None:
                text.append(f" {brief}", style=mark.tree_style)
        if not image.triaged:
            text.append(f" {UNTRIAGED.glyph}", style=UNTRIAGED.style)
        if row.alike:  # near-duplicates folded into this row (o unfolds)
            text.append(f"  +{row.alike} alike", style="dim italic")
    return text


class VariantTree(Tree[NodeData]):
    """Themes → groups → variants → seeds. Moving the cursor picks the scope (or one run)."""

    @dataclass
    class ScopeHighlighted(Message):
        """The cursor is on the library, a theme or a variant."""

        tree: VariantTree
        scope: Scope

        @property
        def control(self) -> VariantTree:
            return self.tree

    @dataclass
    class SeedHighlighted(Message):
        """The cursor is on one run of a variant."""

        tree: VariantTree
        job_id: int
        scope: Scope

        @property
        def control(self) -> VariantTree:
            return self.tree

    @dataclass
    class SeedsWanted(Message):
        """A variant was expanded (or changed while expanded): list its runs."""

        tree: VariantTree
        variant_id: int

        @property
        def control(self) -> VariantTree:
            return self.tree

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("library", NodeData("all", label="library"), id=id)
        self.show_root = True
        self.guide_depth = 2
        self._themes: dict[int, TreeNode[NodeData]] = {}
        self._groups: dict[tuple[int, str], TreeNode[NodeData]] = {}  # (theme id, name)
        self._variants: dict[int, TreeNode[NodeData]] = {}
        self._seeded: set[int] = set()  # variants whose seeds are listed
        self._counts: dict[int, VariantNode] = {}  # variant id -> its latest counts
        self._names: dict[int, str] = {}  # theme id -> name
        self._shown: dict[int, tuple] = {}  # id(node) -> the label it shows

    def on_mount(self) -> None:
        self.root.expand()

    def give_way(self, keys: Iterable[str]) -> None:
        """Let the screen's triage and navigation keys through the tree: with
        ``"triage.star" = "space"`` Space stars instead of opening a node."""
        drop_bindings(self, keys)

    # -- updates from the screen ----------------------------------------------------------

    def update_tree(self, data: TreeData, images_total: int) -> None:
        """Make the tree match ``data``: relabel what changed, add and remove nodes in
        place. A ``partial`` update only relabels the variants it has (and their themes)."""
        self._label(
            self.root,
            Text("library")
            + Text(f" {images_total} image{'s' if images_total != 1 else ''}", style="dim"),
        )
        if data.partial:
            for theme_id, nodes in data.nodes.items():
                for node in nodes:
                    if node.id in self._variants:
                        self._counts[node.id] = node
                        self._label(self._variants[node.id], variant_label(node))
                self._label_theme(theme_id)
            self._refresh_seeds()
            return
        seen_variants: set[int] = set()
        seen_groups: set[tuple[int, str]] = set()
        for theme in data.themes:
            if theme.id not in self._themes:
                name = printable(theme.name)
                t_node = self.root.add("", NodeData("theme", theme.id, label=name))
                t_node.expand()
                self._themes[theme.id] = t_node
                self._names[theme.id] = name
            for node in data.nodes.get(theme.id, ()):
                seen_variants.add(node.id)
                if node.group_name is not None:
                    seen_groups.add((theme.id, node.group_name))
                self._counts[node.id] = node
                self._label(self._variant_node(node, self._themes[theme.id]), variant_label(node))
            self._label_theme(theme.id)
        for variant_id in set(self._variants) - seen_variants:
            self._drop_variant(variant_id)
        for key in set(self._groups) - seen_groups:
            self._groups.pop(key).remove()
        for theme_id in set(self._themes) - {t.id for t in data.themes}:
            self._themes.pop(theme_id).remove()
        self._refresh_seeds()

    def _drop_variant(self, variant_id: int) -> None:
        """Remove a variant's node and forget it and everything under it."""
        node = self._variants.pop(variant_id, None)
        self._counts.pop(variant_id, None)
        self._seeded.discard(variant_id)
        if node is None:
            return
        for child in list(node.children):
            if child.data and child.data.kind == "variant" and child.data.variant_id is not None:
                self._drop_variant(child.data.variant_id)
        node.remove()

    def _label(self, node: TreeNode[NodeData], label: Text) -> None:
        """Set a label only when it changed: relabelling redraws the whole tree."""
        key = id(node)
        shown = (label.plain, tuple(label.spans))
        if self._shown.get(key) != shown:
            self._shown[key] = shown
            node.set_label(label)

    def _label_theme(self, theme_id: int) -> None:
        t_node = self._themes.get(theme_id)
        if t_node is None:
            return
        nodes = [n for n in self._counts.values() if n.theme_id == theme_id]
        name = Text(self._names.get(theme_id, ""), style="bold")
        self._label(t_node, name + _summed(nodes))
        for (group_theme, group), g_node in self._groups.items():
            if group_theme == theme_id:
                members = [n for n in nodes if n.group_name == group]
                self._label(g_node, Text(printable(group), style="bold dim") + _summed(members))

    def _refresh_seeds(self) -> None:
        for variant_id in self.expanded_variants():
            self.post_message(self.SeedsWanted(self, variant_id))

    def _variant_node(
        self, node: VariantNode, theme_node: TreeNode[NodeData]
    ) -> TreeNode[NodeData]:
        parent = self._variants.get(node.parent_id or -1) or self._group_node(node, theme_node)
        found = self._variants.get(node.id)
        if found is not None:
            if found.parent is parent:
                return found
            self._drop_variant(node.id)  # its group was filled in: it moves there
        data = NodeData("variant", node.theme_id, node.id, label=prompt_label(node.prompt))
        first_seed = next((c for c in parent.children if c.data and c.data.kind == "seed"), None)
        added = parent.add("", data, before=first_seed) if first_seed else parent.add("", data)
        self._variants[node.id] = added
        return added

    def _group_node(self, node: VariantNode, theme_node: TreeNode[NodeData]) -> TreeNode[NodeData]:
        """The node of the variant's group (made on first use), or the theme's for none."""
        if node.group_name is None:
            return theme_node
        key = (node.theme_id, node.group_name)
        if key not in self._groups:
            data = NodeData("group", node.theme_id, label=self._names.get(node.theme_id, ""))
            self._groups[key] = theme_node.add("", data, expand=True)
        return self._groups[key]

    def set_seeds(self, variant_id: int, rows: list[SeedRow]) -> None:
        """List a variant's runs under it (after its child variants)."""
        parent = self._variants.get(variant_id)
        if parent is None:
            return
        self._seeded.add(variant_id)
        existing = {c.data.job_id: c for c in parent.children if c.data and c.data.kind == "seed"}
        wanted = {r.job_id for r in rows}
        for job_id, child in existing.items():
            if job_id not in wanted:
                child.remove()
        for row in rows:
            child = existing.get(row.job_id)
            if child is None:
                data = NodeData(
                    "seed",
                    parent.data.theme_id if parent.data else None,
                    variant_id,
                    row.job_id,
                    label=parent.data.label if parent.data else "",
                )
                child = parent.add_leaf("", data)
            self._label(child, seed_label(row))

    def expanded_variants(self) -> list[int]:
        return [vid for vid, node in self._variants.items() if node.is_expanded]

    def select_job(self, variant_id: int, job_id: int) -> bool:
        """Move the cursor to a run's leaf if it is listed."""
        parent = self._variants.get(variant_id)
        if parent is None:
            return False
        for child in parent.children:
            if child.data and child.data.job_id == job_id:
                self.move_cursor(child)
                return True
        return False

    # -- events ---------------------------------------------------------------------------

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        event.stop()
        data = event.node.data
        if data is None:
            return
        if data.kind == "seed" and data.job_id is not None:
            self.post_message(self.SeedHighlighted(self, data.job_id, data.scope()))
        else:
            self.post_message(self.ScopeHighlighted(self, data.scope()))

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        event.stop()
        data = event.node.data
        if data is not None and data.kind == "variant" and data.variant_id is not None:
            self.post_message(self.SeedsWanted(self, data.variant_id))


def _summed(nodes: Iterable[VariantNode]) -> Text:
    """The counts of several variants together (a theme's, a group's)."""
    nodes = list(nodes)
    done, starred, untriaged, failed = (
        sum(getattr(n, f) for n in nodes) for f in ("done", "starred", "untriaged", "failed")
    )
    waiting = sum(n.queued + n.running for n in nodes)
    return counts_text(done, waiting, starred, untriaged, failed)
