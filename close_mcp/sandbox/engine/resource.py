"""The declaration of one sandbox resource: what a Close object looks like and how its
endpoints behave. Generic handlers, routes, cascade and merge are derived from it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from starlette.responses import Response

if TYPE_CHECKING:
    from close_mcp.sandbox.engine.context import Ctx
    from close_mcp.sandbox.store import Obj, OrgStore
    from close_mcp.sandbox.validate import FieldErrors

FieldType = Literal["str", "int", "number", "bool", "list", "dict", "date", "any"]
Writable = Literal["always", "create", "update", "never"]
Op = Literal["list", "get", "create", "update", "delete"]
Pagination = Literal["offset", "cursor", "none"]
CRUD: tuple[Op, ...] = ("list", "get", "create", "update", "delete")
READ: tuple[Op, ...] = ("list", "get")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # a field without a default is absent from a new object until written
TYPE_LABELS = {"str": "string", "int": "integer", "number": "number", "bool": "boolean", "list": "list"}


@dataclass(frozen=True)
class Field:
    """One field. ``default`` may be a value (deep-copied) or ``callable(ctx)``.

    ``ref`` names the resource an id must exist in (field-error ``"Object does not exist."``
    under ``error_key``, by default the name without ``_id`` as Close answers).
    """

    name: str
    type: FieldType = "any"
    required: bool = False
    writable: Writable = "always"
    default: Any = UNSET
    choices: frozenset[str] | None = None
    ref: str | None = None
    error_key: str | None = None
    label: str | None = None  # the type's name in "Not a valid <label>."
    named: str | None = None  # with ref: returned objects add the referenced one's title here

    @property
    def key(self) -> str:
        return self.error_key or (self.name.removesuffix("_id") if self.ref else self.name)

    @classmethod
    def many(cls, names: str, type: FieldType = "any", **options: Any) -> tuple[Field, ...]:
        """Several fields alike: ``*Field.many("subject body_text", "str")``."""
        return tuple(cls(name, type, **options) for name in names.split())


def choice(*values: str) -> frozenset[str]:
    return frozenset(values)


def names(text: str) -> tuple[str, ...]:
    """``names("lead_id user_id")`` → ``("lead_id", "user_id")``: short declarations."""
    return tuple(text.split())


@dataclass(frozen=True)
class Parent:
    """The object this one belongs to: deleted with it, moved by a lead merge. Declare it on
    one resource per collection (the typed activities share the feed's declaration)."""

    resource: str
    field: str


@dataclass(frozen=True)
class Route:
    """A hand-written endpoint next to the generated ones (``/lead/merge/``, ``/me/`` …)."""

    path: str
    method: str
    handler: Callable[[Ctx], Response]


View = Callable[["OrgStore", "Obj"], "Obj"]


@dataclass(frozen=True)
class Hooks:
    """Where hand-written behaviour plugs into the generic handlers (all optional).

    Order on create: fields checked → ``validate`` → ``prepare`` → object stored →
    ``inserted`` → ``created`` event → ``after_create``. On update: fields checked →
    ``validate`` → ``prepare`` → patch applied → ``changed`` → ``updated`` event →
    ``after_update``. ``existing`` is ``None`` on create. ``validate`` may also normalise the
    body (the lead's status label becomes ``status_id``). Writes made by the engine itself
    (a merge re-parenting children) run ``changed``/``after_update`` but not ``validate``.
    """

    view: View | None = None
    validate: Callable[[Ctx, Obj, Obj | None, FieldErrors], None] | None = None
    prepare: Callable[[Ctx, Obj, Obj | None], None] | None = None
    inserted: Callable[[Ctx, Obj], None] | None = None
    after_create: Callable[[Ctx, Obj], None] | None = None
    changed: Callable[[Ctx, Obj, Obj, list[str]], None] | None = None
    after_update: Callable[[Ctx, Obj, Obj, list[str]], None] | None = None
    after_delete: Callable[[Ctx, Obj], None] | None = None
    params: Callable[[Ctx, dict[str, str]], dict[str, str]] | None = None  # rewrite/check list params
    items: Callable[[Ctx], list[Obj]] | None = None  # replaces the default list source (search)
    list_extra: Callable[[list[Obj]], Obj] | None = None  # extra envelope keys (aggregates)


@dataclass(frozen=True)
class Resource:
    name: str  # singular, e.g. "lead"; also the default event object_type
    model: str  # for 404s: "Empty query: <model> matching query does not exist."
    path: str  # list URL, e.g. "/lead/"; the object URL is path + "{id}/"
    prefix: str  # id prefix, e.g. "lead"
    fields: tuple[Field, ...] = ()
    collection: str = ""  # storage name in OrgStore.collections; default name + "s"
    ops: tuple[Op, ...] = CRUD
    parent: Parent | None = None
    discriminator: tuple[str, str] | None = None  # shares a collection: ("_type", "Note")
    object_type: str | Callable[[Obj], str] | None = None  # events' object_type; default name
    events: tuple[str, ...] = ("created", "updated", "deleted")
    custom_fields: str | None = None  # which custom.cf_… kind the object takes, if any
    admin_ops: tuple[Op, ...] = ()  # ops only admins may call (403 otherwise)
    filters: tuple[str, ...] = ()  # list filters: f, f__in, f__gt/gte/lt/lte
    comma_filters: tuple[str, ...] = ()  # filters whose plain form also takes a comma list
    filter_views: bool = False  # filter the returned (derived) shape rather than the stored one
    order_by: tuple[str, ...] = ()  # allowed _order_by values (without "-")
    default_order: str | None = "-date_created"
    pagination: Pagination = "offset"
    total_results: bool = False  # only /lead/ and /opportunity/ show it (close-api.md §2.1)
    max_limit: int = 100  # flask-mongorest's framework default (close-api.md §2.1)
    max_skip: int = 250_000  # observed on /activity/email/; guessed where unobserved
    create_status: int = 200
    delete_status: int = 200  # 200 answers {}, 204 answers nothing (close-api.md §4)
    stamped: bool = True  # audit fields and organization_id
    source: Callable[[OrgStore], Iterable[Obj]] | None = None  # objects not kept in a collection
    title: Callable[[Obj], Any] = lambda obj: obj.get("name")  # shown in other objects' *_name
    hooks: Hooks = field(default_factory=Hooks)
    routes: tuple[Route, ...] = ()

    @property
    def store_name(self) -> str:
        return self.collection or self.name + "s"

    @property
    def item_path(self) -> str:
        return self.path + "{id}/"

    def event_type(self, obj: Obj) -> str | None:
        if callable(self.object_type):
            return self.object_type(obj)
        return self.object_type or self.name

    def writable(self, creating: bool) -> dict[str, Field]:
        allowed = ("always", "create") if creating else ("always", "update")
        return {f.name: f for f in self.fields if f.writable in allowed}
