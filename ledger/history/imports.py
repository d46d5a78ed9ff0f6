"""Import a unit's earlier ledger from CSV or XLSX: per-batch rows, or monthly totals per waste code.

Every row is validated first and a file with any bad row is refused whole, naming every bad row. A valid file is
written through the ordinary services (`batches.generate_many`, `store`, `retrieve`, `process_in_house`, and
`batches.record` for shipments, which have no manifest in history) at the rows' own times, inside
`journal.recorded_from({"kind": "import", "document": …})`, so each record names the file it came from and the
figures it feeds say how much came from imported history.

History means before the unit's live ledger: a row dated on or after the unit's first record that did not come
from an import is refused. Monthly totals become one batch per 40 t of the month's generation (dated the last day
of the month, 12:00) and the month's utilisation, disposal and shipments draw on the imported batches oldest first
(18:00), so 往年贮存量 is exact. An imported shipment leaves the batch in transit: its receipt is not in this ledger.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from ledger import batches, journal
from ledger.auth import Principal, audit, require_declarant
from ledger.batches import Batch
from ledger.codes import parse_waste_code
from ledger.errors import Conflict, InvalidInput, LedgerError
from ledger.history.models import SourceDocument
from ledger.journal import JournalRecord
from ledger.mass import MAX_BATCH_G, g_to_kg, kg_to_g
from ledger.registry.models import Facility, Method, Unit
from ledger.types import utcnow
from ledger.workdays import SHANGHAI

MAX_ROWS = 20_000
FORMS = ("固态", "半固态", "液态", "气态")
FATES = {"自行利用": "used_in_house", "used_in_house": "used_in_house", "自行处置": "disposed_in_house",
         "disposed_in_house": "disposed_in_house", "委托利用": "sent_util", "sent_util": "sent_util",
         "委托处置": "sent_disp", "sent_disp": "sent_disp", "贮存": None, "": None}
# Column aliases: Chinese headers as a plant's spreadsheet has them, or the English keys.
PER_BATCH = {"occurred_at": ("产生时间", "occurred_at"), "waste_code": ("废物代码", "waste_code"),
             "name": ("废物名称", "name"), "form": ("形态", "form"), "net_kg": ("产生量(kg)", "产生量", "net_kg"),
             "container_type": ("容器类型", "container_type"), "container_count": ("容器数量", "container_count"),
             "facility_code": ("产生设施编码", "facility_code"),
             "storage_facility_code": ("贮存设施编码", "storage_facility_code"), "fate": ("去向", "fate"),
             "fate_at": ("去向时间", "fate_at"), "method": ("方式", "method"),
             "fate_kg": ("去向量(kg)", "fate_kg"), "receiver": ("接收单位", "receiver"),
             "operator": ("经办人", "operator")}
MONTHLY = {"month": ("月份", "month"), "waste_code": ("废物代码", "waste_code"), "name": ("废物名称", "name"),
           "form": ("形态", "form"), "generated_kg": ("产生量(kg)", "产生量", "generated_kg"),
           "used_kg": ("自行利用量(kg)", "used_kg"), "used_method": ("自行利用方式", "used_method"),
           "disposed_kg": ("自行处置量(kg)", "disposed_kg"), "disposed_method": ("自行处置方式", "disposed_method"),
           "sent_util_kg": ("委托利用量(kg)", "sent_util_kg"), "sent_util_method": ("委托利用方式", "sent_util_method"),
           "sent_disp_kg": ("委托处置量(kg)", "sent_disp_kg"), "sent_disp_method": ("委托处置方式", "sent_disp_method"),
           "receiver": ("接收单位", "receiver"), "closing_kg": ("月末贮存量(kg)", "closing_kg")}
REQUIRED = {"per_batch": ("occurred_at", "waste_code", "name", "form", "net_kg"),
            "monthly_totals": ("month", "waste_code", "name", "form", "generated_kg")}


@dataclass
class RowError:
    row: int
    field: str
    message: str


@dataclass
class Parsed:
    format: str
    rows: list[tuple[int, dict]]
    errors: list[RowError] = field(default_factory=list)


# ---- reading ---------------------------------------------------------------------------------------------------

def read_table(content: bytes, filename: str) -> list[list[str]]:
    """Rows of cells (as text) from a CSV (UTF-8, with or without BOM; GBK tolerated) or the first XLSX sheet."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as e:  # noqa: BLE001 (openpyxl raises many kinds)
            raise InvalidInput(f"{filename} is not a readable XLSX workbook: {e}", field="file") from None
        out = []
        for row in wb.worksheets[0].iter_rows(values_only=True):
            out.append([_cell_text(v) for v in row])
        return out
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput("the file is neither UTF-8 nor GBK text", field="file")
    return [row for row in csv.reader(io.StringIO(text))]


