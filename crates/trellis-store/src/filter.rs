//! Renders a core [`ListQuery`]'s filter, keyset position and order as SQL,
//! once for both dialects: a [`Dialect`] says how to spell a target and how to
//! bind a literal; the shape of the SQL is shared.

use serde_json::Value;
use sqlx::QueryBuilder;
use trellis_core::query::{Cmp, Filter, ListQuery, Lit, Meta, SortKey, Target};

use crate::layout;
use crate::{Explain, IndexSpec, Result};

pub(crate) trait Dialect {
    type DB: sqlx::Database;
    /// What asks the database for a statement's plan instead of its rows.
    const EXPLAIN: &'static str;
    /// The columns of a form table ([`crate::layout::STORED`]), with their types.
    const COLUMNS: &'static str;
    /// Where an index puts missing values: first, as ascending sorts want them.
    const INDEX_NULLS: &'static str;

    /// The SQL expression for a target, identical to the indexed expression.
    fn expr(t: &Target) -> String;
    fn bind(qb: &mut QueryBuilder<Self::DB>, lit: &Lit);
    /// The guard of a comparison `op` of the value at `t` (a field or segment)
    /// with `lit`, keeping it to values of `lit`'s JSON type: SQLite reads
    /// `true` as 1 and orders numbers before text, PostgreSQL's jsonb orders
    /// text before numbers, so a condition only ever compares like with like.
    /// `None` where the comparison itself already does.
    fn same_type(t: &Target, lit: &Value, op: Cmp) -> Option<String>;
    /// `expr` contains the text `lit`.
    fn contains_text(qb: &mut QueryBuilder<Self::DB>, t: &Target, lit: &Lit);
    /// The array at `t` has an element equal to `lit`.
    fn contains_element(qb: &mut QueryBuilder<Self::DB>, t: &Target, lit: &Lit);
    /// Missing values sort first ascending and last descending on both
    /// backends; `nullable` is false for columns that are never missing.
    fn order(expr: &str, desc: bool, nullable: bool) -> String;
    fn bind_int(qb: &mut QueryBuilder<Self::DB>, i: i64);
    /// `table AS records`, told to read `index` where the planner needs telling (SQLite,
    /// whose planner has no statistics and prefers the form's index to 500 key lookups).
    fn records_by(table: &str, index: &str) -> String;
    /// `filter`, written for a lookup: PostgreSQL takes a list of JSON values
    /// as one array (`= ANY($1)`), so the statement and its cached generic plan,
    /// which keeps to the index, are the same for every batch.
    fn push_lookup(qb: &mut QueryBuilder<Self::DB>, filter: &Filter)
    where
        Self: Sized,
    {
        push_filter::<Self>(qb, filter);
    }
}

/// The SELECT of one page of a list (live or deleted records of `form`).
/// Every query here reads `form`'s table as `records` ([`crate::layout`]).
pub(crate) fn list_query<D: Dialect>(form: &str, q: &ListQuery) -> Result<QueryBuilder<D::DB>> {
    list_sql::<D>(format!("SELECT {}", layout::columns(form)?), form, q)
}

/// A list query after `head` (`SELECT …`, or an `EXPLAIN` of it).
pub(crate) fn list_sql<D: Dialect>(head: String, form: &str, q: &ListQuery) -> Result<QueryBuilder<D::DB>> {
    let table = layout::table(form)?;
    let mut qb = QueryBuilder::<D::DB>::new(format!("{head} FROM {table} AS records WHERE "));
    qb.push(if q.deleted { "deleted_at IS NOT NULL" } else { "deleted_at IS NULL" });
    if let Some(f) = &q.filter {
        qb.push(" AND ");
        push_filter::<D>(&mut qb, f);
    }
    if let Some(after) = &q.after {
        qb.push(" AND ");
        push_after::<D>(&mut qb, &q.sort, after);
    }
    push_order::<D>(&mut qb, &q.sort);
    qb.push(" LIMIT ");
    D::bind_int(&mut qb, i64::from(q.limit));
    Ok(qb)
}

/// The live records of `form` that match `filter`, in no order, read through
/// the unique index `index` when given (a lookup by key). `head` is `SELECT`
/// with its columns, or `None` for every column.
pub(crate) fn matching_query<D: Dialect>(head: Option<&str>, form: &str, filter: &Filter, index: Option<&str>) -> Result<QueryBuilder<D::DB>> {
    let table = layout::table(form)?;
    let from = index.map_or_else(|| format!("{table} AS records"), |i| D::records_by(&table, i));
    let head = match head {
        Some(h) => h.to_owned(),
        None => format!("SELECT {}", layout::columns(form)?),
    };
    let mut qb = QueryBuilder::<D::DB>::new(format!("{head} FROM {from} WHERE deleted_at IS NULL AND "));
    D::push_lookup(&mut qb, filter);
    Ok(qb)
}

