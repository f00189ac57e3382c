//! The two database engines behind one small interface: SQLite (the embedded default, one
//! file per teacher) and PostgreSQL (one server for a school).
//!
//! Every query in the store is written once, in the SQL both engines accept, with numbered
//! parameters `?1`, `?2`, … . The differences are handled here, in one place, and nowhere else:
//! - parameters: PostgreSQL spells them `$1`, `$2`, … ([`to_postgres_placeholders`]);
//! - values: PostgreSQL types every parameter and column strictly, so a [`Value`] is converted
//!   to the type the server inferred for its parameter, and every column type the schema uses is
//!   read back into a [`Value`] (`BOOLEAN` as 0/1, like SQLite);
//! - transactions: SQLite has one writer and waits for it (`busy_timeout`); PostgreSQL runs
//!   writers side by side and may abort one with a serialization failure or a deadlock, so a
//!   PostgreSQL transaction is retried ([`Db::transaction`]);
//! - errors: a unique-constraint violation is recognised on both ([`DbError::is_unique_violation`]).
//!
//! The schema itself differs only in column types (`BLOB`/`BYTEA`, `INTEGER`/`BIGINT`, identity
//! columns), so each engine has its own numbered migrations (`migrations/` and
//! `migrations/postgres/`), kept in step by a test.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// A value passed to or read from either engine.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// SQL NULL.
    Null,
    /// An integer (SQLite INTEGER, PostgreSQL BIGINT/INTEGER/SMALLINT/BOOLEAN).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes (SQLite BLOB, PostgreSQL BYTEA).
    Blob(Vec<u8>),
}

/// An error from one of the engines.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite reported an error.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL reported an error (or the connection failed).
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    /// A query that must return a row returned none.
    #[error("the query returned no row")]
    NoRow,
    /// A column could not be read as the type the code expects (a bug or a damaged row).
    #[error("column {column}: {reason}")]
    Column {
        /// Column index.
        column: usize,
        /// What went wrong.
        reason: String,
    },
}

fn postgres_message(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        return match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        };
    }
    // A connection or TLS failure: the cause says what went wrong (refused, timed out,
    // "certificate verify failed: self-signed certificate", …).
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

impl DbError {
    /// Whether this is a violation of a UNIQUE constraint or primary key.
    #[must_use]
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Sqlite(err) => {
                err.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
                    && err.to_string().contains("UNIQUE")
            }
            Self::Postgres(err) => err.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }

    /// Whether PostgreSQL aborted the transaction so that it can simply be run again
    /// (a serialization failure or a deadlock between two classrooms writing at once).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Postgres(err) => matches!(
                err.code(),
                Some(c) if *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            ),
            _ => false,
        }
    }

    /// Whether the connection to the server is gone (the server stopped, the network dropped).
    #[must_use]
    pub fn is_connection_lost(&self) -> bool {
        match self {
            Self::Postgres(err) => {
                let io = std::error::Error::source(err)
                    .is_some_and(<dyn std::error::Error>::is::<std::io::Error>);
                let shutdown = matches!(
                    err.code(),
                    Some(c) if *c == postgres::error::SqlState::ADMIN_SHUTDOWN
                        || *c == postgres::error::SqlState::CRASH_SHUTDOWN
                        || *c == postgres::error::SqlState::CANNOT_CONNECT_NOW
                );
                err.is_closed() || (err.as_db_error().is_none() && io) || shutdown
            }
            _ => false,
        }
    }
}

/// Shorthand for engine results.
pub(crate) type DbResult<T> = std::result::Result<T, DbError>;