def _cell_text(v) -> str:  # noqa: ANN001
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def parse(table: list[list[str]]) -> Parsed:
    """Map the header to fields and detect the format (a 月份/month column means monthly totals)."""
    table = [r for r in table if any(c.strip() for c in r)]
    if not table:
        raise InvalidInput("the file has no rows", field="file")
    header = [h.strip() for h in table[0]]
    fmt = "monthly_totals" if ({"月份", "month"} & set(header)) else "per_batch"
    spec = MONTHLY if fmt == "monthly_totals" else PER_BATCH
    index = {}
    for key, aliases in spec.items():
        for a in aliases:
            if a in header:
                index[key] = header.index(a)
                break
    missing = [spec[k][0] for k in REQUIRED[fmt] if k not in index]
    if missing:
        raise InvalidInput(f"the header lacks {', '.join(missing)} (a {fmt} file)", field="file",
                           code="import.header", details={"format": fmt, "missing": missing})
    if len(table) - 1 > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} rows per file", field="file")
    rows = []
    for n, raw in enumerate(table[1:], start=2):
        rows.append((n, {k: (raw[i].strip() if i < len(raw) else "") for k, i in index.items()}))
    return Parsed(fmt, rows)


# ---- validating --------------------------------------------------------------------------------------------------

def _local(text: str) -> datetime:
    text = text.strip().replace("/", "-")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected a date and time such as 2022-03-05 09:30") from None
    return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)


@dataclass
class Context:
    unit: Unit
    gen_facilities: dict[str, Facility]
    storage: dict[str, Facility]
    methods: dict[str, Method]
    units_by_key: dict[str, Unit]
    live_from: datetime | None  # the unit's first record that is not imported
    now: datetime


def context(session: Session, unit: Unit) -> Context:
    facs = session.exec(select(Facility).where(Facility.unit_id == unit.id)).all()
    first_live = session.exec(select(func.min(JournalRecord.occurred_at)).where(
        JournalRecord.unit_id == unit.id, JournalRecord.body[("source", "kind")].as_string().is_(None))).one()
    keys = {}
    for u in session.exec(select(Unit)):
        keys[u.credit_code] = u
        keys.setdefault(u.name, u)
    return Context(unit, {f.code: f for f in facs if f.kind == "generation"},
                   {f.code: f for f in facs if f.kind == "storage"}, {m.code: m for m in session.exec(select(Method))},
                   keys, first_live, utcnow())