/// How many live records of `form` match `filter` (`head`: empty, or an `EXPLAIN`).
pub(crate) fn count_query<D: Dialect>(head: &str, form: &str, filter: Option<&Filter>) -> Result<QueryBuilder<D::DB>> {
    let table = layout::table(form)?;
    let mut qb = QueryBuilder::<D::DB>::new(format!("{head}SELECT count(*) FROM {table} AS records WHERE deleted_at IS NULL"));
    if let Some(f) = filter {
        qb.push(" AND ");
        push_filter::<D>(&mut qb, f);
    }
    Ok(qb)
}

/// The statement behind an [`Explain`], prefixed by the dialect's `EXPLAIN`.
pub(crate) fn explain_query<D: Dialect>(form: &str, what: &Explain<'_>) -> Result<QueryBuilder<D::DB>> {
    let head = format!("{}SELECT id", D::EXPLAIN);
    match what {
        Explain::List(q) => list_sql::<D>(head, form, q),
        Explain::Count(filter) => count_query::<D>(D::EXPLAIN, form, *filter),
        Explain::Lookup { filter, index } => matching_query::<D>(Some(&head), form, filter, *index),
    }
}

/// The DDL of one of a form's indexes, on its table: unique keys over its
/// live records, other indexes over all its records (live lists and the
/// recycle bin alike), ordered by id after the field so that a sort on the
/// field pages by keyset.
pub(crate) fn index_ddl<D: Dialect>(form: &str, spec: &IndexSpec) -> Result<String> {
    let table = layout::table(form)?;
    let exprs: Vec<String> = spec.fields.iter().map(|k| D::expr(&Target::Data(k.clone()))).collect();
    Ok(if spec.unique {
        format!("CREATE UNIQUE INDEX \"{}\" ON {table} ({}) WHERE deleted_at IS NULL", spec.name, exprs.join(", "))
    } else {
        format!("CREATE INDEX \"{}\" ON {table} ({}{}, id)", spec.name, exprs.join(", "), D::INDEX_NULLS)
    })
}

pub(crate) fn push_filter<D: Dialect>(qb: &mut QueryBuilder<D::DB>, f: &Filter) {
    match f {
        Filter::All(parts) | Filter::Any(parts) if parts.is_empty() => {
            qb.push(if matches!(f, Filter::All(_)) { "1=1" } else { "1=0" });
        }
        Filter::All(parts) | Filter::Any(parts) => {
            let joiner = if matches!(f, Filter::All(_)) { " AND " } else { " OR " };
            qb.push("(");
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    qb.push(joiner);
                }
                push_filter::<D>(qb, p);
            }
            qb.push(")");
        }
        Filter::Compare { target, op, value } => {
            let e = D::expr(target);
            let sym = match op {
                Cmp::Eq => "=",
                Cmp::Neq => "<>",
                Cmp::Lt => "<",
                Cmp::Lte => "<=",
                Cmp::Gt => ">",
                Cmp::Gte => ">=",
            };
            let guard = json_guard::<D>(target, value, *op);
            if *op == Cmp::Neq {
                qb.push(format!("({e} IS NULL"));
                if let Some(g) = &guard {
                    qb.push(format!(" OR NOT {g}"));
                }
                qb.push(format!(" OR {e} <> "));
                D::bind(qb, value);
                qb.push(")");
            } else {
                qb.push("(");
                if let Some(g) = &guard {
                    qb.push(format!("{g} AND "));
                }
                qb.push(format!("{e} {sym} "));
                D::bind(qb, value);
                qb.push(")");
            }
        }
        Filter::In { target, values, negated } => {
            let e = D::expr(target);
            if values.is_empty() {
                qb.push(if *negated { "1=1" } else { "1=0" });
                return;
            }
            qb.push(if *negated { format!("({e} IS NULL OR NOT (") } else { "((".to_owned() });
            // One `IN` per JSON type among the values, each behind its type's guard.
            let mut groups: Vec<(Option<String>, Vec<&Lit>)> = Vec::new();
            for v in values {
                let g = json_guard::<D>(target, v, Cmp::Eq);
                match groups.iter_mut().find(|(k, _)| *k == g) {
                    Some((_, vs)) => vs.push(v),
                    None => groups.push((g, vec![v])),
                }
            }
            for (i, (guard, vs)) in groups.iter().enumerate() {
                if i > 0 {
                    qb.push(" OR ");
                }
                qb.push("(");
                if let Some(g) = guard {
                    qb.push(format!("{g} AND "));
                }
                qb.push(format!("{e} IN ("));
                for (j, v) in vs.iter().enumerate() {
                    if j > 0 {
                        qb.push(", ");
                    }
                    D::bind(qb, v);
                }
                qb.push("))");
            }
            qb.push("))");
        }
        Filter::Contains { target, value, array } => {
            if *array {
                D::contains_element(qb, target, value)
            } else {
                D::contains_text(qb, target, value)
            }
        }
        Filter::Null { target, is_null } => {
            qb.push(format!("{} IS {}NULL", D::expr(target), if *is_null { "" } else { "NOT " }));
        }
    }
}

/// The type guard of a condition on a field or segment (none for bookkeeping columns, which have one type).
fn json_guard<D: Dialect>(t: &Target, lit: &Lit, op: Cmp) -> Option<String> {
    match (t, lit) {
        (Target::Data(_) | Target::Segment(_), Lit::Json(v)) => D::same_type(t, v, op),
        _ => None,
    }
}