/// Something that can be passed as a query parameter.
pub(crate) trait ToValue {
    /// The value to bind.
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}
impl ToValue for i32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for usize {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for f32 {
    fn to_value(&self) -> Value {
        Value::Real(f64::from(*self))
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// The parameters of one query: `params![a, b, c]` (values of different types), an array of
/// values of one type (`[id]`, `[name, value]`), or `[]`.
pub(crate) trait Params {
    /// The values, in order.
    fn values(&self) -> Vec<Value>;
}

impl Params for &[&dyn ToValue] {
    fn values(&self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl Params for [&dyn ToValue; 0] {
    fn values(&self) -> Vec<Value> {
        Vec::new()
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToValue> Params for [T; $n] {
            fn values(&self) -> Vec<Value> {
                self.iter().map(ToValue::to_value).collect()
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8);

/// Query parameters: `params![a, b, c]`.
macro_rules! params {
    () => { &[] as &[&dyn $crate::store::db::ToValue] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::store::db::ToValue),+] as &[&dyn $crate::store::db::ToValue] };
}
pub(crate) use params;

/// Something that can be read from a column.
pub(crate) trait FromValue: Sized {
    /// Converts the column's value.
    fn from_value(value: &Value) -> Result<Self, String>;
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(value.clone())
    }
}
impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Int(v) => Ok(*v),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}
impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, String> {
        i64::from_value(value).map(|v| v != 0)
    }
}
impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Real(v) => Ok(*v),
            Value::Int(v) => Ok(*v as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}
impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(v) => Ok(v.clone()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Blob(v) => Ok(v.clone()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A column index (only `usize`, so that a literal `0` needs no suffix).
pub(crate) trait RowIndex {
    /// The index.
    fn index(self) -> usize;
}
impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One row of a result, read in full from either engine.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    values: Vec<Value>,
}

impl Row {
    /// Every column, as read (for copying a row from one store to another).
    pub(crate) fn values(&self) -> Vec<Value> {
        self.values.clone()
    }

    /// The value of column `i`, converted. `get::<_, T>(i)` reads like rusqlite's.
    pub(crate) fn get<I: RowIndex, T: FromValue>(&self, i: I) -> DbResult<T> {
        let column = i.index();
        let value = self.values.get(column).ok_or_else(|| DbError::Column {
            column,
            reason: format!("the row has only {} columns", self.values.len()),
        })?;
        T::from_value(value).map_err(|reason| DbError::Column { column, reason })
    }
}

/// `.optional()` on a query that may return no row, like rusqlite's.
pub(crate) trait OptionalExtension<T> {
    /// `Ok(None)` instead of [`DbError::NoRow`].
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> OptionalExtension<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRow) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// Which engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// An open connection to one of the engines.
pub(crate) enum Db {
    /// SQLite: statements are cached by rusqlite.
    Sqlite(rusqlite::Connection),
    /// PostgreSQL: a synchronous client and its prepared statements, keyed by the SQL text.
    Postgres(Box<RefCell<PgConn>>),
}

/// A PostgreSQL connection with its statement cache.
pub(crate) struct PgConn {
    pub(crate) client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
    /// Opens a new connection when the server dropped this one (it restarted, or the network
    /// came back), so a long-running window or lesson recovers without being restarted.
    reconnect: Option<Box<Reconnect>>,
    in_transaction: bool,
}

/// How a [`PgConn`] connects again.
pub(crate) type Reconnect = dyn Fn() -> Result<postgres::Client, super::StoreError> + Send;

impl PgConn {
    pub(crate) fn new(client: postgres::Client, reconnect: Option<Box<Reconnect>>) -> Self {
        Self {
            client,
            statements: HashMap::new(),
            reconnect,
            in_transaction: false,
        }
    }

    /// Between transactions, replaces a connection the server has closed. The statement that
    /// found it closed has failed already; nothing is run twice behind the caller's back, and
    /// inside a transaction nothing is reconnected (its work is lost with the old connection).
    fn ensure_connected(&mut self) {
        if self.in_transaction || !self.client.is_closed() {
            return;
        }
        if let Some(reconnect) = &self.reconnect
            && let Ok(client) = reconnect()
        {
            self.client = client;
            self.statements.clear();
        }
    }

    fn statement(&mut self, sql: &str) -> DbResult<postgres::Statement> {
        self.ensure_connected();
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.client.prepare(&to_postgres_placeholders(sql))?;
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    fn query(&mut self, sql: &str, params: Vec<Value>) -> DbResult<Vec<Row>> {
        let stmt = self.statement(sql)?;
        let values: Vec<PgParam> = params.into_iter().map(PgParam).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = self.client.query(&stmt, &refs)?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        row.try_get::<_, PgValue>(i)
                            .map(|v| v.0)
                            .map_err(DbError::from)
                    })
                    .collect::<DbResult<Vec<Value>>>()
                    .map(|values| Row { values })
            })
            .collect()
    }