class _Row:
    def __init__(self, n: int, data: dict, errors: list[RowError]):
        self.n, self.data, self.errors = n, data, errors

    def err(self, fld: str, message: str) -> None:
        self.errors.append(RowError(self.n, fld, message))

    def text(self, key: str, *, required: bool = False) -> str:
        v = self.data.get(key, "")
        if required and not v:
            self.err(key, "required")
        return v

    def grams(self, key: str, *, required: bool = False) -> int:
        v = self.text(key, required=required)
        if not v:
            return 0
        try:
            return kg_to_g(Decimal(v.replace(",", "")), field=key)
        except (LedgerError, ArithmeticError):
            self.err(key, f"{v!r} is not a mass in kg with at most 3 decimals")
            return 0

    def when(self, key: str, ctx: Context) -> datetime | None:
        v = self.text(key, required=True)
        if not v:
            return None
        try:
            t = _local(v)
        except ValueError as e:
            self.err(key, str(e))
            return None
        if t > ctx.now:
            self.err(key, f"{v} is in the future")
        elif ctx.live_from is not None and t >= ctx.live_from:
            self.err(key, f"{v} is not history: the unit's live ledger starts "
                          f"{ctx.live_from.astimezone(SHANGHAI):%Y-%m-%d %H:%M}")
        return t

    def code(self) -> str:
        v = self.text("waste_code", required=True)
        if v:
            try:
                parse_waste_code(v, field="waste_code")
            except LedgerError as e:
                self.err("waste_code", e.message)
                return ""
        return v

    def method(self, key: str, ctx: Context, *, utilisation: bool) -> str:
        v = self.text(key).upper()
        if not v:
            self.err(key, "required when the mass is given")
        elif v not in ctx.methods:
            self.err(key, f"unknown method {v}")
        elif ctx.methods[v].counts_as_utilisation != utilisation:
            self.err(key, f"{v} is a {'disposal' if utilisation else 'utilisation'} method")
        return v


