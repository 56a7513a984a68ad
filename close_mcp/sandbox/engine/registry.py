"""All declared resources of a sandbox: lookup, enumeration of objects and of children.

``objects(store, name)`` lists a resource's stored objects, ``children(store, name, id)``
every object declared (via ``Parent``) as belonging to one object and ``parent_of`` the
way back: the enumeration the lead search and Advanced Filtering need, and what cascade
delete and merge walk. ``view`` gives an object as the API returns it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator

from close_mcp.sandbox.engine.resource import UNSET, Resource
from close_mcp.sandbox.store import Obj, OrgStore, not_found


class Registry:
    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self.resources: dict[str, Resource] = {}
        for res in resources:
            self.add(res)

    def add(self, res: Resource) -> Resource:
        if res.name in self.resources:
            raise ValueError(f"resource {res.name!r} declared twice")
        self.resources[res.name] = res
        return res

    def with_resources(self, *extra: Resource) -> Registry:
        """A copy with more declarations (tests register temporary resources this way)."""
        return Registry([*self.resources.values(), *extra])

    def __getitem__(self, name: str) -> Resource:
        return self.resources[name]

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources.values())

    # ----- objects -------------------------------------------------------------------
    def objects(self, store: OrgStore, name: str) -> list[Obj]:
        res = self.resources[name]
        if res.source is not None:
            return list(res.source(store))
        items = store.collection(res.store_name).values()
        if res.discriminator:
            key, value = res.discriminator
            return [o for o in items if o.get(key) == value]
        return list(items)

    def lookup(self, store: OrgStore, name: str, object_id: str) -> Obj:
        res = self.resources[name]
        if res.source is not None:
            obj = next((o for o in res.source(store) if o["id"] == object_id), None)
        else:
            obj = store.collection(res.store_name).get(object_id)
        if obj is None or (res.discriminator and obj.get(res.discriminator[0]) != res.discriminator[1]):
            raise not_found(res.model)
        return obj

    def exists(self, store: OrgStore, name: str, object_id: object) -> bool:
        res = self.resources[name]
        if res.source is not None:
            return any(o["id"] == object_id for o in res.source(store))
        return isinstance(object_id, str) and object_id in store.collection(res.store_name)

    def view(self, store: OrgStore, name: str, obj: Obj) -> Obj:
        """An object as returned: the ``view`` hook's shape plus the ``named`` titles."""
        res = self.resources[name]
        out = res.hooks.view(store, obj) if res.hooks.view else copy.deepcopy(obj)
        for f in res.fields:
            if f.name not in out and f.default is not UNSET and not callable(f.default):
                # an object seeded or stored before the field was declared shows its default, as a
                # new one would (Close's required-but-null fields)
                out[f.name] = copy.deepcopy(f.default)
            if f.named and f.ref:
                target = self.resources[f.ref]
                referenced = store.collection(target.store_name).get(obj.get(f.name) or "")
                out[f.named] = target.title(referenced) if referenced else None
        return out

    # ----- parents and children ------------------------------------------------------
    def child_resources(self, name: str) -> list[Resource]:
        """Resources declared with ``name`` as parent, one per collection."""
        seen: set[str] = set()
        result = []
        for res in self.resources.values():
            if res.parent and res.parent.resource == name and res.store_name not in seen:
                seen.add(res.store_name)
                result.append(res)
        return result

    def parent_of(self, store: OrgStore, name: str, obj: Obj) -> Obj | None:
        """The object ``obj`` (of resource ``name``) belongs to, if it declares a parent."""
        parent = self.resources[name].parent
        if parent is None:
            return None
        return store.collection(self.resources[parent.resource].store_name).get(obj.get(parent.field) or "")

    def children(self, store: OrgStore, name: str, object_id: str) -> dict[str, list[Obj]]:
        """Direct children of one object, keyed by collection name (``contacts`` …)."""
        return {
            res.store_name: [
                o
                for o in store.collection(res.store_name).values()
                if o.get(res.parent.field) == object_id  # type: ignore[union-attr]
            ]
            for res in self.child_resources(name)
        }