    fn execute(&mut self, sql: &str, params: Vec<Value>) -> DbResult<usize> {
        let stmt = self.statement(sql)?;
        let values: Vec<PgParam> = params.into_iter().map(PgParam).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        Ok(usize::try_from(self.client.execute(&stmt, &refs)?).unwrap_or(usize::MAX))
    }
}

/// How many times a PostgreSQL transaction aborted by a concurrent one is tried in all.
const TRANSACTION_ATTEMPTS: u32 = 8;

impl Db {
    /// Which engine this is.
    pub(crate) fn engine(&self) -> Engine {
        match self {
            Self::Sqlite(_) => Engine::Sqlite,
            Self::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs one statement and returns the number of rows it changed.
    // Parameters are taken by value so that call sites read like rusqlite's (`[id]`, `params![..]`).
    #[allow(clippy::needless_pass_by_value)]
    pub(crate) fn execute(&self, sql: &str, params: impl Params) -> DbResult<usize> {
        match self {
            Self::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(sqlite_params(params.values())))?)
            }
            Self::Postgres(pg) => pg.borrow_mut().execute(sql, params.values()),
        }
    }

    /// Runs a query and converts every row.
    #[allow(clippy::needless_pass_by_value)]
    pub(crate) fn query_map<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        let rows = match self {
            Self::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let columns = stmt.column_count();
                let mut rows =
                    stmt.query(rusqlite::params_from_iter(sqlite_params(params.values())))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let values = (0..columns)
                        .map(|i| row.get_ref(i).map(sqlite_value))
                        .collect::<Result<Vec<_>, _>>()?;
                    out.push(Row { values });
                }
                out
            }
            Self::Postgres(pg) => pg.borrow_mut().query(sql, params.values())?,
        };
        rows.iter().map(&mut f).collect()
    }

    /// Runs a query that returns exactly one row ([`DbError::NoRow`] when it returns none).
    pub(crate) fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<T> {
        let mut f = Some(f);
        let mut first = None;
        self.query_map(sql, params, |row| {
            if first.is_none()
                && let Some(f) = f.take()
            {
                first = Some(f(row));
            }
            Ok(())
        })?;
        first.unwrap_or(Err(DbError::NoRow))
    }

    /// Runs several statements separated by semicolons, without parameters.
    pub(crate) fn batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Self::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Self::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                pg.ensure_connected();
                Ok(pg.client.batch_execute(sql)?)
            }
        }
    }

    /// Runs `f` in one transaction: all of its changes land, or none. On PostgreSQL a
    /// transaction aborted by a concurrent one (serialization failure, deadlock) is run again,
    /// up to [`TRANSACTION_ATTEMPTS`] times, so `f` must be safe to repeat (it only talks to
    /// the database). Transactions do not nest.
    pub(crate) fn transaction<T, E: From<DbError>>(
        &self,
        mut f: impl FnMut(&Self) -> Result<T, E>,
        retryable: impl Fn(&E) -> bool,
    ) -> Result<T, E> {
        match self {
            Self::Sqlite(conn) => {
                let tx = conn.unchecked_transaction().map_err(DbError::from)?;
                let value = f(self)?;
                tx.commit().map_err(DbError::from)?;
                Ok(value)
            }
            Self::Postgres(pg) => {
                let mut attempt = 1;
                loop {
                    {
                        let mut pg = pg.borrow_mut();
                        pg.ensure_connected();
                        pg.client.batch_execute("BEGIN").map_err(DbError::from)?;
                        pg.in_transaction = true;
                    }
                    let outcome = f(self).and_then(|value| {
                        pg.borrow_mut()
                            .client
                            .batch_execute("COMMIT")
                            .map_err(|e| E::from(DbError::from(e)))?;
                        Ok(value)
                    });
                    let mut conn = pg.borrow_mut();
                    conn.in_transaction = false;
                    match outcome {
                        Ok(value) => return Ok(value),
                        Err(err) => {
                            // A failed COMMIT has already ended the transaction; ROLLBACK then
                            // only warns. On a lost connection it fails, which changes nothing.
                            let _ = conn.client.batch_execute("ROLLBACK");
                            if attempt < TRANSACTION_ATTEMPTS && retryable(&err) {
                                attempt += 1;
                                drop(conn);
                                std::thread::sleep(std::time::Duration::from_millis(
                                    5 * u64::from(attempt * attempt),
                                ));
                                continue;
                            }
                            return Err(err);
                        }
                    }
                }
            }
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas, online backup).
    pub(crate) fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Self::Sqlite(conn) => Some(conn),
            Self::Postgres(_) => None,
        }
    }
}