def validate(parsed: Parsed, ctx: Context) -> list[dict]:
    """Every row checked; returns the rows as values (errors go to parsed.errors)."""
    out = []
    for n, data in parsed.rows:
        r = _Row(n, data, parsed.errors)
        code, name, form = r.code(), r.text("name", required=True), r.text("form", required=True)
        if form and form not in FORMS:
            r.err("form", f"one of {'、'.join(FORMS)}")
        receiver = r.text("receiver")
        rec_unit = ctx.units_by_key.get(receiver) if receiver else None
        item = {"row": n, "waste_code": code, "name": name, "form": form, "receiver_name": receiver or None,
                "receiver_id": rec_unit.id if rec_unit else None}
        if parsed.format == "per_batch":
            item["occurred"] = r.when("occurred_at", ctx)
            item["net_g"] = r.grams("net_kg", required=True)
            if item["net_g"] > MAX_BATCH_G or (item["net_g"] <= 0 and "net_kg" not in {e.field for e in
                                                                                      parsed.errors if e.row == n}):
                r.err("net_kg", "a batch weighs more than 0 and at most 40 t")
            fcode = r.text("facility_code")
            if fcode:
                item["facility"] = ctx.gen_facilities.get(fcode)
                if item["facility"] is None:
                    r.err("facility_code", f"{fcode} is not a generation facility of the unit")
            elif len(ctx.gen_facilities) == 1:
                item["facility"] = next(iter(ctx.gen_facilities.values()))
            else:
                r.err("facility_code", "required: the unit has several (or no) generation facilities")
            scode = r.text("storage_facility_code")
            item["storage"] = ctx.storage.get(scode) if scode else None
            if scode and item["storage"] is None:
                r.err("storage_facility_code", f"{scode} is not a storage facility of the unit")
            item["container_type"] = r.text("container_type") or "散装"
            try:
                item["container_count"] = int(r.text("container_count") or 1)
            except ValueError:
                r.err("container_count", "a whole number")
            fate_text = r.text("fate")
            if fate_text not in FATES:
                r.err("fate", f"one of {'、'.join(k for k in FATES if k and not k.isascii())}")
            item["fate"] = FATES.get(fate_text)
            item["operator"] = r.text("operator") or "历史导入"
            if item["fate"]:
                item["fate_at"] = r.when("fate_at", ctx)
                util = item["fate"] in ("used_in_house", "sent_util")
                item["method"] = r.method("method", ctx, utilisation=util)
                item["fate_g"] = r.grams("fate_kg") or item["net_g"]
                if item["fate_g"] > item["net_g"]:
                    r.err("fate_kg", "more than the batch weighs")
                if item["fate_at"] and item["occurred"] and item["fate_at"] < item["occurred"]:
                    r.err("fate_at", "before the batch was generated")
        else:
            m = r.text("month", required=True)
            try:
                y, mo = (int(x) for x in m.replace("/", "-").split("-")[:2])
                item["month"] = date(y, mo, 1)
                end = _month_end(item["month"])
                at = datetime.combine(end, time(18), tzinfo=SHANGHAI)
                if at > ctx.now:
                    r.err("month", f"{m} has not ended")
                elif ctx.live_from is not None and datetime.combine(item["month"], time(0), tzinfo=SHANGHAI) \
                        >= ctx.live_from:
                    r.err("month", f"{m} is not history: the unit's live ledger starts "
                                   f"{ctx.live_from.astimezone(SHANGHAI):%Y-%m-%d}")
            except (ValueError, TypeError):
                if m:
                    r.err("month", "expected YYYY-MM")
                item["month"] = None
            item["generated_g"] = r.grams("generated_kg", required=True)
            for k in ("used", "disposed", "sent_util", "sent_disp"):
                item[f"{k}_g"] = r.grams(f"{k}_kg")
                if item[f"{k}_g"]:
                    item[f"{k}_method"] = r.method(f"{k}_method", ctx,
                                                   utilisation=k in ("used", "sent_util"))
            item["closing_g"] = r.grams("closing_kg") if r.text("closing_kg") else None
        out.append(item)
    if parsed.format == "monthly_totals":
        _check_fifo(out, parsed)
    return out


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _check_fifo(items: list[dict], parsed: Parsed) -> None:
    """Per code, in month order: what the months consume cannot exceed what was imported; stated closing stocks
    must match; a (month, code) appears once."""
    seen: dict[tuple, int] = {}
    stock: dict[str, int] = {}
    for it in sorted((i for i in items if i.get("month") and i["waste_code"]), key=lambda i: (i["month"], i["row"])):
        key = (it["month"], it["waste_code"])
        if key in seen:
            parsed.errors.append(RowError(it["row"], "month", f"{it['waste_code']} {it['month']:%Y-%m} also on "
                                                              f"row {seen[key]}"))
            continue
        seen[key] = it["row"]
        code = it["waste_code"]
        out = it["used_g"] + it["disposed_g"] + it["sent_util_g"] + it["sent_disp_g"]
        stock[code] = stock.get(code, 0) + it["generated_g"] - out
        if stock[code] < 0:
            parsed.errors.append(RowError(it["row"], "generated_kg", f"{code}: {g_to_kg(out)} kg used, disposed or "
                                          "sent out is more than the imported stock and generation up to this month"))
            stock[code] = 0
        if it["closing_g"] is not None and it["closing_g"] != stock[code]:
            parsed.errors.append(RowError(it["row"], "closing_kg", f"the rows give {g_to_kg(stock[code])} kg at "
                                          f"month end, the file says {g_to_kg(it['closing_g'])} kg"))


# ---- writing -----------------------------------------------------------------------------------------------------

@dataclass
class ImportResult:
    document: SourceDocument
    format: str
    rows: int
    batches: int
    records: int
    totals_kg: dict[str, Decimal]
    dry_run: bool = False