/// Whether a target can be missing (bookkeeping columns other than `owner` never are).
fn nullable(t: &Target) -> bool {
    !matches!(t, Target::Meta(m) if *m != Meta::Owner)
}

/// Records strictly after the given sort values, in the sort's order: for
/// keys k1…kn, `k1 after v1 OR (k1 = v1 AND (k2 after v2 OR …))`, with missing
/// values first ascending and last descending. A plain range bound on the
/// first key (`k1 >= v1`, or `k1 <= v1` descending) lets the database seek
/// through an index instead of rescanning earlier pages. Descending on a
/// field that can be missing, that bound also cuts off the missing values at
/// the end of the order; [`null_tail`] fetches them.
pub(crate) fn push_after<D: Dialect>(qb: &mut QueryBuilder<D::DB>, sort: &[SortKey], after: &[Option<Lit>]) {
    if let (Some(first), Some(Some(v))) = (sort.first(), after.first()) {
        qb.push(format!("{} {} ", D::expr(&first.target), if first.desc { "<=" } else { ">=" }));
        D::bind(qb, v);
        qb.push(" AND ");
    }
    push_after_from::<D>(qb, sort, after);
}

/// The second half of a descending page on a field that can be missing: the
/// records without a value, which all come after any record with one.
pub(crate) fn null_tail(q: &ListQuery) -> Option<ListQuery> {
    let first = q.sort.first()?;
    // Only once the cursor is still among the records with a value.
    q.after.as_ref()?.first()?.as_ref()?;
    if !first.desc || !nullable(&first.target) {
        return None;
    }
    let missing = Filter::Null { target: first.target.clone(), is_null: true };
    let filter = match &q.filter {
        Some(f) => Filter::All(vec![f.clone(), missing]),
        None => missing,
    };
    Some(ListQuery { filter: Some(filter), after: None, ..q.clone() })
}

fn push_after_from<D: Dialect>(qb: &mut QueryBuilder<D::DB>, sort: &[SortKey], after: &[Option<Lit>]) {
    let (Some(k), Some(v)) = (sort.first(), after.first()) else {
        qb.push("1=0");
        return;
    };
    let e = D::expr(&k.target);
    qb.push("(");
    match (k.desc, v) {
        (false, None) => {
            qb.push(format!("{e} IS NOT NULL"));
        }
        (false, Some(v)) => {
            qb.push(format!("{e} > "));
            D::bind(qb, v);
        }
        (true, None) => {
            qb.push("1=0");
        }
        (true, Some(v)) => {
            qb.push(format!("({e} < "));
            D::bind(qb, v);
            qb.push(format!(" OR {e} IS NULL)"));
        }
    }
    if sort.len() > 1 {
        qb.push(" OR (");
        match v {
            None => {
                qb.push(format!("{e} IS NULL"));
            }
            Some(v) => {
                qb.push(format!("{e} = "));
                D::bind(qb, v);
            }
        }
        qb.push(" AND ");
        push_after_from::<D>(qb, &sort[1..], &after[1..]);
        qb.push(")");
    }
    qb.push(")");
}

pub(crate) fn push_order<D: Dialect>(qb: &mut QueryBuilder<D::DB>, sort: &[SortKey]) {
    qb.push(" ORDER BY ");
    let parts: Vec<String> = sort.iter().map(|k| D::order(&D::expr(&k.target), k.desc, nullable(&k.target))).collect();
    qb.push(parts.join(", "));
}

/// The column of a metadata target.
pub(crate) fn meta_column(m: trellis_core::query::Meta) -> &'static str {
    m.name()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use trellis_core::form::{FormDef, compile};
    use trellis_core::query::{ListParams, parse_list};

    use super::list_sql;
    use crate::postgres::Pg;
    use crate::sqlite::Lite;

    fn sql(sort: &str) -> (String, String) {
        let def: FormDef = serde_json::from_value(json!({"key": "c", "schema": {"type": "object", "properties": {"spend": {"type": "number"}}}})).unwrap();
        let form = compile(def, 1).unwrap();
        let q = parse_list(&form, &ListParams { sort: Some(sort), ..Default::default() }).unwrap();
        (list_sql::<Pg>("SELECT id".into(), "c", &q).unwrap().sql().as_str().to_owned(), list_sql::<Lite>("SELECT id".into(), "c", &q).unwrap().sql().as_str().to_owned())
    }

    #[test]
    fn never_missing_columns_sort_without_a_nulls_clause() {
        let (pg, lite) = sql("");
        assert!(pg.ends_with("ORDER BY id DESC LIMIT $1"), "{pg}");
        assert!(pg.starts_with("SELECT id FROM records__c AS records WHERE deleted_at IS NULL"), "{pg}");
        assert!(lite.ends_with("ORDER BY id DESC LIMIT ?"), "{lite}");
        let (pg, _) = sql("-spend");
        assert!(pg.contains("ORDER BY (data->'spend') DESC NULLS LAST, id DESC"), "{pg}");
    }
}
