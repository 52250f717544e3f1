"""Category rules: the tree, breadcrumbs, moves without cycles, deletes only when unused.

The whole tree is served from the cache (:mod:`oja.core.cache`) and dropped after any change
commits, never before: a reader between an early drop and the commit would re-cache the old tree.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.cache import Cache
from oja.core.db import after_commit
from oja.core.ids import uuid7
from oja.marketplace.catalog import repository
from oja.marketplace.catalog.models import Category
from oja.marketplace.catalog.schemas import (
    CategoryCreate,
    CategoryDetail,
    CategoryNode,
    CategoryOut,
    CategoryRef,
    CategoryUpdate,
)
from oja.marketplace.errors import CategoryCycle, CategoryInUse, CategoryNotFound, CategorySlugTaken
from oja.marketplace.search import service as search
from oja.marketplace.search.jobs import reindex_category
from oja.marketplace.slugs import parse_id, slugify, with_suffix

TREE_KEY = "marketplace:categories:tree"
TREE_TTL_SECONDS = 600.0


def _path_ids(path: str) -> list[uuid.UUID]:
    return [uuid.UUID(part) for part in path.strip("/").split("/") if part]


def _out(category: Category) -> CategoryOut:
    return CategoryOut(
        id=category.id, name=category.name, slug=category.slug, parent_id=category.parent_id
    )


def _ref(category: Category) -> CategoryRef:
    return CategoryRef(id=category.id, name=category.name, slug=category.slug)


def _drop_tree_after_commit(db: AsyncSession, cache: Cache) -> None:
    async def drop() -> None:
        await cache.delete(TREE_KEY)

    after_commit(db, drop)


async def _tree_json(db: AsyncSession, cache: Cache) -> list[dict[str, Any]]:
    """The tree as cached (plain JSON): read once per change or TTL, then from the cache."""
    cached = await cache.get_json(TREE_KEY)
    if cached is not None:
        return cast(list[dict[str, Any]], cached)
    categories = await repository.all_categories(db)
    nodes = {c.id: CategoryNode(id=c.id, name=c.name, slug=c.slug, children=[]) for c in categories}
    roots: list[CategoryNode] = []
    for category in categories:  # ordered by name: children come out sorted too
        node = nodes[category.id]
        parent = nodes.get(category.parent_id) if category.parent_id else None
        (parent.children if parent is not None else roots).append(node)
    dumped = [n.model_dump(mode="json") for n in roots]
    await cache.set_json(TREE_KEY, dumped, TREE_TTL_SECONDS)
    return dumped


async def tree(db: AsyncSession, cache: Cache) -> list[CategoryNode]:
    return [CategoryNode.model_validate(node) for node in await _tree_json(db, cache)]


async def path_of(db: AsyncSession, cache: Cache, key: str) -> str | None:
    """The materialised path of the category ``key`` (an id, else a slug) from the cached tree, or
    None if the tree does not hold it. A path is the chain of ids from the root (see
    :class:`Category`), so the tree's nesting gives it without reading the category's row; the
    listing passes it to PostgreSQL as a constant, whose planner then estimates the subtree's size
    (a subquery's value it cannot see). A tree cached just before a move committed gives the old
    path, under which no product remains: an empty page for that instant, never another category's
    products (paths are made of unique ids)."""
    key_id = parse_id(key)
    wanted, field = (str(key_id), "id") if key_id is not None else (key, "slug")
    stack = [("/", node) for node in await _tree_json(db, cache)]
    while stack:
        parent_path, node = stack.pop()
        path = f"{parent_path}{node['id']}/"
        if node[field] == wanted:
            return path
        stack.extend((path, child) for child in node["children"])
    return None


async def _get(db: AsyncSession, key: str | uuid.UUID) -> Category:
    text = str(key)
    found = await repository.category(db, category_id=parse_id(text), slug=text)
    if found is None:
        raise CategoryNotFound("No such category.")
    return found


async def detail(db: AsyncSession, key: str) -> CategoryDetail:
    category = await _get(db, key)
    ancestor_ids = _path_ids(category.path)[:-1]
    by_id = {c.id: c for c in await repository.categories_by_id(db, ancestor_ids)}
    return CategoryDetail(
        **_out(category).model_dump(),
        ancestors=[_ref(by_id[i]) for i in ancestor_ids if i in by_id],
        children=[_ref(c) for c in await repository.children(db, category.id)],
    )


async def _free_slug(
    db: AsyncSession, wanted: str | None, name: str, *, except_id: uuid.UUID | None = None
) -> str:
    if wanted is not None:
        if await repository.category_slug_taken(db, wanted, except_id=except_id):
            raise CategorySlugTaken(f"The slug {wanted!r} is taken.", details={"slug": wanted})
        return wanted
    slug = slugify(name)
    if await repository.category_slug_taken(db, slug, except_id=except_id):
        slug = with_suffix(slug)
    return slug


async def _flush(db: AsyncSession, slug: str) -> None:
    try:
        await db.flush()
    except IntegrityError as exc:
        raise CategorySlugTaken(f"The slug {slug!r} is taken.", details={"slug": slug}) from exc


async def create(db: AsyncSession, cache: Cache, data: CategoryCreate) -> CategoryOut:
    parent_path = "/"
    if data.parent_id is not None:
        parent_path = (await _get(db, data.parent_id)).path
    slug = await _free_slug(db, data.slug, data.name)
    category_id = uuid7()
    category = Category(
        id=category_id,
        name=data.name,
        slug=slug,
        parent_id=data.parent_id,
        path=f"{parent_path}{category_id}/",
    )
    db.add(category)
    await _flush(db, slug)
    _drop_tree_after_commit(db, cache)
    return _out(category)


async def update(
    db: AsyncSession, cache: Cache, category_id: uuid.UUID, data: CategoryUpdate
) -> CategoryOut:
    category = await _get(db, category_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") is not None and changes["name"] != category.name:
        category.name = changes["name"]
        # The name is in its products' search words (a move needs nothing: search reads the
        # tree at query time).
        reindex_category.enqueue(db, category_id=category.id)
    if changes.get("slug") is not None:
        category.slug = await _free_slug(db, changes["slug"], category.name, except_id=category.id)
    if "parent_id" in changes and changes["parent_id"] != category.parent_id:
        new_parent_id = changes["parent_id"]
        parent_path = "/"
        if new_parent_id is not None:
            parent = await _get(db, new_parent_id)
            if parent.path.startswith(category.path):
                raise CategoryCycle("A category cannot move under itself or its descendants.")
            parent_path = parent.path
        old_path = category.path
        new_path = f"{parent_path}{category.id}/"
        category.parent_id = new_parent_id
        await _flush(db, category.slug)
        await repository.move_subtree(db, old_path, new_path)
        await db.refresh(category)
        search.invalidate_after_commit(db)  # search reads the tree live
    await _flush(db, category.slug)
    _drop_tree_after_commit(db, cache)
    return _out(category)


async def remove(db: AsyncSession, cache: Cache, category_id: uuid.UUID) -> None:
    category = await _get(db, category_id)
    if await repository.category_in_use(db, category.id):
        raise CategoryInUse("The category has children or products; move or delete them first.")
    await repository.delete_category(db, category.id)
    _drop_tree_after_commit(db, cache)


async def exists(db: AsyncSession, category_id: uuid.UUID) -> None:
    await _get(db, category_id)