def import_file(session: Session, *, principal: Principal, unit_id: int, content: bytes, filename: str,
                dry_run: bool = False) -> ImportResult:
    """Validate the whole file, then write it (all or nothing) as ordinary journal records."""
    unit = require_declarant(session, principal, unit_id)
    sha = hashlib.sha256(content).hexdigest()
    dup = session.exec(select(SourceDocument).where(SourceDocument.unit_id == unit.id,
                                                    SourceDocument.kind == "import",
                                                    SourceDocument.sha256 == sha)).first()
    if dup is not None:
        raise Conflict(f"this file was imported already (document {dup.id}, {dup.created_at:%Y-%m-%d})",
                       code="import.duplicate", details={"document_id": dup.id})
    parsed = parse(read_table(content, filename))
    ctx = context(session, unit)
    items = validate(parsed, ctx)
    if parsed.errors:
        errors = sorted(parsed.errors, key=lambda e: (e.row, e.field))
        rows = sorted({e.row for e in errors})
        raise InvalidInput(f"{len(rows)} row(s) are invalid: {', '.join(map(str, rows[:20]))}"
                           f"{' …' if len(rows) > 20 else ''}; nothing was imported", field="file",
                           code="import.invalid_rows",
                           details={"format": parsed.format, "rows": rows,
                                    "errors": [{"row": e.row, "field": e.field, "message": e.message}
                                               for e in errors]})
    doc = SourceDocument(unit_id=unit.id, kind="import", format=parsed.format, filename=filename[:200], sha256=sha,
                         rows=len(items), created_by=principal.user_id or None, created_by_name=principal.username)
    totals: dict[str, int] = {}
    if dry_run:
        for it in items:
            totals[it["waste_code"]] = totals.get(it["waste_code"], 0) + it.get("net_g", it.get("generated_g", 0))
        return ImportResult(doc, parsed.format, len(items), 0, 0, {k: g_to_kg(v) for k, v in totals.items()}, True)
    session.add(doc)
    session.flush()
    source = {"kind": "import", "document": {"id": doc.id, "filename": doc.filename, "sha256": sha,
                                             "format": parsed.format}}
    before = session.exec(select(func.count()).select_from(JournalRecord)
                          .where(JournalRecord.unit_id == unit.id)).one()
    with journal.recorded_from(source):
        if parsed.format == "per_batch":
            made = _write_per_batch(session, principal, unit, items, ctx)
        else:
            made = _write_monthly(session, principal, unit, items, ctx)
    after = session.exec(select(func.count()).select_from(JournalRecord).where(JournalRecord.unit_id == unit.id)).one()
    for it in items:
        totals[it["waste_code"]] = totals.get(it["waste_code"], 0) + it.get("net_g", it.get("generated_g", 0))
    doc.summary = {"batches": made, "records": after - before, "generated_kg": {k: str(g_to_kg(v))
                                                                              for k, v in totals.items()}}
    session.add(doc)
    session.flush()
    audit(session, principal, action="history.import", entity="source_document", entity_id=doc.id,
          detail={"filename": doc.filename, "rows": len(items), "format": parsed.format})
    return ImportResult(doc, parsed.format, len(items), made, after - before,
                        {k: g_to_kg(v) for k, v in totals.items()})


def _weighing(unit: Unit, *, code: str, name: str, form: str, facility: Facility, grams: int, at: datetime,
              operator: str, container_type: str = "散装", container_count: int = 1,
              storage: Facility | None = None) -> batches.BatchCreate:
    return batches.BatchCreate(unit_id=unit.id, waste_code=code, name=name, form=form, facility_id=facility.id,
                               container_type=container_type, container_count=container_count,
                               gross_kg=g_to_kg(grams), tare_kg=Decimal(0), scale_id="历史导入", operator=operator,
                               occurred_at=at, store_facility_id=storage.id if storage else None)


def _consume(session: Session, principal: Principal, b: Batch, *, fate: str, grams: int, at: datetime,
             method: str, operator: str, receiver_id: int | None, receiver_name: str | None,
             methods: dict[str, Method]) -> None:
    b = batches.get_batch(session, principal, b.id, lock=True)
    if b.stored_g:
        take = min(b.stored_g, grams - batches.state_of(b).loose_g) if grams > batches.state_of(b).loose_g else 0
        if take:
            batches.retrieve(session, principal=principal, batch=b, data=batches.RetrieveIn(
                mass_kg=g_to_kg(take), operator=operator, occurred_at=at, purpose="transfer"
                if fate.startswith("sent") else "in_house"))
    if fate in ("used_in_house", "disposed_in_house"):
        batches.process_in_house(session, principal=principal, batch=b, kind=fate, data=batches.ProcessIn(
            method=method, mass_kg=g_to_kg(grams), operator=operator, occurred_at=at))
        return
    util = methods[method].counts_as_utilisation
    code = batches.record_code(session, unit_id=b.holder_unit_id, kind="sent_out_for_use" if util else
                               "sent_out_for_disposal", day=at.astimezone(SHANGHAI).date(), hazardous=b.hazardous)
    batches.record(session, b, kind="shipped", unit_id=b.holder_unit_id, principal=principal, actor_name=operator,
                   occurred_at=at, mass_g=grams, record_code=code, body={
                       "planned_method": method, "counts_as_utilisation": util, "receiver_id": receiver_id,
                       "receiver_name": receiver_name, "shipped_g": grams})