fn sqlite_params(params: Vec<Value>) -> Vec<rusqlite::types::Value> {
    params
        .into_iter()
        .map(|p| match p {
            Value::Null => rusqlite::types::Value::Null,
            Value::Int(v) => rusqlite::types::Value::Integer(v),
            Value::Real(v) => rusqlite::types::Value::Real(v),
            Value::Text(v) => rusqlite::types::Value::Text(v),
            Value::Blob(v) => rusqlite::types::Value::Blob(v),
        })
        .collect()
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Int(v),
        ValueRef::Real(v) => Value::Real(v),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Rewrites SQLite's numbered parameters `?N` as PostgreSQL's `$N`, leaving quoted text and
/// identifiers alone.
#[must_use]
pub fn to_postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    out.push(c);
                }
                '?' => out.push('$'),
                _ => out.push(c),
            },
        }
    }
    out
}

/// A parameter converted to the type PostgreSQL inferred for it.
#[derive(Debug)]
struct PgParam(Value);

impl ToSql for PgParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let mismatch = || -> Box<dyn std::error::Error + Sync + Send> {
            format!("cannot pass {:?} as a PostgreSQL {ty}", self.0).into()
        };
        match (&self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(v), &Type::INT8) => v.to_sql(ty, out),
            (Value::Int(v), &Type::INT4) => {
                i32::try_from(*v).map_err(|_| mismatch())?.to_sql(ty, out)
            }
            (Value::Int(v), &Type::INT2) => {
                i16::try_from(*v).map_err(|_| mismatch())?.to_sql(ty, out)
            }
            (Value::Int(v), &Type::BOOL) => (*v != 0).to_sql(ty, out),
            (Value::Int(v), &Type::FLOAT8) => (*v as f64).to_sql(ty, out),
            (Value::Int(v), &Type::FLOAT4) => (*v as f32).to_sql(ty, out),
            (Value::Int(v), t) if is_text(t) => v.to_string().to_sql(ty, out),
            (Value::Real(v), &Type::FLOAT8) => v.to_sql(ty, out),
            (Value::Real(v), &Type::FLOAT4) => (*v as f32).to_sql(ty, out),
            (Value::Real(v), t) if is_text(t) => v.to_string().to_sql(ty, out),
            (Value::Text(v), t) if is_text(t) => v.as_str().to_sql(ty, out),
            (Value::Blob(v), &Type::BYTEA) => v.as_slice().to_sql(ty, out),
            _ => Err(mismatch()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

/// A column read from PostgreSQL.
struct PgValue(Value);

impl<'a> FromSql<'a> for PgValue {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::OID => Value::Int(i64::from(u32::from_sql(ty, raw)?)),
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::BYTEA => Value::Blob(<Vec<u8>>::from_sql(ty, raw)?),
            ref t if is_text(t) => Value::Text(String::from_sql(ty, raw)?),
            ref t => {
                return Err(format!(
                    "rollcall cannot read a PostgreSQL {t} column; cast it in the query"
                )
                .into());
            }
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_quotes_only() {
        assert_eq!(
            to_postgres_placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?x' AND \"d?\" = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?x' AND \"d?\" = $12"
        );
    }

    #[test]
    fn sqlite_round_trips_every_value_kind() {
        let Ok(conn) = rusqlite::Connection::open_in_memory() else {
            panic!("in-memory SQLite");
        };
        let db = Db::Sqlite(conn);
        db.batch("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n INTEGER)")
            .unwrap_or_else(|e| panic!("{e}"));
        let blob: &[u8] = &[0, 1, 255];
        let none: Option<i64> = None;
        db.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)",
            params![7_i64, 0.5_f64, "é", blob, none],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let row = db
            .query_row("SELECT i, r, s, b, n FROM t", [], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(row, (7, 0.5, "é".to_owned(), blob.to_vec(), None));
        let missing = db
            .query_row("SELECT i FROM t WHERE i = ?1", [8_i64], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(missing, None);
        let wrong = db.query_row("SELECT s FROM t", [], |r| r.get::<_, i64>(0));
        assert!(matches!(wrong, Err(DbError::Column { column: 0, .. })));
    }
}