def _write_per_batch(session: Session, principal: Principal, unit: Unit, items: list[dict], ctx: Context) -> int:
    made = 0
    for i in range(0, len(items), batches.MAX_BULK):
        chunk = items[i:i + batches.MAX_BULK]
        created = batches.generate_many(session, principal=principal, items=[_weighing(
            unit, code=it["waste_code"], name=it["name"], form=it["form"], facility=it["facility"],
            grams=it["net_g"], at=it["occurred"], operator=it["operator"], container_type=it["container_type"],
            container_count=it["container_count"], storage=it["storage"]) for it in chunk])
        made += len(created)
        for it, b in zip(chunk, created, strict=True):
            if it["fate"]:
                _consume(session, principal, b, fate=it["fate"], grams=it["fate_g"], at=it["fate_at"],
                         method=it["method"], operator=it["operator"], receiver_id=it["receiver_id"],
                         receiver_name=it["receiver_name"], methods=ctx.methods)
    return made


def _write_monthly(session: Session, principal: Principal, unit: Unit, items: list[dict], ctx: Context) -> int:
    if not ctx.gen_facilities:
        raise InvalidInput("the unit has no generation facility to import monthly totals at", field="file")
    facility = sorted(ctx.gen_facilities.values(), key=lambda f: f.id)[0]
    weighings, owners = [], []
    for it in sorted(items, key=lambda i: (i["month"], i["row"])):
        end = _month_end(it["month"])
        pieces = max(1, math.ceil(it["generated_g"] / MAX_BATCH_G)) if it["generated_g"] else 0
        left = it["generated_g"]
        for k in range(pieces):
            g = min(MAX_BATCH_G, left)
            left -= g
            day = end - timedelta(days=k // 900)  # at most 900 batches of one code a day (serials are 3 digits)
            weighings.append(_weighing(unit, code=it["waste_code"], name=it["name"], form=it["form"],
                                       facility=facility, grams=g, operator="历史导入",
                                       at=datetime.combine(day, time(12), tzinfo=SHANGHAI)))
            owners.append(it["waste_code"])
    created: list[Batch] = []
    for i in range(0, len(weighings), batches.MAX_BULK):
        created += batches.generate_many(session, principal=principal, items=weighings[i:i + batches.MAX_BULK])
    pool: dict[str, list[list]] = {}
    for b in sorted(created, key=lambda b: (b.occurred_at, b.id)):
        pool.setdefault(b.waste_code, []).append([b, b.net_g])
    for it in sorted(items, key=lambda i: (i["month"], i["row"])):
        at = datetime.combine(_month_end(it["month"]), time(18), tzinfo=SHANGHAI)
        for fate, key in (("used_in_house", "used"), ("disposed_in_house", "disposed"), ("sent_util", "sent_util"),
                          ("sent_disp", "sent_disp")):
            need = it[f"{key}_g"]
            for slot in pool.get(it["waste_code"], []):
                if need == 0:
                    break
                if slot[1] == 0 or slot[0].occurred_at > at:
                    continue
                take = min(slot[1], need)
                _consume(session, principal, slot[0], fate=fate, grams=take, at=at, method=it[f"{key}_method"],
                         operator="历史导入", receiver_id=it["receiver_id"], receiver_name=it["receiver_name"],
                         methods=ctx.methods)
                slot[1] -= take
                need -= take
    return len(created)
